"""Action plans in the running app (AppTest): a manager creates, edits and closes an action
for their own department and is offered no other; every change is logged with who and when.
Run against a copy of the test database, so the other tests' data stay as they were."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxmetrics.contract import access, store

TIMEOUT = 120
PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path, monkeypatch, sample_db):
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    users = tmp_path / "users.toml"
    access.add_user(users, "ceo@example.com", "executive", PASSWORD)
    access.add_user(users, "dana@example.com", "manager", PASSWORD, ("digital",), "Dana")
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{db}")
    monkeypatch.setenv("CX_USERS_FILE", str(users))
    monkeypatch.chdir(REPO)
    return db


def signed_in(email: str, page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    at.text_input(key="_sign_in_email").input(email)
    at.text_input(key="_sign_in_password").input(PASSWORD)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    at.switch_page(str(REPO / "pages" / page)).run()
    assert not at.exception, at.exception
    return at


def rows(db, sql, params=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_a_manager_creates_edits_and_closes_an_action_of_their_department(env):
    at = signed_in("dana@example.com", "accountability.py")
    # only their own department is offered; the other departments' actions are not editable
    digital = rows(env, "SELECT name FROM departments WHERE department_id = 'digital'")[0][0]
    assert at.selectbox(key="act_department_id___new__").options == [digital]
    theirs = rows(env, "SELECT action_id, title FROM actions WHERE department_id = 'digital'")
    assert at.selectbox(key="act_pick").options == [
        "New action",
        *(f"{a} · {t}" for a, t in theirs),
    ]
    at.text_input(key="act_title___new__").input("Fix the app's log-in loop")
    at.selectbox(key="act_stage_id___new__").set_value("buy")
    at.selectbox(key="act_touchpoint_id___new__").set_value("buy_first_login")
    at.selectbox(key="act_metric___new__").set_value("csat")
    at.number_input(key="act_target___new__").set_value(80.0)
    at.date_input(key="act_start_on___new__").set_value(dt.date(2026, 9, 1))
    at.date_input(key="act_due_on___new__").set_value(dt.date(2026, 10, 15))
    at.selectbox(key="act_status___new__").set_value("in progress")
    at.button(key="FormSubmitter:action_form___new__-Create action").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][-1] == "Created A-0004."
    saved = rows(
        env,
        "SELECT department_id, stage_id, touchpoint_id, metric, target, start_on, "
        "due_on, status FROM actions WHERE action_id = 'A-0004'",
    )
    assert saved == [
        (
            "digital",
            "buy",
            "buy_first_login",
            "csat",
            80.0,
            "2026-09-01",
            "2026-10-15",
            "in progress",
        )
    ]

    assert at.selectbox(key="act_pick").value == "A-0004"  # the new action is now in the editor
    # the lists name the metric with the unit of its target and effect
    listed = [d.value for d in at.dataframe if "action_id" in d.value.columns]
    assert any("A-0004" in set(frame["action_id"]) for frame in listed)
    for frame in listed:
        units = dict(zip(frame["action_id"], frame["metric"], strict=True))
        assert units.get("A-0004", "CSAT (%)") == "CSAT (%)", units
        assert set(units.values()) <= {"NPS (points)", "CSAT (%)", "CES (1-7)"}, units
    at.text_input(key="act_title_A-0004").input("Fix the app's log-in loop on Android")
    at.button(key="FormSubmitter:action_form_A-0004-Save changes").click().run()
    assert [s.value for s in at.success][-1] == "Saved A-0004."
    at.text_input(key="act_close_note_A-0004").input("Released in 4.2")
    at.button(key="act_done_A-0004").click().run()
    assert [s.value for s in at.success][-1] == "A-0004 marked done."
    assert rows(env, "SELECT title, status, notes FROM actions WHERE action_id = 'A-0004'") == [
        ("Fix the app's log-in loop on Android", "done", "Released in 4.2")
    ]
    log = rows(
        env,
        "SELECT changed_by, change, changed_at FROM action_changes "
        "WHERE action_id = 'A-0004' ORDER BY change_id",
    )
    assert [r[0] for r in log] == ["dana@example.com"] * 3
    assert log[0][1].startswith("created: Fix the app's log-in loop (in progress")
    assert log[1][1] == ("title: Fix the app's log-in loop → Fix the app's log-in loop on Android")
    assert log[2][1] == "status: in progress → done; notes: – → Released in 4.2"
    assert all(r[2] for r in log)  # every change has its time
    # the closing note is emptied once used: a second close does not send it again
    assert at.text_input(key="act_close_note_A-0004").value == ""


def test_an_executive_sees_late_actions_on_the_overview(env):
    today = dt.date.today()
    late = rows(
        env,
        "SELECT action_id, title FROM actions WHERE due_on < ? "
        "AND status IN ('planned', 'in progress')",
        (today.isoformat(),),
    )
    assert late  # the sample holds a late one
    at = signed_in("ceo@example.com", "overview.py")
    assert [s.value for s in at.subheader][-1] == f"Late actions ({len(late)})"
    (listed,) = [m.value for m in at.markdown if "days late" in m.value]
    shown = listed.splitlines()
    assert len(shown) == len(late)
    for action_id, title in late:
        assert any(f"**{title}** ({action_id})" in w for w in shown)
    # a stage filter keeps the late actions on that stage only (counted in SQL)
    (stage,) = rows(env, f"SELECT stage_id FROM actions WHERE action_id = '{late[0][0]}'")[0]
    other = rows(env, "SELECT stage_id FROM stages WHERE stage_id <> ? LIMIT 1", (stage,))[0][0]
    for chosen in (stage, other):
        on = rows(
            env,
            "SELECT action_id FROM actions WHERE due_on < ? AND status IN "
            "('planned', 'in progress') AND stage_id = ?",
            (today.isoformat(), chosen),
        )
        at.sidebar.multiselect(key="stage").set_value([chosen]).run()
        heading = f"Late actions ({len(on)})" if on else "Late actions"
        assert [s.value for s in at.subheader][-1] == heading, chosen
        listed = "".join(m.value for m in at.markdown if "days late" in m.value)
        assert sorted(a for a, _ in late if f"({a})" in listed) == sorted(a for (a,) in on)


def test_a_refused_action_is_named_in_the_form_s_words(env):
    """The form's labels and the touchpoint's name, not the contract's ids
    ("touchpoint_id: 'claim_report'")."""
    at = signed_in("ceo@example.com", "accountability.py")
    (tp_name,) = rows(env, "SELECT name FROM touchpoints WHERE touchpoint_id = 'claim_report'")[0]
    (stage_name,) = rows(env, "SELECT name FROM stages WHERE stage_id = 'buy'")[0]
    at.text_input(key="act_title___new__").input("Call back within a day")
    at.selectbox(key="act_stage_id___new__").set_value("buy")
    at.selectbox(key="act_touchpoint_id___new__").set_value("claim_report")
    at.button(key="FormSubmitter:action_form___new__-Create action").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error][-1] == (
        f"Not saved: Touchpoint: '{tp_name}' is not a touchpoint of {stage_name}."
    )


def test_a_change_the_database_refuses_is_not_saved_and_says_so_without_a_traceback(env):
    """The database refuses a save (here a trigger refuses every write to the actions, as
    an account that may only read, or a lost server, fails): the form says it was not
    saved, nothing of it was written, and no traceback or file path reaches the page."""
    at = signed_in("dana@example.com", "accountability.py")
    before = rows(env, "SELECT * FROM actions ORDER BY action_id")
    changes = rows(env, "SELECT * FROM action_changes")
    with sqlite3.connect(env) as conn:
        for event in ("INSERT", "UPDATE"):
            conn.execute(
                f"CREATE TRIGGER refuse_{event} BEFORE {event} ON actions "
                "BEGIN SELECT RAISE(ABORT, 'permission denied for table actions'); END"
            )
    at.text_input(key="act_title___new__").input("Fix the app's log-in loop")
    at.selectbox(key="act_stage_id___new__").set_value("buy")
    at.selectbox(key="act_metric___new__").set_value("csat")
    at.number_input(key="act_target___new__").set_value(80.0)
    at.button(key="FormSubmitter:action_form___new__-Create action").click().run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith(
        "Not saved: the database did not take it (IntegrityError: permission denied for table "
        "actions); nothing was changed."
    )
    assert "Traceback" not in error and ".py" not in error
    pick = at.selectbox(key="act_pick").options[1]  # the department's first action
    at.selectbox(key="act_pick").set_value(pick).run()
    action = pick.split(" · ")[0]
    at.text_input(key=f"act_close_note_{action}").input("Released")
    at.button(key=f"act_done_{action}").click().run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("Not closed: the database did not take it (IntegrityError: ")
    assert rows(env, "SELECT * FROM actions ORDER BY action_id") == before
    assert rows(env, "SELECT * FROM action_changes") == changes


def test_an_unexpected_error_in_a_button_s_callback_shows_an_error_id(env, monkeypatch):
    """Streamlit runs a callback before the page, outside the page's guard: an unexpected
    error there is shown as the guard shows one (an id, no traceback) and logged."""
    from cxmetrics.contract import actions

    monkeypatch.delenv("CX_RAISE_PAGE_ERRORS", raising=False)

    def broken(*_args, **_kwargs):
        raise RuntimeError("/srv/secret/path.py exploded")

    at = signed_in("dana@example.com", "accountability.py")
    monkeypatch.setattr(actions, "save", broken)
    at.text_input(key="act_title___new__").input("Fix the app's log-in loop")
    at.button(key="FormSubmitter:action_form___new__-Create action").click().run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("**Something went wrong on this page** (error id `")
    assert "exploded" not in error and "/srv" not in error
