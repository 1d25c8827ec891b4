"""What the pages draw from a shared view is made once for every session, through the real
app (AppTest): the figures (built and made literal once), the sidebar's choices, the
action plans' measured effect (an edit still shows at the next run), the tables' pandas
form; and no page or export changes a shared figure."""

from __future__ import annotations

import gc
import json
import shutil
import weakref

import plotly.graph_objects as go
import plotly.io
import polars as pl
import pyarrow as pa
import pytest
import streamlit as st
from conftest import REPO
from pandas.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from cxapp import data, sidebar
from cxapp.memo import Memo
from cxmetrics.charts import chart_style, loyalty_charts, overview_charts
from cxmetrics.contract import actions, store
from cxmetrics.contract.access import ANALYST, User
from cxmetrics.findings import action_effect
from cxmetrics.reports import exports
from cxmetrics.views import loyalty, overview

TIMEOUT = 120


@pytest.fixture
def url(tmp_path, monkeypatch, sample_db) -> str:
    """A copy of the test database (one test writes to it) and a fresh memo."""
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    url = f"sqlite:///{db}"
    monkeypatch.setenv(store.URL_ENV, url)
    monkeypatch.delenv("CX_USERS_FILE", raising=False)  # sign-in off: everybody an analyst
    monkeypatch.setattr(data, "VIEWS", Memo())
    monkeypatch.setattr(data, "PARTS", Memo())
    return url


def counting(monkeypatch, module, name) -> tuple:
    """Replace ``module.name`` by a wrapper that records each call's arguments."""
    real, calls = getattr(module, name), []

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return real, calls


