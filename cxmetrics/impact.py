"""How much the experience at each touchpoint moves loyalty, from additive statistics.

For a touchpoint, NPS answers are split by the satisfaction given in the same response:
good (CSAT 4-5) and poor (CSAT 1-3). The **loyalty gap** is NPS(good) − NPS(poor). The
**NPS points at stake** are gap × poor answers ÷ all NPS answers in view: how many points
the overall NPS would gain if the poor experiences there were as good as the good ones.
Touchpoints are ranked by points at stake and compared with the moments of truth the company
declared in its journey definition.
"""

from __future__ import annotations

import polars as pl

from cxmetrics import metrics as m
from cxmetrics.journey import Journey
from cxmetrics.registry import METRICS

METHOD = f"{METRICS['points_at_stake'].definition} Formula: {METRICS['points_at_stake'].formula}."

VERDICT_CONFIRMED = "declared and strong"
VERDICT_WEAK = "declared but weak"
VERDICT_UNDECLARED = "strong but undeclared"
VERDICT_NONE = "neither"
VERDICT_TOO_FEW = "too few responses"


def _nps(promoters: pl.Expr, detractors: pl.Expr, n: pl.Expr) -> pl.Expr:
    return pl.when(n > 0).then(100 * (promoters - detractors).cast(pl.Float64) / n)


def ranking(stats: pl.DataFrame, journey: Journey, min_n: int = m.MIN_N) -> pl.DataFrame:
    """One row per touchpoint of the journey, ranked by NPS points at stake (most first).

    Columns: touchpoint_id, touchpoint, stage_id, stage, position, declared, n_nps, nps,
    n_good, nps_good, n_poor, nps_poor, gap, poor_share, points, rank, verdict. A touchpoint
    with fewer than ``min_n`` answers in either group has no gap, no points and no rank.
    """
    total_n = int(stats["n_nps"].sum() or 0)
    per_tp = m.sums(stats, ["touchpoint_id"]).with_columns(pl.col("touchpoint_id").cast(pl.String))
    tps = journey.touchpoints.join(
        journey.stages.select("stage_id", pl.col("name").alias("stage"), "position"),
        on="stage_id",
    ).select(
        "touchpoint_id",
        pl.col("name").alias("touchpoint"),
        "stage_id",
        "stage",
        "position",
        pl.col("moment_of_truth").alias("declared"),
    )
    enough = (pl.col("n_good") >= min_n) & (pl.col("n_poor") >= min_n)
    frame = (
        tps.join(per_tp, on="touchpoint_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in m.STAT_COLUMNS)
        .with_columns(
            _nps(pl.col("promoters"), pl.col("detractors"), pl.col("n_nps")).alias("nps"),
            _nps(pl.col("good_promoters"), pl.col("good_detractors"), pl.col("n_good")).alias(
                "nps_good"
            ),
            _nps(pl.col("poor_promoters"), pl.col("poor_detractors"), pl.col("n_poor")).alias(
                "nps_poor"
            ),
        )
        .with_columns(
            pl.when(enough).then(pl.col("nps_good") - pl.col("nps_poor")).alias("gap"),
            pl.when(pl.col("n_good") + pl.col("n_poor") > 0)
            .then(pl.col("n_poor") / (pl.col("n_good") + pl.col("n_poor")))
            .alias("poor_share"),
        )
        .with_columns(
            (pl.col("gap") * pl.col("n_poor") / total_n if total_n else pl.lit(None))
            .cast(pl.Float64)
            .alias("points")
        )
        .sort(
            ["points", "position", "touchpoint_id"],
            descending=[True, False, False],
            nulls_last=True,
        )
        .with_columns(
            pl.when(pl.col("points").is_not_null())
            .then(pl.int_range(1, pl.len() + 1))
            .alias("rank")
        )
    )
    k = int(journey.touchpoints["moment_of_truth"].sum())
    strong = pl.col("rank").is_not_null() & (pl.col("rank") <= k)
    verdict = (
        pl.when(pl.col("rank").is_null())
        .then(pl.lit(VERDICT_TOO_FEW))
        .when(pl.col("declared") & strong)
        .then(pl.lit(VERDICT_CONFIRMED))
        .when(pl.col("declared"))
        .then(pl.lit(VERDICT_WEAK))
        .when(strong)
        .then(pl.lit(VERDICT_UNDECLARED))
        .otherwise(pl.lit(VERDICT_NONE))
    )
    return frame.with_columns(verdict.alias("verdict")).select(
        "touchpoint_id",
        "touchpoint",
        "stage_id",
        "stage",
        "position",
        "declared",
        "n_nps",
        "nps",
        "n_good",
        "nps_good",
        "n_poor",
        "nps_poor",
        "gap",
        "poor_share",
        "points",
        "rank",
        "verdict",
    )
