"""Loyalty and value: trend bands and significance, churn by group, satisfied but at risk,
revenue at risk and influencers — by hand, then on the sample company."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from cxmetrics.findings import findings
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import loyalty

D = dt.date


def month_stats(months: dict[dt.date, list[int]]) -> pl.DataFrame:
    rows = [
        {"month": month, "nps": v, "csat": None, "ces": None}
        for month, values in months.items()
        for v in values
    ]
    frame = pl.DataFrame(
        rows, schema={"month": pl.Date, "nps": pl.Int8, "csat": pl.Int8, "ces": pl.Int8}
    )
    return m.response_stats(frame, ["month"])


def test_trend_band_and_significance_by_hand():
    jan = [10] * 60 + [0] * 40  # NPS +20, n 100
    feb = [10] * 40 + [0] * 60  # NPS -20
    mar = [10] * 41 + [0] * 59  # NPS -18: a small move
    t = loyalty.trend(
        month_stats({D(2026, 1, 1): jan, D(2026, 2, 1): feb, D(2026, 3, 1): mar}),
        "month",
        None,
        min_n=30,
    )
    assert t["nps"].to_list() == pytest.approx([20.0, -20.0, -18.0])
    band = 196 * math.sqrt((0.6 + 0.4 - 0.2**2) / 100)
    assert t["moe"][0] == pytest.approx(band)
    se = band / 1.96
    assert t["z"][1] == pytest.approx(-40 / math.sqrt(2 * se**2))
    # two tests (Feb vs Jan, Mar vs Feb); BH: the larger p is kept only if p ≤ 0.05, the
    # smaller if p ≤ 0.025
    p = [math.erfc(abs(z) / math.sqrt(2)) for z in t["z"].to_list()[1:]]
    assert p[0] < 0.025 < 0.05 < p[1]
    assert t["q"].to_list()[1:] == pytest.approx([p[0] * 2, p[1]])
    assert t["significant"].to_list() == [False, True, False]
    assert t["promoters_pct"][0] == pytest.approx(60.0)
    assert t["detractors_pct"][1] == pytest.approx(60.0)


def test_periods_with_too_few_answers_have_no_score_and_no_change():
    t = loyalty.trend(
        month_stats({D(2026, 1, 1): [10] * 40, D(2026, 2, 1): [0] * 10}), "month", None, min_n=30
    )
    assert t["nps"][1] is None and t["significant"][1] is False


CUSTOMERS = pl.DataFrame(
    {
        "cust": [0, 1, 2, 3, 4, 5],
        "customer_id": [1, 2, 3, 4, 5, 6],
        "segment": ["A", "A", "B", "B", "B", "A"],
        "region": ["N"] * 6,
        "annual_revenue": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
        "cost_to_serve": [50.0, 250.0, 100.0, 100.0, 600.0, 100.0],
        "influence": [1.0] * 6,
        "nps": [10, 9, 7, 3, None, 0],
        "csat": [5, 4, 5, 2, 4, None],
        "left": [False, True, False, True, False, False],
    },
    schema_overrides={"nps": pl.Int16, "csat": pl.Int16},
)


def test_churn_by_loyalty_group_by_hand():
    got = {
        r["group"]: r for r in loyalty.churn_by_loyalty(CUSTOMERS, min_n=1).iter_rows(named=True)
    }
    # promoters 0, 1 (1 left); passive 2; detractors 3 (left), 5; customer 4 has no NPS
    assert got["Promoters"]["customers"] == 2 and got["Promoters"]["churn"] == 50.0
    assert got["Passives"]["churn"] == 0.0
    assert got["Detractors"]["customers"] == 2 and got["Detractors"]["churn"] == 50.0
    assert list(got) == ["Promoters", "Passives", "Detractors"]
    too_few = loyalty.churn_by_loyalty(CUSTOMERS, min_n=3)
    assert too_few["churn"].null_count() == 3 and too_few["customers"].to_list() == [2, 1, 2]


def test_satisfied_but_at_risk_by_hand():
    got = loyalty.satisfied_at_risk(CUSTOMERS, min_n=1)
    # satisfied (CSAT 4-5): 0, 1, 2, 4. At risk: 1 (left), 2 (passive). 4 has no NPS, stays.
    assert got["satisfied"] == 4 and got["at_risk"] == 2
    assert got["revenue"] == pytest.approx(200.0 + 300.0)
    seg = {r["segment"]: r for r in got["by_segment"].iter_rows(named=True)}
    assert seg["A"]["share"] == pytest.approx(50.0)  # 1 of 2
    assert seg["B"]["share"] == pytest.approx(50.0)  # 1 of 2
    # at the default minimum n a segment of 2 shows no share and nothing is tested
    default = loyalty.satisfied_at_risk(CUSTOMERS)
    assert default["by_segment"]["share"].null_count() == 2
    assert default["tested"] == 0 and default["concentrated"] is None


@pytest.mark.parametrize("churn_known", [True, False])
def test_only_a_segment_with_the_larger_share_at_risk_is_said_to_concentrate_it(churn_known):
    """Real lounge reviews (no churn recorded) were told "Concentrated in First Class: 6% of
    its 79 satisfied customers are at risk against 16% of the other segments' 978, and 0.0%
    left in the period": a segment significantly *less* at risk, and a churn never imported.
    By hand: A, 6 of 100 at risk, against B, 160 of 1,000 (3 and 20 left)."""
    counts = pl.DataFrame(
        {"segment": ["A", "B"], "satisfied": [100, 1000], "at_risk": [6, 160], "left": [3, 20]}
    )
    family = loyalty.at_risk_tests(counts, min_n=30, churn_known=churn_known)

    def se(share, n):  # the binomial's, never below the Wilson interval's wider half / 1.96
        z = 1.959964
        centre = (share + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        wider = max(share - (centre - half), centre + half - share)
        return max(math.sqrt(share * (1 - share) / n), wider / z)

    z = 0.10 / math.hypot(se(0.06, 100), se(0.16, 1000))  # 2.84
    by_segment = {c.family: c for c in family}
    assert by_segment["A"].effect == pytest.approx(-10.0)
    assert by_segment["A"].p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-4)
    assert by_segment["A"].p < 0.01  # A's smaller share is as clear as B's larger one
    assert {c.family for c in findings.decide(family)} == {"A", "B"}
    kept = loyalty.concentrated(family)
    assert [c.family for c in kept] == ["B"]
    said = kept[0].text
    assert said.startswith("Concentrated in B: 16% of its 1,000 satisfied customers are at risk")
    assert "against 6% of the other segments' 100" in said
    if churn_known:
        assert said.endswith(", and 2.0% left in the period.")
    else:
        assert "left in the period" not in said and "who left is not recorded" in said
    customers = pl.DataFrame(  # the same customers, as the Loyalty page counts them
        {
            "segment": ["A"] * 100 + ["B"] * 1000,
            "csat": [5] * 1100,
            "nps": [8] * 6 + [10] * 94 + [8] * 160 + [10] * 840,
            "left": [False] * 1100,
            "annual_revenue": [1.0] * 1100,
        }
    )
    risk = loyalty.satisfied_at_risk(customers, min_n=30, churn_known=churn_known)
    assert risk["concentrated"].family == "B"
    assert ("left in the period" in risk["concentrated"].text) == churn_known


def test_value_summary_by_hand():
    got = loyalty.value_summary(CUSTOMERS)
    # profit: 50, -50, 200, 300, -100, 500 -> two of six unprofitable
    assert got["unprofitable"].value == pytest.approx(100 * 2 / 6)
    grid = {(r["value"], r["group"]): r["customers"] for r in got["grid"].iter_rows(named=True)}
    assert grid[("Unprofitable", "Promoters")] == 1  # customer 1
    assert grid[("Profitable", "Detractors")] == 2  # customers 3 and 5


# --- the sample company --------------------------------------------------------------


@pytest.fixture(scope="module")
def story_ds(story_data):
    return dataset.build(story_data.journey, story_data.customers, story_data.responses)


def quarter(ds) -> Filters:
    return Filters(start=D(2026, 7, 1), end=ds.last_day)


def test_customers_in_view_match_a_group_by(story_ds):
    view = quarter(story_ds)
    got = loyalty.customers_in_view(story_ds, view).sort("cust")
    rows = story_ds.slice_responses(view)
    want = (
        rows.group_by("cust")
        .agg(pl.col("nps").drop_nulls().last(), pl.col("csat").drop_nulls().last())
        .sort("cust")
    )
    assert got["cust"].to_list() == want["cust"].to_list()
    assert got["nps"].to_list() == want["nps"].cast(pl.Int16).to_list()
    assert got["csat"].to_list() == want["csat"].cast(pl.Int16).to_list()


def test_small_business_is_where_satisfied_customers_are_at_risk(story_ds):
    got = loyalty.satisfied_at_risk(loyalty.customers_in_view(story_ds, quarter(story_ds)))
    top = got["by_segment"].row(0, named=True)
    assert top["segment"] == "Small business" and top["concentrated"]
    others = got["by_segment"].filter(pl.col("segment") != "Small business")
    assert top["churn"] > 2 * others["churn"].max()
    assert got["concentrated"].family == "Small business"
    assert got["concentrated"].sentence.startswith("Concentrated in Small business")


def test_satisfied_at_risk_by_segment_by_hand():
    # A: 40 satisfied, 30 at risk (75%); B: 40 satisfied, 10 at risk (25%); C: 5 satisfied
    rows = []
    for segment, satisfied, at_risk in (("A", 40, 30), ("B", 40, 10), ("C", 5, 5)):
        for i in range(satisfied):
            rows.append({"segment": segment, "csat": 5, "nps": 6 if i < at_risk else 10})
    customers = pl.DataFrame(rows).with_columns(
        pl.lit(False).alias("left"), pl.lit(100.0).alias("annual_revenue")
    )
    got = loyalty.satisfied_at_risk(customers, min_n=30)
    by = {r["segment"]: r for r in got["by_segment"].iter_rows(named=True)}
    assert by["C"]["share"] is None and by["C"]["q"] is None  # 5 < 30: not shown, not tested
    assert got["tested"] == 2
    # A against B + C: 30/40 against 15/45
    a, rest = 30 / 40, 15 / 45

    def se_of(p: float, n: int) -> float:
        # binomial standard error, never below the Wilson interval's widest half / 1.96
        z = 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        widest = max(p - (centre - half), centre + half - p)
        return max(math.sqrt(p * (1 - p) / n), widest / z)

    se = 100 * math.hypot(se_of(a, 40), se_of(rest, 45))
    assert got["concentrated"].family == "A"
    assert got["concentrated"].effect == pytest.approx(100 * (a - rest))
    assert got["concentrated"].p == pytest.approx(math.erfc(100 * (a - rest) / se / math.sqrt(2)))
    assert by["A"]["concentrated"] and not by["B"]["concentrated"]  # B is below the rest


def test_influencer_detractors_at_renewal_are_found(story_ds):
    by_stage = loyalty.influencer_nps_by_stage(story_ds, quarter(story_ds))
    renew = {
        r["influencer"]: r["nps"]
        for r in by_stage.filter(pl.col("stage_id") == "renew").iter_rows(named=True)
    }
    assert renew[True] < renew[False] - 40
    found = loyalty.influencer_detractors(story_ds, quarter(story_ds), "renew")
    assert found.height > 50
    assert (found["nps"] <= 6).all()
    assert (found["influence"] >= loyalty.influencer_cut(story_ds)).all()
    assert found["influence"].is_sorted(descending=True)


def test_revenue_at_risk_by_segment_uses_annual_attributable_churn(story_data, story_ds):
    table = loyalty.revenue_at_risk_by(story_ds, quarter(story_ds), "segment")
    # second implementation: each customer's latest NPS answer on any date, years as a
    # customer between the first and last response date, churn within those dates
    first, last = story_ds.first_day, story_ds.last_day
    latest = (
        story_data.responses.filter(pl.col("nps").is_not_null())
        .sort("responded_on", "response_id")
        .group_by("customer_id")
        .agg(pl.col("nps").last())
    )
    people = story_data.customers.join(latest, on="customer_id").with_columns(
        pl.max_horizontal(pl.col("joined_on"), pl.lit(first)).alias("begin"),
        (pl.col("churned_on").is_not_null() & pl.col("churned_on").is_between(first, last)).alias(
            "gone"
        ),
        pl.min_horizontal(pl.col("churned_on"), pl.lit(last + dt.timedelta(days=1))).alias("stop"),
    )
    per = (
        people.with_columns(
            ((pl.col("stop") - pl.col("begin")).dt.total_days().clip(0) / 365.25).alias("years"),
            (pl.col("nps") <= 6).alias("detractor"),
        )
        .group_by("segment", "detractor")
        .agg(pl.col("gone").sum(), pl.col("years").sum())
    )
    rate = {
        (r["segment"], r["detractor"]): r["gone"] / r["years"] for r in per.iter_rows(named=True)
    }
    for row in table.iter_rows(named=True):
        seg = row["segment"]
        want = max(rate[(seg, True)] - rate[(seg, False)], 0.0)
        assert row["churn_rate"] == pytest.approx(100 * want)
        assert row["detractor_churn"] == pytest.approx(100 * rate[(seg, True)])
        assert row["low"] <= row["value"] <= row["high"]
    rates = dict(zip(table["segment"], table["churn_rate"], strict=True))
    assert rates["Small business"] > rates["Personal"]


def test_detractors_leave_more_than_promoters_over_the_year(story_ds):
    year = Filters(start=D(2025, 10, 1), end=story_ds.last_day)
    got = {
        r["group"]: r["churn"]
        for r in loyalty.churn_by_loyalty(loyalty.customers_in_view(story_ds, year)).iter_rows(
            named=True
        )
    }
    assert got["Detractors"] > got["Promoters"]


def test_revenue_at_risk_by_stage_equals_one_view_per_stage(story_ds):
    view = quarter(story_ds)
    table = {
        r["stage"]: r
        for r in loyalty.revenue_at_risk_by(story_ds, view, "stage").iter_rows(named=True)
    }
    rate = m.detractor_churn_rate(
        story_ds.latest_nps, story_ds.customer_arrays, None, story_ds.first_day, story_ds.last_day
    )
    for sid in story_ds.journey.stage_order:
        one = story_ds.customer_view(view.with_stages((sid,)))
        want = m.revenue_at_risk(
            one.latest_who, one.latest_nps, story_ds.customer_arrays, rate, view.end
        )
        got = table[story_ds.journey.stage_name(sid)]
        assert got["detractors"] == want["detractors"]
        assert got["value"] == pytest.approx(want["value"])


def test_influencer_nps_by_stage_equals_a_group_by(story_ds):
    view = quarter(story_ds)
    cut = loyalty.influencer_cut(story_ds)
    influence = story_ds.customers.select("cust", "influence")
    rows = (
        story_ds.slice_responses(view)
        .join(influence, on="cust")
        .filter(pl.col("nps").is_not_null())
    )
    want = rows.group_by(
        pl.col("stage_id").cast(pl.String), (pl.col("influence") >= cut).alias("influencer")
    ).agg(
        (100 * ((pl.col("nps") >= 9).mean() - (pl.col("nps") <= 6).mean())).alias("nps"),
        pl.len().alias("n"),
    )
    got = loyalty.influencer_nps_by_stage(story_ds, view, min_n=1)
    joined = got.join(want, on=["stage_id", "influencer"])
    assert joined.height == got.height == want.height
    assert joined["n_nps"].to_list() == joined["n"].cast(pl.Int64).to_list()
    assert joined["nps"].to_list() == pytest.approx(joined["nps_right"].to_list())


def test_the_at_risk_tile_shows_a_share_only_with_enough_satisfied_customers():
    def risk(at_risk: int, satisfied: int) -> dict:
        share = 100 * at_risk / satisfied if satisfied else None
        score = m.Score("satisfied_at_risk", share, satisfied, 1.0 if satisfied else None)
        return {"share": score, "at_risk": at_risk, "satisfied": satisfied}

    assert loyalty.at_risk_tile(risk(12, 40), 30) == ("30.0%", "12 of 40 satisfied customers")
    # below the minimum n: no share and no "0 of 23" beside a word, but what it takes
    assert loyalty.at_risk_tile(risk(0, 23), 30) == (
        "–",
        "Too few satisfied customers for a share: 23, at least 30 needed",
    )
    assert loyalty.at_risk_tile(risk(0, 0), 30) == (
        "–",
        "No satisfied customer (latest CSAT 4-5) in view",
    )


def test_a_trend_finding_names_the_period_it_is_compared_with_and_both_n(loaded):
    """Each change is against the period before it that has data: the sentence names it
    and its n (it gave this period's n alone, and a month after a gap read as compared
    with the month just before)."""
    import re

    from cxmetrics.contract.text import bucket_text
    from cxmetrics.views import finder

    by_month = (
        loaded.responses.filter(pl.col("nps").is_not_null())
        .group_by(pl.col("responded_on").dt.truncate("1mo").alias("month"))
        .len("n")
        .sort("month")
    )
    months, counts = by_month["month"].to_list(), by_month["n"].to_list()
    found = finder.trend_candidates(loaded, Filters(), "month")
    assert found
    for finding in found:
        said = re.search(
            r"in (.+) \(n = ([\d,]+); against (.+), n = ([\d,]+)\)\.$", finding.sentence
        )
        assert said, finding.sentence
        i = [bucket_text(d, "month") for d in months].index(said.group(1))
        assert said.group(3) == bucket_text(months[i - 1], "month")
        assert int(said.group(2).replace(",", "")) == counts[i]
        assert int(said.group(4).replace(",", "")) == counts[i - 1]
    # a month without answers between two: the later is compared with the earlier, and says so
    sums = loaded.cell_sums(Filters(), "month")
    gone = sorted(sums["month"].unique())[3]
    trend = loyalty.trend(sums.filter(pl.col("month") != gone), "month", None)
    after = trend.filter(pl.col("period") > gone).row(0, named=True)
    before = trend.filter(pl.col("period") < gone).row(-1, named=True)
    assert after["period_before"] == before["period"] < gone
    assert after["n_before"] == before["n_nps"]
