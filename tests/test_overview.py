"""The overview on a tiny hand-made company whose numbers can be worked out by hand."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview, wording

D = dt.date


def tiny_journey() -> Journey:
    return Journey(
        stages=pl.DataFrame(
            {
                "stage_id": ["buy", "claim"],
                "name": ["Buy", "Claim"],
                "position": [1, 2],
                "description": [None, None],
            },
            schema_overrides={"position": pl.Int32, "description": pl.String},
        ),
        touchpoints=pl.DataFrame(
            {
                "touchpoint_id": ["buy_web", "claim_call", "claim_pay"],
                "stage_id": ["buy", "claim", "claim"],
                "name": ["Buy online", "Report by phone", "Get paid"],
                "moment_of_truth": [True, True, False],
                "description": [None, None, None],
            },
            schema_overrides={"description": pl.String},
        ),
        departments=pl.DataFrame(
            {"department_id": ["sales", "claims"], "name": ["Sales", "Claims"]}
        ),
        stage_owners=pl.DataFrame(
            {
                "stage_id": ["buy", "claim", "claim"],
                "department_id": ["sales", "claims", "sales"],
                "role": ["lead", "lead", "contributor"],
            }
        ),
        targets=pl.DataFrame(
            {
                "metric": ["nps", "nps", "nps"],
                "stage_id": [None, "buy", "claim"],
                "target": [10.0, 20.0, 30.0],
            },
            schema_overrides={"stage_id": pl.String},
        ),
        incentives=pl.DataFrame({"department_id": ["sales", "claims"], "cx_share": [0.1, 0.0]}),
    )


def tiny_dataset() -> dataset.Dataset:
    customers = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "segment": ["A", "A", "B", "B"],
            "region": ["N", "N", "S", "S"],
            "joined_on": [D(2025, 1, 1)] * 4,
            "annual_revenue": [1000.0, 2000.0, 3000.0, 4000.0],
            "cost_to_serve": [10.0] * 4,
            "influence": [1.0] * 4,
            "churned_on": [None, D(2026, 3, 15), None, D(2026, 1, 10)],
        }
    )
    rows = [
        # previous period: January 2026 (31 days)
        (1, 1, "buy_web", "web", D(2026, 1, 1), 10, 5, 7),
        (2, 2, "claim_call", "phone", D(2026, 1, 6), 9, 4, 6),
        (3, 4, "claim_call", "phone", D(2026, 1, 7), 2, 1, 2),
        # current period: 1 Feb - 3 Mar 2026 (31 days)
        (4, 1, "buy_web", "web", D(2026, 2, 1), 10, 5, 7),
        (5, 2, "buy_web", "mobile", D(2026, 2, 2), 8, 4, 5),
        (6, 3, "claim_call", "phone", D(2026, 2, 3), 3, 2, 3),
        (7, 2, "claim_pay", "web", D(2026, 2, 4), 0, None, None),
        (8, 3, "claim_pay", "web", D(2026, 2, 5), None, 5, 7),
    ]
    responses = pl.DataFrame(
        rows,
        orient="row",
        schema={
            "response_id": pl.Int64,
            "customer_id": pl.Int64,
            "touchpoint_id": pl.String,
            "channel": pl.String,
            "responded_on": pl.Date,
            "nps": pl.Int16,
            "csat": pl.Int16,
            "ces": pl.Int16,
        },
    ).with_columns(pl.lit("survey").alias("source"))
    return dataset.build(tiny_journey(), customers, responses)


CURRENT = Filters(start=D(2026, 2, 1), end=D(2026, 3, 3))


def test_tiles_by_hand():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=1)
    t = ov.tiles
    # current NPS answers 10, 8, 3, 0: one promoter, two detractors of four
    assert t["nps"].score.value == pytest.approx(100 * (1 - 2) / 4)
    assert t["nps"].score.n == 4
    # CSAT answers 5, 4, 2, 5: three of four are 4-5
    assert t["csat"].score.value == pytest.approx(75.0)
    # CES answers 7, 5, 3, 7
    assert t["ces"].score.value == pytest.approx(5.5)
    assert t["responses"].score.n == 5
    # company-wide NPS target (several stages in view): −25 on four answers has a margin far
    # wider than its 35-point gap to the target, so the data cannot tell
    assert t["nps"].target == 10.0 and t["nps"].status == m.STATUS_NEAR
    assert t["nps"].score.moe > 35


def test_churn_and_revenue_at_risk_by_hand():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=1)
    # customers in view 1, 2, 3; customer 2 left on 15 Mar, after the period ends 3 Mar
    assert ov.tiles["churn"].score.value == pytest.approx(0.0)
    assert ov.tiles["churn"].score.n == 3
    # latest answers in view: 1 -> 10, 2 -> 0 (detractor, active on 3 Mar), 3 -> 3 (detractor)
    # latest answers on any date: detractors 2 (0), 3 (3), 4 (2); customer 1 (10) the others.
    # The data run from 1 Jan to 5 Feb 2026 (36 days): 2 and 3 are customers throughout
    # (2 leaves on 15 Mar, after the data), 4 leaves on 10 Jan after 9 days; 1 stays 36 days.
    risk = ov.tiles["revenue_at_risk"]
    detractors_rate = 1 / ((36 + 36 + 9) / 365.25)  # left per customer-year
    assert risk.detail["detractor_churn"] == pytest.approx(detractors_rate)
    assert risk.detail["other_churn"] == pytest.approx(0.0)
    assert risk.detail["detractor_revenue"] == pytest.approx(2000.0 + 3000.0)
    assert risk.detail["churn_rate"] == pytest.approx(detractors_rate - 0.0)
    assert risk.score.value == pytest.approx(5000.0 * detractors_rate)
    # one detractor left in 81 days: the tile states the 95% range, not a point
    half = 1.96 * math.sqrt(1 / ((36 + 36 + 9) / 365.25) ** 2 + 1 / (36 / 365.25) ** 2)
    low, high = max(detractors_rate - half, 0.0), detractors_rate + half

    def fmt(value):
        return METRICS["revenue_at_risk"].format(value, "£")

    assert wording.value_text("revenue_at_risk", risk.score, 1, "£") == (
        f"{fmt(5000.0 * low)} – {fmt(5000.0 * high)}"
    )


def test_previous_period_change_is_compared():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=1)
    assert ov.previous == Filters(start=D(2026, 1, 1), end=D(2026, 1, 31))
    # previous NPS answers 10, 9, 2 -> (2 - 1) / 3
    change = ov.tiles["nps"].change
    assert change.delta == pytest.approx(-25.0 - 100 / 3)
    # with n of 3 and 4 the change is not significant
    assert not change.significant


def test_previous_period_partly_before_the_data_is_not_compared():
    ds = tiny_dataset()  # data from 1 Jan 2026
    ov = overview.compute(ds, Filters(start=D(2026, 1, 20), end=D(2026, 3, 3)), min_n=1)
    assert ov.previous is None  # 20 Dec – 19 Jan would start before the data
    assert ov.tiles["nps"].change is None
    assert "not wholly inside the data" in ov.changes[0]


def test_journey_strip_in_customer_order_with_stage_targets():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=1)
    assert [s.stage_id for s in ov.stages] == ["buy", "claim"]
    buy, claim = ov.stages
    assert buy.scores["nps"].value == pytest.approx(50.0)  # 10, 8
    assert claim.scores["nps"].value == pytest.approx(-100.0)  # 3, 0
    assert buy.targets["nps"] == 20.0 and buy.statuses["nps"] == m.STATUS_ON
    assert claim.statuses["nps"] == m.STATUS_BELOW
    assert claim.owners == ["Claims", "Sales"]  # lead first


def test_too_few_answers_hide_scores():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=30)
    assert ov.tiles["nps"].score.shown(30) is None
    assert ov.tiles["nps"].status == m.STATUS_TOO_FEW
    assert ov.worst_moments.height == 0
    data = overview.summary_dict(ov)
    assert data["overall"]["nps"] == {"value": None, "n": 4, "moe": None}


def test_worst_moments_are_declared_moments_ranked_by_nps():
    ov = overview.compute(tiny_dataset(), CURRENT, min_n=1)
    # claim_pay is not a moment of truth; claim_call (-100) before buy_web (+50)
    assert ov.worst_moments["touchpoint_id"].to_list() == ["claim_call", "buy_web"]
    assert ov.worst_moments["gap"].to_list() == pytest.approx([-130.0, 30.0])


def test_department_filter_keeps_its_stages_and_their_target():
    ov = overview.compute(
        tiny_dataset(),
        Filters(start=CURRENT.start, end=CURRENT.end, departments=("claims",)),
        min_n=1,
    )
    assert [s.stage_id for s in ov.stages] == ["claim"]
    assert ov.tiles["nps"].target == 30.0  # the one stage's own target
    assert ov.tiles["responses"].score.n == 3


def test_empty_view_is_reported_as_empty():
    ov = overview.compute(tiny_dataset(), Filters(start=D(2027, 1, 1), end=D(2027, 1, 31)), min_n=1)
    assert ov.empty
    assert ov.tiles["nps"].score.value is None


def test_what_changed_names_significant_moves_in_plain_words():
    ds = tiny_dataset()
    big = pl.concat([ds.responses] * 40)  # same mix, forty times: now significant
    many = replace(
        ds, responses=big, stats=m.response_stats(big, dataset.STAT_DIMENSIONS).sort("responded_on")
    )
    ov = overview.compute(many, CURRENT)
    assert any(line.startswith("Overall NPS fell") for line in ov.changes)
    assert all("(n = " in line for line in ov.changes)


def test_no_previous_period_without_dates():
    ov = overview.compute(tiny_dataset(), Filters(), min_n=1)
    assert ov.previous is None and ov.tiles["nps"].change is None
    assert ov.changes[0].startswith("No previous period")


# --- the tiles' small trends and their bands ----------------------------------------------


def _wilson_np(share: float, n: float, z: float = 1.96) -> tuple[float, float]:
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _nps_band(scores: np.ndarray, deff: float) -> tuple[float, float]:
    """The NPS of the answers ± the tile's margin, from the raw answers (the registry's
    formula at n / design effect, never narrower than the shares' Wilson intervals)."""
    n = scores.size
    p, d = np.mean(scores >= 9), np.mean(scores <= 6)
    value = 100 * (p - d)
    eff = n / max(deff, 1.0)
    half = 196 * np.sqrt((p + d - (p - d) ** 2) / eff)
    (p_lo, p_hi), (d_lo, d_hi) = _wilson_np(p, eff), _wilson_np(d, eff)
    half = max(half, 100 * max(p - p_lo, p_hi - p, d - d_lo, d_hi - d))
    low, high = max(value - half, -100.0), min(value + half, 100.0)
    margin = max(value - low, high - value)
    return value - margin, value + margin


