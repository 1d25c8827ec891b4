"""A password sign-in kept across browser tabs and reloads: a cookie signed by the server.

Without it, a password sign-in lasts one Streamlit session (one tab): every link the
dashboard opens in a new tab asked for the password again. After a sign-in, the browser
keeps a cookie (:data:`COOKIE`) holding the e-mail address, a fingerprint of the stored
password hash and the time it was issued, signed with HMAC-SHA256 under the server's key
(:func:`server_key`). A new tab sends it; the session it carries (:func:`session_of`) is
then judged by the same rules as a tab's own (``access.session_end``): the person must
still be in the users file, with the same password, and active within ``CX_IDLE_MINUTES``
(the cookie is issued again as they click, :func:`due`). A cookie that was altered, signed
under another key, or older than its life is ignored: the sign-in screen is shown.

The cookie is set by the page's script (Streamlit gives the server no other way to set
one), so it cannot be ``HttpOnly``; it is ``SameSite=Strict`` and, over HTTPS, ``Secure``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

COOKIE = "cx_session"
#: The key signing the cookies of every process of one installation, when set
KEY_ENV = "CX_SESSION_SECRET"
#: A cookie's life when sessions never end for idleness (``CX_IDLE_MINUTES=0``)
LONGEST_HOURS = 12.0
_KEY_BYTES = 32

log = logging.getLogger("cxdashboard.access")


def key_file(users_file: Path) -> Path:
    """Where the key is kept when ``CX_SESSION_SECRET`` is not set: beside the users file."""
    return users_file.with_name(users_file.name + ".session-key")


def server_key(users_file: Path, environ: dict[str, str] | None = None) -> bytes:
    """The key that signs the cookies: ``CX_SESSION_SECRET``; else a random key made once in
    :func:`key_file` (mode 600; every process reading that users file shares it, so a tab
    served by another process stays signed in); else, where that file cannot be written, a
    key of this process alone (its cookies end when it restarts)."""
    env = os.environ if environ is None else environ
    given = env.get(KEY_ENV, "").strip()
    if given:
        return hashlib.sha256(given.encode("utf-8")).digest()
    path = key_file(users_file)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read the session key %s (%s): sign-ins last one tab", path, exc)
        return _process_key()
    try:
        return _make_key(path)
    except OSError as exc:
        log.warning("cannot write the session key %s (%s): sign-ins last one tab", path, exc)
        return _process_key()


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < _KEY_BYTES:
        raise OSError(f"{path} does not hold a key of {_KEY_BYTES} bytes in hex")
    return key


def _make_key(path: Path) -> bytes:
    """A new key written whole, then linked into place: two processes starting at once
    both read the one that was linked first."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
    body = {"e": session["email"], "s": session["stamp"], "t": int(now)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(payload, key)}"


def session_of(value: str | None, now: float, key: bytes, idle_minutes: float) -> dict | None:
    """The session a cookie carries (``access.session_for``'s shape, last seen when it was
    issued), or None: no cookie, a value altered or signed under another key, or past its
    life. Whether its person and password still hold is ``access.session_end``'s call."""
    if not value or value.count(".") != 1 or len(value) > 2048:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(payload, key)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        email, stamp, issued = str(body["e"]), str(body["s"]), float(body["t"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - issued <= life_seconds(idle_minutes):
        return None
    return {"email": email, "stamp": stamp, "seen": issued}


def set_script(value: str, max_age: float) -> str:
    """The page script that sets the cookie in the browser (Secure over HTTPS)."""
    attributes = f"Path=/; Max-Age={int(max_age)}; SameSite=Strict"
    return (
        "<script>const d = window.parent.document;"
        f"d.cookie = {json.dumps(f'{COOKIE}={value}; {attributes}')}"
        " + (d.location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def clear_script() -> str:
    """The page script that removes the cookie from the browser (signing out)."""
    return set_script("", 0)
