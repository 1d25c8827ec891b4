"""Who may see what: the users file, roles, password checks and the sign-in rate limit.

Sign-in is off unless configured (the sample data needs none). It is configured by
environment variables:

- ``CX_USERS_FILE`` — a TOML file of users; every sign-in mode reads each person's role
  from it, and a person who is not in it is refused.
- ``CX_AUTH`` — how people prove who they are:
  ``password`` (the default when ``CX_USERS_FILE`` is set): e-mail and password, checked
  against the file's argon2 hashes;
  ``header``: trust the e-mail address an SSO proxy puts in a request header
  (``CX_AUTH_HEADER``, default ``X-Forwarded-Email``) — only behind such a proxy;
  ``oidc``: Streamlit's ``st.login`` with the identity provider set in
  ``.streamlit/secrets.toml`` (``[auth]``).

The users file::

    [[user]]
    email = "dana@example.com"
    name = "Dana Reyes"
    role = "manager"                     # executive | manager | analyst
    departments = ["claims_ops"]         # managers only: the departments they answer for
    password = "$argon2id$v=19$..."      # password mode; `python -m cxmetrics user add`

Executives see everything; managers see the stages their departments affect, their
departments' cases, KPIs and incentives, and the comments on those stages; analysts see
everything and may also export and import. Failed sign-ins are limited per account and
address, with a slower backoff per account and per address (:class:`SignInLimits`), and
logged without the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import time
import tomllib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from threading import BoundedSemaphore, Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cxmetrics.contract.text import counted

EXECUTIVE, MANAGER, ANALYST = "executive", "manager", "analyst"
ROLES = (EXECUTIVE, MANAGER, ANALYST)
MODES = ("off", "password", "header", "oidc")
DEFAULT_HEADER = "X-Forwarded-Email"

log = logging.getLogger("cxdashboard.access")
_hasher = PasswordHasher()


class AccessError(ValueError):
    """The sign-in configuration or the users file is unusable."""


class SignInError(Exception):
    """A sign-in was refused; the message can be shown to the person signing in."""


@dataclass(frozen=True)
class User:
    email: str
    role: str
    name: str = ""
    departments: tuple[str, ...] = ()
    password_hash: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.name or self.email

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The departments whose data this user may see; None for all of them."""
        return self.departments if self.role == MANAGER else None

    @property
    def can_export(self) -> bool:
        """Chart, table and data files (the briefing follows the scope, for everyone)."""
        return self.role == ANALYST

    @property
    def can_import(self) -> bool:
        return self.role == ANALYST


# Everyone, when sign-in is off: the sample data and a private installation.
NOBODY = User(email="", role=ANALYST, name="")


LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


@dataclass(frozen=True)
class Config:
    mode: str = "off"
    users_file: Path | None = None
    header: str = DEFAULT_HEADER
    trusted_proxies: tuple = LOOPBACK  # the addresses whose forwarded headers are believed
    idle_minutes: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


def users_file(environ: dict[str, str] | None = None) -> Path | None:
    """The users file named by ``CX_USERS_FILE`` (``os.environ`` by default), if any."""
    env = os.environ if environ is None else environ
    name = env.get("CX_USERS_FILE", "").strip()
    return Path(name) if name else None


def _networks(text: str, name: str) -> tuple:
    nets = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            nets.append(ip_network(part, strict=False))
        except ValueError:
            raise AccessError(
                f"{name} holds {part!r}, which is not an IP address or network "
                "(write e.g. 10.0.0.5 or 10.0.0.0/24, separated by commas)"
            ) from None
    return tuple(nets)


def is_loopback_bind(address: str | None) -> bool:
    """Whether a server bound to ``address`` (Streamlit's ``server.address``; empty: every
    interface) can only be reached from this machine."""
    if not address or not address.strip():
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ip_address(address.strip()).is_loopback
    except ValueError:
        return False


