"""A password sign-in kept across browser tabs and reloads: a cookie signed by the server.

Without it, a password sign-in lasts one Streamlit session (one tab): every link the
dashboard opens in a new tab asked for the password again. After a sign-in, the browser
keeps a cookie (:data:`COOKIE`) holding the e-mail address, a fingerprint of the stored
password hash, when the person signed in and when the cookie was issued, signed with
HMAC-SHA256 under the server's key (:func:`server_key`). A new tab sends it; the session it
carries (:func:`session_of`) is then judged by the same rules as a tab's own
(``access.session_end``): the person must still be in the users file, with the same
password, active within ``CX_IDLE_MINUTES`` (the cookie is issued again as they click,
:func:`due`), and signed in after they last signed out (:class:`SignOuts`). A cookie that
was altered, signed under another key, malformed or older than its life is ignored: the
sign-in screen is shown.

*Sign out* ends every session of that person, in every tab and browser, the cookies they
hold included: the time is written beside the users file, which every process reads.

The cookie is set by the page's script (Streamlit gives the server no other way to set
one), so it cannot be ``HttpOnly``; it is ``SameSite=Strict``, ``Secure`` over HTTPS, and
a session cookie (the browser drops it when it closes).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from pathlib import Path

from cxmetrics.contract import access

COOKIE = "cx_session"
#: The key signing the cookies of every process of one installation, when set
KEY_ENV = "CX_SESSION_SECRET"
MIN_SECRET_CHARS = 32
#: A cookie's life when sessions never end for idleness (``CX_IDLE_MINUTES=0``)
LONGEST_HOURS = 12.0
#: Clocks of two processes may differ this much (seconds) when one reads another's cookie
SKEW_SECONDS = 60.0
_KEY_BYTES = 32
_MAX_VALUE = 2048

log = logging.getLogger("cxdashboard.access")
#: A cookie whose signature is refused is logged at most once in this many seconds: each
#: run of that visitor's tab meets it again until they sign in.
REFUSED_LOG_SECONDS = 600.0
_refused_logged = [float("-inf")]  # when this process last logged one


class KeyError_(ValueError):
    """``CX_SESSION_SECRET`` cannot be used; the message says why."""


def key_file(users_file: Path) -> Path:
    """Where the key is kept when ``CX_SESSION_SECRET`` is not set: beside the users file."""
    return users_file.with_name(users_file.name + ".session-key")


def server_key(users_file: Path, environ: dict[str, str] | None = None) -> bytes:
    """The key that signs the cookies: ``CX_SESSION_SECRET`` (at least
    :data:`MIN_SECRET_CHARS` characters; :class:`KeyError_` otherwise); else a random key
    made once in :func:`key_file` (mode 600, and refused when others may read it; every
    process reading that users file shares it, so a tab served by another process stays
    signed in); else, where that file cannot be used, a key of this process alone (its
    cookies end when it restarts), with the reason in the log."""
    env = os.environ if environ is None else environ
    given = env.get(KEY_ENV, "").strip()
    if given:
        if len(given) < MIN_SECRET_CHARS:
            raise KeyError_(
                f"{KEY_ENV} has {len(given)} characters; give at least {MIN_SECRET_CHARS} "
                "random ones (python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return hashlib.sha256(given.encode("utf-8")).digest()
    path = key_file(users_file)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.error("the session key %s cannot be used (%s): sign-ins last one process", path, exc)
        return _process_key()
    try:
        return _make_key(path)
    except (OSError, ValueError) as exc:
        log.warning("cannot write the session key %s (%s): sign-ins last one process", path, exc)
        return _process_key()


def _read_key(path: Path) -> bytes:
    """The key in ``path``: a regular file of this user's, private, not a link, in hex."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ValueError(f"others may read it (mode {stat.S_IMODE(info.st_mode):o}; chmod 600)")
        if info.st_uid != os.geteuid():
            raise ValueError("it belongs to another user")
        data = f.read(4 * _KEY_BYTES)
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < _KEY_BYTES:
        raise ValueError(f"it does not hold a key of {_KEY_BYTES} bytes in hex")
    return key


