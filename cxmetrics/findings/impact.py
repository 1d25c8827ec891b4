"""Where loyalty is won or lost along the journey, from additive statistics.

Each touchpoint's NPS is compared with the NPS of the rest of its stage (the other
touchpoints of the same stage, in the same view): a two-sample z-test whose standard errors
allow for customers answering more than once (``Dataset.design_effect``), with
Benjamini-Hochberg over the touchpoints compared. A touchpoint is called a strong moment of
truth only when that test is kept; both sides need the minimum n.

The **NPS points at stake** are (NPS of the rest of the stage − NPS of the touchpoint) ×
the touchpoint's NPS answers ÷ all NPS answers in view: how far the overall NPS sits below
where it would be if answers at the touchpoint matched the rest of its stage. It is an
association measured in the data, not a promised gain.
"""

from __future__ import annotations

import math

import polars as pl

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings.findings import Finding, adjust
from cxmetrics.stats import metrics as m
from cxmetrics.stats.inference import Z95, p_two_sided

METHOD = f"{METRICS['points_at_stake'].definition} Formula: {METRICS['points_at_stake'].formula}."

VERDICT_CONFIRMED = "declared and strong"
VERDICT_WEAK = "declared, no difference found"
VERDICT_UNDECLARED = "strong but undeclared"
VERDICT_NONE = "neither"
VERDICT_TOO_FEW = "too few responses"

COLUMNS = (
    "touchpoint_id",
    "touchpoint",
    "stage_id",
    "stage",
    "position",
    "declared",
    "n_nps",
    "nps",
    "n_rest",
    "nps_rest",
    "difference",
    "ci_low",
    "ci_high",
    "p",
    "q",
    "points",
    "rank",
    "verdict",
)


def _per_touchpoint(stats: pl.DataFrame, journey: Journey) -> pl.DataFrame:
    """Every touchpoint of the journey with its NPS counts and its stage's, in view."""
    per_tp = m.sums(stats, ["touchpoint_id"], ("n_nps", "promoters", "detractors"))
    per_tp = per_tp.with_columns(pl.col("touchpoint_id").cast(pl.String))
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
    counts = ("n_nps", "promoters", "detractors")
    frame = tps.join(per_tp, on="touchpoint_id", how="left").with_columns(
        pl.col(c).fill_null(0) for c in counts
    )
    return frame.with_columns(
        *[(pl.col(c).sum().over("stage_id") - pl.col(c)).alias(f"rest_{c}") for c in counts]
    )


def moments(
    stats: pl.DataFrame, journey: Journey, deff: dict | None = None, min_n: int = m.MIN_N
) -> list[Finding]:
    """One unadjusted test per touchpoint with at least ``min_n`` NPS answers there and in
    the rest of its stage: its NPS against the rest of the stage (kind ``moment``).
    ``effect`` is the touchpoint's NPS minus the rest's, in points."""
    return _moments_of(_per_touchpoint(stats, journey), deff, min_n)


def _moments_of(frame: pl.DataFrame, deff: dict | None, min_n: int) -> list[Finding]:
    """:func:`moments` on a frame from :func:`_per_touchpoint`."""
    k = max((deff or {}).get("nps", 1.0), 1.0)
    total = int(frame["n_nps"].sum())
    out = []
    for r in frame.iter_rows(named=True):
        n, n_rest = r["n_nps"], r["rest_n_nps"]
        if n < min_n or n_rest < min_n:
            continue
        nps = 100 * (r["promoters"] - r["detractors"]) / n
        rest = 100 * (r["rest_promoters"] - r["rest_detractors"]) / n_rest
        se = math.hypot(
            m.nps_se(r["promoters"], r["detractors"], n, k),
            m.nps_se(r["rest_promoters"], r["rest_detractors"], n_rest, k),
        )
        diff = nps - rest
        points = (rest - nps) * n / total
        where = "below" if diff < 0 else "above"
        stake = f"; {points:.1f} points of overall NPS go with the gap" if diff < 0 else ""
        out.append(
            Finding(
                "moment",
                f"{r['touchpoint']} ({r['stage']}): NPS {nps:+z.0f} (n = {n:,}), "
                f"{abs(diff):.0f} points {where} the rest of the stage ({rest:+z.0f}, "
                f"n = {n_rest:,}){stake}.",
                diff,
                (diff - Z95 * se, diff + Z95 * se),
                n + n_rest,
                p_two_sided(diff / se),
                stages=(r["stage_id"],),
                touchpoints=(r["touchpoint_id"],),
                unit="points",
                family="moment",
            )
        )
    return out