def config(environ: dict[str, str] | None = None, bind_address: str | None = "127.0.0.1") -> Config:
    """The sign-in configuration from the environment (``os.environ`` by default).
    ``bind_address`` is where the server listens: header mode refuses a server reachable
    beyond this machine unless ``CX_TRUSTED_PROXIES`` names the proxy."""
    env = os.environ if environ is None else environ
    users = users_file(env)
    mode = env.get("CX_AUTH", "").strip().lower() or ("password" if users else "off")
    if mode not in MODES:
        raise AccessError(f"CX_AUTH is {mode!r}; use one of {', '.join(MODES)}")
    if mode != "off" and not users:
        raise AccessError(
            f"CX_AUTH is {mode!r} but CX_USERS_FILE is not set: the users file gives each "
            "person a role"
        )
    header = env.get("CX_AUTH_HEADER", "").strip() or DEFAULT_HEADER
    proxies_text = env.get("CX_TRUSTED_PROXIES", "").strip()
    trusted = _networks(proxies_text, "CX_TRUSTED_PROXIES") or LOOPBACK
    if mode == "header" and not proxies_text and not is_loopback_bind(bind_address):
        raise AccessError(
            f"CX_AUTH is 'header' and the server listens on {bind_address or 'every interface'}"
            f", so anybody who reaches it could send a {header} header. Set CX_TRUSTED_PROXIES "
            "to the address of the sign-in proxy, or bind to 127.0.0.1 (--server.address)"
        )
    idle = env.get("CX_IDLE_MINUTES", "").strip() or "60"
    try:
        idle_minutes = float(idle)
    except ValueError:
        raise AccessError(f"CX_IDLE_MINUTES must be a number of minutes, not {idle!r}") from None
    return Config(mode, users, header, trusted, idle_minutes)


def _trusted(address: str | None, trusted: tuple) -> bool:
    try:
        ip = ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def _forwarded_allow(environ: dict[str, str] | None = None) -> tuple | None:
    """The peers whose X-Forwarded-For the web server (uvicorn) itself believes, as networks;
    None for any peer ("*")."""
    env = os.environ if environ is None else environ
    text = env.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    if "*" in text:
        return None
    return _networks(text, "FORWARDED_ALLOW_IPS")


def peer_is_trusted(
    peer: str | None, forwarded_for: list[str], trusted: tuple, environ=None
) -> bool:
    """Whether the connection came from a trusted proxy. ``peer`` is the address the web
    server reports (None: this machine). The web server replaces the peer by the address in
    X-Forwarded-For when the real peer is one it believes (127.0.0.1 by default); then the
    real peer was one of those, and it is trusted only if all of them are."""
    hops = [h.strip() for v in forwarded_for for h in v.split(",") if h.strip()]
    if hops and peer in hops:  # rewritten by the web server
        allowed = _forwarded_allow(environ)
        return allowed is not None and all(
            any(net.subnet_of(t) for t in trusted if t.version == net.version) for net in allowed
        )
    return _trusted(peer or "127.0.0.1", trusted)


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple, environ=None) -> str:
    """The address a sign-in attempt is counted against: from X-Forwarded-For only when the
    connection came from a trusted proxy (the nearest hop that is not one), else the peer."""
    hops = [h.strip() for v in forwarded_for for h in v.split(",") if h.strip()]
    if hops and peer_is_trusted(peer, forwarded_for, trusted, environ):
        for hop in reversed(hops):
            if not _trusted(hop, trusted):
                return hop[:64]
        return hops[0][:64]
    if hops and peer in hops:  # rewritten from a header we do not believe: the real peer
        return "untrusted-forwarder"
    return (peer or "127.0.0.1")[:64]


def proxy_identity(
    values: list[str], peer: str | None, forwarded_for: list[str], trusted: tuple, how: str
) -> str | None:
    """The e-mail address a trusted proxy put in its header; several values (or one that
    lists several) and a header from anywhere else are refused."""
    if not values:
        return None
    if not peer_is_trusted(peer, forwarded_for, trusted):
        log.warning("%s came from %s, which is not a trusted proxy", how, peer or "127.0.0.1")
        raise SignInError(
            f"This request did not come through the sign-in proxy ({how} is only accepted "
            "from the addresses in CX_TRUSTED_PROXIES)."
        )
    if len(values) > 1 or "," in values[0]:
        log.warning("%s came with several values", how)
        raise SignInError(f"{how} came with several values; the sign-in proxy must set one.")
    return values[0]


