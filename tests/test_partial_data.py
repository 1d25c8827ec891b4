"""Every page, the briefing and every CLI command on databases of any shape the importer
accepts: optional tables present or absent, sparse and dense, one stage or eight, one channel
or five, odd names, data over ten years or ended long ago. Nothing crashes, and a section
whose inputs were never imported says so instead of drawing zeros or judging."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import tempfile
from pathlib import Path

import polars as pl
import pytest
import shapes
from conftest import REPO
from hypothesis import HealthCheck, Phase, example, given, settings
from streamlit.testing.v1 import AppTest

from cxmetrics import cli
from cxmetrics.contract import store
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import behaviour, closed_loop
from cxmetrics.reports import briefing
from cxmetrics.stats.filters import Filters
from cxmetrics.views import voc_view
from cxmetrics.views.wording import NO_FIGURE, NOT_RECORDED

TIMEOUT = 120
PAGES = (
    "pages/overview.py",
    "pages/journey.py",
    "pages/loyalty.py",
    "pages/accountability.py",
    "pages/voice.py",
    "pages/data.py",
    "pages/glossary.py",
)
VOICE_TABS = (
    "Closed loop",
    "Leading indicators",
    "Broken processes",
    "Themes & sentiment",
    "Verbatims",
)
PERIODS = ("30d", "all", "year")  # keys of cxmetrics.contract.periods.PRESETS


@contextlib.contextmanager
def database(shape: shapes.Shape):
    """A real SQLite file holding the shape's tables, and CX_DATABASE_URL pointing at it."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'cx.db'}"
        store.write_tables(url, shapes.tables(shape))
        before = os.environ.get(store.URL_ENV)
        os.environ[store.URL_ENV] = url
        try:
            yield url, Path(folder)
        finally:
            if before is None:
                del os.environ[store.URL_ENV]
            else:
                os.environ[store.URL_ENV] = before


