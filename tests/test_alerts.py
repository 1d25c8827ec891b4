"""Alerts end to end: a real SMTP server and a real webhook receiver on 127.0.0.1.

The routing is checked against a second reading of the journey (the ``stage_owners`` table
read with plain sqlite3), not against what the alerts module returns."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import sqlite3
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from mail_servers import free_port, smtp_server, webhook_server

from cxmetrics import cli
from cxmetrics.contract import access, store
from cxmetrics.reports import alerts, delivery
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import finder

SINCE = "2026-07-01"  # a quarter of the test company: stage, department and company findings
USERS = {
    "dana@example.com": ("manager", ["claims"]),
    "sam@example.com": ("manager", ["service"]),
    "pia@example.com": ("manager", ["pricing"]),
    "ceo@example.com": ("executive", []),
    "ali@example.com": ("analyst", []),
}
PUBLIC = "https://cx.example.com"


@pytest.fixture
def db(tmp_path, sample_db):
    path = tmp_path / "cx.db"
    shutil.copy(sample_db, path)
    return path


@pytest.fixture
def env(monkeypatch, tmp_path, db):
    users = tmp_path / "users.toml"
    for email, (role, departments) in USERS.items():
        access.add_user(users, email, role, None, tuple(departments))
    monkeypatch.setenv("CX_USERS_FILE", str(users))
    monkeypatch.setenv("CX_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("CX_MAIL_FROM", "cx@example.com")
    monkeypatch.setenv("CX_DELIVERY_ATTEMPTS", "3")
    monkeypatch.setenv("CX_DELIVERY_BACKOFF", "0.01")
    monkeypatch.delenv("CX_SMTP_URL", raising=False)
    monkeypatch.delenv("CX_ALERT_WEBHOOK", raising=False)
    return f"sqlite:///{db}"


def run(capsys, url: str, *extra: str) -> tuple[int, str, str]:
    code = cli.main(["alerts", "--url", url, "--since", SINCE, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def kept_findings(url: str):
    """The findings engine's kept findings for the period (what alerts may carry)."""
    engine = store.make_engine(url)
    try:
        ds = dataset.load(engine)
        inputs = finder.Inputs.read(engine, ds)
    finally:
        engine.dispose()
    start = dt.date.fromisoformat(SINCE)
    return finder.find(ds, Filters(start=start, end=ds.last_day), inputs).findings


def owners(db) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT stage_id, department_id, role FROM stage_owners").fetchall()


def expected_for(department: str, findings, owner_rows) -> set[str]:
    """What a manager of one department should receive: findings about stages it affects,
    or about itself (and then only on stages it affects)."""
    affects = {s for s, d, _ in owner_rows if d == department}
    out = set()
    for f in findings:
        if f.departments:
            ok = set(f.departments) == {department} and set(f.stages) <= affects
        else:
            ok = bool(f.stages) and set(f.stages) <= affects
        if ok:
            out.add(f.sentence.replace("**", ""))
    return out


def sentences(msg) -> set[str]:
    text = msg.get_body(("plain",)).get_content()
    return {line[2:] for line in text.splitlines() if line.startswith("- ")}


def links(msg) -> list[dict]:
    text = msg.get_body(("plain",)).get_content()
    urls = [
        line.split("Open the view: ")[1] for line in text.splitlines() if "Open the view" in line
    ]
    return [parse_qs(urlsplit(u).query) | {"_url": u} for u in urls]


