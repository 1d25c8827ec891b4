"""The sample company holds its stories. Each is checked with plain Polars written here,
independently of ``cxmetrics.stats.metrics``, on the default-sized generated data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract import sample

END = sample.DEFAULT_END


def nps_of(frame: pl.DataFrame) -> float:
    answered = frame.filter(pl.col("nps").is_not_null())
    promoters = answered.filter(pl.col("nps") >= 9).height
    detractors = answered.filter(pl.col("nps") <= 6).height
    return 100 * (promoters - detractors) / answered.height


def with_stage(data: sample.SampleData, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.join(
        data.journey.touchpoints.select("touchpoint_id", "stage_id"), on="touchpoint_id"
    )


def test_same_seed_same_data_other_seed_other_data():
    a, b = sample.generate(300, seed=3), sample.generate(300, seed=3)
    c = sample.generate(300, seed=4)
    for name, frame in a.tables().items():
        assert frame.equals(b.tables()[name]), name
    assert not a.responses.equals(c.responses)


def test_size_follows_customers():
    small = sample.generate(1_000, seed=1)
    assert small.customers.height == 1_000
    assert 6_000 < small.responses.height < 12_000  # about ten per customer over two years


def test_two_years_of_data_ending_on_the_end_date(story_data):
    days = story_data.responses["responded_on"]
    assert days.max() == END
    assert days.min() == END - dt.timedelta(days=sample.DAYS - 1)


def test_claims_kpis_are_green_while_file_a_claim_nps_falls(story_data):
    claims = story_data.kpis.filter(pl.col("department_id") == "claims")
    met = np.where(
        claims["higher_is_better"],
        claims["value"] >= claims["target"],
        claims["value"] <= claims["target"],
    )
    assert claims.height > 100 and met.all()  # every week, so every month

    claim = with_stage(story_data, story_data.responses).filter(pl.col("stage_id") == "claim")
    last_quarter = claim.filter(pl.col("responded_on") > END - dt.timedelta(days=91))
    before_window = claim.filter(
        pl.col("responded_on").is_between(
            END - dt.timedelta(days=364), END - dt.timedelta(days=274)
        )
    )
    assert nps_of(before_window) - nps_of(last_quarter) >= 25


def kpi_hit_shares(kpis: pl.DataFrame) -> dict[str, float]:
    met = (
        pl.when(pl.col("higher_is_better"))
        .then(pl.col("value") >= pl.col("target"))
        .otherwise(pl.col("value") <= pl.col("target"))
    )
    return dict(kpis.group_by("department_id").agg(met.mean()).iter_rows())


def test_departments_kpi_hit_rates_differ_and_only_claims_is_near_green(story_data):
    shares = kpi_hit_shares(story_data.kpis)
    assert shares["claims"] == 1.0
    others = {d: s for d, s in shares.items() if d != "claims"}
    # each near its planted rate, all well below a green scorecard (75%), and they differ
    for dept, share in others.items():
        assert abs(share - sample.KPI_HIT_RATES[dept]) < 0.1, dept
        assert share < 0.72, dept
    assert max(others.values()) - min(others.values()) >= 0.05


def test_without_stories_every_department_meets_its_kpis_equally_often():
    plain = sample.generate(300, seed=5, stories=False)
    shares = kpi_hit_shares(plain.kpis)
    assert len(shares) == 8
    for dept, share in shares.items():
        assert abs(share - sample.KPI_HIT_RATE_NO_STORY) < 0.1, dept


def test_pay_contacts_rise_weeks_before_pay_nps_dips(story_data):
    start = END - dt.timedelta(days=sample.DAYS - 1)

    def weekly(frame, date_col):
        return frame.with_columns(
            ((pl.col(date_col) - pl.lit(start)).dt.total_days() // 7).alias("week")
        )

    contacts = (
        weekly(with_stage(story_data, story_data.contacts), "contacted_on")
        .filter(pl.col("stage_id") == "pay")
        .group_by("week")
        .len()
        .sort("week")
    )
    answers = weekly(with_stage(story_data, story_data.responses), "responded_on").filter(
        (pl.col("stage_id") == "pay") & pl.col("nps").is_not_null()
    )
    nps = (
        answers.group_by("week")
        .agg((100 * ((pl.col("nps") >= 9).mean() - (pl.col("nps") <= 6).mean())).alias("nps"))
        .sort("week")
    )
    weeks = np.arange(sample.DAYS // 7)
    c = np.zeros(weeks.size)
    c[contacts["week"].to_numpy()] = contacts["len"].to_numpy()
    n = np.full(weeks.size, np.nan)
    n[nps["week"].to_numpy()] = nps["nps"].to_numpy()

    def corr_at(lag):  # contacts now against the fall of NPS `lag` weeks later
        x, y = c[: weeks.size - lag], -n[lag:]
        ok = ~np.isnan(y)
        return np.corrcoef(x[ok], y[ok])[0, 1]

    best = max(range(0, 9), key=corr_at)
    assert 2 <= best <= 4
    assert corr_at(best) > corr_at(0) + 0.1


def test_mobile_effort_is_worse_than_web_for_the_same_touchpoints(story_data):
    ces = story_data.responses.filter(
        pl.col("ces").is_not_null() & pl.col("channel").is_in(["web", "mobile"])
    )
    by = (
        ces.group_by("touchpoint_id", "channel")
        .agg(pl.col("ces").mean())
        .pivot("channel", index="touchpoint_id", values="ces")
        .drop_nulls()
    )
    assert by.height >= 10  # touchpoints offered on both
    assert (by["web"] - by["mobile"]).min() >= 0.5


def test_customer_service_closes_cases_customers_do_not_confirm(story_data):
    service = story_data.cases.filter(pl.col("department_id") == "service")
    closed = service.filter(pl.col("closed_on").is_not_null())
    assert closed.height / service.height >= 0.90
    confirmed = closed.filter(pl.col("customer_confirmed").fill_null(False)).height / closed.height
    assert 0.55 <= confirmed <= 0.65

    repeats = story_data.contacts.select("customer_id", "touchpoint_id", "contacted_on")
    followed = (
        closed.join(repeats, on=["customer_id", "touchpoint_id"], how="left")
        .with_columns(
            ((pl.col("contacted_on") - pl.col("closed_on")).dt.total_days().is_between(1, 30))
            .fill_null(False)
            .alias("repeat")
        )
        .group_by("case_id")
        .agg(pl.col("repeat").any(), pl.col("customer_confirmed").first())
    )
    unconfirmed = followed.filter(~pl.col("customer_confirmed").fill_null(False))
    confirmed_cases = followed.filter(pl.col("customer_confirmed").fill_null(False))
    assert unconfirmed["repeat"].mean() >= 0.5
    assert unconfirmed["repeat"].mean() > 2 * confirmed_cases["repeat"].mean()


def test_small_business_is_satisfied_but_leaves(story_data):
    seg = story_data.responses.join(
        story_data.customers.select("customer_id", "segment"), on="customer_id"
    )
    csat = (
        seg.filter(pl.col("csat").is_not_null())
        .group_by(pl.col("segment") == "Small business")
        .agg((pl.col("csat") >= 4).mean())
    )
    sb_csat = csat.filter(pl.col("segment"))["csat"][0]
    other_csat = csat.filter(~pl.col("segment"))["csat"][0]
    assert sb_csat > other_csat + 0.03

    churn = story_data.customers.group_by(pl.col("segment") == "Small business").agg(
        pl.col("churned_on").is_not_null().mean()
    )
    sb_churn = churn.filter(pl.col("segment"))["churned_on"][0]
    other_churn = churn.filter(~pl.col("segment"))["churned_on"][0]
    assert sb_churn >= 1.8 * other_churn


def test_high_influence_customers_skew_detractor_at_renewal(story_data):
    cut = story_data.customers["influence"].quantile(0.9)
    rows = (
        with_stage(story_data, story_data.responses)
        .join(
            story_data.customers.select("customer_id", (pl.col("influence") >= cut).alias("vip")),
            on="customer_id",
        )
        .filter(pl.col("nps").is_not_null())
    )

    def detractor_share(stage, vip):
        part = rows.filter((pl.col("stage_id") == stage) & (pl.col("vip") == vip))
        return (part["nps"] <= 6).mean()

    assert detractor_share("renew", True) >= 1.5 * detractor_share("renew", False)
    assert detractor_share("shop", True) < 1.2 * detractor_share("shop", False)


def test_only_customer_service_has_a_meaningful_cx_incentive(story_data):
    shares = dict(story_data.journey.incentives.iter_rows())
    assert shares["service"] >= 0.2
    assert shares["claims"] == 0
    assert all(v < 0.1 for k, v in shares.items() if k != "service")


def test_journey_definition_has_the_promised_shape(story_data):
    j = story_data.journey
    assert 5 <= j.stages.height <= 6
    assert 20 <= j.touchpoints.height <= 30
    assert 12 <= j.touchpoints["moment_of_truth"].sum() <= 15
    assert j.departments.height == 8
    leads = j.stage_owners.filter(pl.col("role") == "lead").group_by("stage_id").len()
    assert leads.height == j.stages.height and (leads["len"] == 1).all()


@pytest.mark.parametrize("customers", [0, -5])
def test_sizes_below_one_customer_are_refused(customers):
    with pytest.raises(ValueError, match="at least 1"):
        sample.generate(customers)


def test_the_story_figures_script_runs():
    import subprocess
    import sys

    from conftest import REPO

    out = subprocess.run(
        [sys.executable, "-m", "scripts.story_figures", "--customers", "2000"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert [line[:2] for line in out.stdout.splitlines()[1:]] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "4.",
        "5.",
        "5.",
        "5.",
        "6.",
        "7.",
    ]
