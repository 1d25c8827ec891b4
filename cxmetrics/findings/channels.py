"""The same touchpoint across channels: where one channel makes the experience worse.

Two channels are compared within each touchpoint offered on both (each side with at least
the minimum n), so that a channel used mostly at hard touchpoints is not blamed for them:
the difference is the inverse-variance weighted mean of the touchpoints' differences, with
its standard error (allowing for customers answering more than once). Every pair of
channels in view is tested, with Benjamini-Hochberg over the pairs; the headline names the
widest gap among the pairs kept: the hardest channel against the easiest.
"""

from __future__ import annotations

import itertools
import math

import polars as pl

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings.findings import Finding, adjust
from cxmetrics.stats import metrics as m
from cxmetrics.stats.inference import FDR, Z95, p_two_sided

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


def _scores(stats: pl.DataFrame, metric: str, deff: dict | None) -> dict[tuple[str, str], m.Score]:
    """(touchpoint, channel) -> the metric's score there, with its standard error."""
    cells = m.sums(stats, ["touchpoint_id", "channel"])
    out = {}
    for row in cells.iter_rows(named=True):
        score = m.scores_of(row, deff)[metric]
        if score.n:
            out[(str(row["touchpoint_id"]), str(row["channel"]))] = score
    return out


def _compare(
    scores: dict[tuple[str, str], m.Score], better: str, worse: str, metric: str, min_n: int
) -> dict | None:
    """``better`` against ``worse`` within the touchpoints offered on both (``min_n`` answers
    each side): weighted difference better − worse, its standard error, z, p and 95% CI,
    and each channel's pooled value over those touchpoints."""
    shared = sorted(
        tp
        for (tp, ch), s in scores.items()
        if ch == better
        and s.n >= min_n
        and scores.get((tp, worse), m.Score(metric, None, 0)).n >= min_n
    )
    if not shared:
        return None
    weights, diffs = [], []
    pooled = {better: [0.0, 0], worse: [0.0, 0]}
    for tp in shared:
        a, b = scores[(tp, better)], scores[(tp, worse)]
        var = (a.se or 0.0) ** 2 + (b.se or 0.0) ** 2
        weights.append(1.0 / var if var > 0 else 0.0)
        diffs.append(a.value - b.value)
        for ch, s in ((better, a), (worse, b)):
            pooled[ch][0] += s.value * s.n
            pooled[ch][1] += s.n
    total = sum(weights)
    if total <= 0:
        return None
    diff = sum(w * d for w, d in zip(weights, diffs, strict=True)) / total
    se = 1.0 / math.sqrt(total)
    z = diff / se
    return {
        "better": better,
        "worse": worse,
        "metric": metric,
        "touchpoints": len(shared),
        "touchpoint_ids": tuple(shared),
        "value_better": pooled[better][0] / pooled[better][1],
        "n_better": pooled[better][1],
        "value_worse": pooled[worse][0] / pooled[worse][1],
        "n_worse": pooled[worse][1],
        "difference": diff,
        "se": se,
        "ci": (diff - Z95 * se, diff + Z95 * se),
        "z": z,
        "p": p_two_sided(z),
    }


def gap(
    stats: pl.DataFrame,
    better: str = "web",
    worse: str = "mobile",
    metric: str = "ces",
    min_n: int = m.MIN_N,
    deff: dict | None = None,
) -> dict | None:
    """``better`` against ``worse`` over the touchpoints offered on both (each with at least
    ``min_n`` answers on each channel): see :func:`_compare`. None when none qualifies."""
    return _compare(_scores(stats, metric, deff), better, worse, metric, min_n)


def pairs(
    stats: pl.DataFrame, metric: str = "ces", min_n: int = m.MIN_N, deff: dict | None = None
) -> list[dict]:
    """Every pair of channels in view that shares a touchpoint, oriented so that
    ``better`` has the better score (difference ≥ 0 in the metric's good direction)."""
    scores = _scores(stats, metric, deff)
    names = sorted({ch for _, ch in scores})
    lower_is_better = METRICS[metric].higher_is_better is False
    stage_of = (
        dict(stats.select(pl.col("touchpoint_id", "stage_id").cast(pl.String)).unique().iter_rows())
        if "stage_id" in stats.columns
        else {}
    )
    out = []
    for a, b in itertools.combinations(names, 2):
        g = _compare(scores, a, b, metric, min_n)
        if g is None:
            continue
        if (g["difference"] < 0) != lower_is_better:
            g = _compare(scores, b, a, metric, min_n)
        # the stages of the touchpoints compared: who owns the gap
        g["stages"] = tuple(sorted({stage_of[t] for t in g["touchpoint_ids"] if t in stage_of}))
        out.append(g)
    return out


def _finding(g: dict) -> Finding:
    spec = METRICS[g["metric"]]
    return Finding(
        "channel",
        describe_gap(g),
        g["difference"],
        g["ci"],
        g["n_better"] + g["n_worse"],
        g["p"],
        stages=g.get("stages", ()),
        unit=spec.unit,
        family="channel",
    )


def findings_of(gaps: list[dict]) -> list[Finding]:
    """One unadjusted test (kind ``channel``) per channel pair."""
    return [_finding(g) for g in gaps]


def candidates(ds, f, metric: str = "ces", min_n: int = m.MIN_N) -> list[Finding]:
    """The family of channel-pair tests for the filtered view ``f`` of ``ds``."""
    return findings_of(pairs(ds.cell_sums(f), metric, min_n, ds.design_effect))


def headline(
    stats: pl.DataFrame, metric: str = "ces", min_n: int = m.MIN_N, deff: dict | None = None
) -> dict:
    """The widest gap among the channel pairs kept (the hardest channel against the easiest),
    or ``gap`` None when no pair is kept; ``tested``: how many pairs were compared."""
    gaps = pairs(stats, metric, min_n, deff)
    adjusted = adjust(findings_of(gaps))
    chosen = [g for g, f in zip(gaps, adjusted, strict=True) if f.q is not None and f.q <= FDR]
    best = max(chosen, key=lambda g: abs(g["difference"]), default=None)
    return {"gap": best, "tested": len(gaps), "metric": metric}


def describe_gap(g: dict | None) -> str:
    """One tested channel gap in a sentence."""
    if g is None:
        return "No touchpoint has enough answers on two channels to compare them."
    spec = METRICS[g["metric"]]
    direction = "lower" if g["difference"] > 0 else "higher"
    lo, hi = g["ci"] if g["difference"] >= 0 else (-g["ci"][1], -g["ci"][0])
    interval = f", 95% CI {lo:.2f} to {hi:.2f}"
    return (
        f"{g['worse'].capitalize()} {spec.short} is {abs(g['difference']):.2f} {direction} "
        f"than {g['better']} on the {g['touchpoints']} touchpoints offered on both "
        f"(compared within each touchpoint{interval}): "
        f"{spec.format(g['value_worse'])} (n = {g['n_worse']:,}) against "
        f"{spec.format(g['value_better'])} (n = {g['n_better']:,})."
    )


def describe_headline(h: dict) -> str:
    """The channel-consistency sentence: the kept gap, or what was tested and not found."""
    if h["gap"] is not None:
        return describe_gap(h["gap"])
    if h["tested"] == 0:
        return "No touchpoint has enough answers on two channels to compare them."
    spec = METRICS[h["metric"]]
    return (
        f"No channel's {spec.short} differs clearly from another's: {h['tested']} channel "
        "pairs compared within the touchpoints offered on both."
    )