def test_the_right_findings_reach_the_right_managers_and_nothing_twice(
    env, db, capsys, monkeypatch
):
    found = kept_findings(env)
    owner_rows = owners(db)
    with smtp_server() as (box, port), webhook_server() as (hook, hook_url):
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("CX_ALERT_WEBHOOK", hook_url)
        code, out, err = run(capsys, env, "--send")
        assert code == 0, err
        for email, (role, departments) in USERS.items():
            got = box.to(email)
            if role == "analyst":
                assert got == []
                continue
            if role == "executive":
                assert len(got) == 1
                assert sentences(got[0]) == {f.sentence.replace("**", "") for f in found}
                continue
            want = expected_for(departments[0], found, owner_rows)
            assert len(got) == (1 if want else 0), email
            if not want:
                continue
            assert sentences(got[0]) == want
            affects = {s for s, d, _ in owner_rows if d == departments[0]}
            for q in links(got[0]):  # every link stays inside the manager's scope
                assert q["_url"].startswith(PUBLIC + "/")
                assert set(q.get("stage", [])) <= affects
                assert q["department"] == departments[0:1]
                assert q["start"] == [SINCE]
            msg = got[0]
            assert msg["From"] == "cx@example.com"
            assert msg.get_body(("html",)) is not None
        # each manager of the sample receives something: the routing is not vacuous
        assert all(box.to(e) for e, (r, _) in USERS.items() if r == "manager")
        assert len(hook.posts) == 1
        assert hook.posts[0]["content_type"] == "application/json"
        text = hook.posts[0]["json"]["text"]
        assert all(f.sentence.replace("**", "") in text for f in found)

        sent_before, posts_before = len(box.messages), len(hook.posts)
        code, out, err = run(capsys, env, "--send")
        assert code == 0, err
        assert len(box.messages) == sent_before and len(hook.posts) == posts_before
        assert "Nothing new to send" in out
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT recipient, channel, status, attempts FROM alert_deliveries"
        ).fetchall()
    assert rows and all(status == "sent" and attempts == 1 for _r, _c, status, attempts in rows)
    per_exec = [r for r in rows if r[0] == "ceo@example.com"]
    assert len(per_exec) == len(found)
    assert {r[0] for r in rows if r[1] == "webhook"} == {"webhook:127.0.0.1"}


def test_json_without_send_prints_what_would_go_and_sends_nothing(env, db, capsys, monkeypatch):
    found = kept_findings(env)
    with smtp_server() as (box, port):
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        code, out, err = run(capsys, env, "--json")
        assert code == 0, err
        assert box.attempts == 0 and box.messages == []
    data = json.loads(out)
    assert data["sent"] is False and data["findings"] == len(found)
    recipients = {m["recipient"] for m in data["messages"]}
    assert "ali@example.com" not in recipients and "ceo@example.com" in recipients
    dana = next(m for m in data["messages"] if m["recipient"] == "dana@example.com")
    assert {f["sentence"] for f in dana["findings"]} == expected_for("claims", found, owners(db))
    assert all(f["role"] in ("lead", "department") for f in dana["findings"])
    with sqlite3.connect(db) as conn:  # nothing recorded
        assert conn.execute("SELECT count(*) FROM alert_deliveries").fetchone()[0] == 0


@pytest.mark.parametrize("mode", ["refuse-data", "refuse-rcpt", "drop", "closed-port"])
def test_a_failing_server_is_retried_reported_and_owed_until_the_next_run(
    env, db, capsys, mode, monkeypatch
):
    with smtp_server() as (box, port):
        if mode == "closed-port":
            monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
        else:
            box.mode = mode
            monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        code, out, err = run(capsys, env, "--send")
        assert code == cli.EXIT_DATA
        assert "error: could not deliver to dana@example.com by email after 3 attempt(s)" in err
        assert "kept as owed" in err
        assert box.messages == []
        if mode != "closed-port":
            recipients = 4  # dana, sam, pia, ceo
            assert box.attempts == 3 * recipients
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT status, attempts, last_error FROM alert_deliveries"
            ).fetchall()
        assert rows and all(s == "owed" and a == 3 and e for s, a, e in rows)
        owed = len(rows)

        box.mode = "accept"
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        code, out, err = run(capsys, env, "--send")
        assert code == 0, err
        assert len(box.messages) == 4
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT status, attempts, last_error FROM alert_deliveries"
            ).fetchall()
        assert len(rows) == owed
        assert all(s == "sent" and a == 4 and e is None for s, a, e in rows)


def test_a_failing_webhook_is_retried_and_owed(env, db, capsys, monkeypatch):
    with webhook_server() as (hook, hook_url):
        monkeypatch.setenv("CX_ALERT_WEBHOOK", hook_url)
        hook.fail_with = 503
        code, out, err = run(capsys, env, "--send")
        assert code == cli.EXIT_DATA
        assert "by webhook after 3 attempt(s): webhook answered HTTP 503" in err
        assert "secret" not in err  # the webhook's URL is a credential
        assert hook.attempts == 3 and hook.posts == []
        hook.fail_with = None
        code, out, err = run(capsys, env, "--send")
        assert code == 0, err
        assert len(hook.posts) == 1


def test_backoff_doubles_between_attempts():
    waits = []
    calls = []

    def failing():
        calls.append(1)
        raise ConnectionRefusedError()

    attempts, error = delivery.with_retries(failing, delivery.Retry(4, 0.5), waits.append)
    assert (attempts, error, len(calls)) == (4, "connection refused", 4)
    assert waits == [0.5, 1.0, 2.0]