def load_users(path: Path) -> dict[str, User]:
    """The users file, keyed by lower-case e-mail; every problem names the entry. A file
    that other users of the machine can read or change is refused."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        raise AccessError(f"the users file {path} does not exist") from None
    except OSError as exc:
        raise AccessError(f"the users file {path} cannot be read: {exc}") from None
    if mode & 0o077:
        raise AccessError(
            f"the users file {path} can be read or changed by other users of this machine "
            f"(mode {mode:o}); make it private with `chmod 600 {path}`"
        )
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccessError(f"the users file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AccessError(f"the users file {path} cannot be read: {exc}") from None
    entries = data.get("user", [])
    if not isinstance(entries, list):
        raise AccessError(f"{path}: write each person as a [[user]] table")
    users: dict[str, User] = {}
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, user {i}"
        user = _user(entry, where)
        if user.email.lower() in users:
            raise AccessError(f"{where}: {user.email} is listed twice")
        users[user.email.lower()] = user
    return users


def _user(entry: dict, where: str) -> User:
    unknown = set(entry) - {"email", "name", "role", "departments", "password"}
    if unknown:
        raise AccessError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    email = str(entry.get("email", "")).strip()
    if "@" not in email:
        raise AccessError(f"{where}: 'email' must be an e-mail address, got {email!r}")
    role = entry.get("role")
    if role not in ROLES:
        raise AccessError(f"{where} ({email}): role must be one of {', '.join(ROLES)}")
    departments = entry.get("departments", [])
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        raise AccessError(f"{where} ({email}): 'departments' must be a list of department ids")
    if role == MANAGER and not departments:
        raise AccessError(f"{where} ({email}): a manager needs at least one department")
    if role != MANAGER and departments:
        raise AccessError(f"{where} ({email}): only managers are limited to departments")
    password = entry.get("password")
    if password is not None and not str(password).startswith("$argon2"):
        raise AccessError(
            f"{where} ({email}): 'password' must be an argon2 hash, never the password "
            "itself; make one with `python -m cxmetrics user add`"
        )
    return User(email, role, str(entry.get("name", "")), tuple(departments), password)


def hash_password(password: str) -> str:
    """A salted argon2id hash for the users file."""
    if len(password) < 8:
        raise AccessError("a password needs at least 8 characters")
    return _hasher.hash(password)


_DUMMY_HASH = _hasher.hash("not anybody's password")


def password_matches(user: User | None, password: str) -> bool:
    """Check a password; an unknown user costs the same time as a wrong password."""
    stored = user.password_hash if user is not None else None
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


MAX_EMAIL = 254  # the longest e-mail address there can be (RFC 5321)


def shown_email(email: str) -> str:
    """An e-mail address as it goes into the log: quoted, and cut when it cannot be one."""
    if len(email) <= MAX_EMAIL:
        return repr(email)
    return f"{email[:40]!r}… ({len(email):,} characters)"


class RateLimiter:
    """At most ``limit`` attempts per key in a sliding ``window`` of seconds. Beyond that
    the key waits until its oldest attempt leaves the window or, with ``spacing``, only
    ``spacing`` seconds after its latest attempt (a slow backoff rather than a lock-out).

    An attempt is reserved before the slow password check, so attempts made at the same
    moment cannot all pass the check; a successful one gives its reservation back. At most
    ``max_keys`` keys are remembered: keys whose attempts have all left the window go first,
    then the least recently used. Shared by every session."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        spacing: float | None = None,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.spacing, self.max_keys = spacing, max_keys
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = Lock()

    def reserve(self, key: str) -> tuple[float, float | None]:
        """``(0, token)`` with an attempt recorded for ``key``, or ``(seconds to wait,
        None)`` with nothing recorded."""
        with self._lock:
            times = self._trim(key)
            now = self.clock()
            if len(times) >= self.limit:
                if self.spacing is None:
                    wait = times[0] + self.window - now
                else:
                    wait = times[-1] + self.spacing - now
                if wait > 0:
                    return wait, None
            times.append(now)
            self._attempts.move_to_end(key)
            self._evict()
            return 0.0, now

    def release(self, key: str, token: float | None) -> None:
        """Give back a reservation (the attempt succeeded or was never made)."""
        with self._lock:
            times = self._attempts.get(key)
            if times is not None and token in times:
                times.remove(token)

    def count(self, key: str) -> int:
        with self._lock:
            return len(self._trim(key))

    def clear(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)

    def __len__(self) -> int:
        return len(self._attempts)

    def _trim(self, key: str) -> deque[float]:
        times = self._attempts.get(key)
        if times is None:
            times = self._attempts[key] = deque()
        while times and times[0] <= self.clock() - self.window:
            times.popleft()
        return times

    def _evict(self) -> None:
        if len(self._attempts) <= self.max_keys:
            return
        horizon = self.clock() - self.window
        for key in [k for k, t in self._attempts.items() if not t or t[-1] <= horizon]:
            del self._attempts[key]
        while len(self._attempts) > self.max_keys:
            self._attempts.popitem(last=False)


