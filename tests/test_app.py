"""The pages under Streamlit's AppTest, with values checked against plain SQL."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxmetrics.contract import schema, store, text
from cxmetrics.contract.registry import METRICS

TIMEOUT = 120


def start() -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def tiles(at: AppTest) -> dict[str, str]:
    """The six KPI tiles (the first six metrics) by label."""
    return {m.label: m.value for m in list(at.metric)[:6]}


def sql_nps(raw_sql, start: dt.date, end: dt.date, stage: str | None = None) -> tuple[float, int]:
    where = "r.responded_on BETWEEN ? AND ?"
    params = [start.isoformat(), end.isoformat()]
    if stage:
        where += " AND t.stage_id = ?"
        params.append(stage)
    pro, det, n = raw_sql.execute(
        "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses r "
        f"JOIN touchpoints t USING (touchpoint_id) WHERE {where}",
        params,
    ).fetchone()
    return 100 * (pro - det) / n, n


def last_day(raw_sql) -> dt.date:
    return dt.date.fromisoformat(
        raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()[0]
    )


def test_overview_shows_the_last_90_days_by_default(app_env, raw_sql):
    at = start()
    end = last_day(raw_sql)
    nps, n = sql_nps(raw_sql, end - dt.timedelta(days=89), end)
    shown = tiles(at)
    assert shown["NPS"] == METRICS["nps"].format(nps)
    assert list(shown) == ["NPS", "CSAT", "CES", "Responses", "Churn", "Revenue at risk"]
    assert any(f"n = {n:,} answers" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2


def test_changing_filters_changes_the_numbers(app_env, raw_sql):
    at = start()
    before = tiles(at)["NPS"]
    at.sidebar.selectbox(key="period").set_value("30d").run()
    at.sidebar.multiselect(key="stage").set_value(["claim"]).run()
    assert not at.exception
    end = last_day(raw_sql)
    nps, n = sql_nps(raw_sql, end - dt.timedelta(days=29), end, "claim")
    after = tiles(at)["NPS"]
    assert after == METRICS["nps"].format(nps) and after != before
    # the strip's one card, its title a link to the Journey page on that stage and period
    strip_titles = [md.value for md in at.markdown if md.value.startswith("[**")]
    start_day = end - dt.timedelta(days=29)
    assert strip_titles == [
        f"[**5. File a claim**](/journey?start={start_day}&end={end}&stage=claim)"
    ]


def test_every_tile_carries_its_registry_definition(app_env):
    """The tooltip opens with the registry's definition, then the tile's full caption."""
    at = start()
    helps = {m.label: m.help for m in list(at.metric)[:6]}
    for spec in METRICS.values():
        if spec.short in helps:
            assert helps[spec.short].startswith(spec.help() + "\n\n")


def test_filters_survive_a_page_switch_and_reach_the_url(app_env):
    at = start()
    at.sidebar.selectbox(key="period").set_value("30d").run()
    at.sidebar.multiselect(key="department").set_value(["claims"]).run()
    filtered = tiles(at)
    at.switch_page("pages/glossary.py").run()
    assert not at.exception
    assert [h.value for h in at.markdown if h.value.startswith("#### ")]  # glossary entries
    at.switch_page("pages/overview.py").run()
    assert tiles(at) == filtered  # the first run after the switch already uses the filters
    assert at.sidebar.selectbox(key="period").value == "30d"
    assert at.sidebar.multiselect(key="department").value == ["claims"]
    assert at.query_params["period"] == "Last 30 days"
    assert at.query_params["department"] == "Claims"


def test_glossary_lists_every_metric(app_env):
    at = start()
    at.switch_page("pages/glossary.py").run()
    headings = [h.value.removeprefix("#### ") for h in at.markdown if h.value.startswith("####")]
    assert headings == [spec.name for spec in METRICS.values()]


def test_a_department_that_does_not_affect_the_chosen_stage_says_so(app_env):
    at = start()
    at.sidebar.multiselect(key="stage").set_value(["shop"]).run()
    at.sidebar.multiselect(key="department").set_value(["claims"]).run()
    assert not at.exception
    assert any("No stage matches these filters" in w.value for w in at.warning)
    assert not at.metric


def test_a_selection_without_responses_says_so(app_env, raw_sql):
    (agent_at_help,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "WHERE t.stage_id = 'help' AND r.channel = 'agent'"
    ).fetchone()
    assert agent_at_help == 0  # the sample offers no agent at "Get help"
    at = start()
    at.sidebar.multiselect(key="stage").set_value(["help"]).run()
    at.sidebar.multiselect(key="channel").set_value(["agent"]).run()
    assert not at.exception
    assert any("No responses between" in w.value for w in at.warning)
    # the period is inside the data: the filters are what to widen, not the dates
    assert any("though the data covers the period: widen the stage" in w.value for w in at.warning)
    assert not at.metric
    # every page says it, Accountability included: it judged the departments of "Get help"
    # on their other stages' agent answers, under a stage filter that leaves nothing
    for page in ("journey", "accountability", "loyalty", "voice"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
        assert any("No responses between" in w.value for w in at.warning), page
        assert not any("false positive" in t.value for t in [*at.success, *at.error]), page


def test_a_period_the_data_has_a_gap_in_says_so_not_to_widen_filters_never_chosen(
    tmp_path, monkeypatch, sample_db
):
    """No filter but the period, and no response in it though the data runs before and
    after (a gap, as real review data has): the period is what to change."""
    import shutil

    db = tmp_path / "gap.db"
    shutil.copy(sample_db, db)
    with sqlite3.connect(db) as conn:
        first, last = conn.execute(
            "SELECT MIN(responded_on), MAX(responded_on) FROM responses"
        ).fetchone()
        conn.execute(
            "DELETE FROM responses WHERE responded_on BETWEEN '2025-03-01' AND '2025-03-31'"
        )
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{db}")
    monkeypatch.chdir(REPO)
    assert first < "2025-03-01" and last > "2025-03-31"
    at = start()
    at.sidebar.selectbox(key="period").set_value("custom").run()
    at.sidebar.date_input(key="dates").set_value((dt.date(2025, 3, 1), dt.date(2025, 3, 31))).run()
    assert not at.exception
    [said] = [w.value for w in at.warning if w.value.startswith("No responses between")]
    assert said == (
        "No responses between 1 Mar 2025 and 31 Mar 2025: the data has none in this period "
        f"(the data covers {text.day_text(dt.date.fromisoformat(first))} to "
        f"{text.day_text(dt.date.fromisoformat(last))}). Choose another period."
    )


def test_custom_dates_outside_the_data_cannot_be_chosen(app_env, raw_sql):
    at = start()
    at.sidebar.selectbox(key="period").set_value("custom").run()
    before = at.sidebar.date_input(key="dates").value
    end = last_day(raw_sql)
    at.sidebar.date_input(key="dates").set_value(
        (end + dt.timedelta(days=10), end + dt.timedelta(days=20))
    ).run()
    assert not at.exception
    assert at.sidebar.date_input(key="dates").value == before
    assert before[1] == end


@pytest.mark.parametrize(
    "make_url, message",
    [
        (lambda tmp: f"sqlite:///{tmp / 'missing.db'}", "does not exist"),
        (lambda tmp: "postgresql+psycopg://cx:secret@127.0.0.1:9/cx", "cannot"),
        (lambda tmp: "this is not a url", "not a valid URL"),
    ],
)
def test_an_unusable_database_is_a_message_not_a_traceback(
    monkeypatch, tmp_path, make_url, message
):
    import logging

    from cxapp import data

    monkeypatch.setenv(store.URL_ENV, make_url(tmp_path))
    data.log_failure("data", None)
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    logging.getLogger("cxdashboard.data").addHandler(handler)
    try:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
        at.run()  # a second run, or a second session, meets the same failure
    finally:
        logging.getLogger("cxdashboard.data").removeHandler(handler)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and message in errors[0]
    assert "secret" not in errors[0]
    # the server's log says it once, for whoever runs the server, without the password
    said = [r.getMessage() for r in logged if r.levelname == "WARNING"]
    assert len(said) == 1 and said[0].startswith("the dashboard cannot load its data")
    assert message in said[0] and "secret" not in said[0]


def test_a_database_without_responses_is_explained(monkeypatch, tmp_path):
    path = tmp_path / "empty.db"
    engine = store.make_engine(f"sqlite:///{path}")
    schema.create_all(engine)
    engine.dispose()
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{path}")
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("has no journey stages and no responses yet" in e.value for e in at.error)


def test_a_corrupt_database_file_is_explained(monkeypatch, tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{path}")
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error


def test_sample_database_is_created_on_first_use(monkeypatch, tmp_path):
    target = tmp_path / "cx.db"
    monkeypatch.setattr(store, "DEFAULT_DB_PATH", target)
    monkeypatch.delenv(store.URL_ENV, raising=False)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert target.exists()
    count = sqlite3.connect(target).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert count > 100_000  # the default-sized company
    assert tiles(at)["NPS"]


def test_journey_page_drills_into_a_stage(app_env, raw_sql):
    at = start()
    at.switch_page("pages/journey.py").run()
    assert not at.exception
    at.selectbox(key="drill").set_value("pay").run()
    assert not at.exception
    end = last_day(raw_sql)
    touchpoints = at.dataframe[0].value
    want = {
        name: (100 * (pro - det) / n, n)
        for name, pro, det, n in raw_sql.execute(
            "SELECT t.name, SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses r "
            "JOIN touchpoints t USING (touchpoint_id) WHERE t.stage_id = 'pay' "
            "AND r.responded_on BETWEEN ? AND ? GROUP BY t.name",
            ((end - dt.timedelta(days=89)).isoformat(), end.isoformat()),
        )
    }
    assert sorted(touchpoints["touchpoint"]) == sorted(want)
    for row in touchpoints.itertuples():
        nps, n = want[row.touchpoint]
        assert row.n_nps == n
        if n >= 30:  # the table holds NPS rounded to the whole points it shows
            assert row.nps == pytest.approx(nps, abs=0.5) and row.nps == int(row.nps)
    pay_names = {
        r[0] for r in raw_sql.execute("SELECT name FROM touchpoints WHERE stage_id = 'pay'")
    }
    said = at.dataframe[2].value
    assert len(said) > 0 and set(said["touchpoint"]) <= pay_names
    assert not said["comment"].str.contains("@example.com").any()
    # the comment right after where it was said: the part a narrow screen keeps in view
    assert list(at.dataframe[2].proto.column_order)[:4] == [
        "responded_on",
        "touchpoint",
        "comment",
        "nps",
    ]
    text = " ".join(md.value for md in at.markdown)
    assert "Mobile CES is" in text and "Strong but undeclared" in text
    assert len(at.get("plotly_chart")) == 3


def test_journey_page_follows_the_shared_filters(app_env):
    at = start()
    at.sidebar.multiselect(key="department").set_value(["claims"]).run()
    at.switch_page("pages/journey.py").run()
    assert not at.exception
    assert at.selectbox(key="drill").options == ["File a claim"]
    assert [md.value for md in at.markdown if md.value.startswith("**5.")] == [
        "**5. File a claim**"
    ]


def test_accountability_page_with_a_department_selected(app_env, raw_sql):
    at = start()
    at.sidebar.multiselect(key="department").set_value(["claims"]).run()
    at.switch_page("pages/accountability.py").run()
    assert not at.exception
    assert [s.value for s in at.subheader][0] == "My accountability: Claims"
    assert at.error[0].value.startswith("False positive: Claims met 100% of its own targets")
    end = last_day(raw_sql)
    start_day = end - dt.timedelta(days=89)
    weeks, met = raw_sql.execute(
        "SELECT COUNT(*), SUM(CASE WHEN higher_is_better THEN value >= target "
        "ELSE value <= target END) FROM kpis WHERE department_id = 'claims' "
        "AND week BETWEEN ? AND ?",
        (start_day.isoformat(), end.isoformat()),
    ).fetchone()
    my_kpis = at.dataframe[0].value
    assert my_kpis["weeks"].sum() == weeks
    assert my_kpis["weeks_on_target"].sum() == met == weeks  # Claims meets every target
    # each KPI shown with its unit ("Average claim handling time (days)")
    labels = raw_sql.execute(
        "SELECT DISTINCT kpi || ' (' || unit || ')' FROM kpis WHERE department_id = 'claims'"
    ).fetchall()
    assert sorted(my_kpis["kpi_label"]) == sorted(label for (label,) in labels)
    assert "kpi_label" in at.dataframe[0].proto.column_order
    assert "kpi" not in at.dataframe[0].proto.column_order
    opened = raw_sql.execute(
        "SELECT COUNT(*) FROM cases WHERE department_id = 'claims' AND opened_on BETWEEN ? AND ?",
        (start_day.isoformat(), end.isoformat()),
    ).fetchone()[0]
    assert any(md.value == f"**My cases opened in the period: {opened:,}**" for md in at.markdown)
    assert any(w.value.startswith("Claims leads File a claim") for w in at.warning)
    assert len(at.get("plotly_chart")) == 3


def test_a_manager_sees_their_kpis_and_cases_where_the_filters_leave_no_responses(app_env, raw_sql):
    at = start()
    at.sidebar.multiselect(key="department").set_value(["service"]).run()
    at.sidebar.multiselect(key="stage").set_value(["help"]).run()
    at.sidebar.multiselect(key="channel").set_value(["agent"]).run()  # none at "Get help"
    at.switch_page("pages/accountability.py").run()
    assert not at.exception
    assert any("No responses between" in w.value for w in at.warning)
    assert [s.value for s in at.subheader] == ["My accountability: Customer Service"]
    assert not at.error and not at.info  # no verdict on the department without responses
    end = last_day(raw_sql)
    start_day = end - dt.timedelta(days=89)
    (weeks,) = raw_sql.execute(
        "SELECT COUNT(*) FROM kpis WHERE department_id = 'service' AND week BETWEEN ? AND ?",
        (start_day.isoformat(), end.isoformat()),
    ).fetchone()
    assert weeks > 0
    assert at.dataframe[0].value["weeks"].sum() == weeks
    (opened,) = raw_sql.execute(
        "SELECT COUNT(*) FROM cases WHERE department_id = 'service' AND opened_on BETWEEN ? AND ?",
        (start_day.isoformat(), end.isoformat()),
    ).fetchone()
    assert any(md.value == f"**My cases opened in the period: {opened:,}**" for md in at.markdown)
    # and nothing of the company-wide sections below, judged on no responses
    assert not at.get("plotly_chart")


def test_loyalty_page_follows_filters_and_shows_its_sections(app_env, raw_sql):
    at = start()
    at.switch_page("pages/loyalty.py").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [
        "NPS over time",
        "Does loyalty predict who leaves?",
        "Satisfied but at risk",
        "Revenue at risk",
        "Customer value",
        "Influencers: the new VIPs",
    ]
    at.sidebar.multiselect(key="segment").set_value(["Small business"]).run()
    at.segmented_control(key="trend_unit").set_value("month").run()
    assert not at.exception
    end = last_day(raw_sql)
    satisfied = raw_sql.execute(
        """WITH inview AS (
             SELECT r.customer_id, r.csat, r.responded_on, r.response_id FROM responses r
             JOIN customers c USING (customer_id)
             WHERE c.segment = 'Small business' AND r.responded_on BETWEEN ? AND ?
               AND r.csat IS NOT NULL),
           latest AS (
             SELECT customer_id, csat, ROW_NUMBER() OVER (PARTITION BY customer_id
               ORDER BY responded_on DESC, response_id DESC) AS k FROM inview)
           SELECT COUNT(*) FROM latest WHERE k = 1 AND csat >= 4""",
        ((end - dt.timedelta(days=89)).isoformat(), end.isoformat()),
    ).fetchone()[0]
    assert any(c.value.endswith(f"of {satisfied:,} satisfied customers") for c in at.caption)
    assert len(at.get("plotly_chart")) == 9


def test_accountability_without_kpis_says_so_instead_of_empty_kpi_axes(partial_url, monkeypatch):
    import json

    from cxmetrics.views import accountability

    monkeypatch.setenv(store.URL_ENV, partial_url)
    monkeypatch.chdir(REPO)
    at = start()
    at.switch_page("pages/accountability.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="acc_stage").value  # the stage × department section is shown
    titles = [
        json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
        for c in at.get("plotly_chart")
    ]
    assert titles and not any("own KPIs next to customers' NPS" in t for t in titles), titles
    assert accountability.NO_KPIS_AT_STAGE in [i.value for i in at.info]
