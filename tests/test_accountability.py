"""The false-positive detector, incentive call-outs and scorecards: tiny hand-made cases,
then the sample company."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cxmetrics import accountability as acc
from cxmetrics import closed_loop, dataset
from cxmetrics import metrics as m
from cxmetrics.filters import Filters
from cxmetrics.journey import Journey
from cxmetrics.overview import StageRow

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


def stage(stage_id: str, nps: float, target: float, n: int = 500) -> StageRow:
    score = m.Score("nps", nps, n, 1.0)
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


def verdicts(stages, kpis, shares=None) -> dict[str, acc.DepartmentVerdict]:
    journey = journey_of(OWNERS, shares or {"x": 0.0, "y": 0.25})
    return {v.department_id: v for v in acc.detect(journey, stages, kpis)}


def test_green_kpis_and_red_stages_are_a_false_positive():
    # x leads a (red) and contributes to b (green): exposure 1 / 1.5 = 67%; KPIs 9 of 10
    got = verdicts([stage("a", -20, 30), stage("b", 40, 30)], kpi_weeks("x", 9, 1))["x"]
    assert got.silo_score == pytest.approx(0.9)
    assert got.exposure_below == pytest.approx(1 / 1.5)
    assert got.experience_gap == pytest.approx((1 * -50 + 0.5 * 10) / 1.5)
    assert got.false_positive
    assert got.sentence == (
        "False positive: X met 90% of its own targets; customers rate A "
        "at NPS -20, 50 points under target."
    )


def test_red_kpis_are_not_a_false_positive_even_with_red_stages():
    got = verdicts([stage("a", -20, 30), stage("b", 40, 30)], kpi_weeks("x", 7, 3))["x"]
    assert not got.false_positive  # 70% on target: the silo's own scorecard is not green


def test_green_kpis_and_green_stages_are_not_a_false_positive():
    got = verdicts([stage("a", 35, 30), stage("b", 40, 30)], kpi_weeks("x", 10, 0))["x"]
    assert not got.false_positive and got.exposure_below == 0.0
    assert "none of the stages it affects is below its NPS target" in got.sentence


def test_borderline_cases():
    # KPIs exactly 80% on target counts as green; exposure exactly 50% does not count as red.
    # y: a (contributor 0.5, red), b (lead 1, green), c (contributor 0.5, red) -> 1 / 2 = 50%
    stages = [stage("a", -20, 30), stage("b", 40, 30), stage("c", 0, 30)]
    got = verdicts(stages, pl.concat([kpi_weeks("y", 8, 2)]))["y"]
    assert got.silo_score == pytest.approx(0.8)
    assert got.exposure_below == pytest.approx(0.5)
    assert not got.false_positive
    # a stage just inside "near target" (within 5 points) is not below target
    near = verdicts([stage("a", 26, 30), stage("b", 40, 30)], kpi_weeks("x", 10, 0))["x"]
    assert near.exposure_below == 0.0 and not near.false_positive


def test_stages_with_too_few_answers_are_not_judged():
    got = verdicts([stage("a", -20, 30, n=10), stage("b", 40, 30)], kpi_weeks("x", 10, 0))["x"]
    assert got.exposure_below == 0.0 and not got.false_positive


def test_a_department_without_kpis_is_never_flagged():
    got = verdicts([stage("a", -20, 30), stage("b", -20, 30)], kpi_weeks("other", 5, 0))["x"]
    assert got.silo_score is None and not got.false_positive
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
        "False positive: Claims met 100% of its own targets; customers rate File a claim"
    )
    assert not found["service"].false_positive


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
    got = acc.case_summary(cases, ds.journey, "service", D(2026, 1, 1), ds.last_day)
    mine = cases.filter(
        (pl.col("department_id") == "service")
        & pl.col("opened_on").is_between(D(2026, 1, 1), ds.last_day)
    )
    closed = mine.filter(pl.col("closed_on").is_not_null())
    confirmed = closed["customer_confirmed"].fill_null(False).sum()
    assert got["opened"] == mine.height
    assert got["closed"].value == pytest.approx(100 * closed.height / mine.height)
    assert got["confirmed"].value == pytest.approx(100 * confirmed / mine.height)
    assert got["closed"].value >= 88 and got["confirmed"].value <= 60


def test_scorecard_lists_every_department_of_the_stage_lead_first(story):
    ds, kpis, _ = story
    table = acc.scorecard(
        ds.journey, "claim", acc.kpi_summary(acc.kpis_in_period(kpis, None, None))
    )
    assert table["department_id"][0] == "claims" and table["role"][0] == "lead"
    assert set(table["department_id"]) == {"claims", "service", "underwriting"}


def test_the_registry_states_the_detectors_thresholds():
    from cxmetrics.registry import METRICS

    formula = METRICS["false_positive"].formula
    assert f"≥ {100 * acc.GREEN_SILO:.0f}%" in formula
    assert acc.RED_EXPOSURE == 0.5 and "more than half" in formula
    assert acc.ROLE_WEIGHT == {"lead": 1.0, "contributor": 0.5}
    assert "lead 1, contributor 1/2" in METRICS["false_positive"].definition