def _csat_band(scores: np.ndarray, deff: float) -> tuple[float, float]:
    n = scores.size
    share = np.mean(scores >= 4)
    eff = n / max(deff, 1.0)
    lo, hi = _wilson_np(share, eff)
    se = max(np.sqrt(share * (1 - share) / eff), max(share - lo, hi - share) / 1.96)
    return 100 * share - 196 * se, 100 * share + 196 * se


def _ces_band(scores: np.ndarray, deff: float) -> tuple[float, float]:
    se = np.sqrt(max(deff, 1.0) * np.var(scores, ddof=1) / scores.size)
    return scores.mean() - 1.96 * se, scores.mean() + 1.96 * se


def test_tile_trend_bands_are_each_weeks_score_with_its_tile_margin(loaded, sample_data):
    """Each point's band is the point ± the margin its tile would show for that week (design
    effect included), worked out from the raw answers of that week."""
    ds = loaded
    view = Filters(start=ds.last_day - dt.timedelta(days=89), end=ds.last_day)
    trends = overview.trends(ds, view)
    assert trends.unit == "week" and len(trends.periods) == overview.TREND_PERIODS
    raw = sample_data.responses
    for i in (3, 8):  # weeks wholly inside the last 12
        week = trends.periods[i]
        rows = raw.filter(pl.col("responded_on").is_between(week, week + dt.timedelta(days=6)))
        for key, band_of in (("nps", _nps_band), ("csat", _csat_band), ("ces", _ces_band)):
            scores = rows[key].drop_nulls().to_numpy().astype(float)
            assert scores.size >= 30
            low, high = band_of(scores, ds.design_effect[key])
            assert trends.bands[key][i] == pytest.approx((low, high), abs=1e-9), (key, week)
            mid = (low + high) / 2  # the line runs through the middle of its band
            assert trends.scores[key][i] == pytest.approx(mid, abs=1e-9)


