"""Sign-in for the dashboard: who is looking, and the sign-in screen when nobody is yet.

The rules (users file, roles, password checks, rate limit) live in ``cxmetrics.contract.access``;
this module only asks the person, the proxy's header or the identity provider. The data
layer (``cxapp.data``) asks :func:`current_user` before it hands out any data, so a page
cannot forget to check.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from cxapp import errors
from cxmetrics.contract import access, session_cookie
from cxmetrics.contract.access import User
from cxmetrics.views.wording import inert

_SESSION_KEY = "_signed_in_email"
_COOKIE_AT = "_session_cookie_issued"  # when this tab last set the sign-in cookie
#: this tab signed out, or its session ended: the cookie its request came with is not used
_SIGNED_OUT = "_signed_out"
_CLEAR_COOKIE = "_clear_session_cookie"  # the sign-in screen removes the cookie


def _log_to_stderr() -> None:
    """The dashboard's events (sign-ins, data loads) go to the server's log (stderr), one
    line each; a password never does. So do the package's (the cache of a lake's aggregates),
    in the same form."""
    logger = logging.getLogger("cxdashboard")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        package = logging.getLogger("cxmetrics")
        package.addHandler(handler)
        package.setLevel(logging.INFO)


_log_to_stderr()


def _config() -> access.Config:
    try:
        return access.config(bind_address=st.get_option("server.address"))
    except access.AccessError as exc:
        _misconfigured(exc)


def _mtime(path) -> tuple:
    """What a users file is read again for: its content (modified time) and its mode and
    owner (changed time): a file made readable by others after it was read is refused at
    the next click, not at the next restart."""
    try:
        st_ = path.stat()
    except OSError:
        return (0.0, 0.0)
    return (st_.st_mtime, st_.st_ctime)


@st.cache_resource(show_spinner=False, max_entries=4)
def _users(path: str, mtime: tuple) -> dict[str, User]:
    return access.load_users(path)


@st.cache_resource(show_spinner=False)
def _limits() -> access.SignInLimits:
    """One per server: the rate limits count for every session and survive an edit of the
    users file."""
    return access.SignInLimits()


@st.cache_resource(show_spinner=False, max_entries=4)
def _password_sign_in(path: str, mtime: tuple) -> access.PasswordSignIn:
    """One per users file (and version of it), sharing the server's rate limits."""
    return access.PasswordSignIn(_users(path, mtime), limits=_limits())


@st.cache_resource(show_spinner=False, max_entries=4)
def _cookie_key(users_file: str) -> bytes:
    """The key signing sign-in cookies, read or made once per server and users file (a new
    key takes a restart)."""
    return session_cookie.server_key(Path(users_file))


@st.cache_resource(show_spinner=False, max_entries=4)
def _sign_outs(users_file: str) -> session_cookie.SignOuts:
    """When each person last signed out, shared by every process of the users file."""
    return session_cookie.SignOuts(Path(users_file))


def _key(cfg: access.Config) -> bytes:
    try:
        return _cookie_key(str(cfg.users_file))
    except session_cookie.KeyError_ as exc:
        _misconfigured(exc)


def _refuse(message: str):
    st.error(message, icon=":material/lock:")
    st.stop()


#: What every visitor reads while sign-in is set up wrong: the reason names files and
#: settings of the server, so it goes to the server's log only.
MISCONFIGURED = (
    "**Sign-in is misconfigured; the dashboard shows nothing.** Whoever runs the server "
    "finds why in its log, on the line that starts “sign-in is misconfigured”."
)


def _misconfigured(exc: Exception):
    """Refuse every page for a sign-in set up wrong, and tell the server's log, once while
    the reason lasts (each visitor's every click meets it); the page does not say why."""
    logger = logging.getLogger("cxdashboard")
    errors.log_once("sign-in", f"sign-in is misconfigured: {exc}", logger, logging.ERROR)
    _refuse(MISCONFIGURED)


def current_user() -> User:
    """The signed-in user; without one, the sign-in screen is drawn and the page stops.
    With sign-in off, :data:`access.NOBODY` (sees and does everything)."""
    cfg = _config()
    if not cfg.enabled:
        return access.NOBODY
    users = _users_or_stop(cfg)
    try:
        user = _identify(cfg, users)
    except access.SignInError as exc:
        _refuse(str(exc))
    if user is not None:
        return user
    if cfg.mode == "oidc":
        _oidc_screen()
    _password_screen(_password_sign_in(str(cfg.users_file), _mtime(cfg.users_file)))


def peek() -> User | None:
    """The signed-in user, or None — without drawing anything (for the page menu)."""
    cfg = _config()
    if not cfg.enabled:
        return access.NOBODY
    try:
        return _identify(cfg, _users_or_stop(cfg))
    except access.SignInError:
        return None


def _users_or_stop(cfg: access.Config) -> dict[str, User]:
    try:
        return _users(str(cfg.users_file), _mtime(cfg.users_file))
    except access.AccessError as exc:
        _misconfigured(exc)