def session(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(str(REPO / "pages" / page)).run()
        assert not at.exception, at.exception
    return at


def specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def drawn(fig) -> dict:
    """The JSON ``st.plotly_chart`` sends for ``fig``."""
    return json.loads(plotly.io.to_json(fig.to_dict(), validate=False))


def loaded(url: str):
    return data._dataset(url, data._read_version(url))


def test_two_sessions_on_the_overview_build_its_figures_once(url, monkeypatch):
    _, views = counting(monkeypatch, overview, "compute")
    real_stage_nps, stage_nps = counting(monkeypatch, overview_charts, "fig_stage_nps")
    real_worst, worst = counting(monkeypatch, overview_charts, "fig_worst_moments")
    _, choices = counting(monkeypatch, sidebar, "choices")
    first, second = session(), session()
    assert (len(stage_nps), len(worst), len(choices)) == (1, 1, 1)
    assert specs(first) == specs(second)

    # what both sessions draw is what the figures built directly from the same view draw
    view = views[0][1]
    ov = overview.compute(loaded(url), view)
    direct = [
        chart_style.literal(real_stage_nps(ov.stages, ov.min_n)),
        chart_style.literal(real_worst(ov.worst_moments)),
    ]
    assert specs(second) == [drawn(fig) for fig in direct]

    # another period: its figures are built once, for it; the other session builds nothing
    second.sidebar.selectbox(key="period").set_value("30d").run()
    assert not second.exception, second.exception
    assert (len(stage_nps), len(worst)) == (2, 2)
    first.run()
    assert (len(stage_nps), len(worst), len(choices)) == (2, 2, 1)


def test_two_sessions_on_loyalty_compute_and_draw_its_sections_once(url, monkeypatch):
    _, customers = counting(monkeypatch, loyalty, "customers_in_view")
    _, at_risk = counting(monkeypatch, loyalty, "satisfied_at_risk")
    real_churn_fig, churn_figs = counting(monkeypatch, loyalty_charts, "fig_churn_by")
    first = session("loyalty.py")
    made = (len(at_risk), len(churn_figs))
    assert made == (1, 2)  # by NPS group and by satisfaction
    second = session("loyalty.py")
    assert (len(at_risk), len(churn_figs)) == made
    assert specs(first) == specs(second)

    by_group = loyalty.churn_by_loyalty(loyalty.customers_in_view(loaded(url), customers[0][1]))
    direct = chart_style.literal(
        real_churn_fig(by_group, "group", "Churn by NPS group", "Latest NPS answer")
    )
    assert drawn(direct) in specs(second)


def test_no_page_or_export_changes_a_shared_figure(url, monkeypatch):
    first = session("journey.py")
    second = session("journey.py")
    figures = [v for v in data.PARTS.values() if isinstance(v, go.Figure)]
    assert not any(isinstance(v, go.Figure) for v in data.VIEWS.values())
    assert len(figures) == 5  # the overview's two (the first page) and the journey's three
    before = [fig.to_json() for fig in figures]
    second.run()
    first.switch_page(str(REPO / "pages" / "overview.py")).run()
    for fig in figures:
        html = exports.chart_bytes(fig, "html", "Period: a footnote only the export carries")
        assert b"a footnote only the export carries" in html
    assert [fig.to_json() for fig in figures] == before
    assert sum(drawn(fig) in specs(second) for fig in figures) == 3  # drawn as they were


def test_action_plans_are_measured_once_and_an_edit_shows_at_the_next_run(
    url, monkeypatch, sample_data
):
    _, listings = counting(monkeypatch, action_effect, "listing")
    first = session("accountability.py")
    second = session("accountability.py")
    assert len(listings) == 1  # the same actions on the same day: measured once

    def titles(at: AppTest) -> set[str]:
        return {t for df in at.dataframe if "title" in df.value.columns for t in df.value["title"]}

    assert titles(first) == titles(second) == set(sample_data.actions["title"])
    # another process (another server, a script) creates an action
    engine = store.make_engine(url)
    try:
        actions.save(
            engine,
            User("ana@example.com", ANALYST),
            {
                "department_id": "digital",
                "stage_id": "help",
                "touchpoint_id": "help_chat",
                "title": "Answer chats within a minute",
                "metric": "csat",
                "target": 85,
                "start_on": sample_data.responses["responded_on"].min(),
                "due_on": sample_data.responses["responded_on"].max(),
                "status": "planned",
                "notes": "",
            },
            sample_data.journey,
        )
    finally:
        engine.dispose()
    second.run()
    assert "Answer chats within a minute" in titles(second)
    assert len(listings) == 2
    first.run()
    assert "Answer chats within a minute" in titles(first)
    assert len(listings) == 2  # measured again once, for both sessions


def test_a_frame_is_converted_for_the_table_once_while_it_lives():
    frame = pl.DataFrame({"name": ["a <b>", "c"], "n": [1, 2]})
    gc.collect()  # the frames earlier tests left behind
    held = len(data._TABLES)
    shown = data.table_frame(frame)
    assert shown.equals(pa.Table.from_pandas(frame.to_pandas()))  # as st.dataframe made it
    assert_frame_equal(shown.to_pandas(), frame.to_pandas())
    assert data.table_frame(frame) is shown
    twin = frame.clone()  # equal, but another object: converted on its own
    assert data.table_frame(twin) is not shown
    assert len(data._TABLES) == held + 2
    gone = weakref.ref(frame)
    del frame, twin
    gc.collect()
    assert gone() is None and len(data._TABLES) == held  # nothing kept for a dead frame
    assert data.table_frame("not a frame") == "not a frame"


def test_a_signed_column_never_reads_minus_zero():
    """-0.3 shown as %+.0f would read "-0": the column is rounded to what is shown first."""
    import math

    from cxapp import ui

    frame = pl.DataFrame({"nps": [-0.3, -0.6, 0.2, None], "moe": [-0.04, 1.26, 2.0, 3.0]})
    config = {
        "nps": st.column_config.NumberColumn("NPS", format="%+.0f"),
        "moe": st.column_config.NumberColumn("±", format="%+.1f"),
        "other": st.column_config.NumberColumn("n", format="%d"),
    }
    signed = ui._shown_as(config)[2]
    assert signed == (("moe", 1), ("nps", 0))
    shown = data.table_frame(frame, signed).to_pandas()
    # by hand: -0.3 → 0 (sign cleared), -0.6 → -1, 0.2 → 0; -0.04 → 0.0, 1.26 → 1.3
    assert [math.copysign(1, v) for v in shown["nps"][:3]] == [1, -1, 1]
    assert list(shown["nps"][:3]) == [0, -1, 0] and math.isnan(shown["nps"][3])
    assert list(shown["moe"]) == [0.0, 1.3, 2.0, 3.0]
    assert math.copysign(1, shown["moe"][0]) == 1
    assert data.table_frame(frame) is not data.table_frame(frame, signed)  # kept apart
