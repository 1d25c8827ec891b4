"""Sign-in and roles in the running app (AppTest), with a real users file and argon2 hashes.
Numbers a manager sees are checked against plain SQL over their departments' stages."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxapp import auth
from cxmetrics.contract import access
from cxmetrics.contract.registry import METRICS

TIMEOUT = 120
PASSWORD = "correct horse battery"
SUBMIT = "FormSubmitter:sign_in-Sign in"


@pytest.fixture
def users(tmp_path, monkeypatch, app_env):
    path = tmp_path / "users.toml"
    access.add_user(path, "ceo@example.com", "executive", PASSWORD, name="Chief Executive")
    access.add_user(path, "dana@example.com", "manager", PASSWORD, ("service",), "Dana")
    access.add_user(path, "ana@example.com", "analyst", PASSWORD)
    monkeypatch.setenv("CX_USERS_FILE", str(path))
    return path


def open_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="_sign_in_email").input(email)
    at.text_input(key="_sign_in_password").input(password)
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    return at


def sign_in(email: str, query: dict | None = None) -> AppTest:
    return submit(open_app(query), email)


def sql_nps(raw_sql, start, end, departments=None):
    where, params = "r.responded_on BETWEEN ? AND ?", [start.isoformat(), end.isoformat()]
    if departments:
        marks = ",".join("?" * len(departments))
        where += (
            f" AND t.stage_id IN (SELECT stage_id FROM stage_owners "
            f"WHERE department_id IN ({marks}))"
        )
        params += list(departments)
    pro, det, n = raw_sql.execute(
        "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses r "
        f"JOIN touchpoints t USING (touchpoint_id) WHERE {where}",
        params,
    ).fetchone()
    return METRICS["nps"].format(100 * (pro - det) / n), n


def last_90_days(raw_sql):
    end = dt.date.fromisoformat(
        raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()[0]
    )
    return end - dt.timedelta(days=89), end


def nps_tile(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "NPS")


def service_stage_names(raw_sql) -> list[str]:
    return [
        r[0]
        for r in raw_sql.execute(
            "SELECT s.name FROM stages s JOIN stage_owners o USING (stage_id) "
            "WHERE o.department_id = 'service' ORDER BY s.position"
        )
    ]


def test_nothing_is_shown_before_signing_in(users):
    at = open_app({"stage": "claim"})
    assert [t.label for t in at.text_input] == ["E-mail address", "Password"]
    assert not at.metric and not at.get("plotly_chart") and not at.dataframe
    assert not at.sidebar.multiselect  # no filters, no page menu content either
    submit(at, "ceo@example.com", "wrong password")
    assert [e.value for e in at.error] == [
        "The e-mail address or the password is wrong. 4 more attempts before a 15-minute pause."
    ]
    assert not at.metric
    assert at.text_input(key="_sign_in_password").value == ""  # never kept in the session
    submit(at, "nobody@example.com")  # an unknown account reads like a wrong password
    assert at.error[0].value.startswith("The e-mail address or the password is wrong. 4 more")


def test_a_short_session_secret_is_a_configuration_error_not_a_crash(users, monkeypatch):
    import logging

    monkeypatch.setenv("CX_SESSION_SECRET", "too short")
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    logging.getLogger("cxdashboard").addHandler(handler)
    try:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
        at.run()
    finally:
        logging.getLogger("cxdashboard").removeHandler(handler)
    assert not at.exception, at.exception
    (said,) = [e.value for e in at.error]
    assert said == auth.MISCONFIGURED  # the reason is the server's: its log has it
    assert "CX_SESSION_SECRET" not in said
    errors = [r.getMessage() for r in logged if r.levelname == "ERROR"]
    assert errors == [
        "sign-in is misconfigured: CX_SESSION_SECRET has 9 characters; give at "
        "least 32 random ones (python3 -c 'import secrets; "
        "print(secrets.token_hex(32))')"
    ]
    assert not at.text_input and not at.metric  # no sign-in form, nothing shown


def test_no_page_draws_a_file_widget_before_signing_in(users):
    at = open_app()
    for page in ("data.py", "voice.py", "journey.py"):
        at.switch_page(str(REPO / "pages" / page)).run()
        assert not at.exception, page
        assert not at.get("file_uploader"), page
        assert [t.label for t in at.text_input] == ["E-mail address", "Password"], page


def test_an_executive_sees_every_stage_and_signs_out(users, raw_sql):
    at = sign_in("CEO@example.com")
    start, end = last_90_days(raw_sql)
    assert nps_tile(at) == sql_nps(raw_sql, start, end)[0]
    strip = [md.value for md in at.markdown if md.value.startswith("[**")]  # linked titles
    assert len(strip) == raw_sql.execute("SELECT COUNT(*) FROM stages").fetchone()[0]
    signed = [c.value for c in at.sidebar.caption if c.value.startswith("Signed in")]
    assert signed == ["Signed in as **Chief Executive** · executive · every department"]
    at.sidebar.button[-1].click().run()  # Sign out
    assert not at.metric and [t.label for t in at.text_input][0] == "E-mail address"


def test_a_manager_of_no_known_department_is_told_so_and_can_sign_out(users):
    access.add_user(users, "lost@example.com", "manager", PASSWORD, ("nonexistent",), "Lost")
    at = sign_in("lost@example.com")
    assert [e.value for e in at.error][0].startswith("**Nothing to show for your departments.**")
    assert not at.metric
    signed = [c.value for c in at.sidebar.caption if c.value.startswith("Signed in")]
    assert signed == ["Signed in as **Lost** · manager · nonexistent"]
    at.sidebar.button[-1].click().run()  # Sign out: it was missing, the page stopped before
    assert [t.label for t in at.text_input][0] == "E-mail address"


def test_a_managers_pages_hold_only_their_departments_whatever_the_url_asks(users, raw_sql):
    # a shared link to another department's stage and the whole company's departments
    at = sign_in("dana@example.com", {"stage": "shop", "department": ["claims", "sales"]})
    start, end = last_90_days(raw_sql)
    nps, n = sql_nps(raw_sql, start, end, ("service",))
    assert nps_tile(at) == nps
    assert any(f"n = {n:,} answers" in c.value for c in at.caption)
    strip = [  # the strip's titles, "[**1. Name**](link)"
        md.value.split("**](")[0].split(". ", 1)[1]
        for md in at.markdown
        if md.value.startswith("[**")
    ]
    assert strip == service_stage_names(raw_sql)
    assert at.sidebar.multiselect(key="stage").options == service_stage_names(raw_sql)
    assert at.sidebar.multiselect(key="department").options == ["Customer Service"]
    # an empty choice is their departments, not the company's "All departments"
    assert at.sidebar.multiselect(key="department").placeholder == "All your departments"

    assert at.caption[0].value.endswith(
        "all your stages · Customer Service · all channels · all segments · all regions"
    )

    at.switch_page(str(REPO / "pages" / "accountability.py")).run()
    assert not at.exception
    # other departments appear only as members of a stage's team: no verdict, KPI or pay
    tables = [d.value for d in at.dataframe]  # pandas frames in AppTest
    judged = next(t for t in tables if "false_positive" in t.columns)
    assert list(judged["department"]) == ["Customer Service"]
    kpis = [t for t in tables if "kpi" in t.columns]
    assert kpis
    for t in kpis:
        assert set(t[t["kpi"].notna()]["department"]) == {"Customer Service"}
    pay = next(t for t in tables if "cx_share_pct" in t.columns)
    assert list(pay["department"]) == ["Customer Service"]

    at.switch_page(str(REPO / "pages" / "voice.py")).run()
    at.session_state["voc_tab"] = "Verbatims"
    at.run()
    assert not at.exception
    touchpoints = {
        r[0]
        for r in raw_sql.execute(
            "SELECT t.name FROM touchpoints t JOIN stage_owners o USING (stage_id) "
            "WHERE o.department_id = 'service'"
        )
    }
    table = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert len(table) and set(table["touchpoint"]) <= touchpoints

    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(REPO / "pages" / "data.py"))  # no Data page in a manager's menu


def test_a_managers_briefing_holds_their_numbers(users, raw_sql):
    from pptx import Presentation

    at = sign_in("dana@example.com", {"department": "claims"})
    next(b for b in at.sidebar.button if b.label.startswith("Executive briefing")).click().run()
    assert not at.exception
    files = at.session_state["_briefing"]["files"]
    deck = Presentation(io.BytesIO(files["pptx"]))
    slides = [
        "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        for slide in deck.slides
    ]
    start, end = last_90_days(raw_sql)
    nps, n = sql_nps(raw_sql, start, end, ("service",))
    (headline,) = [s for s in slides if s.startswith("Headline numbers")]
    assert f"NPS: {nps} (" in headline and f"n = {n:,} answers" in headline
    everything = "\n".join(slides)
    (outside,) = raw_sql.execute(
        "SELECT name FROM stages WHERE stage_id NOT IN "
        "(SELECT stage_id FROM stage_owners WHERE department_id = 'service')"
    ).fetchone()
    assert outside not in everything


def test_exports_are_for_analysts(users):
    executive = sign_in("ceo@example.com")
    assert not executive.get("popover") and not executive.get("download_button")
    analyst = sign_in("ana@example.com")
    labels = {b.proto.label for b in analyst.get("download_button")}
    assert {"PNG image (high resolution)", "SVG image", "Interactive HTML"} <= labels


def test_the_data_page_imports_only_for_analysts(users):
    executive = sign_in("ceo@example.com")
    executive.switch_page(str(REPO / "pages" / "data.py")).run()
    assert not executive.exception
    assert [i.value for i in executive.info] == ["Importing files is for analysts."]
    assert not executive.get("file_uploader")
    analyst = sign_in("ana@example.com")
    analyst.switch_page(str(REPO / "pages" / "data.py")).run()
    assert analyst.get("file_uploader")
    signed = [c.value for c in analyst.sidebar.caption if c.value.startswith("Signed in")]
    assert signed == ["Signed in as **ana\u2060@example.com** · analyst · every department"]


def test_someone_removed_from_the_users_file_loses_access_at_their_next_click(users):
    at = sign_in("ana@example.com")
    assert at.metric
    text = users.read_text()
    users.write_text(text.split('[[user]]\nemail = "ana@example.com"')[0])
    at.run()
    assert not at.metric and [t.label for t in at.text_input][0] == "E-mail address"


def test_identity_provider_sign_in_maps_the_email_to_a_role(users, monkeypatch, raw_sql):
    monkeypatch.setenv("CX_AUTH", "oidc")
    secrets = {
        "auth": {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "not-a-real-secret",
            "client_id": "cx-dashboard",
            "client_secret": "not-a-real-secret",
            "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        }
    }
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.secrets.update(secrets)
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.metric

    at.user = {"is_logged_in": True, "email": "dana@example.com"}  # not verified by the IdP
    at.run()
    assert not at.metric
    assert "has not verified the e-mail address dana@example.com" in at.error[0].value

    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": True}
    at.run()
    start, end = last_90_days(raw_sql)
    assert nps_tile(at) == sql_nps(raw_sql, start, end, ("service",))[0]

    at.user = {"is_logged_in": True, "email": "stranger@example.com", "email_verified": True}
    at.run()
    assert not at.metric
    assert "not in this dashboard's users file" in at.error[0].value


def test_a_password_change_or_an_idle_hour_ends_an_open_session(users):
    at = sign_in("ana@example.com")
    assert at.metric
    access.add_user(users, "ana@example.com", "analyst", "a brand new password")
    at.run()
    assert not at.metric and [t.label for t in at.text_input][0] == "E-mail address"
    assert "password was changed" in at.error[0].value

    at = submit(at, "ana@example.com", "a brand new password")
    assert at.metric
    signed = dict(at.session_state["_signed_in_email"])
    signed["seen"] -= 61 * 60  # the last click was 61 minutes ago
    at.session_state["_signed_in_email"] = signed
    at.run()
    assert not at.metric and "after 60 minutes without activity" in at.error[0].value


def test_a_users_file_made_readable_by_others_is_refused_at_the_next_click(users):
    """The mode is checked whenever the file changes, its mode included (a chmod changes
    no content): not only when the server first read it. The log says why, once."""
    import logging

    at = sign_in("ceo@example.com")
    assert at.metric
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    logging.getLogger("cxdashboard").addHandler(handler)
    try:
        users.chmod(0o644)
        at.run()
        at.run()
    finally:
        logging.getLogger("cxdashboard").removeHandler(handler)
        users.chmod(0o600)
    assert not at.exception, at.exception
    assert not at.metric
    (said,) = [e.value for e in at.error]
    assert said == auth.MISCONFIGURED
    assert str(users) not in said  # a visitor is not told the server's files
    errors = [r.getMessage() for r in logged if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("sign-in is misconfigured: the users file")
    assert "chmod 600" in errors[0] and str(users) in errors[0]
    at.run()  # put right: the next click shows the page again, still signed in
    assert at.metric and not at.error
