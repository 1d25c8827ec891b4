"""The same touchpoint across channels: where one channel makes the experience worse."""

from __future__ import annotations

import polars as pl

from cxmetrics import metrics as m
from cxmetrics.journey import Journey
from cxmetrics.registry import METRICS

SCORE_N = {"nps": "n_nps", "csat": "n_csat", "ces": "n_ces"}


def matrix(
    stats: pl.DataFrame, journey: Journey, metric: str = "ces", min_n: int = m.MIN_N
) -> pl.DataFrame:
    """Touchpoint × channel in long form: touchpoint_id, touchpoint, stage, position,
    channel, value (None below ``min_n`` answers), n. Journey order."""
    n_col = SCORE_N[metric]
    cells = m.totals(stats, ["touchpoint_id", "channel"]).with_columns(
        pl.col("touchpoint_id").cast(pl.String), pl.col("channel").cast(pl.String)
    )
    tps = journey.touchpoints.join(
        journey.stages.select("stage_id", pl.col("name").alias("stage"), "position"), on="stage_id"
    ).select("touchpoint_id", pl.col("name").alias("touchpoint"), "stage", "position")
    return (
        cells.join(tps, on="touchpoint_id")
        .select(
            "touchpoint_id",
            "touchpoint",
            "stage",
            "position",
            "channel",
            pl.when(pl.col(n_col) >= min_n).then(pl.col(metric)).alias("value"),
            pl.col(n_col).alias("n"),
        )
        .sort("position", "touchpoint_id", "channel")
    )


def gap(
    stats: pl.DataFrame,
    better: str = "web",
    worse: str = "mobile",
    metric: str = "ces",
    min_n: int = m.MIN_N,
) -> dict | None:
    """Pooled score of two channels over the touchpoints offered on both (each with at least
    ``min_n`` answers on each channel). None when no touchpoint qualifies."""
    n_col = SCORE_N[metric]
    per = m.sums(
        stats.filter(pl.col("channel").is_in([better, worse])), ["touchpoint_id", "channel"]
    ).with_columns(pl.col("channel").cast(pl.String))
    shared = (
        per.filter(pl.col(n_col) >= min_n)
        .group_by("touchpoint_id")
        .len()
        .filter(pl.col("len") == 2)
        .select("touchpoint_id")
    )
    if shared.height == 0:
        return None
    pooled = m.totals(per.join(shared, on="touchpoint_id"), ["channel"])
    value = {r["channel"]: (r[metric], r[n_col]) for r in pooled.iter_rows(named=True)}
    (a, n_a), (b, n_b) = value[better], value[worse]
    return {
        "better": better,
        "worse": worse,
        "metric": metric,
        "touchpoints": shared.height,
        "value_better": a,
        "n_better": n_a,
        "value_worse": b,
        "n_worse": n_b,
        "difference": a - b,
    }


def describe_gap(g: dict | None) -> str:
    if g is None:
        return "No touchpoint has enough answers on both channels to compare them."
    spec = METRICS[g["metric"]]
    direction = "lower" if g["difference"] > 0 else "higher"
    return (
        f"{g['worse'].capitalize()} {spec.short} is {abs(g['difference']):.2f} {direction} "
        f"than {g['better']} on the {g['touchpoints']} touchpoints offered on both: "
        f"{spec.format(g['value_worse'])} (n = {g['n_worse']:,}) against "
        f"{spec.format(g['value_better'])} (n = {g['n_better']:,})."
    )