def test_tile_trend_leaves_out_weeks_with_too_few_answers(loaded):
    ds = loaded
    view = Filters(start=ds.last_day - dt.timedelta(days=89), end=ds.last_day)
    counts = overview.trends(ds, view, min_n=1)
    # a minimum above the smallest week's CSAT answers leaves that week out, with its band
    per_week = m.totals(
        ds.slice_stats(replace(view, start=ds.last_day - dt.timedelta(days=84))).rename(
            {"week": "bucket"}
        ),
        ["bucket"],
        m.CORE_COLUMNS,
    ).sort("bucket")
    smallest = int(per_week.tail(12)["n_csat"].min())
    cut = overview.trends(ds, view, min_n=smallest + 1)
    gone = [i for i, v in enumerate(cut.scores["csat"]) if v is None]
    assert gone and all(cut.bands["csat"][i] is None for i in gone)
    kept = [i for i in range(len(cut.periods)) if i not in gone]
    assert all(cut.bands["csat"][i] == counts.bands["csat"][i] for i in kept)


def test_sparkline_draws_the_band_behind_the_line_and_skips_missing_points():
    from cxmetrics.charts.overview_charts import sparkline_svg

    svg = sparkline_svg([10.0, None, 20.0], [(5.0, 15.0), None, (15.0, 25.0)], "#808495", "t")
    assert svg.index("<polygon") < svg.index("<polyline")  # the band is drawn first
    line = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
    assert len(line) == 2  # the missing week is skipped, its neighbours joined
    band = re.search(r'<polygon points="([^"]+)"', svg).group(1).split()
    ys = {p: float(p.split(",")[1]) for p in band}
    # each point sits halfway between its band's edges, in drawing units
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in line)
    assert (x0, x1) == (0.0, 100.0)
    top0, top1, bottom1, bottom0 = (ys[p] for p in band)
    assert y0 == pytest.approx((top0 + bottom0) / 2, abs=0.01)
    assert y1 == pytest.approx((top1 + bottom1) / 2, abs=0.01)
    assert sparkline_svg([10.0, None], None, "#808495", "t") is None  # one point: no line


