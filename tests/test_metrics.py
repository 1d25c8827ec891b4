"""Metric functions against values computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from cxmetrics.stats import answers, inference
from cxmetrics.stats import metrics as m


def raw(nps=(), csat=(), ces=()) -> pl.DataFrame:
    """A tiny response frame; None is a blank answer. Columns padded with blanks."""
    size = max(len(nps), len(csat), len(ces))

    def pad(values):
        return list(values) + [None] * (size - len(values))

    return pl.DataFrame(
        {"nps": pad(nps), "csat": pad(csat), "ces": pad(ces)},
        schema={"nps": pl.Int8, "csat": pl.Int8, "ces": pl.Int8},
    )


def scores(frame: pl.DataFrame) -> dict[str, m.Score]:
    return m.scores_of(m.sums(m.response_stats(frame, [])).row(0, named=True))


def test_nps_counts_promoters_minus_detractors_over_answers():
    # 9,10,10 promoters (3); 7,8 passives (2); 0,6 detractors (2): n = 7
    s = scores(raw(nps=[9, 10, 10, 7, 8, 0, 6]))["nps"]
    assert s.n == 7
    assert s.value == pytest.approx(100 * (3 - 2) / 7)


def test_nps_margin_of_error_by_hand():
    s = scores(raw(nps=[9, 10, 10, 7, 8, 0, 6]))["nps"]
    p, d = 3 / 7, 2 / 7
    assert s.moe == pytest.approx(196 * math.sqrt((p + d - (p - d) ** 2) / 7))


def test_nps_excludes_blank_scores():
    s = scores(raw(nps=[10, None, 0, None, None]))["nps"]
    assert s.n == 2
    assert s.value == pytest.approx(0.0)


def test_nps_with_no_answers_is_none_not_zero():
    s = scores(raw(nps=[None, None], csat=[5, 4]))["nps"]
    assert s.n == 0 and s.value is None and s.moe is None


def test_one_sided_sample_keeps_an_honest_margin():
    # 40 promoters of 40: the normal margin would be 0; the Wilson interval of a share of
    # 40/40 has lower bound (1 + z²/2n − z·√(z²/4n²)) / (1 + z²/n), computed here by hand.
    z, n = 1.96, 40
    lower = (1 + z * z / (2 * n) - z * math.sqrt(z * z / (4 * n * n))) / (1 + z * z / n)
    s = scores(raw(nps=[10] * n))["nps"]
    assert s.value == pytest.approx(100.0)
    assert s.moe == pytest.approx(100 * (1 - lower))
    assert 8.5 < s.moe < 9.0
    s = scores(raw(nps=[3] * n))["nps"]
    assert s.value == pytest.approx(-100.0)
    assert s.moe == pytest.approx(100 * (1 - lower))


def test_margin_allows_for_customers_answering_more_than_once():
    # Ten customers each give four identical answers: 40 answers carry the information of
    # ten. The design effect is then 4 and the margin doubles.
    cust = [c for c in range(10) for _ in range(4)]
    nps = [10 if c < 6 else 0 for c in cust]
    frame = pl.DataFrame({"cust": cust, "nps": nps, "csat": [None] * 40, "ces": [None] * 40})
    deff = inference.design_effects(frame.cast({"csat": pl.Int64, "ces": pl.Int64}))
    assert deff["nps"] == pytest.approx(4.0)
    plain = scores(raw(nps=nps))["nps"]
    row = m.sums(m.response_stats(raw(nps=nps), [])).row(0, named=True)
    clustered = m.scores_of(row, deff)["nps"]
    p, d = 0.6, 0.4
    assert plain.moe == pytest.approx(196 * math.sqrt((p + d - (p - d) ** 2) / 40))
    assert clustered.moe == pytest.approx(2 * plain.moe)


@pytest.mark.parametrize(
    "n, min_n, too_few", [(29, 30, True), (30, 30, False), (0, 30, True), (5, 5, False)]
)
def test_below_minimum_n_is_too_few(n, min_n, too_few):
    s = scores(raw(nps=[10] * n))["nps"] if n else m.Score("nps", None, 0)
    assert s.too_few(min_n) is too_few
    assert (s.shown(min_n) is None) is too_few


def test_csat_top2_and_top1_box():
    s = scores(raw(csat=[5, 5, 4, 3, 2, 1, None, 4]))
    assert s["csat"].n == 7
    assert s["csat"].value == pytest.approx(100 * 4 / 7)
    assert s["csat_top1"].value == pytest.approx(100 * 2 / 7)


def test_ces_mean_and_share_easy():
    s = scores(raw(ces=[7, 6, 5, 4, 1, None]))
    assert s["ces"].n == 5
    assert s["ces"].value == pytest.approx((7 + 6 + 5 + 4 + 1) / 5)
    assert s["ces_easy"].value == pytest.approx(100 * 3 / 5)
    values = [7, 6, 5, 4, 1]
    mean = sum(values) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert s["ces"].se == pytest.approx(sd / math.sqrt(5))


def test_roll_up_is_a_sum_then_a_ratio():
    a = raw(nps=[10, 10, 0], csat=[5, 1, 1], ces=[7, 7, 1])
    b = raw(nps=[6, 9], csat=[4, 4], ces=[2, 3])
    stats = pl.concat(
        [
            m.response_stats(a, []).with_columns(pl.lit("x").alias("g")),
            m.response_stats(b, []).with_columns(pl.lit("y").alias("g")),
        ]
    )
    rolled = m.scores_of(m.sums(stats).row(0, named=True))
    whole = scores(pl.concat([a, b]))
    for key in ("nps", "csat", "ces", "ces_easy", "responses"):
        assert rolled[key].value == pytest.approx(whole[key].value)
        assert rolled[key].n == whole[key].n
    # by hand: promoters 3 (10,10,9), detractors 2 (0,6) of 5
    assert rolled["nps"].value == pytest.approx(20.0)


def test_with_scores_columns_match_scores_of():
    stats = m.response_stats(raw(nps=[10, 9, 3, 7], csat=[5, 2], ces=[6, 2]), [])
    row = m.totals(stats).row(0, named=True)
    assert row["nps"] == pytest.approx(25.0)
    assert row["csat"] == pytest.approx(50.0)
    assert row["ces"] == pytest.approx(4.0)
    empty = m.totals(m.response_stats(raw(nps=[None]), [])).row(0, named=True)
    assert empty["nps"] is None and empty["csat"] is None and empty["ces"] is None


def test_nps_change_significance_by_hand():
    cur = scores(raw(nps=[10] * 60 + [0] * 40))["nps"]  # NPS +20, n 100
    old = scores(raw(nps=[10] * 40 + [0] * 60))["nps"]  # NPS -20, n 100
    se1 = 100 * math.sqrt((0.6 + 0.4 - 0.2**2) / 100)
    z = 40 / math.sqrt(2 * se1**2)
    change = m.compare(cur, old)
    assert change.delta == pytest.approx(40.0)
    assert change.z == pytest.approx(z)
    assert change.significant  # z is about 2.89


def test_small_nps_change_is_not_significant():
    cur = scores(raw(nps=[10] * 52 + [0] * 48))["nps"]
    old = scores(raw(nps=[10] * 50 + [0] * 50))["nps"]
    change = m.compare(cur, old)
    assert change.delta == pytest.approx(4.0)
    assert not change.significant


def test_change_is_not_tested_below_minimum_n():
    cur = scores(raw(nps=[10] * 10))["nps"]
    old = scores(raw(nps=[0] * 10))["nps"]
    assert m.compare(cur, old, min_n=30) is None
    assert m.compare(cur, old, min_n=5) is not None


def test_response_count_change_uses_poisson_test():
    change = m.compare(m.Score("responses", 130, 130), m.Score("responses", 100, 100))
    assert change.z == pytest.approx(30 / math.sqrt(230))  # 1.98
    assert change.significant


@pytest.mark.parametrize(
    "metric, value, se, target, expected",
    [
        ("nps", 31.0, 1.0, 30.0, m.STATUS_ON),
        ("nps", 30.0, 1.0, 30.0, m.STATUS_ON),
        ("nps", 28.5, 1.0, 30.0, m.STATUS_NEAR),  # 1.5 below, margin 1.96: can't tell
        ("nps", 27.9, 1.0, 30.0, m.STATUS_BELOW),  # 2.1 below, beyond the margin
        ("nps", 14.0, 13.3, 25.0, m.STATUS_NEAR),  # +14 ± 26 against 25: can't tell
        ("csat", 78.5, 1.0, 80.0, m.STATUS_NEAR),
        ("csat", 77.0, 1.0, 80.0, m.STATUS_BELOW),
        ("ces", 5.05, 0.1, 5.2, m.STATUS_NEAR),
        ("ces", 4.9, 0.1, 5.2, m.STATUS_BELOW),
        ("nps", 10.0, 1.0, None, m.STATUS_NONE),
    ],
)
def test_status_against_target_uses_the_margin(metric, value, se, target, expected):
    assert m.status(m.Score(metric, value, 100, se), target) == expected


def test_target_p_is_one_sided_by_hand():
    # 27 against 30 with se 1.5: z = 2, one-sided p = 0.02275
    assert m.target_p(m.Score("nps", 27.0, 100, 1.5), 30.0) == pytest.approx(0.0227501, 1e-4)
    assert m.target_p(m.Score("nps", 33.0, 100, 1.5), 30.0) == pytest.approx(1 - 0.0227501, 1e-4)


def test_status_with_too_few_answers():
    assert m.status(m.Score("nps", 90.0, 12, 1.0), 30.0) == m.STATUS_TOO_FEW


# Customer-level metrics address customers by code (their row in the customers frame).
# Customers 0-4; rows in date order:  code, date, nps (-1 blank)
ROWS = [
    (0, dt.date(2026, 1, 1), 10),
    (1, dt.date(2026, 1, 5), 2),
    (2, dt.date(2026, 1, 9), 5),
    (4, dt.date(2026, 1, 12), 0),
    (0, dt.date(2026, 2, 1), 3),
    (3, dt.date(2026, 2, 2), -1),
    (1, dt.date(2026, 3, 1), 9),
]
CODES = np.array([r[0] for r in ROWS])
NPS = np.array([r[2] for r in ROWS], dtype=np.int8)
CUSTOMERS = m.CustomerArrays.from_frame(
    pl.DataFrame(
        {
            "churned_on": [
                None,
                None,
                dt.date(2026, 2, 15),
                dt.date(2026, 6, 1),
                dt.date(2026, 1, 20),
            ],
            "annual_revenue": [100.0, 200.0, 300.0, 400.0, 500.0],
        },
        schema={"churned_on": pl.Date, "annual_revenue": pl.Float64},
    )
)


# each customer's latest answer, by hand: 0: 10 then 3 -> 3; 1: 2 then 9 -> 9; 2: 5;
# 3: blank only -> none; 4: 0
WHO, LATEST = np.array([0, 1, 2, 4]), np.array([3, 9, 5, 0], dtype=np.int8)


def test_latest_answer_is_the_most_recent_non_blank():
    rows = pl.DataFrame(
        {
            "cust": CODES,
            "stage_id": ["a", "b", "a", "a", "b", "a", "a"],
            "channel": "web",
            "source": "survey",
            "nps": pl.Series(NPS).replace(-1, None),
            "csat": None,
        },
        schema_overrides={"csat": pl.Int8},
    )
    everything = answers.from_rows(rows)
    assert answers.customers(everything).tolist() == [0, 1, 2, 3, 4]
    last = answers.latest(everything)
    assert last["cust"].to_list() == WHO.tolist()
    assert last["nps"].to_list() == LATEST.tolist()
    # the same from the rows alone, for six customer codes (the last never answered)
    expected = np.full(6, -1, dtype=np.int8)
    expected[WHO] = LATEST
    assert answers.latest_of_rows(rows, 6).tolist() == expected.tolist()


def test_churn_counts_distinct_customers_leaving_in_the_period():
    seen = np.arange(5)  # every customer answered
    # all five in view; churned inside Feb-Mar: customer 2 (15 Feb) only
    assert m.churn_counts(seen, CUSTOMERS, dt.date(2026, 2, 1), dt.date(2026, 3, 31)) == (1, 5)
    # open start: customer 4 (20 Jan) and 2 (15 Feb)
    assert m.churn_counts(seen, CUSTOMERS, None, dt.date(2026, 3, 31)) == (2, 5)
    assert m.churn_counts(seen, CUSTOMERS, None, None) == (3, 5)


def test_annual_churn_rates_by_hand():
    arrays = m.CustomerArrays.from_frame(
        pl.DataFrame(
            {
                "joined_on": [
                    dt.date(2025, 1, 1),
                    dt.date(2026, 7, 2),
                    dt.date(2024, 1, 1),
                    dt.date(2024, 1, 1),
                    dt.date(2024, 1, 1),
                    dt.date(2024, 1, 1),
                ],
                "churned_on": [None, None, dt.date(2026, 4, 1), None, dt.date(2025, 6, 1), None],
                "annual_revenue": [1.0] * 6,
            },
            schema={"joined_on": pl.Date, "churned_on": pl.Date, "annual_revenue": pl.Float64},
        )
    )
    latest_all = np.array([3, 9, 5, 8, 0, -1], dtype=np.int8)
    rates = m.detractor_churn_rate(
        latest_all, arrays, None, dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    )
    # detractors 0, 2, 4: 365 days as a customer in 2026 (0), 1 Jan - 1 Apr = 90 days and
    # left (2), none (4 left in 2025). Others 1 (2 Jul - 31 Dec: 183 days) and 3 (365 days).
    d_years, o_years = (365 + 90) / 365.25, (183 + 365) / 365.25
    assert (rates.detractors_left, rates.others_left) == (1, 0)
    assert rates.detractor_years == pytest.approx(d_years)
    assert rates.other_years == pytest.approx(o_years)
    assert (rates.n, rates.n_others) == (3, 2)
    assert rates.detractor_rate == pytest.approx(1 / d_years)
    assert rates.other_rate == 0.0
    assert rates.attributable == pytest.approx(1 / d_years)
    half = 1.96 * math.sqrt(1 / d_years**2 + 1 / o_years**2)  # a count of 0 counts as 1
    assert rates.interval == pytest.approx((max(1 / d_years - half, 0.0), 1 / d_years + half))
    keep = np.array([True, True, False, True, True, True])
    assert (
        m.detractor_churn_rate(
            latest_all, arrays, keep, dt.date(2026, 1, 1), dt.date(2026, 12, 31)
        ).detractors_left
        == 0
    )


def test_attributable_churn_is_floored_at_zero():
    rates = m.ChurnRates(1, 10.0, 4, 10.0, 5, 5)  # detractors 10% a year, others 40%
    assert rates.attributable == 0.0
    assert rates.interval[0] == 0.0


def test_revenue_at_risk_by_hand():
    # latest answers: 0 -> 3 (detractor, active), 2 -> 5 (detractor, left 15 Feb),
    # 4 -> 0 (detractor, left 20 Jan). At 31 Mar only customer 0 is still a customer.
    who, latest = WHO, LATEST
    # detractors 2 left in 4 customer-years (50% a year), others 1 in 5 (20% a year)
    rates = m.ChurnRates(2, 4.0, 1, 5.0, 3, 4)
    risk = m.revenue_at_risk(who, latest, CUSTOMERS, rates, dt.date(2026, 3, 31))
    assert risk["detractors"] == 1
    assert risk["detractor_revenue"] == pytest.approx(100.0)
    assert risk["churn_rate"] == pytest.approx(0.5 - 0.2)
    assert risk["value"] == pytest.approx(100.0 * 0.3)
    half = 1.96 * math.sqrt(2 / 4.0**2 + 1 / 5.0**2)
    assert risk["low"] == pytest.approx(100.0 * max(0.3 - half, 0.0))
    assert risk["high"] == pytest.approx(100.0 * (0.3 + half))
    assert m.revenue_range_only(risk)  # ±0.8 a year on 0.3: a range, not a point
    # at 31 Jan customer 2 has not left yet: (100 + 300) x 0.3
    assert m.revenue_at_risk(who, latest, CUSTOMERS, rates, dt.date(2026, 1, 31))[
        "value"
    ] == pytest.approx(400.0 * 0.3)
    # without an end date, only customers who never left count
    assert m.revenue_at_risk(who, latest, CUSTOMERS, rates, None)["value"] == pytest.approx(30.0)


def test_revenue_at_risk_is_zero_without_excess_detractor_churn():
    who, latest = WHO, LATEST
    same = m.ChurnRates(2, 10.0, 4, 20.0, 3, 4)  # both 20% a year
    assert m.revenue_at_risk(who, latest, CUSTOMERS, same, None)["value"] == 0.0


def test_metric_functions_do_not_mutate_their_input():
    frame = raw(nps=[10, 3, None], csat=[5, 1, 2], ces=[7, 2, None])
    before = frame.clone()
    stats = m.response_stats(frame, [])
    stats_before = stats.clone()
    m.totals(stats)
    m.scores_of(m.sums(stats).row(0, named=True))
    assert frame.equals(before) and stats.equals(stats_before)


@pytest.mark.parametrize("answers", [[10] * 40, [10] * 60 + [0] * 40, [9, 10, 10, 7, 8, 0, 6]])
@pytest.mark.parametrize("deff", [None, {"nps": 2.4}])
def test_frame_margins_are_the_scores_margins(answers, deff):
    stats = m.sums(m.response_stats(raw(nps=answers), []))
    assert m.with_scores(stats, deff)["nps_moe"][0] == pytest.approx(
        m.scores_of(stats.row(0, named=True), deff)["nps"].moe
    )


def test_a_value_that_rounds_to_zero_is_written_zero():
    """The ownership map wrote "Lead −0 vs target": a value that rounds to 0 is "0"."""
    from cxmetrics.contract.registry import METRICS

    assert [METRICS["nps"].format(v) for v in (-0.3, 0.3, 0.0, 0.6, -0.6)] == [
        "0",
        "0",
        "0",
        "+1",
        "-1",
    ]
    assert METRICS["csat"].format(-0.04) == "0.0%"
    assert METRICS["ces"].format(-0.004) == "0.00"
