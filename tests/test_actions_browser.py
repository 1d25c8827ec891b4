"""In a real Chromium against `streamlit run`: a manager creates, edits and closes an action
for their own department and is offered no other; an executive sees it on the overview while
it is late, and no longer once it is done. Signed in through a proxy's header (the users
file gives the roles), on a copy of the test database."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from playwright.sync_api import TimeoutError
from test_access_browser import wait_done
from test_browser import streamlit_server

from cxmetrics.contract import access

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def setup(sample_db, tmp_path):
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    users = tmp_path / "users.toml"
    access.add_user(users, "ceo@example.com", "executive", PASSWORD)
    access.add_user(users, "dana@example.com", "manager", PASSWORD, ("digital",), "Dana")
    env = {"CX_USERS_FILE": str(users), "CX_AUTH": "header"}
    return f"sqlite:///{db}", db, env


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def as_user(browser, email):
    context = browser.new_context(
        viewport={"width": 1500, "height": 3000}, extra_http_headers={"X-Forwarded-Email": email}
    )
    return context, context.new_page()


def settle(page):
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=90_000
    )


def form(page):
    return page.locator("[data-testid='stForm']")


def open_list(page, box) -> list[str]:
    """Open a selectbox and read its options (a rerun can close a list just opened: then
    it is opened again)."""
    for _ in range(5):
        settle(page)
        box.get_by_role("button", name="Open").click()
        try:
            page.get_by_role("option").first.wait_for(timeout=5_000)
        except TimeoutError:
            continue
        return page.get_by_role("option").all_inner_texts()
    raise AssertionError("the selectbox did not open")


def options(page, label, within=None) -> list[str]:
    """The options a selectbox offers (the list closed again after)."""
    scope = within if within is not None else form(page)
    texts = open_list(page, scope.locator("[data-testid='stSelectbox']").filter(has_text=label))
    page.keyboard.press("Escape")
    return texts


def choose(page, label, option):
    open_list(page, form(page).locator("[data-testid='stSelectbox']").filter(has_text=label))
    page.get_by_role("option", name=option, exact=True).click()


def set_date(page, label, value):
    """Type a date (YYYY-MM-DD) into a date field's year, month and day segments."""
    field = form(page).locator("[data-testid='stDateInput']").filter(has_text=label)
    field.get_by_role("spinbutton", name=f"year, {label}").focus()
    page.keyboard.type(value.replace("-", ""))
    page.keyboard.press("Tab")
    assert field.locator("input").input_value() == value


def late_titles(page) -> list[str]:
    settle(page)
    page.get_by_role("heading", name="Late actions").or_(
        page.get_by_role("heading", name="Late actions", exact=False)
    ).first.wait_for(timeout=90_000)
    return [
        t
        for t in page.locator("[data-testid='stMarkdownContainer'] li").all_inner_texts()
        if "days late" in t
    ]


def test_a_manager_runs_an_action_and_the_executive_sees_it_late(setup, browser, tmp_path):
    url, db, env = setup
    digital = rows(db, "SELECT name FROM departments WHERE department_id = 'digital'")[0][0]
    with streamlit_server(url, tmp_path / "server.log", env) as base:
        dana_ctx, dana = as_user(browser, "dana@example.com")
        dana.goto(f"{base}/accountability")
        wait_done(dana)
        dana.get_by_role("button", name="Create action").wait_for(timeout=90_000)

        # only her own department is offered as the owner
        assert options(dana, "Owner department") == [digital]
        # and only her department's actions can be picked for editing
        picks = options(dana, "Action to edit", dana.locator("[data-testid='stMain']"))
        theirs = rows(db, "SELECT action_id FROM actions WHERE department_id = 'digital'")
        assert [p.split(" · ")[0] for p in picks] == ["New action", *(r[0] for r in theirs)]

        form(dana).get_by_label("Title").fill("Fix the app's log-in loop")
        choose(dana, "Stage", "Buy & onboard")
        set_date(dana, "Start", "2026-08-01")
        set_date(dana, "Due", "2026-09-15")
        choose(dana, "Status", "in progress")
        dana.get_by_role("button", name="Create action").click()
        dana.get_by_text("Created A-0004.").wait_for(timeout=90_000)
        settle(dana)
        assert rows(
            db,
            "SELECT department_id, stage_id, start_on, due_on, status FROM actions "
            "WHERE action_id = 'A-0004'",
        ) == [("digital", "buy", "2026-08-01", "2026-09-15", "in progress")]

        form(dana).get_by_label("Title").fill("Fix the app's log-in loop on Android")
        dana.get_by_role("button", name="Save changes").click()
        dana.get_by_text("Saved A-0004.").wait_for(timeout=90_000)
        settle(dana)
        assert rows(db, "SELECT title FROM actions WHERE action_id = 'A-0004'") == [
            ("Fix the app's log-in loop on Android",)
        ]

        boss_ctx, boss = as_user(browser, "ceo@example.com")
        boss.goto(base)
        wait_done(boss)
        shown = late_titles(boss)
        assert any("Fix the app's log-in loop on Android" in t and "(A-0004)" in t for t in shown)

        dana.get_by_role("button", name="Mark done").click()
        dana.get_by_text("A-0004 marked done.").wait_for(timeout=90_000)
        assert rows(db, "SELECT status FROM actions WHERE action_id = 'A-0004'") == [("done",)]
        log = rows(
            db,
            "SELECT changed_by FROM action_changes WHERE action_id = 'A-0004' ORDER BY change_id",
        )
        assert log == [("dana@example.com",)] * 3

        boss.reload()
        wait_done(boss)
        assert not any("(A-0004)" in t for t in late_titles(boss))
        dana_ctx.close()
        boss_ctx.close()