def test_an_smtp_server_that_cannot_be_reached_is_named(unused_port):
    """ "connection refused; kept as owed" did not say which server refused."""
    smtp = delivery.smtp_settings(
        {"CX_SMTP_URL": f"smtp://127.0.0.1:{unused_port}", "CX_MAIL_FROM": "cx@corp"}
    )
    msg = EmailMessage()
    msg["To"], msg["From"], msg["Subject"] = "a@corp", "cx@corp", "x"
    attempts, error = delivery.with_retries(
        lambda: delivery.send_mail(smtp, msg), delivery.Retry(1, 0.0)
    )
    assert (attempts, error) == (
        1, f"SMTP server 127.0.0.1:{unused_port} unreachable: connection refused"
    )  # fmt: skip


def test_an_smtp_server_s_tls_refusal_is_its_own_not_unreachable(monkeypatch):
    """A certificate refused is said as such, not as a server that cannot be reached."""
    import ssl

    def refuse(*_args, **_kwargs):
        raise ssl.SSLCertVerificationError("certificate verify failed")

    monkeypatch.setattr(delivery.smtplib, "SMTP_SSL", refuse)
    smtp = delivery.smtp_settings(
        {"CX_SMTP_URL": "smtps://mail.corp:465", "CX_MAIL_FROM": "cx@corp"}
    )
    msg = EmailMessage()
    msg["To"], msg["From"], msg["Subject"] = "a@corp", "cx@corp", "x"
    _attempts, error = delivery.with_retries(
        lambda: delivery.send_mail(smtp, msg), delivery.Retry(1, 0.0)
    )
    assert "certificate verify failed" in error and "unreachable" not in error


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_url_is_read_and_bad_ones_are_named():
    s = delivery.smtp_settings(
        {"CX_SMTP_URL": "smtp://alerts%40corp:p%40ss@mail.corp:587", "CX_MAIL_FROM": "cx@corp"}
    )
    assert (s.host, s.port, s.user, s.password, s.implicit_tls, s.sender) == (
        "mail.corp", 587, "alerts@corp", "p@ss", False, "cx@corp",
    )  # fmt: skip
    assert delivery.smtp_settings({"CX_SMTP_URL": "smtps://mail.corp"}).port == 465
    with pytest.raises(delivery.SettingsError, match="CX_SMTP_URL"):
        delivery.smtp_settings({"CX_SMTP_URL": "http://mail.corp"})


@pytest.mark.parametrize(
    ("last_day", "week"),
    [
        ("2026-09-30", ("2026-09-21", "2026-09-27")),  # a Wednesday: the week before
        ("2026-09-27", ("2026-09-21", "2026-09-27")),  # a Sunday: its own week
        ("2026-09-28", ("2026-09-21", "2026-09-27")),  # a Monday: the week before
    ],
)
def test_latest_complete_week(last_day, week):
    got = alerts.latest_week(dt.date.fromisoformat(last_day))
    assert tuple(d.isoformat() for d in got) == week
    assert got[0].weekday() == 0 and got[1].weekday() == 6


def test_a_users_file_is_needed(env, capsys, monkeypatch):
    monkeypatch.delenv("CX_USERS_FILE")
    code, out, err = run(capsys, env)
    assert code == cli.EXIT_DATA and "CX_USERS_FILE" in err and "Traceback" not in err


def test_init_db_adds_the_alert_table_to_an_older_database(db, capsys):
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE alert_deliveries")
        before = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert cli.main(["init-db", "--url", f"sqlite:///{db}"]) == 0
    assert "created table alert_deliveries" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(alert_deliveries)")]
        assert conn.execute("SELECT count(*) FROM responses").fetchone()[0] == before
    assert columns == [
        "finding_key", "recipient", "channel", "kind", "period_start", "period_end", "role",
        "content", "status", "attempts", "last_error", "created_at", "updated_at", "sent_at",
    ]  # fmt: skip
    assert cli.main(["init-db", "--url", f"sqlite:///{db}"]) == 0
    assert "created" not in capsys.readouterr().out.replace("tables are ready", "")


