"""The journey page's metrics: impact ranking, channel consistency, behavioural moments,
masking — on tiny hand-made data, then on the sample company."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from test_overview import tiny_journey

from cxmetrics import behaviour, channels, dataset, impact, journey_view
from cxmetrics import metrics as m
from cxmetrics.filters import Filters
from cxmetrics.text import mask_pii

D = dt.date


def answers(touchpoint: str, pairs: list[tuple[int, int]], channel: str = "web"):
    """Responses at a touchpoint: (nps, csat) pairs."""
    return [
        {"touchpoint_id": touchpoint, "channel": channel, "nps": n, "csat": c, "ces": None}
        for n, c in pairs
    ]


def stats_of(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={
            "touchpoint_id": pl.String,
            "channel": pl.String,
            "nps": pl.Int8,
            "csat": pl.Int8,
            "ces": pl.Int8,
        },
    )
    return m.response_stats(frame, ["touchpoint_id", "channel"])


def test_impact_ranking_by_hand():
    rows = (
        # buy_web: good (csat 4-5): 10, 10, 9, 6 -> NPS (3-1)/4 = +50
        #          poor (csat 1-3): 3, 9 -> NPS (1-1)/2 = 0; gap 50, 2 poor
        answers("buy_web", [(10, 5), (10, 4), (9, 5), (6, 4), (3, 2), (9, 3)])
        # claim_call: good: 9, 8 -> +50; poor: 0, 2, 5, 10 -> (1-3)/4 = -50; gap 100, 4 poor
        + answers("claim_call", [(9, 4), (8, 5), (0, 1), (2, 2), (5, 3), (10, 1)])
        # claim_pay: no poor answers -> no gap
        + answers("claim_pay", [(10, 5), (9, 5)])
        + answers("claim_pay", [(7, None)])  # an NPS answer without CSAT counts in n only
    )
    ranked = impact.ranking(stats_of(rows), tiny_journey(), min_n=1)
    total = 15  # NPS answers in view
    by_tp = {r["touchpoint_id"]: r for r in ranked.iter_rows(named=True)}
    assert by_tp["buy_web"]["gap"] == pytest.approx(50.0)
    assert by_tp["buy_web"]["points"] == pytest.approx(50.0 * 2 / total)
    assert by_tp["claim_call"]["gap"] == pytest.approx(100.0)
    assert by_tp["claim_call"]["points"] == pytest.approx(100.0 * 4 / total)
    assert by_tp["claim_call"]["poor_share"] == pytest.approx(4 / 6)
    assert by_tp["claim_pay"]["gap"] is None and by_tp["claim_pay"]["rank"] is None
    assert ranked["touchpoint_id"].to_list()[:2] == ["claim_call", "buy_web"]
    # two declared moments (buy_web, claim_call) and both rank in the top two
    assert by_tp["claim_call"]["verdict"] == impact.VERDICT_CONFIRMED
    assert by_tp["claim_pay"]["verdict"] == impact.VERDICT_TOO_FEW


def test_verdicts_compare_data_with_the_declaration():
    rows = (
        answers("claim_pay", [(10, 5)] * 4 + [(0, 1)] * 4)  # undeclared, big gap
        + answers("claim_call", [(9, 5)] * 4 + [(8, 2)] * 4)  # declared, strong
        + answers("buy_web", [(8, 5)] * 4 + [(8, 2)] * 4)
    )  # declared, no gap at all
    ranked = {
        r["touchpoint_id"]: r["verdict"]
        for r in impact.ranking(stats_of(rows), tiny_journey(), min_n=1).iter_rows(named=True)
    }
    assert ranked == {
        "claim_pay": impact.VERDICT_UNDECLARED,
        "claim_call": impact.VERDICT_CONFIRMED,
        "buy_web": impact.VERDICT_WEAK,
    }


def test_too_few_answers_leave_a_touchpoint_unranked():
    rows = answers("buy_web", [(10, 5), (0, 1)])
    ranked = impact.ranking(stats_of(rows), tiny_journey(), min_n=30)
    assert ranked["rank"].null_count() == ranked.height


def test_channel_gap_pools_shared_touchpoints_only():
    rows = (
        [
            {"touchpoint_id": "buy_web", "channel": "web", "nps": None, "csat": None, "ces": c}
            for c in (7, 6)
        ]
        + [
            {"touchpoint_id": "buy_web", "channel": "mobile", "nps": None, "csat": None, "ces": c}
            for c in (3, 4, 2)
        ]
        + [  # web only: left out of the comparison
            {"touchpoint_id": "claim_pay", "channel": "web", "nps": None, "csat": None, "ces": 1}
        ]
    )
    g = channels.gap(stats_of(rows), "web", "mobile", "ces", min_n=1)
    assert g["touchpoints"] == 1
    assert g["value_better"] == pytest.approx(6.5) and g["n_better"] == 2
    assert g["value_worse"] == pytest.approx(3.0) and g["n_worse"] == 3
    assert "Mobile CES is 3.50 lower than web" in channels.describe_gap(g)
    assert channels.gap(stats_of(rows), "web", "mobile", "ces", min_n=5) is None


def test_presence_marks_customers_per_group():
    got = behaviour.presence(np.array([0, 2, 2, 1]), np.array([1, 1, 0, 1]), 2, 3)
    assert got.tolist() == [[False, False, True], [True, True, True]]


def test_repeat_contacts_are_the_third_within_30_days():
    contacts = pl.DataFrame(
        {
            "contact_id": [1, 2, 3, 4, 5, 6, 7],
            "cust": [0, 0, 0, 1, 1, 1, 0],
            "contacted_on": [
                D(2026, 1, 1),
                D(2026, 1, 10),
                D(2026, 1, 30),
                D(2026, 1, 1),
                D(2026, 1, 15),
                D(2026, 2, 1),
                D(2026, 2, 15),
            ],
        }
    )
    flagged = behaviour.flag_repeat_contacts(contacts)
    got = dict(zip(flagged["contact_id"], flagged["repeat_contact"], strict=True))
    # customer 0: 1 Jan, 10 Jan, 30 Jan -> third inside 30 days (29 days apart);
    # 15 Feb: 10 Jan..15 Feb is 36 days -> not. Customer 1: 1 Jan .. 1 Feb is 31 days -> not.
    assert got == {1: False, 2: False, 3: True, 4: False, 5: False, 6: False, 7: False}
    assert flagged["contacted_on"].is_sorted()


def test_behavioural_group_against_everyone_else_by_hand():
    customers = m.CustomerArrays.from_frame(
        pl.DataFrame(
            {
                "churned_on": [D(2026, 1, 20), None, None, D(2026, 5, 1)],
                "annual_revenue": [1.0] * 4,
            },
            schema={"churned_on": pl.Date, "annual_revenue": pl.Float64},
        )
    )
    members = np.array([True, True, False, False])
    codes = np.array([0, 0, 1, 2, 3, 3])
    nps = np.array([10, 2, 0, 9, 9, -1], dtype=np.int8)
    counts = behaviour.AnswerCounts.of(codes, nps, 4)
    assert counts.answers.tolist() == [2, 1, 1, 1]
    seen = np.array([True, True, True, True])
    left = m.left_in_period(customers, D(2026, 1, 1), D(2026, 3, 31))
    assert left.tolist() == [True, False, False, False]
    result = behaviour.compare_group("x", members, counts, seen, left, min_n=1)
    assert result.customers == 2
    assert result.nps.value == pytest.approx(100 * (1 - 2) / 3)  # 10, 2, 0
    assert result.others_nps.value == pytest.approx(100.0)  # 9, 9
    assert result.churn.value == pytest.approx(50.0)  # customer 0 left on 20 Jan
    assert result.others_churn.value == pytest.approx(0.0)  # customer 3 leaves in May


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Email me at jo.bloggs@example.com today", "Email me at [email] today"),
        ("Call me on 07700 900123.", "Call me on [phone]."),
        ("Ring +44 (0)20 7946 0958 please", "Ring [phone] please"),
        ("Policy 12345 renewed in 2026", "Policy 12345 renewed in 2026"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        (None, None),
    ],
)
def test_personal_details_are_masked(text, expected):
    assert mask_pii(text) == expected


# --- on the sample company ---------------------------------------------------------------


@pytest.fixture(scope="module")
def story_ds(story_data):
    return dataset.build(story_data.journey, story_data.customers, story_data.responses)


@pytest.fixture(scope="module")
def story_contacts(story_data, story_ds):
    return dataset.compact_contacts(story_data.contacts, story_ds.journey, story_ds.customers)


def latest_quarter(ds) -> Filters:
    return Filters(start=D(2026, 7, 1), end=ds.last_day)


def test_claim_touchpoints_rank_among_the_most_harmful(story_ds):
    ranked = impact.ranking(story_ds.slice_stats(latest_quarter(story_ds)), story_ds.journey)
    claim = ranked.filter(pl.col("stage_id") == "claim")
    assert claim.height == 5 and claim["rank"].max() <= 10  # all five in the top 10 of 25
    by_stage = (
        ranked.group_by("stage_id").agg(pl.col("points").sum()).sort("points", descending=True)
    )
    assert by_stage["stage_id"][0] == "claim"


def test_the_mobile_effort_gap_is_reported(story_ds, story_contacts):
    view = journey_view.compute(story_ds, story_contacts, latest_quarter(story_ds))
    assert view.channel_gap["worse"] == "mobile"
    assert view.channel_gap["difference"] >= 0.5
    assert channels.describe_gap(view.channel_gap).startswith("Mobile CES is")


def test_claim_moment_customers_are_less_loyal(story_ds, story_contacts):
    view = journey_view.compute(story_ds, story_contacts, latest_quarter(story_ds))
    claim = next(g for g in view.behaviour if "File a claim" in g.moment)
    assert claim.change.significant and claim.change.delta < -10


def test_trends_cover_the_period_by_week(story_ds, story_contacts):
    view = journey_view.compute(story_ds, story_contacts, latest_quarter(story_ds))
    assert view.trend_unit == "week"
    claim = [v for v in view.trends["claim"] if v is not None]
    assert 12 <= len(view.trends["claim"]) <= 15
    assert np.mean(claim[-4:]) < np.mean(claim[:4])  # File a claim keeps falling
