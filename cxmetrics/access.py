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
per address, and logged without the password.
"""

from __future__ import annotations

import logging
import os
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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


@dataclass(frozen=True)
class Config:
    mode: str = "off"
    users_file: Path | None = None
    header: str = DEFAULT_HEADER

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


def users_file(environ: dict[str, str] | None = None) -> Path | None:
    """The users file named by ``CX_USERS_FILE`` (``os.environ`` by default), if any."""
    env = os.environ if environ is None else environ
    name = env.get("CX_USERS_FILE", "").strip()
    return Path(name) if name else None


def config(environ: dict[str, str] | None = None) -> Config:
    """The sign-in configuration from the environment (``os.environ`` by default)."""
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
    return Config(mode, users, header)


def load_users(path: Path) -> dict[str, User]:
    """The users file, keyed by lower-case e-mail; every problem names the entry."""
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


class RateLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds; after that the
    key waits until its oldest failure leaves the window. Shared by every session."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = Lock()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            times = self._trim(key)
            if len(times) < self.limit:
                return 0.0
            return max(times[0] + self.window - self.clock(), 0.0)

    def failed(self, key: str) -> int:
        """Record a failure; the number of failures in the window."""
        with self._lock:
            times = self._trim(key)
            times.append(self.clock())
            return len(times)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _trim(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= self.clock() - self.window:
            times.popleft()
        return times


class PasswordSignIn:
    """E-mail and password sign-in against a users file, rate-limited per account (5
    failures in 15 minutes) and per address (20), logged without the password."""

    def __init__(self, users: dict[str, User], clock: Callable[[], float] = time.monotonic):
        self.users = users
        self.per_account = RateLimiter(5, 15 * 60, clock)
        self.per_address = RateLimiter(20, 15 * 60, clock)

    def sign_in(self, email: str, password: str, address: str | None = None) -> User:
        email = email.strip()
        account, origin = f"account:{email.lower()}", f"address:{address or 'local'}"
        wait = max(self.per_account.wait(account), self.per_address.wait(origin))
        if wait:
            log.warning(
                "sign-in refused for %r from %s: too many failed attempts", email, origin[8:]
            )
            raise SignInError(
                f"Too many failed sign-ins. Try again in {max(1, round(wait / 60))} minute(s)."
            )
        user = self.users.get(email.lower())
        if password_matches(user, password):
            self.per_account.clear(account)
            log.info("signed in: %s (%s) from %s", user.email, user.role, origin[8:])
            return user
        failures = self.per_account.failed(account)
        self.per_address.failed(origin)
        log.warning(
            "sign-in failed for %r from %s (%d of %d allowed in 15 minutes)",
            email,
            origin[8:],
            failures,
            self.per_account.limit,
        )
        left = self.per_account.limit - failures
        raise SignInError(
            "The e-mail address or the password is wrong. "
            + (
                f"{left} more attempt{'s' if left > 1 else ''} before a 15-minute pause."
                if left
                else "Sign-in for this account is paused for 15 minutes."
            )
        )


def known_user(users: dict[str, User], email: str | None, how: str) -> User:
    """The user an SSO proxy or identity provider vouched for, if the users file has them."""
    if not email:
        raise SignInError(f"No signed-in identity came with this request ({how}).")
    user = users.get(email.strip().lower())
    if user is None:
        log.warning("signed-in identity %r is not in the users file (%s)", email, how)
        raise SignInError(
            f"{email} is not in this dashboard's users file; ask its administrator for access."
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_to_toml(users.values()), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return user


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