def test_a_stage_s_status_words_name_the_metric_it_is_about():
    """The briefing wrote "Shop & quote: NPS +37 · below target" for a stage whose NPS was
    above its target and whose CES was below: the status now names its metric."""

    def row(nps: str, csat: str, ces: str) -> overview.StageRow:
        scores = {k: m.Score(k, 1.0, 500, 0.1) for k in ("nps", "csat", "ces")}
        statuses = {"nps": nps, "csat": csat, "ces": ces}
        return overview.StageRow("shop", "Shop & quote", 1, scores, {}, statuses, [])

    assert row(m.STATUS_ON, m.STATUS_ON, m.STATUS_BELOW).status_words == "below target on CES"
    assert (
        row(m.STATUS_BELOW, m.STATUS_ON, m.STATUS_BELOW).status_words == "below target on NPS, CES"
    )
    assert row(m.STATUS_ON, m.STATUS_NEAR, m.STATUS_ON).status_words == "near target on CSAT"
    assert row(m.STATUS_ON, m.STATUS_ON, m.STATUS_NONE).status_words == "on target"
    assert row(m.STATUS_NONE, m.STATUS_NONE, m.STATUS_NONE).status_words == "no target"
    assert row(m.STATUS_TOO_FEW, m.STATUS_NO_DATA, m.STATUS_NO_DATA).status_words == (
        "too few responses"
    )


