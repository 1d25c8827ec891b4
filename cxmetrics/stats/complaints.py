"""Complaints as broken processes: cases and complaints grouped by root cause and process.

A complaint is a symptom of a process that fails again and again, not an incident to
close. Each row is one process (touchpoint) and root cause: how many cases and complaints it
produced in the period, its trend, the change against the previous period and the
departments that handled it. Complaints for which no case was opened are counted under
``NO_CASE`` so that nothing disappears.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.periods import BUCKETS, trend_unit

NO_CASE = "No case opened"
UNKNOWN_CAUSE = "Root cause not recorded"


def _events(cases: pl.DataFrame, complaints: pl.DataFrame) -> pl.DataFrame:
    """Cases plus complaints without a case, as one frame of events."""
    from_cases = cases.select(
        pl.col("stage_id").cast(pl.String),
        pl.col("touchpoint_id").cast(pl.String),
        pl.col("root_cause").fill_null(UNKNOWN_CAUSE).cast(pl.String),
        pl.col("department_id").cast(pl.String),
        pl.col("opened_on").alias("day"),
        (pl.col("source") == "complaint").fill_null(False).alias("complaint"),
        pl.col("confirmed").cast(pl.Boolean),
        pl.lit(True).alias("case"),
    )
    uncased = (
        complaints.with_columns(pl.col("response_id").cast(pl.String))
        .join(
            cases.select(pl.col("response_id").cast(pl.String)).drop_nulls(),
            on="response_id",
            how="anti",
        )
        .select(
            pl.col("stage_id").cast(pl.String),
            pl.col("touchpoint_id").cast(pl.String),
            pl.lit(NO_CASE).alias("root_cause"),
            pl.lit(None, dtype=pl.String).alias("department_id"),
            pl.col("responded_on").alias("day"),
            pl.lit(True).alias("complaint"),
            pl.lit(False).alias("confirmed"),
            pl.lit(False).alias("case"),
        )
    )
    return pl.concat([from_cases, uncased], how="vertical_relaxed")


def broken_processes(
    cases: pl.DataFrame,
    complaints: pl.DataFrame,
    previous_cases: pl.DataFrame,
    previous_complaints: pl.DataFrame,
    journey: Journey,
    start: dt.date,
    end: dt.date,
) -> pl.DataFrame:
    """One row per (touchpoint, root cause), largest volume first.

    ``cases`` from :func:`closed_loop.prepare` in view; ``complaints`` are the complaint
    responses in view (response_id, stage_id, touchpoint_id, responded_on). Columns: stage,
    touchpoint, root_cause, volume, cases, complaints, confirmed_rate (of cases), previous,
    change (% against the previous period), departments (names, most cases first) and
    trend (volume per week or month, zeros included).
    """
    now = _events(cases, complaints)
    before = _events(previous_cases, previous_complaints)
    keys = ["stage_id", "touchpoint_id", "root_cause"]
    unit = trend_unit(start, end)
    every = BUCKETS[unit]
    buckets = (
        pl.date_range(start, end, "1d", eager=True).dt.truncate(every).unique().sort().to_list()
    )
    counts = now.group_by(*keys, pl.col("day").dt.truncate(every).alias("bucket")).agg(
        pl.len().alias("n")
    )
    grid = (
        now.select(keys)
        .unique()
        .join(pl.DataFrame({"bucket": buckets}, schema={"bucket": pl.Date}), how="cross")
        .join(counts, on=[*keys, "bucket"], how="left")
        .sort("bucket")
        .group_by(keys)
        .agg(pl.col("n").fill_null(0).alias("trend"))
    )
    departments = (
        now.filter(pl.col("department_id").is_not_null())
        .group_by(*keys, "department_id")
        .agg(pl.len().alias("n"))
        .with_columns(pl.col("department_id").replace(journey.labels).alias("name"))
        .sort("n", "name", descending=[True, False])
        .group_by(keys, maintain_order=True)
        .agg(pl.col("name").str.join(", ").alias("departments"))
    )
    previous = before.group_by(keys).agg(pl.len().alias("previous"))
    out = (
        now.group_by(keys)
        .agg(
            pl.len().alias("volume"),
            pl.col("case").sum().cast(pl.Int64).alias("cases"),
            pl.col("complaint").sum().cast(pl.Int64).alias("complaints"),
            pl.col("confirmed").filter(pl.col("case")).mean().alias("confirmed_share"),
        )
        .join(previous, on=keys, how="left")
        .join(departments, on=keys, how="left")
        .join(grid, on=keys, how="left")
        .with_columns(
            pl.col("previous").fill_null(0),
            pl.col("departments").fill_null("–"),
            (100 * pl.col("confirmed_share")).alias("confirmed_rate"),
            pl.col("stage_id").replace(journey.labels).alias("stage"),
            pl.col("touchpoint_id").replace(journey.touchpoint_names).alias("touchpoint"),
        )
        .with_columns(
            pl.when(pl.col("previous") > 0)
            .then(100 * (pl.col("volume") - pl.col("previous")) / pl.col("previous"))
            .otherwise(None)
            .alias("change"),
        )
    )
    return out.sort("volume", "touchpoint", "root_cause", descending=[True, False, False]).select(
        "stage",
        "touchpoint",
        "root_cause",
        "volume",
        "cases",
        "complaints",
        "confirmed_rate",
        "previous",
        "change",
        "departments",
        "trend",
    )
