"""Leading indicators: contact-centre volume warns of falling NPS before surveys show it.

Per stage and full week: contacts, repeat contacts (the third or later by the same customer
within 30 days) and NPS. The lagged correlation between contacts in week t and NPS in week
t + lag, for lags 0-8 weeks, says whether and how far contacts run ahead of loyalty. It is
computed on week-over-week changes of both series, so that two slow trends (contacts creeping
up while NPS drifts down) do not pass for a lead; the charts show the levels.

A correlation needs many weeks, so this looks back up to ``HISTORY_WEEKS`` full weeks from
the end of the chosen period, whatever its start. Contacts have no channel in the data
contract's sense of a survey channel, so the channel filter does not apply here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from cxmetrics import metrics as m
from cxmetrics.dataset import Dataset, date_slice
from cxmetrics.filters import Filters

MAX_LAG_WEEKS = 8
HISTORY_WEEKS = 104
MIN_WEEKS = 12  # pairs of weeks a correlation needs before it is shown


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def window(first: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """Mondays of the first and last full weeks within [first, end], at most HISTORY_WEEKS."""
    last_week = _monday(end + dt.timedelta(days=1)) - dt.timedelta(days=7)
    first_week = _monday(first) if first.weekday() == 0 else _monday(first) + dt.timedelta(days=7)
    first_week = max(first_week, last_week - dt.timedelta(weeks=HISTORY_WEEKS - 1))
    return (first_week, last_week) if first_week <= last_week else None


def weekly(ds: Dataset, contacts: pl.DataFrame, f: Filters, min_n: int = m.MIN_N) -> pl.DataFrame:
    """Per stage in view and full week: contacts, repeat_contacts, repeat_rate (%), n_nps and
    nps (null below ``min_n`` answers). Segment and region filters apply to both sides."""
    end = f.end or ds.last_day
    span = window(ds.first_day, end)
    stage_ids = ds.stage_ids(f)
    stages = [s for s in ds.journey.stage_order if stage_ids is None or s in stage_ids]
    schema = {
        "stage_id": pl.String,
        "week": pl.Date,
        "contacts": pl.Int64,
        "repeat_contacts": pl.Int64,
        "repeat_rate": pl.Float64,
        "n_nps": pl.Int64,
        "nps": pl.Float64,
    }
    if span is None or not stages:
        return pl.DataFrame(schema=schema)
    lo, hi = span[0], span[1] + dt.timedelta(days=6)
    mask = ds.customer_mask(f)
    c = date_slice(contacts, "contacted_on", lo, hi)  # contacts are in date order
    if stage_ids is not None:
        c = c.filter(pl.col("stage_id").is_in(stages))
    if mask is not None:
        c = c.filter(pl.Series(mask).gather(c["cust"]))
    per_week = (
        c.group_by("stage_id", pl.col("contacted_on").dt.truncate("1w").alias("week"))
        .agg(
            pl.len().cast(pl.Int64).alias("contacts"),
            pl.col("repeat_contact").sum().cast(pl.Int64).alias("repeat_contacts"),
        )
        .with_columns(pl.col("stage_id").cast(pl.String))
    )
    survey_view = Filters(
        start=lo, end=hi, stages=tuple(stages), segments=f.segments, regions=f.regions
    )
    nps = (
        m.sums(
            ds.slice_stats(survey_view), ["stage_id", "week"], ("n_nps", "promoters", "detractors")
        )
        .with_columns(pl.col("stage_id").cast(pl.String), m.nps_expr().alias("nps"))
        .select("stage_id", "week", "n_nps", "nps")
    )
    grid = pl.DataFrame({"stage_id": stages}).join(
        pl.DataFrame({"week": pl.date_range(span[0], span[1], "1w", eager=True)}), how="cross"
    )
    return (
        grid.join(per_week, on=["stage_id", "week"], how="left")
        .join(nps, on=["stage_id", "week"], how="left")
        .with_columns(
            pl.col("contacts", "repeat_contacts", "n_nps").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col("contacts") > 0)
            .then(100 * pl.col("repeat_contacts") / pl.col("contacts"))
            .otherwise(None)
            .alias("repeat_rate"),
            pl.when(pl.col("n_nps") >= min_n).then(pl.col("nps")).otherwise(None).alias("nps"),
        )
        .select(list(schema))
        .sort("stage_id", "week")
    )


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def lagged_correlations(
    contacts: np.ndarray, nps: np.ndarray, max_lag: int = MAX_LAG_WEEKS
) -> list[tuple[int, float | None, int]]:
    """(lag, r, pairs) for lag 0..max_lag: r between contacts in week t and NPS in week
    t + lag, over the weeks where NPS is known (NaN marks an unknown week)."""
    out = []
    for lag in range(max_lag + 1):
        x = contacts[: contacts.size - lag] if lag else contacts
        y = nps[lag:]
        known = ~np.isnan(y) & ~np.isnan(x)
        pairs = int(known.sum())
        out.append((lag, pearson(x[known], y[known]) if pairs >= MIN_WEEKS else None, pairs))
    return out


# Two-sided 95% after a Bonferroni correction for the nine lags tried (0.05 / 9).
Z_NINE_LAGS = 2.77


def significant(r: float, pairs: int) -> bool:
    """|r| beyond chance for this many pairs, at 95% across the nine lags tried (t test
    with pairs − 2 degrees of freedom, normal approximation)."""
    if pairs <= 3 or abs(r) >= 1:
        return pairs > 3
    t = abs(r) * math.sqrt((pairs - 2) / (1 - r * r))
    return t > Z_NINE_LAGS


@dataclass(frozen=True)
class Signal:
    stage_id: str
    correlations: list[tuple[int, float | None, int]]
    best_lag: int | None  # the lag with the strongest correlation, either sign
    best_r: float | None
    pairs: int
    significant: bool

    @property
    def leads(self) -> bool:
        """Contacts rise before NPS falls: a significant negative r at a lag of 1+ weeks."""
        return bool(
            self.significant and self.best_lag and self.best_r is not None and self.best_r < 0
        )


def signals(per_week: pl.DataFrame) -> list[Signal]:
    """One signal per stage of :func:`weekly`."""
    out = []
    for (stage,), part in per_week.group_by(["stage_id"], maintain_order=True):
        part = part.sort("week")
        # Week-over-week changes, so that two slow trends do not pass for a lead.
        corr = lagged_correlations(
            np.diff(part["contacts"].cast(pl.Float64).to_numpy()),
            np.diff(part["nps"].cast(pl.Float64).fill_null(np.nan).to_numpy()),
        )
        known = [(lag, r, n) for lag, r, n in corr if r is not None]
        if not known:
            out.append(Signal(str(stage), corr, None, None, 0, False))
            continue
        lag, r, n = max(known, key=lambda t: (abs(t[1]), -t[0]))
        out.append(Signal(str(stage), corr, lag, r, n, significant(r, n)))
    return out


def describe(signal: Signal, stage_name: str) -> str:
    if signal.best_r is None:
        return f"{stage_name}: too few weeks with {m.MIN_N}+ NPS answers for a correlation."
    strength = "significant" if signal.significant else "not significant"
    if signal.leads:
        return (
            f"**{stage_name}:** contacts lead NPS by **{signal.best_lag} weeks** "
            f"(r = {signal.best_r:+.2f} over {signal.pairs} weeks, {strength}): when contacts "
            "rise, NPS falls later."
        )
    when = {0: "in the same week", 1: "1 week later"}.get(
        signal.best_lag, f"{signal.best_lag} weeks later"
    )
    return (
        f"{stage_name}: the strongest link is {when} (r = {signal.best_r:+.2f} over "
        f"{signal.pairs} weeks, {strength})."
    )


def table(signals: list[Signal], journey) -> pl.DataFrame:
    """One row per stage: the lag with the strongest link, r, weeks, and whether it leads."""
    return pl.DataFrame(
        {
            "stage": [journey.stage_name(s.stage_id) for s in signals],
            "best_lag": [s.best_lag for s in signals],
            "r": [s.best_r for s in signals],
            "weeks": [s.pairs for s in signals],
            "significant": [s.significant for s in signals],
            "leads": [s.leads for s in signals],
        },
        schema={
            "stage": pl.String,
            "best_lag": pl.Int64,
            "r": pl.Float64,
            "weeks": pl.Int64,
            "significant": pl.Boolean,
            "leads": pl.Boolean,
        },
    )