class SignInLimits:
    """The rate limits of password sign-in, one set per server (they survive an edit of the
    users file):

    - per account and address: 5 failures in 15 minutes, then that pair pauses, so nobody
      else can lock an account out;
    - per account, from every address: after 10 failures in 15 minutes, one attempt every
      30 seconds (slows guessing from many addresses, never locks the owner out);
    - per address, for every account: after 20 failures in 15 minutes, one attempt every
      30 seconds (slows guessing many accounts; people behind one NAT are slowed, not shut
      out);
    - at most ``verify_slots`` password checks at once on the whole server (each costs
      64 MiB and half a second of CPU); a check waits up to ``busy_wait`` seconds for one.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        verify_slots: int = 2,
        busy_wait: float = 10.0,
    ) -> None:
        window = 15 * 60
        self.pair = RateLimiter(5, window, clock)
        self.account = RateLimiter(10, window, clock, spacing=30)
        self.address = RateLimiter(20, window, clock, spacing=30)
        self.verifying = BoundedSemaphore(verify_slots)
        self.busy_wait = busy_wait


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return counted(max(1, round(seconds)), "second")
    return counted(max(1, round(seconds / 60)), "minute")


class PasswordSignIn:
    """E-mail and password sign-in against a users file, rate-limited (see
    :class:`SignInLimits`) and logged without the password."""

    def __init__(
        self,
        users: dict[str, User],
        clock: Callable[[], float] = time.monotonic,
        limits: SignInLimits | None = None,
    ):
        self.users = users
        self.limits = limits or SignInLimits(clock)

    def sign_in(self, email: str, password: str, address: str | None = None) -> User:
        email = email.strip()
        origin = address or "local"
        account = email.lower()[: MAX_EMAIL + 1]
        lim = self.limits
        keys = ((lim.pair, f"{account} {origin}"), (lim.account, account), (lim.address, origin))
        held: list[tuple[RateLimiter, str, float]] = []
        for limiter, key in keys:
            wait, token = limiter.reserve(key)
            if wait:
                for other, other_key, other_token in held:
                    other.release(other_key, other_token)
                log.warning(
                    "sign-in refused for %s from %s: too many failed attempts",
                    shown_email(email),
                    origin,
                )
                raise SignInError(f"Too many failed sign-ins. Try again in {_wait_text(wait)}.")
            held.append((limiter, key, token))
        user = self.users.get(email.lower()) if len(email) <= MAX_EMAIL else None
        if not lim.verifying.acquire(timeout=lim.busy_wait):
            for limiter, key, token in held:
                limiter.release(key, token)
            log.warning("sign-in of %s from %s deferred: server busy", shown_email(email), origin)
            raise SignInError("The server is busy checking other sign-ins; try again shortly.")
        try:
            matches = password_matches(user, password)
        finally:
            lim.verifying.release()
        if matches:
            lim.pair.clear(keys[0][1])
            for limiter, key, token in held[1:]:
                limiter.release(key, token)
            log.info("signed in: %s (%s) from %s", user.email, user.role, origin)
            return user
        failures = lim.pair.count(keys[0][1])
        log.warning(
            "sign-in failed for %s from %s (%d of %d allowed in 15 minutes)",
            shown_email(email),
            origin,
            failures,
            lim.pair.limit,
        )
        left = lim.pair.limit - failures
        raise SignInError(
            "The e-mail address or the password is wrong. "
            + (
                f"{left} more attempt{'s' if left > 1 else ''} before a 15-minute pause."
                if left > 0
                else "Sign-in for this account is paused for 15 minutes."
            )
        )


def verified_email(claims: dict) -> str | None:
    """The e-mail address from an identity provider's claims, only when the provider says
    it verified it (``email_verified`` true): anybody can put any address on an account of
    some providers."""
    email = claims.get("email")
    if email and claims.get("email_verified") is not True:
        log.warning(
            "the identity provider did not verify the e-mail address %s", shown_email(email)
        )
        raise SignInError(
            f"The identity provider has not verified the e-mail address {email}; verify it "
            "there, then sign in again."
        )
    return email


def _password_stamp(user: User) -> str:
    """A fingerprint of a user's stored password hash: it changes when the password does."""
    return hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()[:16]