def test_the_data_page_shows_what_went_to_whom(env, db, capsys, monkeypatch):
    from conftest import REPO
    from streamlit.testing.v1 import AppTest

    with smtp_server() as (box, port):
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        assert run(capsys, env, "--send")[0] == 0
    with sqlite3.connect(db) as conn:
        want = conn.execute("SELECT count(*), count(DISTINCT recipient) FROM alert_deliveries")
        rows, recipients = want.fetchone()
    monkeypatch.setenv(store.URL_ENV, env)
    monkeypatch.delenv("CX_USERS_FILE")  # sign-in off: the page as an analyst sees it
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe if "recipient" in d.value.columns]
    assert len(frames) == 1
    shown = frames[0]
    assert len(shown) == rows and shown["recipient"].nunique() == recipients
    assert set(shown["recipient"]) == {
        "dana@example.com",
        "sam@example.com",
        "pia@example.com",
        "ceo@example.com",
    }
    assert set(shown["status"]) == {"sent"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # smtps is TLS
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_mail_goes_over_tls_with_a_login(env, capsys, monkeypatch, tmp_path, tls):
    """A server that requires STARTTLS (or speaks TLS from the start) and a login."""
    from mail_servers import certificate

    cert = certificate(tmp_path)
    with smtp_server(tls, cert, login=("alerts@corp", "p@ss w")) as (box, port):
        scheme = "smtps" if tls == "implicit" else "smtp"
        monkeypatch.setenv("CX_SMTP_URL", f"{scheme}://alerts%40corp:p%40ss%20w@127.0.0.1:{port}")
        monkeypatch.setenv("CX_SMTP_CA_FILE", cert[0])
        code, out, err = run(capsys, env, "--send")
        assert code == 0, err
        assert {m["To"] for m in box.messages} == {
            "dana@example.com", "sam@example.com", "pia@example.com", "ceo@example.com",
        }  # fmt: skip


def test_a_server_certificate_that_is_not_trusted_is_refused(env, capsys, monkeypatch, tmp_path):
    from mail_servers import certificate

    cert = certificate(tmp_path)
    with smtp_server("starttls", cert) as (box, port):
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        code, out, err = run(capsys, env, "--send")
    assert code == cli.EXIT_DATA and "CERTIFICATE_VERIFY_FAILED" in err
    assert box.messages == []


def test_a_start_outside_the_data_is_named(env, capsys):
    code = cli.main(["alerts", "--url", env, "--since", "2030-01-01"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_DATA and "--since 2030-01-01 lies outside the data" in err


def test_webhook_text_cannot_carry_slack_commands():
    from cxmetrics.reports.alert_log import Delivery

    content = {
        "sentence": "Concentrated in <!channel> & <http://evil|here>: 44% at risk",
        "effect": None, "ci": None, "unit": "", "n": 976, "q": 0.01, "role": "executive",
        "department": None, "department_name": None, "role_text": "Company-wide digest.",
        "period": {"start": "2026-09-21", "end": "2026-09-27"}, "link": "https://cx/?x=1",
    }  # fmt: skip
    d = Delivery("k", "webhook:h", "webhook", "at_risk", dt.date(2026, 9, 21),
                 dt.date(2026, 9, 27), "executive", content)  # fmt: skip
    (m,) = alerts.messages([d])
    assert "<" not in m.text and ">" not in m.text
    assert "&lt;!channel&gt;" in m.html


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_record_works_on_sqlite_and_postgres(backend, tmp_path, request):
    from cxmetrics.contract import schema
    from cxmetrics.reports import alert_log

    if backend == "postgres":
        url = request.getfixturevalue("pg_server").create_database("alerts_record")
    else:
        url = f"sqlite:///{tmp_path / 'record.db'}"
    engine = store.make_engine(url)
    try:
        schema.create_all(engine)
        day = dt.date(2026, 9, 21)
        rows = [
            alert_log.Delivery(f"change:nps|claim|||x|{i}", to, "email", "change", day,
                               day + dt.timedelta(days=6), "lead", {"sentence": f"s{i}"})
            for i, to in ((1, "a@x"), (1, "b@x"), (2, "a@x"))
        ]  # fmt: skip
        assert alert_log.record_owed(engine, rows) == 3
        assert alert_log.record_owed(engine, rows) == 0  # never twice
        assert {d.key for d in alert_log.owed(engine)} == {r.key for r in rows}
        alert_log.mark(engine, [rows[0].key], 2, None)
        alert_log.mark(engine, [rows[1].key], 3, "connection refused")
        assert {d.key for d in alert_log.owed(engine)} == {rows[1].key, rows[2].key}
        shown = alert_log.history(engine)
        by = {(r["recipient"], r["finding"]): r for r in shown.iter_rows(named=True)}
        assert by[("a@x", "s1")]["status"] == "sent" and by[("a@x", "s1")]["attempts"] == 2
        assert by[("b@x", "s1")]["last_error"] == "connection refused"
        assert by[("b@x", "s1")]["sent_at"] is None
    finally:
        engine.dispose()