def test_a_stage_card_names_each_metric_with_its_score_and_target():
    scores = {
        "nps": m.Score("nps", -29.4, 500, 2.0),
        "csat": m.Score("csat", 56.24, 500, 1.0),
        "ces": m.Score("ces", 4.512, 500, 0.02),
    }
    targets = {"nps": 30.0, "csat": 80.0, "ces": 5.0}
    statuses = {"nps": m.STATUS_BELOW, "csat": m.STATUS_BELOW, "ces": m.STATUS_ON}
    row = overview.StageRow("claim", "File a claim", 5, scores, targets, statuses, [])
    assert row.status_against == "NPS -29, target +30; CSAT 56.2%, target 80.0%"


def test_the_churn_tile_says_it_is_of_the_period():
    """A churn of 2.3% over 90 days and 0.8% over 30, beside "3.4% a year attributable
    churn", read as a yearly rate: its caption says it is of the period."""
    tile = overview.Tile("churn", m.Score("churn", 2.3, 9_876, 0.2))
    assert wording.tile_caption(tile, 30, None, "£", short=True) == (
        f"left in the period · ± {m.Z95 * 0.2:.1f} pts · n = 9,876 customers"
    )


def test_a_change_sentence_gives_the_change_its_tile_and_charts_give():
    """The sentence's change is the unrounded difference, as the tile's delta, the charts
    and the tables beside it write it ("fell 16.2 points", with the tile's "-16.2 pts"),
    and one that rounds to nothing gets a decimal more, never "rose 0 points"."""

    def scores(nps: float, csat: float, ces: float) -> dict[str, m.Score]:
        return {
            "nps": m.Score("nps", nps, 2_000, 2.0),
            "csat": m.Score("csat", csat, 2_000, 1.0),
            "ces": m.Score("ces", ces, 2_000, 0.02),
        }

    found = overview.change_candidates(
        [("Overall", (), scores(20.4, 56.24, 5.254), scores(30.6, 72.46, 5.126))], 30
    )
    said = {f.family: f.sentence for f in found}
    # the two scores take a decimal more where, rounded, they would not subtract to it
    # (72.5 - 56.2 = 16.3; +31 - +20 = 11)
    assert said["csat"] == (
        "Overall CSAT fell 16.2 points to 56.24% (n = 2,000; was 72.46%, n = 2,000)."
    )
    assert said["nps"].startswith("Overall NPS fell 10 points to +20.4 (")  # 30.6 - 20.4
    assert "was +30.6, " in said["nps"]
    assert said["ces"].startswith("Overall CES rose 0.13 to 5.254 (")  # 5.25 - 5.13 = 0.12
    assert [f.effect for f in found] == pytest.approx([20.4 - 30.6, 56.24 - 72.46, 0.128])
    # a change that rounds to nothing (both "+30") gets one more decimal, not "rose 0"
    big = {k: replace(v, n=500_000, se=0.1) for k, v in scores(30.2, 60.0, 5.0).items()}
    small = {k: replace(v, n=500_000, se=0.1) for k, v in scores(29.9, 60.0, 5.0).items()}
    (rise,) = [
        f
        for f in overview.change_candidates([("Overall", (), big, small)], 30)
        if f.family == "nps"
    ]
    assert rise.sentence.startswith("Overall NPS rose 0.3 points to +30.2 (")