def session_for(user: User, now: float) -> dict:
    """What a signed-in session keeps: who, which password, when they signed in, when last
    active."""
    return {"email": user.email.lower(), "stamp": _password_stamp(user), "since": now, "seen": now}


def session_end(
    user: User | None,
    session: dict,
    now: float,
    idle_minutes: float,
    signed_out: float | None = None,
) -> str | None:
    """Why a password session is over (None: it is not): the person was removed, their
    password changed since they signed in, they signed out since (``signed_out``: when they
    last did, in any tab or browser), or nothing happened for ``idle_minutes``."""
    if user is None:
        return "You have been signed out: your account is no longer in the users file."
    if session.get("stamp") != _password_stamp(user):
        return "You have been signed out because your password was changed. Sign in again."
    if signed_out is not None and session.get("since", 0.0) <= signed_out:
        return "You have been signed out (Sign out, in this or another tab). Sign in again."
    if idle_minutes > 0 and now - session.get("seen", 0) > idle_minutes * 60:
        return f"You have been signed out after {idle_minutes:g} minutes without activity."
    return None


def known_user(users: dict[str, User], email: str | None, how: str) -> User:
    """The user an SSO proxy or identity provider vouched for, if the users file has them."""
    if not email:
        raise SignInError(f"No signed-in identity came with this request ({how}).")
    user = users.get(email.strip().lower())
    if user is None:
        log.warning("signed-in identity %s is not in the users file (%s)", shown_email(email), how)
        raise SignInError(
            f"{email[:MAX_EMAIL]} is not in this dashboard's users file; ask its administrator "
            "for access."
        )
    return user


def add_user(
    path: Path,
    email: str,
    role: str,
    password: str | None,
    departments: tuple[str, ...] = (),
    name: str = "",
) -> User:
    """Add or replace one person in the users file (written whole, then moved into place)."""
    path = Path(path)
    users = load_users(path) if path.exists() else {}
    entry: dict = {"email": email, "role": role, "name": name, "departments": list(departments)}
    if password is not None:
        entry["password"] = hash_password(password)
    user = _user({k: v for k, v in entry.items() if v not in ("", [])}, f"{path}, new user")
    users[user.email.lower()] = user
    _write_users(path, users)
    return user


def remove_user(path: Path, email: str) -> User:
    """Take one person out of the users file; their sessions end at their next click
    (``session_end``). An ``AccessError`` when the file does not have them."""
    path = Path(path)
    users = load_users(path)
    user = users.pop(email.strip().lower(), None)
    if user is None:
        raise AccessError(f"{path} has no user {email!r}; `user list` shows who it has")
    _write_users(path, users)
    return user


def _write_users(path: Path, users: dict[str, User]) -> None:
    write_private(path, _to_toml(users.values()))


def write_private(path: Path, text: str) -> None:
    """``text`` written whole to ``path``, private (mode 600) from its first byte, then
    moved into place: a reader sees the old file or the new one, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover (or planted) file is not written through
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)


def _to_toml(users) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    blocks = []
    for u in users:
        lines = ["[[user]]", f"email = {q(u.email)}", f"role = {q(u.role)}"]
        if u.name:
            lines.append(f"name = {q(u.name)}")
        if u.departments:
            lines.append(f"departments = [{', '.join(q(d) for d in u.departments)}]")
        if u.password_hash:
            lines.append(f"password = {q(u.password_hash)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