def _identify(cfg: access.Config, users: dict[str, User]) -> User | None:
    """Who this session is; None when they still have to sign in. A proxy's or identity
    provider's person who is not in the users file raises ``SignInError``."""
    if cfg.mode == "header":
        how = f"the {cfg.header} header"
        email = access.proxy_identity(
            st.context.headers.get_all(cfg.header),
            st.context.ip_address,
            st.context.headers.get_all("X-Forwarded-For"),
            cfg.trusted_proxies,
            how,
        )
        return access.known_user(users, email, how)
    if cfg.mode == "oidc":
        if not st.user.is_logged_in:
            return None
        return access.known_user(
            users, access.verified_email(st.user.to_dict()), "the identity provider"
        )
    now = time.time()
    signed = st.session_state.get(_SESSION_KEY)
    from_cookie = False
    if not signed and not st.session_state.get(_SIGNED_OUT):
        # a sign-in of another tab of this browser, or before a reload
        cookie = st.context.cookies.get(session_cookie.COOKIE)
        signed = session_cookie.session_of(cookie, now, _key(cfg), cfg.idle_minutes)
        from_cookie = signed is not None
    if not signed:
        return None
    user = users.get(signed["email"])  # None also when removed since
    signed_out = _sign_outs(str(cfg.users_file)).last(signed["email"])
    ended = access.session_end(user, signed, now, cfg.idle_minutes, signed_out)
    if ended:
        st.session_state.pop(_SESSION_KEY, None)
        st.session_state["_sign_in_refused"] = ended
        # the cookie this tab came with is not used again; the browser's may be newer
        # (another tab still signed in renews it), so it is left to its own checks
        st.session_state[_SIGNED_OUT] = True
        return None
    if from_cookie:
        st.session_state[_COOKIE_AT] = signed["seen"]
        st.session_state[_SESSION_KEY] = signed
        access.log.info("signed in by the cookie of an earlier sign-in: %s", signed["email"])
    signed["seen"] = now
    return user


def _password_screen(signer: access.PasswordSignIn):
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("CX dashboard")
        st.caption("Sign in with the e-mail address and password your administrator set up.")
        with st.form("sign_in"):
            st.text_input("E-mail address", key="_sign_in_email", autocomplete="username")
            st.text_input(
                "Password",
                type="password",
                key="_sign_in_password",
                autocomplete="current-password",
            )
            st.form_submit_button(
                "Sign in", type="primary", on_click=_submit, args=(signer,)
            )  # a callback: it has run before any rerun of the page can drop the click
        refused = st.session_state.pop("_sign_in_refused", None)
        if refused:
            st.error(refused, icon=":material/lock:")
    if st.session_state.pop(_CLEAR_COOKIE, False):  # signed out: new tabs ask again too
        _run_script(session_cookie.clear_script())
    st.stop()


@errors.callback
def _submit(signer: access.PasswordSignIn) -> None:
    email = st.session_state.get("_sign_in_email", "")
    password = st.session_state.get("_sign_in_password", "")
    st.session_state["_sign_in_password"] = ""  # not kept in the session
    cfg = _config()
    address = access.client_address(
        st.context.ip_address,
        st.context.headers.get_all("X-Forwarded-For"),
        cfg.trusted_proxies,
    )
    try:
        user = signer.sign_in(email, password, address)
    except access.SignInError as exc:
        st.session_state["_sign_in_refused"] = str(exc)
    else:
        st.session_state[_SESSION_KEY] = access.session_for(user, time.time())
        for key in (_SIGNED_OUT, _CLEAR_COOKIE, _COOKIE_AT):  # the sidebar sets a new cookie
            st.session_state.pop(key, None)


#: The container of a page script (:func:`_run_script`), hidden: it draws nothing
SCRIPT_KEY = "cx_cookie_script"


def _run_script(script: str) -> None:
    """Run a page script (the sign-in cookie's) in an iframe of the page, hidden from view:
    ``st.iframe`` of the script, as ``components.v1.html``, deprecated, did it."""
    with st.container(key=SCRIPT_KEY):
        st.html(f"<style>.st-key-{SCRIPT_KEY}{{display:none}}</style>")
        st.iframe(script, height=1)


def _oidc_screen():
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("CX dashboard")
        st.caption("Sign in with your company account.")
        st.button("Sign in", type="primary", on_click=st.login, icon=":material/login:")
    st.stop()


def sidebar(user: User, department_name: Callable[[str], str] = str) -> None:
    """Who is signed in, what they see, and a way out."""
    cfg = _config()
    if not cfg.enabled:
        return
    with st.sidebar:
        what = "every department"
        if user.scope is not None:
            what = ", ".join(inert(department_name(d)) for d in user.scope)
        st.caption(f"Signed in as **{inert(user.label)}** · {user.role} · {what}")
        if cfg.mode == "password":
            _keep_cookie(cfg)
            st.button("Sign out", on_click=_sign_out, icon=":material/logout:")
        elif cfg.mode == "oidc":
            st.button("Sign out", on_click=st.logout, icon=":material/logout:")


def _keep_cookie(cfg: access.Config) -> None:
    """Set the sign-in cookie after a sign-in, and again while the person keeps clicking
    (``session_cookie.due``), so new tabs and reloads stay signed in."""
    signed = st.session_state.get(_SESSION_KEY)
    now = time.time()
    if not signed or not session_cookie.due(
        st.session_state.get(_COOKIE_AT), now, cfg.idle_minutes
    ):
        return
    value = session_cookie.token(signed, now, _key(cfg))
    _run_script(session_cookie.set_script(value))
    st.session_state[_COOKIE_AT] = now


@errors.callback
def _sign_out() -> None:
    """Sign this person out everywhere: this tab, their other tabs and browsers at their
    next click, and every cookie they hold (``session_cookie.SignOuts``)."""
    signed = st.session_state.pop(_SESSION_KEY, None)
    st.session_state.pop(_COOKIE_AT, None)
    st.session_state[_SIGNED_OUT] = st.session_state[_CLEAR_COOKIE] = True
    if signed:
        try:
            _sign_outs(str(_config().users_file)).sign_out(signed["email"], time.time())
        except OSError as exc:
            logging.getLogger("cxdashboard.access").error(
                "sign-out of %s not recorded (%s): their other tabs stay signed in",
                signed["email"],
                exc,
            )
