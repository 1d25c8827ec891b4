"""The false-positive detector, incentive call-outs and scorecards: tiny hand-made cases,
then the sample company."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from statistics import NormalDist

import polars as pl
import pytest

from cxmetrics.charts import accountability_charts
from cxmetrics.contract.journey import Journey
from cxmetrics.findings import closed_loop
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import accountability as acc
from cxmetrics.views.overview import StageRow

D = dt.date


def journey_of(owners: list[tuple[str, str, str]], shares: dict[str, float]) -> Journey:
    stage_ids = sorted({s for s, _, _ in owners})
    depts = sorted({d for _, d, _ in owners})
    return Journey(
        stages=pl.DataFrame(
            {
                "stage_id": stage_ids,
                "name": [s.upper() for s in stage_ids],
                "position": list(range(1, len(stage_ids) + 1)),
                "description": [None] * len(stage_ids),
            },
            schema_overrides={"position": pl.Int32, "description": pl.String},
        ),
        touchpoints=pl.DataFrame(
            schema={
                "touchpoint_id": pl.String,
                "stage_id": pl.String,
                "name": pl.String,
                "moment_of_truth": pl.Boolean,
                "description": pl.String,
            }
        ),
        departments=pl.DataFrame({"department_id": depts, "name": [d.title() for d in depts]}),
        stage_owners=pl.DataFrame(
            owners, schema=["stage_id", "department_id", "role"], orient="row"
        ),
        targets=pl.DataFrame(
            schema={"metric": pl.String, "stage_id": pl.String, "target": pl.Float64}
        ),
        incentives=pl.DataFrame({"department_id": list(shares), "cx_share": list(shares.values())}),
    )


def stage(stage_id: str, nps: float, target: float, n: int = 500, se: float = 1.0) -> StageRow:
    score = m.Score("nps", nps, n, se)
    return StageRow(
        stage_id,
        stage_id.upper(),
        1,
        {"nps": score},
        {"nps": target},
        {"nps": m.status(score, target)},
        [],
    )


def kpi_weeks(dept: str, on: int, off: int) -> pl.DataFrame:
    weeks = [D(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(on + off)]
    return acc.kpis_in_period(
        pl.DataFrame(
            {
                "department_id": [dept] * (on + off),
                "kpi": ["k"] * (on + off),
                "week": weeks,
                "value": [1.0] * on + [0.0] * off,
                "target": [1.0] * (on + off),
                "higher_is_better": [True] * (on + off),
            }
        ),
        None,
        None,
    )


OWNERS = [
    ("a", "x", "lead"),
    ("b", "x", "contributor"),
    ("a", "y", "contributor"),
    ("b", "y", "lead"),
    ("c", "y", "contributor"),
]


def verdicts(stages, kpis, shares=None, departments=None) -> dict[str, acc.DepartmentVerdict]:
    journey = journey_of(OWNERS, shares or {"x": 0.0, "y": 0.25})
    return {v.department_id: v for v in acc.detect(journey, stages, kpis, departments=departments)}


def wilson_lower(hits: int, n: int, z: float = 1.96) -> float:
    p = hits / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )


def score_p(hits: int, n: int, g: float = 0.75) -> float:
    """Doubled one-sided p of 'hit rate > g' (score test), by hand."""
    z = (hits / n - g) / math.sqrt(g * (1 - g) / n)
    return min(1.0, 2 * (1 - NormalDist().cdf(z)))


def test_green_kpis_and_red_stages_are_a_false_positive():
    # x leads a (red) and contributes to b (green): exposure 1 / 1.5 = 67%; KPIs 30 of 30
    got = verdicts([stage("a", -20, 30), stage("b", 40, 30)], kpi_weeks("x", 30, 0))["x"]
    assert got.silo_score == 1.0 and got.kpi_weeks == 30
    assert got.silo_lower == pytest.approx(wilson_lower(30, 30))  # 0.886 > 0.75
    assert got.green
    assert got.exposure_below == pytest.approx(1 / 1.5)
    assert got.experience_gap == pytest.approx((1 * -50 + 0.5 * 10) / 1.5)
    assert got.false_positive
    # one department tested (y has no KPIs): q = p = the KPI part, the stage part is ~0
    assert got.finding.p == pytest.approx(score_p(30, 30))
    assert got.finding.q == pytest.approx(got.finding.p)
    assert got.finding.effect == -50 and got.finding.ci == pytest.approx((-51.96, -48.04))
    assert got.sentence == (
        "False positive: X met 100% of its own targets (30 KPI-weeks); customers rate A "
        "at NPS -20 ± 2 (n = 500), 50 points under target."
    )


def test_the_detector_far_above_and_far_below_its_threshold():
    red = [stage("a", -20, 30), stage("b", 40, 30)]
    # 95% of weeks: green whatever the draw; 50%: never green
    high = verdicts(red, kpi_weeks("x", 38, 2))["x"]
    assert high.green and high.false_positive
    assert high.finding.p == pytest.approx(score_p(38, 40))
    low = verdicts(red, kpi_weeks("x", 20, 20))["x"]
    assert not low.green and not low.false_positive
    assert low.finding.p == pytest.approx(1.0)
    assert low.sentence == (
        "X met 50% of its own targets (40 KPI-weeks); customers rate A at NPS -20 ± 2 "
        "(n = 500), 50 points under target."
    )


def test_a_share_just_above_the_threshold_is_not_green():
    # 80% on target (the old rule's line) on 30 weeks: the interval reaches well below 75%
    got = verdicts([stage("a", -20, 30), stage("b", 40, 30)], kpi_weeks("x", 24, 6))["x"]
    assert wilson_lower(24, 30) < 0.75 and got.silo_lower == pytest.approx(wilson_lower(24, 30))
    assert not got.green and not got.false_positive


def test_too_few_kpi_weeks_are_not_judged():
    # 12 of 12 would clear 75% (Wilson lower bound 0.76) but 13 KPI-weeks are the minimum
    assert wilson_lower(12, 12) > 0.75
    got = verdicts([stage("a", -20, 30), stage("b", 40, 30)], kpi_weeks("x", 12, 0))["x"]
    assert not got.green and not got.false_positive and got.finding is None
    assert "on too few KPI-weeks to judge (12 of the 13 needed)" in got.sentence


def test_an_untested_department_is_drawn_hollow_and_no_verdict_is_given(app_env):
    """A department with 4 KPI-weeks stood, filled, in the false positives' corner, beside
    "No department … is a false positive" when nothing had been tested."""
    red = [stage("a", -20, 30), stage("b", 40, 30)]
    few = verdicts(red, kpi_weeks("x", 12, 0))["x"]
    enough = verdicts(red, kpi_weeks("x", 30, 0))["x"]
    fig = accountability_charts.fig_silo_quadrant([few])
    assert list(fig.data[0].marker.symbol) == ["circle-open"]
    assert fig.data[0].hovertext[0].endswith("Not tested.")
    fig = accountability_charts.fig_silo_quadrant([enough])
    assert list(fig.data[0].marker.symbol) == ["circle"]
    assert acc.tested([few]) == 0 and acc.tested([few, enough]) == 1
    # the page, on 30 days of the test company: fewer KPI-weeks than any test needs
    from conftest import REPO
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.query_params.update({"period": "Last 30 days"})
    at.switch_page("pages/accountability.py")
    at.run()
    assert not at.exception, at.exception
    assert acc.NONE_TESTED.format(weeks=acc.MIN_KPI_WEEKS) in [i.value for i in at.info]
    assert not [x.value for x in at.success if "false positive" in x.value]
    # where some were tested, the verdict says how many, and how many could not be
    assert acc.clear_words([few, dataclasses.replace(enough, false_positive=False)]) == (
        "No department tested is a false positive: 1 tested; 1 more with KPIs could not be, "
        "with fewer than 13 KPI-weeks or no stage with enough answers."
    )


def test_exposure_of_exactly_half_is_not_red():
    # y: a (contributor 0.5, red), b (lead 1, green), c (contributor 0.5, red) -> 1 / 2 = 50%
    stages = [stage("a", -20, 30), stage("b", 40, 30), stage("c", 0, 30)]
    got = verdicts(stages, kpi_weeks("y", 40, 0))["y"]
    assert got.green and got.exposure_below == pytest.approx(0.5)
    assert not got.false_positive
    # the weight beyond half has to come from b, which is 10 points above target
    assert got.finding.p == pytest.approx(1.0)


def test_below_target_only_when_the_interval_is():
    # +14 ± 26 against 25: the interval reaches above the target, so it is not below
    wide = verdicts([stage("a", 14, 25, se=26 / 1.96), stage("b", 40, 30)], kpi_weeks("x", 40, 0))
    assert wide["x"].exposure_below == 0.0 and not wide["x"].false_positive
    assert "none of the stages it affects is below its NPS target" in wide["x"].sentence
    # 3 points under with a margin of 2: below, though it used to be "near target"
    near = verdicts([stage("a", 27, 30), stage("b", 40, 30)], kpi_weeks("x", 40, 0))["x"]
    assert near.exposure_below == pytest.approx(1 / 1.5) and near.false_positive


def test_false_positives_are_corrected_over_the_departments_in_view():
    red = [stage("a", -20, 30), stage("b", -20, 30), stage("c", 40, 30)]
    # x: 36 of 40 -> p = 0.028 alone; y: 13 of 26 -> p = 1
    kpis = pl.concat([kpi_weeks("x", 36, 4), kpi_weeks("y", 13, 13)])
    p = score_p(36, 40)
    assert 0.025 < p < 0.05  # passes alone, not once doubled by a second test
    alone = verdicts(red, kpis, departments={"x"})["x"]
    assert alone.false_positive and alone.finding.q == pytest.approx(p)
    both = verdicts(red, kpis)["x"]
    assert both.finding.q == pytest.approx(min(1.0, 2 * p)) and not both.false_positive


def test_stages_with_too_few_answers_are_not_judged():
    got = verdicts([stage("a", -20, 30, n=10), stage("b", 40, 30)], kpi_weeks("x", 30, 0))["x"]
    assert got.exposure_below == 0.0 and not got.false_positive


def test_a_department_without_kpis_is_never_flagged():
    got = verdicts([stage("a", -20, 30), stage("b", -20, 30)], kpi_weeks("other", 30, 0))["x"]
    assert got.silo_score is None and not got.false_positive and got.finding is None
    assert "has no KPIs in this period" in got.sentence


def test_incentive_callout_names_leads_of_red_stages_without_cx_pay():
    journey = journey_of(OWNERS, {"x": 0.0, "y": 0.0})
    found = acc.detect(
        journey,
        [stage("a", -20, 30), stage("b", -5, 30)],
        pl.concat([kpi_weeks("x", 5, 5), kpi_weeks("y", 5, 5)]),
    )
    lines = acc.incentive_callouts(found, journey)
    assert lines == [
        "X leads A, below its NPS target, and has no CX share in its variable pay.",
        "Y leads B, below its NPS target, and has no CX share in its variable pay.",
    ]
    paid = journey_of(OWNERS, {"x": 0.1, "y": 0.0})
    assert (
        len(
            acc.incentive_callouts(
                acc.detect(paid, [stage("a", -20, 30)], kpi_weeks("x", 1, 0)), paid
            )
        )
        == 0
    )


def test_the_benchmark_is_not_a_column_beside_the_departments_pay():
    journey = journey_of(OWNERS, {"x": 0.0, "y": 0.25})
    table = acc.incentive_table(
        acc.detect(journey, [stage("a", -20, 30)], kpi_weeks("x", 1, 0)), journey
    )
    assert "benchmark_pct" not in table.columns
    assert dict(zip(table["department"], table["cx_share_pct"], strict=True)) == {
        "X": 0.0,
        "Y": 25.0,
    }
    assert "19% of companies" in acc.CX_PAY_BENCHMARK_TEXT
    assert "not a share of pay" in acc.CX_PAY_BENCHMARK_TEXT


def test_kpis_in_period_respect_direction_and_dates():
    kpis = pl.DataFrame(
        {
            "department_id": ["x"] * 4,
            "kpi": ["speed"] * 4,
            "week": [D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 19), D(2026, 1, 26)],
            "value": [50.0, 70.0, 60.0, 40.0],
            "target": [60.0] * 4,
            "higher_is_better": [False] * 4,
        }
    )
    got = acc.kpis_in_period(kpis, D(2026, 1, 10), D(2026, 1, 25))
    assert got["week"].to_list() == [D(2026, 1, 12), D(2026, 1, 19)]
    assert got["on_target"].to_list() == [False, True]  # lower is better: 70 misses, 60 meets
    summary = acc.kpi_summary(got).row(0, named=True)
    assert summary["weeks"] == 2 and summary["on_target_pct"] == pytest.approx(50.0)
    assert summary["latest"] == 60.0


# --- the sample company --------------------------------------------------------------


@pytest.fixture(scope="module")
def story(story_data):
    ds = dataset.build(story_data.journey, story_data.customers, story_data.responses)
    contacts = dataset.compact_contacts(story_data.contacts, ds.journey, ds.customers)
    cases = closed_loop.prepare(story_data.cases, contacts, ds.customers, ds.journey)
    return ds, story_data.kpis, cases


@pytest.mark.parametrize("months", [3, 6, 12])
def test_claims_is_flagged_and_customer_service_is_not(story, months):
    ds, kpis, _ = story
    view = Filters(start=ds.last_day - dt.timedelta(days=30 * months), end=ds.last_day)
    found = {v.department_id: v for v in acc.compute(ds, kpis, view).verdicts}
    assert found["claims"].false_positive
    assert found["claims"].silo_score == 1.0
    assert found["claims"].sentence.startswith(
        "False positive: Claims met 100% of its own targets ("
    )
    assert "customers rate File a claim at NPS" in found["claims"].sentence
    # every other department's KPI hit rate is far below a green scorecard
    for v in found.values():
        if v.department_id != "claims":
            assert not v.false_positive and not v.green
            assert v.silo_lower is not None and v.silo_lower < acc.GREEN_SILO


def test_a_30_day_view_has_too_few_kpi_weeks_to_judge(story):
    ds, kpis, _ = story
    view = Filters(start=ds.last_day - dt.timedelta(days=29), end=ds.last_day)
    found = acc.compute(ds, kpis, view).verdicts
    assert all(v.kpi_weeks < acc.MIN_KPI_WEEKS for v in found)
    assert not any(v.false_positive for v in found)
    assert acc.candidates(ds, view, kpis) == []


def test_the_incentive_callout_names_claims(story):
    ds, kpis, _ = story
    view = acc.compute(ds, kpis, Filters(start=D(2026, 7, 1), end=ds.last_day))
    assert any(line.startswith("Claims leads File a claim") for line in view.callouts)
    assert not any(line.startswith("Customer Service") for line in view.callouts)


def test_manager_view_keeps_only_the_department(story):
    ds, kpis, _ = story
    view = acc.compute(
        ds, kpis, Filters(start=D(2026, 7, 1), end=ds.last_day, departments=("claims",))
    )
    assert [v.department_id for v in view.verdicts] == ["claims"]
    assert set(view.matrix["stage_id"]) == {"claim"}


def test_customer_service_closes_cases_customers_do_not_confirm(story):
    ds, _, cases = story
    got = acc.case_summary(cases, ds.journey, "service", D(2026, 1, 1), ds.last_day, ds.last_day)
    opened = cases.filter(
        (pl.col("department_id") == "service")
        & pl.col("opened_on").is_between(D(2026, 1, 1), ds.last_day)
    )
    # only cases opened 60+ days before the data ends count for the rates
    mine = opened.filter(pl.col("opened_on") <= ds.last_day - dt.timedelta(days=60))
    closed = mine.filter(pl.col("closed_on").is_not_null())
    confirmed = closed["customer_confirmed"].fill_null(False).sum()
    said_no = (closed["customer_confirmed"] == False).sum()  # noqa: E712
    not_asked = closed["customer_confirmed"].is_null().sum()
    assert got["opened"] == opened.height and got["judged"] == mine.height < opened.height
    assert got["closed"].value == pytest.approx(100 * closed.height / mine.height)
    assert got["confirmed"].value == pytest.approx(100 * confirmed / mine.height)
    assert got["said_no"].value == pytest.approx(100 * said_no / closed.height)
    assert got["not_asked"].value == pytest.approx(100 * not_asked / closed.height)
    assert got["closed"].value >= 88 and got["confirmed"].value <= 60
    assert "Only cases opened up to" in got["window"]


def test_scorecard_lists_every_department_of_the_stage_lead_first(story):
    ds, kpis, _ = story
    table = acc.scorecard(
        ds.journey, "claim", acc.kpi_summary(acc.kpis_in_period(kpis, None, None))
    )
    assert table["department_id"][0] == "claims" and table["role"][0] == "lead"
    assert set(table["department_id"]) == {"claims", "service", "underwriting"}


def test_a_kpi_is_named_with_its_unit_where_one_was_imported():
    """ "Average claim handling time … 13.80, ≤ 14" did not say 13.80 of what."""
    weeks = pl.DataFrame(
        {
            "department_id": ["x", "x", "x", "x"],
            "kpi": ["Handling", "Handling", "Within SLA", "Calls"],
            "week": [D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 5), D(2026, 1, 5)],
            "value": [15.0, 13.8, 96.0, 7.0],
            "target": [14.0, 14.0, 95.0, 9.0],
            "higher_is_better": [False, False, True, False],
            "unit": [None, "days", " % ", ""],  # a week without it; spaces; an empty one
        }
    )
    summary = acc.kpi_summary(acc.kpis_in_period(weeks, None, None))
    assert dict(zip(summary["kpi"], summary["kpi_label"], strict=True)) == {
        "Calls": "Calls",
        "Handling": "Handling (days)",
        "Within SLA": "Within SLA (%)",
    }
    # a table from before units: the names alone
    bare = acc.kpi_summary(acc.kpis_in_period(weeks.drop("unit"), None, None))
    assert bare["kpi_label"].to_list() == bare["kpi"].to_list()


def test_the_sample_s_kpis_carry_the_units_of_their_definitions(story):
    import csv

    from cxmetrics.contract.journey import SAMPLE_DIR

    with open(SAMPLE_DIR / "kpi_definitions.csv", newline="") as f:
        want = {(r["department_id"], r["kpi"]): r["unit"] for r in csv.DictReader(f)}
    _, kpis, _ = story
    got = {(d, k): u for d, k, u in kpis.select("department_id", "kpi", "unit").unique().rows()}
    assert got == want and "days" in got.values()


def test_the_registry_states_the_detectors_thresholds():
    from cxmetrics.contract.registry import METRICS
    from cxmetrics.findings.findings import KINDS

    formula = METRICS["false_positive"].formula
    assert f"lower bound > {100 * acc.GREEN_SILO:.0f}%" in formula
    assert f"at least {acc.MIN_KPI_WEEKS} KPI-weeks" in formula
    assert f"above {100 * acc.GREEN_SILO:.0f}%" in KINDS["false_positive"]
    assert f"at least {acc.MIN_KPI_WEEKS} KPI-weeks" in KINDS["false_positive"]
    assert acc.RED_EXPOSURE == 0.5 and "more than half" in formula
    assert acc.ROLE_WEIGHT == {"lead": 1.0, "contributor": 0.5}
    assert "lead 1, contributor 1/2" in METRICS["false_positive"].definition


def test_stages_are_judged_with_margins_that_allow_for_repeated_answers(story, story_data):
    ds, kpis, _ = story
    view = Filters(start=ds.last_day - dt.timedelta(days=90), end=ds.last_day)
    claim = next(s for s in acc.compute(ds, kpis, view).stages if s.stage_id == "claim")
    # by hand, from the raw answers: NPS of File a claim in the view and its standard error
    # at the effective n (n over the design effect of customers answering more than once)
    answers = (
        story_data.responses.join(
            story_data.journey.touchpoints.select("touchpoint_id", "stage_id"), on="touchpoint_id"
        )
        .filter(
            (pl.col("stage_id") == "claim")
            & pl.col("responded_on").is_between(view.start, view.end)
            & pl.col("nps").is_not_null()
        )["nps"]
        .to_numpy()
    )
    n = answers.size
    p, d = (answers >= 9).mean(), (answers <= 6).mean()
    se = 100 * math.sqrt((p + d - (p - d) ** 2) / (n / ds.design_effect["nps"]))
    assert ds.design_effect["nps"] > 1.2
    assert claim.scores["nps"].n == n
    assert claim.scores["nps"].value == pytest.approx(100 * (p - d))
    assert claim.scores["nps"].se == pytest.approx(se)


def test_the_ownership_map_shows_no_score_below_30_answers():
    """A stage with 29 NPS answers is neither given a number nor coloured (its gap is
    unknown), as everywhere else a score is shown; one with 30 is."""
    journey = journey_of([("a", "x", "lead"), ("b", "x", "lead")], {"x": 0.5})
    cells = acc.matrix(journey, [stage("a", -30, 30, n=29), stage("b", 10, 30, n=30)])
    got = {
        r["stage_id"]: r for r in cells.filter(pl.col("role").is_not_null()).iter_rows(named=True)
    }
    assert (got["a"]["nps"], got["a"]["gap"], got["a"]["n_nps"]) == (None, None, 29)
    assert (got["b"]["nps"], got["b"]["gap"], got["b"]["n_nps"]) == (10, 10 - 30, 30)
    figure = accountability_charts.fig_ownership(cells)
    (heat,) = [t for t in figure.data if t.type == "heatmap"]
    column = list(heat.x).index("A")
    assert heat.z[0][column] is None
    assert "too few NPS answers to show a score (n = 29)" in heat.hovertext[0][column]
    assert "Lead<br>–" in heat.text[0][column]
    # a cell's number is the one its colour shows, as the colour bar says: NPS − target
    assert heat.text[0][list(heat.x).index("B")] == "Lead<br>-20 vs target"
    assert heat.colorbar.title.text == "NPS − target"


def test_a_department_whose_stages_cannot_be_judged_is_not_said_to_be_fine():
    """ "None of the stages it affects is below its NPS target" was said of a department
    whose only stages had no NPS answers: nothing was judged, and the sentence says so."""
    got = verdicts([stage("a", 10, 30, n=0), stage("b", 40, 30, n=10)], kpi_weeks("x", 30, 0))
    assert "none of the stages it affects has enough NPS answers" in got["x"].sentence
    assert "is below its NPS target" not in got["x"].sentence
    judged = verdicts([stage("a", 35, 30), stage("b", 40, 30)], kpi_weeks("x", 30, 0))
    assert judged["x"].sentence.endswith("none of the stages it affects is below its NPS target.")
    # a department that affects no stage is said to, not to have stages without answers
    journey = journey_of([*OWNERS, ("a", "z", "contributor")], {})
    journey = dataclasses.replace(
        journey,
        stage_owners=journey.stage_owners.filter(pl.col("department_id") != "z"),
    )
    (alone,) = [
        v
        for v in acc.detect(journey, [stage("a", 35, 30)], kpi_weeks("z", 30, 0))
        if v.department_id == "z"
    ]
    assert alone.sentence.endswith("; it affects no stage of the journey.")


def test_a_kpi_s_target_says_which_way_is_good():
    """ "Latest 13.80 / Target 14.00" did not say that lower is better: the target does."""
    weeks = pl.DataFrame(
        {
            "department_id": ["x", "x", "x"],
            "kpi": ["Handling days", "Handling days", "Within SLA %"],
            "week": [D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 5)],
            "value": [15.0, 13.8, 96.0],
            "target": [14.0, 14.0, 95.0],
            "higher_is_better": [False, False, True],
        }
    )
    summary = acc.kpi_summary(acc.kpis_in_period(weeks, None, None))
    got = dict(zip(summary["kpi"], summary["goal"], strict=True))
    assert got == {"Handling days": "≤ 14", "Within SLA %": "≥ 95"}
    assert [acc.goal_text(t, True) for t in (0.004, -0.0001, 99.5, 1_250_000.0, 0.8)] == [
        "≥ 0.004",
        "≥ -0.0001",
        "≥ 99.5",
        "≥ 1,250,000",
        "≥ 0.8",
    ]
    assert dict(zip(summary["kpi"], summary["weeks_on_target"], strict=True)) == {
        "Handling days": 1,  # 13.8 ≤ 14; 15 is not
        "Within SLA %": 1,
    }