def _make_key(path: Path) -> bytes:
    """A new key written whole, then linked into place: two processes starting at once
    both read the one that was linked first."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(_KEY_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return _read_key(path)


_PROCESS_KEY: list[bytes] = []


def _process_key() -> bytes:
    if not _PROCESS_KEY:
        _PROCESS_KEY.append(secrets.token_bytes(_KEY_BYTES))
    return _PROCESS_KEY[0]


class SignOuts:
    """When each person last signed out, in a file beside the users file that every process
    reads (``users.toml.signed-out``: JSON, e-mail -> time): a session or cookie from before
    that time is over. Written under a lock, whole, then moved into place."""

    def __init__(self, users_file: Path) -> None:
        self.path = users_file.with_name(users_file.name + ".signed-out")
        self._seen: tuple[float, dict[str, float]] = (-1.0, {})

    def last(self, email: str) -> float | None:
        """When ``email`` last signed out (None: never, or not recorded)."""
        return self._read().get(email.lower())

    def sign_out(self, email: str, when: float) -> None:
        """Record a sign-out; an ``OSError`` when the file cannot be written."""
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            times = dict(self._read(force=True))
            times[email.lower()] = max(when, times.get(email.lower(), 0.0))
            access.write_private(self.path, json.dumps(times))  # one writer: the lock's
            self._seen = (-1.0, {})
        finally:
            os.close(fd)  # and the lock with it

    def _read(self, force: bool = False) -> dict[str, float]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return {}
        if not force and mtime == self._seen[0]:
            return self._seen[1]
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            times = {str(k): float(v) for k, v in loaded.items()}
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.error("the sign-out record %s cannot be read (%s)", self.path, exc)
            times = {}
        self._seen = (mtime, times)
        return times


def life_seconds(idle_minutes: float) -> float:
    """How long a cookie is good for after it was issued: the idle time, or
    :data:`LONGEST_HOURS` when sessions never end for idleness."""
    return idle_minutes * 60 if idle_minutes > 0 else LONGEST_HOURS * 3600


def due(issued: float | None, now: float, idle_minutes: float) -> bool:
    """Whether an active session's cookie should be issued again: none yet, or a quarter of
    its life gone (a person who keeps clicking is never signed out of new tabs)."""
    return issued is None or now - issued > life_seconds(idle_minutes) / 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _sign(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def token(session: dict, now: float, key: bytes) -> str:
    """The cookie's value for a session from ``access.session_for``, issued at ``now``."""
    body = {
        "e": session["email"],
        "s": session["stamp"],
        "i": round(session.get("since", now), 3),
        "t": round(now, 3),
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(payload, key)}"


def session_of(value: str | None, now: float, key: bytes, idle_minutes: float) -> dict | None:
    """The session a cookie carries (``access.session_for``'s shape, last seen when the
    cookie was issued), or None: no cookie, a value altered, malformed or signed under
    another key, or past its life. Whether its person, password and sign-outs still allow
    it is ``access.session_end``'s call."""
    if not value or len(value) > _MAX_VALUE or not value.isascii() or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature.encode("ascii"), _sign(payload, key).encode("ascii")):
        _log_refused(now)
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        email, stamp = str(body["e"]), str(body["s"])
        since, issued = float(body["i"]), float(body["t"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if not -SKEW_SECONDS <= now - issued <= life_seconds(idle_minutes) or since > issued:
        return None
    return {"email": email, "stamp": stamp, "since": since, "seen": min(issued, now)}


def _log_refused(now: float) -> None:
    """Tell the server's log that a cookie's signature was refused, at most once in
    :data:`REFUSED_LOG_SECONDS`: its visitor is asked to sign in again, which processes
    with different keys do to everyone whose tab moves from one to the other."""
    if now - _refused_logged[0] < REFUSED_LOG_SECONDS:
        return
    _refused_logged[0] = now
    log.warning(
        "a sign-in cookie was refused: signed under another key, or altered. If people are "
        "asked to sign in again when their tab reaches another process, give every process "
        "the same %s (or the same users file, beside which the key is kept)",
        KEY_ENV,
    )


def set_script(value: str) -> str:
    """The page script that sets the cookie in the browser: for the browser's session
    (dropped when it closes), ``Secure`` over HTTPS."""
    attributes = "Path=/; SameSite=Strict"
    return (
        "<script>const d = window.parent.document;"
        f"d.cookie = {json.dumps(f'{COOKIE}={value}; {attributes}')}"
        " + (d.location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def clear_script() -> str:
    """The page script that removes the cookie from the browser (signing out)."""
    return (
        "<script>window.parent.document.cookie = "
        f"{json.dumps(f'{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict')};</script>"
    )