def shown_text(at: AppTest) -> str:
    """Every piece of text a page shows, one per line."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error"):
        parts += [e.value for e in getattr(at, kind)]
    parts += [e.value for e in at.success]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def infos(at: AppTest) -> str:
    return "\n".join(e.value for e in at.info)


def successes(at: AppTest) -> str:
    return "\n".join(e.value for e in at.success)


def data_page_links(at: AppTest) -> int:
    """Links to the Data page (offered to analysts beside each "import it" message)."""
    return sum(1 for e in at.get("page_link") if e.proto.page == "data")


def has_data(at: AppTest) -> bool:
    """False when the page stopped because no response or no stage is in view."""
    stops = ("No responses between", "No stage matches these filters")
    return not any(stop in w.value for w in at.warning for stop in stops)


def check_page(at: AppTest, page: str, shape: shapes.Shape, period: str) -> None:
    where = f"{page} ({period}) on {shape.describe()}"
    assert not at.exception, f"{where}: {at.exception}"
    text = shown_text(at)
    assert "error id" not in text, where
    if not has_data(at):
        return
    departments = shape.departments > 0
    tiles = {m.label: m.value for m in at.metric}
    unknown = (NOT_RECORDED, NO_FIGURE)  # a tile shows a dash, its caption says why
    if "churn" not in shape.facts:  # never imported: not 0%
        assert tiles.get("Churn", NO_FIGURE) in unknown, where
        assert tiles.get("Already left", NOT_RECORDED) in unknown, where
        if "Churn" in tiles:
            assert "Churn is not recorded" in text, where
    if not {"revenue", "churn"} <= set(shape.facts):
        assert tiles.get("Revenue at risk", NO_FIGURE) in unknown, where
    if "revenue" not in shape.facts:
        assert "£0" not in text, where
    if page == "pages/overview.py":  # a score never asked: not measured, not "No data"
        for key in ("nps", "csat", "ces"):
            said = f"{METRICS[key].short} is not measured: no response holds a {key} answer"
            assert (said in text) == (key not in shape.scores), (where, key)
    if "influence" not in shape.facts and page == "pages/loyalty.py":
        assert "Influence is not recorded" in infos(at), where
    if page == "pages/accountability.py":
        if not shape.kpis:
            assert "is a false positive" not in successes(at), where
            if departments and shape.owners:
                assert "No department KPIs have been imported" in infos(at), where
        if period.endswith("department d1"):  # the manager's view of their cases
            assert ("My cases opened in the period" in text) == shape.cases, where
            if not shape.cases:
                assert voc_view.NO_CASES in infos(at), where
        if not shape.incentives:
            assert "has no CX share" not in text, where
            assert "No incentives have been imported" in infos(at), where
            assert data_page_links(at) >= 1, where  # sign-in off: everyone may import
    if page in ("pages/overview.py", "pages/journey.py"):  # the stage cards say it once
        never = [METRICS[k].short for k in ("nps", "csat", "ces") if k not in shape.scores]
        captions = [c.value for c in at.caption]
        for short in never:
            assert not [c for c in captions if re.search(rf"\b0 {short}\b", c)], (where, short)
        if never and shape.stages:
            assert f"{' and '.join(never)} not measured" in captions, where
    on_strip = page in ("pages/overview.py", "pages/journey.py") and period == "all"
    if on_strip and shape.empty_stage and shape.stages > 1 and "nps" in shape.scores:
        values = [m.value for m in at.metric if m.label == "NPS"]
        assert NO_FIGURE in values, where  # the stage nobody answered about: a dash,
        assert "n = 0 · " in text, where  # and its card says why
    if page == "pages/journey.py" and period == "all":
        moments = next((d.value for d in at.dataframe if "moment" in d.value.columns), None)
        t = shapes.tables(shape)
        behaviour_imported = (
            shape.contacts or t["cases"].height > 0 or "complaint" in set(t["responses"]["source"])
        )
        # no behaviour at all: the page says what to import, and draws no moments
        assert (behaviour.NOTHING_IMPORTED in infos(at)) == (not behaviour_imported), where
        assert (moments is None) == (not behaviour_imported), where
        if moments is not None:
            names = dict(zip(moments["moment"], moments["customers"], strict=True))
            t = shapes.tables(shape)
            complaints_imported = t["cases"].height > 0 or "complaint" in set(
                t["responses"]["source"]
            )
            if not complaints_imported:
                assert "Made a complaint" not in names, where
            else:  # a case opened counts as a complaint, whatever its source
                assert names["Made a complaint"] == complainers(shape), where
            if not shape.contacts:
                assert not any(n.startswith("Contacted us") for n in names), where
            assert not any(n.startswith("Had a A") for n in names), where
            if not shape.contacts:  # who answered about a stage is not behaviour
                assert not any(n.startswith("Had ") for n in names), where
            if "churn" not in shape.facts:  # nobody's churn is known: no rate, not 0%
                for column in ("churn", "others_churn", "churn_difference"):
                    assert moments[column].isna().all(), (where, column)


def complainers(shape: shapes.Shape) -> int:
    """Customers in view over all the data who complained: a complaint response, or a case
    opened between the first and the last answer (computed from the generated tables)."""
    t = shapes.tables(shape)
    r = t["responses"]
    first, last = r["responded_on"].min(), r["responded_on"].max()
    answered = set(r["customer_id"])
    by_response = set(r.filter(r["source"] == "complaint")["customer_id"])
    c = t["cases"]
    by_case = set(c.filter(c["opened_on"].is_between(first, last))["customer_id"])
    return len(answered & (by_response | by_case))


def check_voice_tab(at: AppTest, tab: str, shape: shapes.Shape, period: str) -> None:
    where = f"voice/{tab} ({period}) on {shape.describe()}"
    assert not at.exception, f"{where}: {at.exception}"
    assert "error id" not in shown_text(at), where
    if not has_data(at):
        return
    if tab == "Closed loop" and not (shape.cases and shape.departments):
        assert "No cases have been imported" in infos(at), where
        assert not any("closed" in e.value and "%" in e.value for e in at.error), where
        # no window of cases explained beside it ("no case … is old enough to count")
        assert not any(c.value.startswith("Cases opened") for c in at.caption), where
    if tab == "Closed loop" and shape.cases and shape.departments and not shape.contacts:
        # whether customers came back is unknown: said so, and no rate of it shown as 0%
        tables = [d.value for d in at.dataframe if "repeat_rate" in d.value.columns]
        assert all(t["repeat_rate"].isna().all() for t in tables), where
        assert all(t["false_closure_rate"].isna().all() for t in tables), where
        if tables and tables[0]["closed"].sum() > 0:  # a closure whose sequel is unknown
            assert closed_loop.NO_REPEATS in infos(at), where
    if tab == "Leading indicators" and not shape.contacts:
        assert "No contacts have been imported" in infos(at), where
    if tab == "Themes & sentiment" and not shape.comments:
        assert "No comments have been imported" in infos(at), where


def check_briefing(url: str, shape: shapes.Shape) -> None:
    """The briefing of all the data: built, and silent on what was never imported."""
    engine = store.make_engine(url)
    try:
        inputs = briefing.load_inputs(engine)
    finally:
        engine.dispose()
    ds = inputs["ds"]
    b = briefing.build(**inputs, f=Filters(ds.first_day, ds.last_day))
    text = "\n".join(line for slide in b.slides for line in slide.lines)
    where = f"briefing on {shape.describe()}"
    if not shape.kpis:
        assert "is a false positive" not in text, where
    if not (shape.cases and shape.departments):
        assert voc_view.NO_CASES in text, where
    elif not shape.contacts:
        # a closed case old enough to count, whose sequel is unknown without contacts: said
        old_enough = ds.last_day - dt.timedelta(days=closed_loop.MATURE_DAYS)
        c = inputs["cases"]
        closed = c.filter(
            c["opened_on"].is_between(ds.first_day, old_enough) & c["closed_on"].is_not_null()
        )
        assert (closed_loop.NO_REPEATS in text) == (closed.height > 0), where
    if shape.empty_stage and shape.stages > 1:
        assert "NPS No data (n = 0)" in text, where
    every = Filters(ds.first_day, ds.last_day)
    per_department = cli.briefing_views(inputs, every, "department")  # as --per department
    for data, view in per_department:
        assert view.departments and data["ds"].responses.height > 0, where
        briefing.build(**data, f=view)
    answered = set(ds.responses["stage_id"].cast(pl.String))
    with_answers = [
        d
        for d in ds.journey.departments["department_id"]
        if answered & set(ds.journey.stages_of_departments((d,)))
    ]
    assert [v.departments for _, v in per_department] == [(d,) for d in with_answers], where


def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=16,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
    # No shrinking: each failure message names the whole shape, and shrinking a case that
    # renders every page takes minutes.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
@given(shape=shapes.shapes())
@example(  # nothing optional at all: one stage, one channel, one answer
    shape=shapes.Shape(
        seed=0,
        stages=1,
        channels=1,
        departments=0,
        customers=3,
        responses=1,
        years=0,
        ended_long_ago=True,
        odd_names=False,
        empty_stage=False,
        scores=("nps",),
        comments=False,
        contacts=False,
        cases=False,
        cases_closed=False,
        complaints=False,
        kpis=False,
        incentives=False,
        targets=False,
        owners=False,
        facts=(),
    )
)
@example(  # everything, dense, odd names, ten years, cases never closed
    shape=shapes.Shape(
        seed=3,
        stages=8,
        channels=5,
        departments=4,
        customers=150,
        responses=2_500,
        years=10,
        ended_long_ago=False,
        odd_names=True,
        empty_stage=True,
        scores=("nps", "csat", "ces"),
        comments=True,
        contacts=True,
        cases=True,
        cases_closed=False,
        complaints=True,
        kpis=True,
        incentives=True,
        targets=True,
        owners=True,
    )
)
@example(  # cases closed and confirmed, but no contact imported: repeat contacts unknown
    shape=shapes.Shape(
        seed=5,
        stages=3,
        channels=2,
        departments=2,
        customers=150,
        responses=1_500,
        years=1,
        ended_long_ago=False,
        odd_names=False,
        empty_stage=False,
        scores=("nps", "csat"),
        comments=False,
        contacts=False,
        cases=True,
        cases_closed=True,
        complaints=False,
        kpis=False,
        incentives=False,
        targets=True,
        owners=True,
    )
)
def test_every_page_briefing_and_command_work_on_any_shape(shape, monkeypatch):
    monkeypatch.chdir(REPO)
    with database(shape) as (url, folder):
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
        assert not at.exception, at.exception
        for period in PERIODS:
            for page in PAGES:
                at.switch_page(page)
                at.query_params.clear()  # else the URL's period wins over the session's
                at.session_state["period"] = period
                at.run()
                check_page(at, page, shape, period)
                if page == "pages/voice.py":
                    for tab in VOICE_TABS:
                        at.query_params.pop("voc_tab", None)
                        at.session_state["voc_tab"] = tab
                        at.run()
                        check_voice_tab(at, tab, shape, period)

        if shape.departments:  # a manager's filter: one department, all the data
            for page in ("pages/overview.py", "pages/accountability.py", "pages/voice.py"):
                at.switch_page(page)
                at.query_params.clear()
                at.session_state["period"] = "all"
                at.session_state["department"] = ["d1"]
                at.run()
                check_page(at, page, shape, "all, department d1")
            at.session_state["department"] = []

        code, out = run_cli("summary", "--json", "--url", url)
        assert code == 0, out
        summary = json.loads(out)
        assert summary["overall"]["responses"] == shape.responses
        code, out = run_cli("summary", "--url", url)
        assert code == 0, out
        check_briefing(url, shape)
        if shape.seed % 3 == 0:  # drawing every chart costs seconds: a third of the shapes
            code, out = run_cli(
                "briefing", "--out", str(folder / "out"), "--url", url, "--period", "all"
            )
            assert code == 0, out
            written = sorted(p.suffix for p in (folder / "out").iterdir())
            assert written == [".pdf", ".pptx"], out


def test_the_generator_makes_the_shapes_it_says(tmp_path):
    """The shapes are what the property test believes they are (a check on the checker)."""
    shape = shapes.Shape(
        seed=1,
        stages=3,
        channels=2,
        departments=2,
        customers=20,
        responses=80,
        years=10,
        ended_long_ago=True,
        odd_names=True,
        empty_stage=True,
        scores=("nps",),
        comments=False,
        contacts=False,
        cases=True,
        cases_closed=False,
        complaints=False,
        kpis=False,
        incentives=False,
        targets=False,
        owners=True,
    )
    t = shapes.tables(shape)
    assert t["responses"].height == 80 and t["kpis"].height == 0 and t["incentives"].height == 0
    assert t["contacts"].height == 0 and t["cases"]["closed_on"].null_count() == t["cases"].height
    assert set(t["touchpoints"]["stage_id"]) == {"s1", "s2"}  # s3 has no touchpoint
    assert t["responses"]["channel"].n_unique() <= 2
    assert (
        t["responses"]["csat"].null_count() == 80 and t["responses"]["comment"].null_count() == 80
    )
    days = t["responses"]["responded_on"]
    assert days.max() <= dt.date(2014, 6, 30)
    assert (days.max() - days.min()).days > 365 * 5
