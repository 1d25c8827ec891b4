"""The users file, password hashes, the sign-in rate limit and its log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib

import pytest
from argon2 import PasswordHasher
from conftest import REPO

from cxmetrics.contract import access


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def users_file(tmp_path, *entries: str):
    path = tmp_path / "users.toml"
    path.write_text("\n\n".join(entries), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_added_users_are_stored_with_a_salted_argon2_hash_never_the_password(tmp_path):
    path = tmp_path / "users.toml"
    access.add_user(path, "ceo@example.com", "executive", "a long secret", name="Chief")
    access.add_user(path, "dana@example.com", "manager", "a long secret", ("claims",))
    text = path.read_text()
    assert "a long secret" not in text
    stored = tomllib.loads(text)["user"]
    hashes = [u["password"] for u in stored]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert hashes[0] != hashes[1]  # the same password, two salts
    assert PasswordHasher().verify(hashes[1], "a long secret")  # a second implementation
    users = access.load_users(path)
    assert users["dana@example.com"].scope == ("claims",)
    assert users["ceo@example.com"].scope is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_password_checks(tmp_path):
    path = tmp_path / "users.toml"
    access.add_user(path, "ceo@example.com", "executive", "a long secret")
    users = access.load_users(path)
    assert access.password_matches(users["ceo@example.com"], "a long secret")
    assert not access.password_matches(users["ceo@example.com"], "a long secreT")
    assert not access.password_matches(None, "a long secret")
    with pytest.raises(access.AccessError, match="at least 8"):
        access.hash_password("short")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('[[user]]\nemail = "a@x.com"\nrole = "boss"', "user 1 .*role must be one of"),
        ('[[user]]\nemail = "a@x.com"\nrole = "manager"', "a manager needs at least one"),
        (
            '[[user]]\nemail = "a@x.com"\nrole = "analyst"\ndepartments = ["claims"]',
            "only managers are limited",
        ),
        ('[[user]]\nemail = "a@x.com"\nrole = "analyst"\npassword = "hunter22"', "argon2 hash"),
        ('[[user]]\nemail = "nobody"\nrole = "analyst"', "e-mail address"),
        ('[[user]]\nemail = "a@x.com"\nrole = "analyst"\nadmin = true', "unknown key.*admin"),
        (
            '[[user]]\nemail = "a@x.com"\nrole = "analyst"\n[[user]]\nemail = "A@x.com"\nrole = '
            '"executive"',
            "user 2: A@x.com is listed twice",
        ),
        ("[[user]\n", "cannot be read"),
    ],
)
def test_a_bad_users_file_names_the_entry_and_the_problem(tmp_path, entry, message):
    path = users_file(tmp_path, entry)
    with pytest.raises(access.AccessError, match=message):
        access.load_users(path)


def test_a_plain_password_in_the_file_is_not_echoed_back(tmp_path):
    path = users_file(tmp_path, '[[user]]\nemail = "a@x.com"\nrole = "analyst"\npassword = "pw1"')
    with pytest.raises(access.AccessError) as err:
        access.load_users(path)
    assert "pw1" not in str(err.value)


def test_configuration_from_the_environment(tmp_path):
    assert not access.config({}).enabled
    cfg = access.config({"CX_USERS_FILE": "/srv/users.toml"})
    assert (cfg.mode, str(cfg.users_file)) == ("password", "/srv/users.toml")
    cfg = access.config({"CX_USERS_FILE": "u.toml", "CX_AUTH": "header"})
    assert (cfg.mode, cfg.header) == ("header", "X-Forwarded-Email")
    with pytest.raises(access.AccessError, match="CX_USERS_FILE is not set"):
        access.config({"CX_AUTH": "oidc"})
    with pytest.raises(access.AccessError, match="use one of"):
        access.config({"CX_AUTH": "ldap", "CX_USERS_FILE": "u.toml"})


def signer(tmp_path, clock):
    path = tmp_path / "users.toml"
    access.add_user(path, "dana@example.com", "manager", "right password", ("claims",))
    access.add_user(path, "ceo@example.com", "executive", "other password")
    return access.PasswordSignIn(access.load_users(path), clock)


def test_five_failures_pause_the_account_from_that_address_for_fifteen_minutes(tmp_path):
    clock = Clock()
    s = signer(tmp_path, clock)
    for _ in range(5):
        with pytest.raises(access.SignInError, match="wrong"):
            s.sign_in("dana@example.com", "guess", "10.0.0.1")
    # the right password no longer helps from that address ...
    with pytest.raises(access.SignInError, match=r"Try again in 15 minutes\."):
        s.sign_in("Dana@Example.com", "right password", "10.0.0.1")
    # ... but somebody else's failures cannot lock Dana out from her own address
    assert s.sign_in("dana@example.com", "right password", "10.0.0.2").role == "manager"
    assert s.sign_in("ceo@example.com", "other password", "10.0.0.1").role == "executive"
    clock.now += 15 * 60 - 1
    with pytest.raises(access.SignInError, match=r"Try again in 1 second\."):
        s.sign_in("dana@example.com", "right password", "10.0.0.1")
    clock.now += 1  # the oldest failure has left the window
    assert s.sign_in("dana@example.com", "right password", "10.0.0.1").departments == ("claims",)


def test_guessing_one_account_from_many_addresses_is_slowed_not_locked(tmp_path):
    clock = Clock()
    s = signer(tmp_path, clock)
    for i in range(10):  # rotating addresses: no pair reaches 5
        with pytest.raises(access.SignInError, match="wrong"):
            s.sign_in("dana@example.com", "guess", f"10.1.0.{i}")
    refused = 0
    for i in range(10, 30):  # 20 more at once: all refused, whatever the address
        with pytest.raises(access.SignInError, match="Too many.*30 second"):
            s.sign_in("dana@example.com", "guess", f"10.1.0.{i}")
        refused += 1
    assert refused == 20
    clock.now += 30  # one attempt every 30 seconds: the owner still gets in
    assert s.sign_in("dana@example.com", "right password", "10.2.0.1").role == "manager"


def test_twenty_failures_from_one_address_slow_that_address(tmp_path):
    clock = Clock()
    s = signer(tmp_path, clock)
    for i in range(20):  # a different made-up account each time: no account reaches 5
        with pytest.raises(access.SignInError, match="wrong"):
            s.sign_in(f"guess{i}@example.com", "guess", "10.0.0.9")
    with pytest.raises(access.SignInError, match=r"Try again in 30 seconds\."):
        s.sign_in("ceo@example.com", "other password", "10.0.0.9")
    assert s.sign_in("ceo@example.com", "other password", "10.0.0.8").role == "executive"
    clock.now += 30  # behind a shared address: slowed, not shut out for 15 minutes
    assert s.sign_in("ceo@example.com", "other password", "10.0.0.9").role == "executive"


def test_the_limits_survive_a_new_version_of_the_users_file(tmp_path):
    clock = Clock()
    limits = access.SignInLimits(clock)
    s = access.PasswordSignIn(signer(tmp_path, clock).users, clock, limits)
    for _ in range(5):
        with pytest.raises(access.SignInError, match="wrong"):
            s.sign_in("dana@example.com", "guess", "10.0.0.1")
    access.add_user(tmp_path / "users.toml", "new@example.com", "analyst", "a long secret")
    edited = access.PasswordSignIn(access.load_users(tmp_path / "users.toml"), clock, limits)
    with pytest.raises(access.SignInError, match="Too many"):
        edited.sign_in("dana@example.com", "right password", "10.0.0.1")
    auth_source = (REPO / "cxapp" / "auth.py").read_text()  # the app shares one per server
    assert "limits=_limits()" in auth_source


def test_concurrent_attempts_reserve_before_the_password_check(tmp_path):
    import threading

    s = signer(tmp_path, Clock())
    barrier = threading.Barrier(8)
    results: list[str] = []

    def attempt():
        barrier.wait()
        try:
            s.sign_in("dana@example.com", "guess", "10.0.0.1")
        except access.SignInError as exc:
            results.append("wrong" if "wrong" in str(exc) else "refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused"] * 3 + ["wrong"] * 5  # never "8 of 5"


def test_password_checks_are_bounded_server_wide(tmp_path, monkeypatch):
    import threading

    s = signer(tmp_path, Clock())
    s.limits = access.SignInLimits(Clock(), verify_slots=2, busy_wait=30)
    running, most = [0], [0]
    lock = threading.Lock()
    real = access.password_matches

    def counting(user, password):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real(user, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(access, "password_matches", counting)
    barrier = threading.Barrier(12)

    def attempt(i):
        barrier.wait()
        with pytest.raises(access.SignInError):
            s.sign_in(f"user{i}@example.com", "guess", f"10.3.0.{i}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 2  # twelve at once, never more than two argon2 checks together

    s.limits = access.SignInLimits(Clock(), verify_slots=1, busy_wait=0.05)
    s.limits.verifying.acquire()  # the only slot is taken: refused, and not counted
    with pytest.raises(access.SignInError, match="busy"):
        s.sign_in("dana@example.com", "right password", "10.0.0.1")
    s.limits.verifying.release()
    assert s.limits.pair.count("dana@example.com 10.0.0.1") == 0


def test_a_huge_email_is_logged_short_and_limiter_memory_is_bounded(tmp_path, caplog):
    s = signer(tmp_path, Clock())
    huge = "a" * 2_000_000 + "@example.com"
    logger = logging.getLogger("cxdashboard.access")
    logger.addHandler(caplog.handler)
    try:
        with (
            caplog.at_level(logging.INFO, logger="cxdashboard.access"),
            pytest.raises(access.SignInError, match="wrong"),
        ):
            s.sign_in(huge, "guess", "10.0.0.1")
    finally:
        logger.removeHandler(caplog.handler)
    assert len(caplog.text) < 1_000 and "2,000,012 characters" in caplog.text
    assert all(len(k) < 400 for k in s.limits.account._attempts)

    clock = Clock()
    limiter = access.RateLimiter(5, 60, clock, max_keys=100)
    for i in range(1_000):
        limiter.reserve(f"k{i}")
    assert len(limiter) == 100  # the least recently used went
    assert "k999" in limiter._attempts and "k0" not in limiter._attempts
    clock.now += 61  # every attempt has left the window: the next new key sweeps them
    limiter.max_keys = 10
    limiter.reserve("fresh")
    assert list(limiter._attempts) == ["fresh"]


def test_sign_ins_are_logged_without_the_password(tmp_path, caplog):
    s = signer(tmp_path, Clock())
    logger = logging.getLogger("cxdashboard.access")
    logger.addHandler(caplog.handler)  # the dashboard's log does not propagate to the root
    try:
        with caplog.at_level(logging.INFO, logger="cxdashboard.access"):
            with pytest.raises(access.SignInError):
                s.sign_in("dana@example.com", "Tr0ub4dor&3", "10.0.0.1")
            s.sign_in("dana@example.com", "right password", "10.0.0.1")
    finally:
        logger.removeHandler(caplog.handler)
    text = caplog.text
    assert "sign-in failed for 'dana@example.com' from 10.0.0.1 (1 of 5" in text
    assert "signed in: dana@example.com (manager) from 10.0.0.1" in text
    assert "Tr0ub4dor" not in text and "right password" not in text


def test_an_identity_from_a_proxy_must_be_in_the_users_file(tmp_path):
    users = signer(tmp_path, Clock()).users
    assert access.known_user(users, " CEO@example.com ", "header").role == "executive"
    with pytest.raises(access.SignInError, match="not in this dashboard's users file"):
        access.known_user(users, "stranger@example.com", "header")
    with pytest.raises(access.SignInError, match="No signed-in identity"):
        access.known_user(users, None, "the X-Forwarded-Email header")


def test_cli_adds_and_lists_users_without_printing_hashes(tmp_path):
    path = tmp_path / "users.toml"

    def cli(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "cxmetrics", "user", *args, "--file", str(path)],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
        )

    done = cli(
        "add",
        "dana@example.com",
        "--role",
        "manager",
        "--department",
        "claims,billing",
        "--password-stdin",
        stdin="a long secret\n",
    )
    assert done.returncode == 0, done.stderr
    assert "a long secret" not in done.stdout + done.stderr
    listed = cli("list")
    assert listed.stdout.strip() == "dana@example.com\tmanager\tclaims,billing"
    assert "argon2" not in listed.stdout
    refused = cli("add", "x@example.com", "--role", "manager", "--no-password")
    assert refused.returncode != 0
    assert "a manager needs at least one department" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert access.password_matches(access.load_users(path)["dana@example.com"], "a long secret")
    # a person removed: gone from the file and the list; an unknown one is named
    cli("add", "ali@example.com", "--role", "analyst", "--password-stdin", stdin="another one\n")
    removed = cli("remove", "Ali@Example.com")
    assert removed.returncode == 0 and "ali@example.com: removed from" in removed.stdout
    assert set(access.load_users(path)) == {"dana@example.com"}
    missing = cli("remove", "nobody@example.com")
    assert missing.returncode != 0 and "has no user 'nobody@example.com'" in missing.stderr
    assert "Traceback" not in missing.stderr
    # no terminal and nothing on standard input (a script, cron): said, nothing written
    before = path.read_bytes()
    blind = subprocess.run(
        [sys.executable, "-m", "cxmetrics", "user", "add", "x@example.com", "--role", "analyst"]
        + ["--file", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        start_new_session=True,  # no controlling terminal for getpass to open
    )
    assert blind.returncode == 1, blind.stderr
    assert "no password was typed (no terminal to ask on)" in blind.stderr
    assert "--password-stdin" in blind.stderr and "EOFError" not in blind.stderr
    assert path.read_bytes() == before


def test_cli_warns_of_a_department_the_database_does_not_know(tmp_path, sample_url, raw_sql):
    """Signed in, a manager of departments the database lacks sees nothing: ``user add``
    says so when it writes them (it still writes: the data may come later)."""
    path = tmp_path / "users.toml"
    env = {**os.environ, "CX_DATABASE_URL": sample_url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cxmetrics",
            "user",
            "add",
            "lost@example.com",
            "--role",
            "manager",
            "--department",
            "claims,nonexistent",
            "--no-password",
            "--file",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    known = ", ".join(
        r[0] for r in raw_sql.execute("SELECT department_id FROM departments ORDER BY 1")
    )
    assert done.stderr.strip().endswith(
        f"has no department nonexistent (its departments: {known}); until it has, this person "
        "sees nothing when signed in"
    )
    assert "claims" not in done.stderr.split("(")[0]
    assert access.load_users(path)["lost@example.com"].departments == ("claims", "nonexistent")
    # a database not made yet is left alone: no empty file where the data will go
    missing = tmp_path / "later.db"
    later = subprocess.run(
        [sys.executable, "-m", "cxmetrics", "user", "add", "b@example.com", "--role",
         "manager", "--department", "claims", "--no-password", "--file", str(path)],
        capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "CX_DATABASE_URL": f"sqlite:///{missing}"},
    )  # fmt: skip
    assert later.returncode == 0 and later.stderr == "" and not missing.exists()


# --- header mode: only from the proxy ------------------------------------------------------


def test_header_mode_refuses_a_server_reachable_beyond_this_machine():
    env = {"CX_USERS_FILE": "u.toml", "CX_AUTH": "header"}
    for bind in (None, "", "0.0.0.0", "::", "192.168.1.20"):
        with pytest.raises(access.AccessError, match="Set CX_TRUSTED_PROXIES"):
            access.config(env, bind_address=bind)
    for bind in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert access.config(env, bind_address=bind).trusted_proxies == access.LOOPBACK
    cfg = access.config({**env, "CX_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/24"}, "0.0.0.0")
    assert [str(n) for n in cfg.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/24"]
    with pytest.raises(access.AccessError, match="CX_TRUSTED_PROXIES holds 'proxy.local'"):
        access.config({**env, "CX_TRUSTED_PROXIES": "proxy.local"}, "0.0.0.0")
    assert access.config({"CX_USERS_FILE": "u.toml"}, bind_address=None).mode == "password"


def test_the_identity_header_is_believed_from_a_trusted_proxy_only():
    loop = access.LOOPBACK
    proxy = access.config(
        {"CX_USERS_FILE": "u", "CX_AUTH": "header", "CX_TRUSTED_PROXIES": "10.0.0.5"}, None
    ).trusted_proxies
    how = "the X-Forwarded-Email header"
    # a proxy on this machine (Streamlit reports a loopback peer as None)
    assert access.proxy_identity(["ceo@x.io"], None, [], loop, how) == "ceo@x.io"
    assert access.proxy_identity(["ceo@x.io"], "10.0.0.5", [], proxy, how) == "ceo@x.io"
    assert access.proxy_identity([], None, [], loop, how) is None
    with pytest.raises(access.SignInError, match="did not come through the sign-in proxy"):
        access.proxy_identity(["ceo@x.io"], "203.0.113.7", [], loop, how)  # direct
    with pytest.raises(access.SignInError, match="did not come through the sign-in proxy"):
        access.proxy_identity(["ceo@x.io"], None, [], proxy, how)  # loopback is not the proxy
    for values in (["boss@x.io", "ceo@x.io"], ["boss@x.io, ceo@x.io"]):
        with pytest.raises(access.SignInError, match="several values"):
            access.proxy_identity(values, None, [], loop, how)
    # the web server replaced a loopback peer by the forwarded address: the real peer was
    # one the web server believes (127.0.0.1 by default), trusted only if we trust it too
    xff = ["203.0.113.7"]
    assert access.proxy_identity(["ceo@x.io"], "203.0.113.7", xff, loop, how) == "ceo@x.io"
    with pytest.raises(access.SignInError, match="did not come through"):
        access.proxy_identity(["ceo@x.io"], "203.0.113.7", xff, proxy, how)


def test_the_client_address_comes_from_a_trusted_proxys_header_only():
    loop = access.LOOPBACK
    assert access.client_address("203.0.113.7", [], loop) == "203.0.113.7"
    assert access.client_address(None, [], loop) == "127.0.0.1"
    # behind the proxy on this machine: the nearest hop that is not a trusted proxy
    assert access.client_address("198.51.100.2", ["1.2.3.4, 198.51.100.2"], loop) == (
        "198.51.100.2"
    )
    assert access.client_address(None, ["1.2.3.4, 198.51.100.2, 127.0.0.1"], loop) == (
        "198.51.100.2"
    )
    # a peer that is not a trusted proxy: its header is ignored, whatever it says
    assert access.client_address("203.0.113.7", ["9.9.9.9"], loop) == "203.0.113.7"
    proxy = access.config(
        {"CX_USERS_FILE": "u", "CX_TRUSTED_PROXIES": "10.0.0.5"}, None
    ).trusted_proxies
    rotating = {access.client_address(f"9.9.9.{i}", [f"9.9.9.{i}"], proxy) for i in range(20)}
    assert rotating == {"untrusted-forwarder"}  # rewritten from a header nobody vouches for


# --- the users file and sessions ---------------------------------------------------------


def test_the_users_file_is_private_from_the_start_and_checked_on_load(tmp_path):
    import os

    old = os.umask(0)  # the most permissive umask: the file must still be private
    try:
        path = tmp_path / "users.toml"
        access.add_user(path, "ceo@example.com", "executive", "a long secret")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(access.AccessError, match=r"other users of this machine \(mode 644\)"):
        access.load_users(path)
    path.chmod(0o600)
    assert "ceo@example.com" in access.load_users(path)


def test_a_session_ends_when_idle_or_when_the_password_changes(tmp_path):
    path = tmp_path / "users.toml"
    user = access.add_user(path, "dana@example.com", "manager", "first secret", ("claims",))
    session = access.session_for(access.load_users(path)["dana@example.com"], 1000.0)
    users = access.load_users(path)
    assert access.session_end(users["dana@example.com"], session, 1000.0 + 59 * 60, 60) is None
    assert "after 60 minutes" in access.session_end(users[user.email], session, 1000.0 + 3601, 60)
    access.add_user(path, "dana@example.com", "manager", "second secret", ("claims",))
    changed = access.load_users(path)["dana@example.com"]
    assert "password was changed" in access.session_end(changed, session, 1001.0, 60)
    assert "no longer in the users file" in access.session_end(None, session, 1001.0, 60)


def test_an_identity_provider_must_have_verified_the_address():
    assert access.verified_email({"email": "a@x.io", "email_verified": True}) == "a@x.io"
    for claims in ({"email": "a@x.io"}, {"email": "a@x.io", "email_verified": "true"}):
        with pytest.raises(access.SignInError, match="has not verified"):
            access.verified_email(claims)
    assert access.verified_email({}) is None