def candidates(ds, f, min_n: int = m.MIN_N) -> list[Finding]:
    """The family of moment tests for the filtered view ``f`` of ``ds``."""
    return moments(ds.cell_sums(f), ds.journey, ds.design_effect, min_n)


def unranked_reason(ranking_frame: pl.DataFrame, min_n: int = m.MIN_N) -> str:
    """Why no touchpoint of :func:`ranking` (made with ``min_n``) has a rank: too few answers
    at every touchpoint, or, where one has enough, too few at the rest of its stage (all of
    a stage's answers at one touchpoint, as in reviews with one overall rating)."""
    if (ranking_frame["n_nps"] >= min_n).any():  # unranked, so its stage's rest is short
        return (
            f"No touchpoint can be compared: where one has {min_n} NPS answers,<br>"
            f"the rest of its stage has fewer than {min_n}"
        )
    return "Too few NPS answers at the touchpoints<br>to compare them with their stage"


def ranking(
    stats: pl.DataFrame, journey: Journey, min_n: int = m.MIN_N, deff: dict | None = None
) -> pl.DataFrame:
    """One row per touchpoint of the journey, ranked by NPS points at stake (most first).

    Columns: see :data:`COLUMNS`. ``difference`` (touchpoint − rest of stage) has its 95%
    interval, p and q (Benjamini-Hochberg over the touchpoints tested). A touchpoint with
    fewer than ``min_n`` answers there or in the rest of its stage has no test, no points
    and no rank. Verdicts "strong" come only from kept tests.
    """
    frame = _per_touchpoint(stats, journey)
    adjusted = {c.touchpoints[0]: c for c in adjust(_moments_of(frame, deff, min_n))}
    kept = {tp for tp, c in adjusted.items() if c.significant}
    total = int(frame["n_nps"].sum())
    tested = pl.DataFrame(
        {
            "touchpoint_id": list(adjusted),
            "difference": [c.effect for c in adjusted.values()],
            "ci_low": [c.ci[0] for c in adjusted.values()],
            "ci_high": [c.ci[1] for c in adjusted.values()],
            "p": [c.p for c in adjusted.values()],
            "q": [c.q for c in adjusted.values()],
            "kept": [tp in kept for tp in adjusted],
        },
        schema={
            "touchpoint_id": pl.String,
            "difference": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p": pl.Float64,
            "q": pl.Float64,
            "kept": pl.Boolean,
        },
    )
    nps = pl.col("promoters") - pl.col("detractors")
    rest = pl.col("rest_promoters") - pl.col("rest_detractors")
    frame = (
        frame.join(tested, on="touchpoint_id", how="left")
        .with_columns(
            pl.when(pl.col("n_nps") > 0).then(100 * nps / pl.col("n_nps")).alias("nps"),
            pl.col("rest_n_nps").alias("n_rest"),
            pl.when(pl.col("rest_n_nps") > 0)
            .then(100 * rest / pl.col("rest_n_nps"))
            .alias("nps_rest"),
        )
        .with_columns(
            pl.when(pl.col("p").is_not_null() & pl.lit(total > 0))
            .then(-pl.col("difference") * pl.col("n_nps") / max(total, 1))
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
    strong = pl.col("kept").fill_null(False)
    verdict = (
        pl.when(pl.col("p").is_null())
        .then(pl.lit(VERDICT_TOO_FEW))
        .when(pl.col("declared") & strong)
        .then(pl.lit(VERDICT_CONFIRMED))
        .when(pl.col("declared"))
        .then(pl.lit(VERDICT_WEAK))
        .when(strong)
        .then(pl.lit(VERDICT_UNDECLARED))
        .otherwise(pl.lit(VERDICT_NONE))
    )
    return frame.with_columns(verdict.alias("verdict")).select(COLUMNS)
