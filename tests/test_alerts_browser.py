"""The link in an alert opens the dashboard on the view it is about, in a real Chromium."""

from __future__ import annotations

import datetime as dt

import pytest
from test_browser import streamlit_server

from cxmetrics.contract import access, store
from cxmetrics.reports import alerts
from cxmetrics.stats import dataset
from cxmetrics.views import finder

pytestmark = pytest.mark.browser


def claims_alert_links(url: str, public: str) -> list[str]:
    """The links the Claims manager's alert carries for the test company's last quarter."""
    engine = store.make_engine(url)
    try:
        ds = dataset.load(engine)
        inputs = finder.Inputs.read(engine, ds)
    finally:
        engine.dispose()
    start, end = alerts.period(ds, dt.date(2026, 7, 1))
    found = alerts.week_findings(ds, start, end, inputs)
    dana = access.User("dana@example.com", access.MANAGER, departments=("claims",))
    routed = alerts.route(found, start, end, ds.journey, {dana.email: dana}, public)
    return [d.content["link"] for d in routed if d.content["stages"] == ["claim"]]


def test_the_alert_link_opens_the_filtered_stage(sample_url, browser, tmp_path):
    with streamlit_server(sample_url, tmp_path / "server.log") as base:
        found = claims_alert_links(sample_url, base)
        assert found, "the test company's quarter holds findings about File a claim"
        link = found[0]
        assert "stage=claim" in link and "department=claims" in link
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(link)
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
        sidebar = page.locator("[data-testid='stSidebar']")
        stage = sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Journey stage")
        stage.get_by_text("File a claim").wait_for(timeout=60_000)
        department = sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Department")
        department.get_by_text("Claims", exact=True).wait_for(timeout=30_000)
        period = sidebar.get_by_role("combobox", name="Period")
        assert period.input_value() == "Custom range"
        sidebar.get_by_text("1 Jul 2026 – 30 Sep 2026").wait_for(timeout=30_000)
        assert "/journey" in page.url
        assert not page.locator("[data-testid='stException']").count()
        assert not page.locator("[data-testid='stAlertContentWarning']").count()
