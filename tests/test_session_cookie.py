"""The cookie that keeps a password sign-in across tabs: signed, bounded in time, tied to
the password, and its key shared by the processes of one installation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import threading

from cxmetrics.contract import access, session_cookie

KEY = bytes(range(32))


def dana(tmp_path, password="first secret"):
    path = tmp_path / "users.toml"
    access.add_user(path, "dana@example.com", "manager", password, ("claims",))
    return path, access.load_users(path)


def test_a_cookie_carries_the_session_it_was_issued_for(tmp_path):
    _path, users = dana(tmp_path)
    session = access.session_for(users["dana@example.com"], 1000.0)
    value = session_cookie.token(session, 5000.0, KEY)
    back = session_cookie.session_of(value, 5000.0 + 59 * 60, KEY, 60)
    assert back == {"email": "dana@example.com", "stamp": session["stamp"], "seen": 5000.0}
    assert access.session_end(users["dana@example.com"], back, 5000.0 + 59 * 60, 60) is None
    # the signature is HMAC-SHA256 of the payload under the key (a second implementation)
    payload, signature = value.split(".")
    digest = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == signature
    assert json.loads(base64.urlsafe_b64decode(payload + "==="))["e"] == "dana@example.com"


def test_an_altered_foreign_or_old_cookie_is_no_session(tmp_path):
    _path, users = dana(tmp_path)
    session = access.session_for(users["dana@example.com"], 1000.0)
    value = session_cookie.token(session, 5000.0, KEY)
    payload, signature = value.split(".")
    ceo = dict(json.loads(base64.urlsafe_b64decode(payload + "===")), e="ceo@example.com")
    forged = base64.urlsafe_b64encode(json.dumps(ceo).encode()).decode().rstrip("=")
    for bad in (
        f"{forged}.{signature}",  # another person, the old signature
        value[:-2] + ("AA" if value[-2:] != "AA" else "BB"),  # the signature altered
        session_cookie.token(session, 5000.0, bytes(32)),  # another server's key
        "",
        None,
        "no-dot",
        "a.b.c",
        "x" * 3000 + "." + signature,
    ):
        assert session_cookie.session_of(bad, 5001.0, KEY, 60) is None, bad
    # past its life: the idle time, or 12 hours when sessions never end for idleness
    assert session_cookie.session_of(value, 5000.0 + 3601, KEY, 60) is None
    assert session_cookie.session_of(value, 5000.0 + 11 * 3600, KEY, 0) is not None
    assert session_cookie.session_of(value, 5000.0 + 12 * 3600 + 1, KEY, 0) is None
    assert session_cookie.session_of(value, 4000.0, KEY, 60) is None  # issued in the future


def test_a_cookie_ends_with_the_password_or_the_person(tmp_path):
    path, users = dana(tmp_path)
    value = session_cookie.token(access.session_for(users["dana@example.com"], 1000.0), 1000, KEY)
    access.add_user(path, "dana@example.com", "manager", "second secret", ("claims",))
    changed = access.load_users(path)["dana@example.com"]
    back = session_cookie.session_of(value, 1001.0, KEY, 60)
    assert "password was changed" in access.session_end(changed, back, 1001.0, 60)
    assert "no longer in the users file" in access.session_end(None, back, 1001.0, 60)


def test_an_active_session_renews_its_cookie_at_a_quarter_of_its_life():
    assert session_cookie.due(None, 1000.0, 60)
    assert not session_cookie.due(1000.0, 1000.0 + 15 * 60, 60)
    assert session_cookie.due(1000.0, 1000.0 + 15 * 60 + 1, 60)
    assert not session_cookie.due(1000.0, 1000.0 + 3 * 3600, 0)
    assert session_cookie.due(1000.0, 1000.0 + 3 * 3600 + 1, 0)


def test_the_key_is_made_once_private_and_shared(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text("")
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(session_cookie.server_key(users, {})))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    path = session_cookie.key_file(users)
    assert len(set(keys)) == 1 and keys[0] == bytes.fromhex(path.read_text().strip())
    assert len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.toml", path.name]
    # a secret in the environment wins, the same for every process given it
    given = {session_cookie.KEY_ENV: "an installation's secret"}
    assert (
        session_cookie.server_key(users, given)
        == hashlib.sha256(b"an installation's secret").digest()
    )
    # a key file that cannot be read (here a folder): a key of this process, the same at
    # each call, with a warning in the log
    other = tmp_path / "other" / "users.toml"
    session_cookie.key_file(other).mkdir(parents=True)
    first = session_cookie.server_key(other, {})
    assert len(first) == 32 and first != keys[0]
    assert session_cookie.server_key(other, {}) == first


def test_the_page_script_sets_a_strict_cookie_secure_over_https():
    script = session_cookie.set_script("abc.def", 3600)
    assert '"cx_session=abc.def; Path=/; Max-Age=3600; SameSite=Strict"' in script
    assert "'https:' ? '; Secure'" in script
    assert "cx_session=; Path=/; Max-Age=0" in session_cookie.clear_script()
