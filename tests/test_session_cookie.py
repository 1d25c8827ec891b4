"""The cookie that keeps a password sign-in across tabs: signed, bounded in time, tied to
the password and to the person's last sign-out, and its key private and shared by the
processes of one installation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import stat
import threading

import pytest

from cxmetrics.contract import access, session_cookie

KEY = bytes(range(32))


def dana(tmp_path, password="first secret"):
    path = tmp_path / "users.toml"
    access.add_user(path, "dana@example.com", "manager", password, ("claims",))
    return path, access.load_users(path)


def test_a_cookie_carries_the_session_it_was_issued_for(tmp_path):
    _path, users = dana(tmp_path)
    session = access.session_for(users["dana@example.com"], 1000.25)
    value = session_cookie.token(session, 5000.5, KEY)
    back = session_cookie.session_of(value, 5000.5 + 59 * 60, KEY, 60)
    assert back == {
        "email": "dana@example.com",
        "stamp": session["stamp"],
        "since": 1000.25,
        "seen": 5000.5,
    }
    assert access.session_end(users["dana@example.com"], back, 5000.5 + 59 * 60, 60) is None
    # the signature is HMAC-SHA256 of the payload under the key (a second implementation)
    payload, signature = value.split(".")
    digest = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == signature


def test_an_altered_foreign_malformed_or_old_cookie_is_no_session(tmp_path):
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
        "Ã©.abc",  # UTF-8 read as Latin-1, as a header arrives: no crash, no session
        f"{payload}.é{signature[1:]}",
    ):
        assert session_cookie.session_of(bad, 5001.0, KEY, 60) is None, bad
    # past its life: the idle time, or 12 hours when sessions never end for idleness
    assert session_cookie.session_of(value, 5000.0 + 3601, KEY, 60) is None
    assert session_cookie.session_of(value, 5000.0 + 11 * 3600, KEY, 0) is not None
    assert session_cookie.session_of(value, 5000.0 + 12 * 3600 + 1, KEY, 0) is None
    # another process's clock a little behind is allowed; a cookie from the future is not
    assert session_cookie.session_of(value, 5000.0 - 30, KEY, 60) is not None
    assert session_cookie.session_of(value, 5000.0 - 120, KEY, 60) is None


def test_a_refused_signature_is_logged_once_in_ten_minutes(tmp_path, caplog, monkeypatch):
    _path, users = dana(tmp_path)
    session = access.session_for(users["dana@example.com"], 1000.0)
    foreign = session_cookie.token(session, 5000.0, bytes(32))  # another process's key
    monkeypatch.setattr(session_cookie, "_refused_logged", [float("-inf")])
    logger = logging.getLogger("cxdashboard.access")
    logger.addHandler(caplog.handler)  # the dashboard's log does not propagate to the root
    try:
        with caplog.at_level("WARNING", logger="cxdashboard.access"):
            for now in (5001.0, 5002.0, 5001.0 + 599, 5001.0 + 600):
                assert session_cookie.session_of(foreign, now, KEY, 60) is None
            # a good cookie, and one that is not a signed value at all, are not logged
            good = session_cookie.token(session, 5000.0, KEY)
            assert session_cookie.session_of(good, 5001.0 + 601, KEY, 60) is not None
            assert session_cookie.session_of("no-dot", 5001.0 + 1300, KEY, 60) is None
    finally:
        logger.removeHandler(caplog.handler)
    # one record may reach the handler twice: through the logger and through the root
    refused = list({id(r): r for r in caplog.records if "cookie was refused" in r.getMessage()})
    assert len(refused) == 2  # at 5001 and 600 s later
    assert "CX_SESSION_SECRET" in caplog.text
    assert foreign.split(".")[1] not in caplog.text  # the cookie itself is never logged


def test_a_cookie_ends_with_the_password_the_person_or_a_sign_out(tmp_path):
    path, users = dana(tmp_path)
    session = access.session_for(users["dana@example.com"], 1000.0)
    value = session_cookie.token(session, 1000.0, KEY)
    back = session_cookie.session_of(value, 1001.0, KEY, 60)
    signed_out = session_cookie.SignOuts(path)
    assert signed_out.last("dana@example.com") is None
    signed_out.sign_out("Dana@Example.com", 1000.5)  # in another tab, after this sign-in
    # every process reads the same record
    assert session_cookie.SignOuts(path).last("dana@example.com") == 1000.5
    said = access.session_end(users["dana@example.com"], back, 1001.0, 60, 1000.5)
    assert said.startswith("You have been signed out (Sign out")
    # a sign-in after the sign-out holds
    again = access.session_for(users["dana@example.com"], 1002.0)
    renewed = session_cookie.session_of(session_cookie.token(again, 1002.0, KEY), 1003, KEY, 60)
    assert access.session_end(users["dana@example.com"], renewed, 1003.0, 60, 1000.5) is None
    assert stat.S_IMODE(signed_out.path.stat().st_mode) == 0o600
    access.add_user(path, "dana@example.com", "manager", "second secret", ("claims",))
    changed = access.load_users(path)["dana@example.com"]
    assert "password was changed" in access.session_end(changed, back, 1001.0, 60)
    assert "no longer in the users file" in access.session_end(None, back, 1001.0, 60)


def test_sign_outs_from_many_processes_are_all_kept(tmp_path):
    path, _users = dana(tmp_path)
    threads = [
        threading.Thread(
            target=lambda i=i: session_cookie.SignOuts(path).sign_out(f"p{i}@example.com", i)
        )
        for i in range(1, 9)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = session_cookie.SignOuts(path)
    assert [record.last(f"p{i}@example.com") for i in range(1, 9)] == list(range(1, 9))


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
    # a secret in the environment wins, the same for every process given it; a short one
    # is refused, naming how to make one
    secret = "an installation's secret of 32+ chars"
    given = {session_cookie.KEY_ENV: secret}
    assert session_cookie.server_key(users, given) == hashlib.sha256(secret.encode()).digest()
    with pytest.raises(session_cookie.KeyError_, match="at least 32 random ones"):
        session_cookie.server_key(users, {session_cookie.KEY_ENV: "short"})


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.mkdir(),  # not a file
        lambda p: (p.write_text("ab" * 32), p.chmod(0o644)),  # others may read it
        lambda p: p.write_bytes(b"\xef\xbb\xbf" + b"ab" * 32),  # an editor's byte-order mark
        lambda p: p.write_text("not hex at all"),
        lambda p: (p.with_name("elsewhere").write_text("ab" * 32), p.symlink_to("elsewhere")),
    ],
    ids=["folder", "readable", "bom", "not-hex", "link"],
)
def test_a_key_file_that_cannot_be_trusted_is_not_used(tmp_path, spoil, caplog, request):
    """A key file others may read, a link, or one that is not a key: the process signs with
    a key of its own (cookies last that process), says why in the log, and never crashes."""
    users = tmp_path / "users.toml"
    users.write_text("")
    path = session_cookie.key_file(users)
    spoil(path)
    if request.node.callspec.id != "readable" and path.is_file() and not path.is_symlink():
        path.chmod(0o600)  # private: refused for what it holds, not for its mode
    if request.node.callspec.id == "link":
        path.with_name("elsewhere").chmod(0o600)
    logger = logging.getLogger("cxdashboard.access")  # the dashboard stops its propagation
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("ERROR", logger="cxdashboard.access"):
            key = session_cookie.server_key(users, {})
    finally:
        logger.removeHandler(caplog.handler)
    assert len(key) == 32 and key != bytes.fromhex("ab" * 32)
    assert session_cookie.server_key(users, {}) == key  # the same for this process
    assert "cannot be used" in caplog.text


def test_the_page_script_sets_a_strict_session_cookie_secure_over_https():
    script = session_cookie.set_script("abc.def")
    assert '"cx_session=abc.def; Path=/; SameSite=Strict"' in script  # no Max-Age: a session
    assert "'https:' ? '; Secure'" in script
    assert "cx_session=; Path=/; Max-Age=0" in session_cookie.clear_script()
