"""Pure metric functions on additive statistics. No I/O, no Streamlit, no mutation.

Every score is computed from counts and sums per combination of dimensions (see
``STAT_COLUMNS``). Rolling up is a sum, then a ratio, so the same code serves statistics
built by Polars from raw rows (:func:`response_stats`) or by the database with one
``GROUP BY`` (``store.load_stats_sql``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from cxmetrics.registry import METRICS, MIN_N

#: Additive statistics: every one is a count or a sum, so any roll-up is a sum.
CORE_COLUMNS = (
    "responses",
    "n_nps",
    "promoters",
    "passives",
    "detractors",
    "n_csat",
    "csat_top2",
    "csat_top1",
    "n_ces",
    "ces_sum",
    "ces_sq",
    "ces_easy",
)
STAT_COLUMNS = (
    *CORE_COLUMNS,
    # NPS answers split by the satisfaction given in the same response (for impact)
    "n_good",
    "good_promoters",
    "good_detractors",
    "n_poor",
    "poor_promoters",
    "poor_detractors",
)

Z95 = 1.96


def stat_aggregations() -> list[pl.Expr]:
    """Aggregations that turn raw responses (nps, csat, ces) into additive statistics."""
    nps, csat, ces = pl.col("nps"), pl.col("csat"), pl.col("ces")
    return [
        pl.len().cast(pl.Int64).alias("responses"),
        nps.is_not_null().sum().cast(pl.Int64).alias("n_nps"),
        (nps >= 9).sum().cast(pl.Int64).alias("promoters"),
        nps.is_between(7, 8).sum().cast(pl.Int64).alias("passives"),
        (nps <= 6).sum().cast(pl.Int64).alias("detractors"),
        csat.is_not_null().sum().cast(pl.Int64).alias("n_csat"),
        (csat >= 4).sum().cast(pl.Int64).alias("csat_top2"),
        (csat == 5).sum().cast(pl.Int64).alias("csat_top1"),
        ces.is_not_null().sum().cast(pl.Int64).alias("n_ces"),
        ces.cast(pl.Int64).sum().alias("ces_sum"),
        (ces.cast(pl.Int64) * ces.cast(pl.Int64)).sum().alias("ces_sq"),
        (ces >= 5).sum().cast(pl.Int64).alias("ces_easy"),
        (nps.is_not_null() & (csat >= 4)).sum().cast(pl.Int64).alias("n_good"),
        ((nps >= 9) & (csat >= 4)).sum().cast(pl.Int64).alias("good_promoters"),
        ((nps <= 6) & (csat >= 4)).sum().cast(pl.Int64).alias("good_detractors"),
        (nps.is_not_null() & (csat <= 3)).sum().cast(pl.Int64).alias("n_poor"),
        ((nps >= 9) & (csat <= 3)).sum().cast(pl.Int64).alias("poor_promoters"),
        ((nps <= 6) & (csat <= 3)).sum().cast(pl.Int64).alias("poor_detractors"),
    ]


def response_stats(responses: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Additive statistics of raw responses per combination of ``by``."""
    if not by:
        return responses.select(stat_aggregations())
    return responses.group_by(by).agg(stat_aggregations())


def sums(
    stats: pl.DataFrame, by: list[str] | None = None, columns: tuple[str, ...] = STAT_COLUMNS
) -> pl.DataFrame:
    """Roll statistics up to ``by`` (or to one row) by summing ``columns``."""
    exprs = [pl.col(c).sum().cast(pl.Int64) for c in columns]
    return stats.group_by(by).agg(exprs) if by else stats.select(exprs)


def totals(
    stats: pl.DataFrame, by: list[str] | None = None, columns: tuple[str, ...] = STAT_COLUMNS
) -> pl.DataFrame:
    """Roll statistics up to ``by`` (or to one row), then add the score columns."""
    return with_scores(sums(stats, by, columns))


def _ratio(num: str, den: str, scale: float = 1.0) -> pl.Expr:
    return (
        pl.when(pl.col(den) > 0)
        .then(scale * pl.col(num).cast(pl.Float64) / pl.col(den))
        .otherwise(None)
    )


def nps_expr() -> pl.Expr:
    """NPS from the ``promoters``, ``detractors`` and ``n_nps`` columns; null where n is 0."""
    return 100 * (_ratio("promoters", "n_nps") - _ratio("detractors", "n_nps"))


def with_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """Add NPS (and margin), CSAT, CSAT top box, CES and CES-easy; null where n is 0."""
    ratio = _ratio
    p = ratio("promoters", "n_nps")
    d = ratio("detractors", "n_nps")
    return frame.with_columns(
        nps_expr().alias("nps"),
        (100 * Z95 * ((p + d - (p - d) ** 2) / pl.col("n_nps")).sqrt()).alias("nps_moe"),
        ratio("csat_top2", "n_csat", 100.0).alias("csat"),
        ratio("csat_top1", "n_csat", 100.0).alias("csat_top1"),
        ratio("ces_sum", "n_ces").alias("ces"),
        ratio("ces_easy", "n_ces", 100.0).alias("ces_easy"),
    )


# --- one group's scores -----------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One metric for one slice: value (None when n is 0), n, standard error, margin."""

    metric: str
    value: float | None
    n: int
    se: float | None = None

    @property
    def moe(self) -> float | None:
        return None if self.se is None else Z95 * self.se

    def too_few(self, min_n: int = MIN_N) -> bool:
        return self.n < min_n

    def shown(self, min_n: int = MIN_N) -> float | None:
        """The value to display: None when there are too few answers to trust it."""
        return None if self.too_few(min_n) else self.value


def scores_of(row: dict) -> dict[str, Score]:
    """Scores with standard errors from one row of :func:`totals`."""
    n_nps, n_csat, n_ces = row["n_nps"], row["n_csat"], row["n_ces"]
    out = {"responses": Score("responses", float(row["responses"]), int(row["responses"]))}
    if n_nps:
        p, d = row["promoters"] / n_nps, row["detractors"] / n_nps
        se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n_nps)
        out["nps"] = Score("nps", 100 * (p - d), n_nps, se)
    else:
        out["nps"] = Score("nps", None, 0)
    if n_csat:
        share = row["csat_top2"] / n_csat
        out["csat"] = Score("csat", 100 * share, n_csat, _proportion_se(share, n_csat))
        top1 = row["csat_top1"] / n_csat
        out["csat_top1"] = Score("csat_top1", 100 * top1, n_csat, _proportion_se(top1, n_csat))
    else:
        out["csat"] = Score("csat", None, 0)
        out["csat_top1"] = Score("csat_top1", None, 0)
    if n_ces:
        mean = row["ces_sum"] / n_ces
        var = (row["ces_sq"] - n_ces * mean**2) / (n_ces - 1) if n_ces > 1 else 0.0
        out["ces"] = Score("ces", mean, n_ces, math.sqrt(max(var, 0.0) / n_ces))
        easy = row["ces_easy"] / n_ces
        out["ces_easy"] = Score("ces_easy", 100 * easy, n_ces, _proportion_se(easy, n_ces))
    else:
        out["ces"] = Score("ces", None, 0)
        out["ces_easy"] = Score("ces_easy", None, 0)
    return out


def proportion_score(metric: str, hits: int, n: int) -> Score:
    """A percentage score (such as churn) with its binomial standard error."""
    if n <= 0:
        return Score(metric, None, 0)
    share = hits / n
    return Score(metric, 100 * share, n, _proportion_se(share, n))


def _proportion_se(share: float, n: int) -> float:
    return 100 * math.sqrt(max(share * (1 - share), 0.0) / n)


# --- change and status ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    delta: float
    z: float | None
    significant: bool


def compare(current: Score, previous: Score, min_n: int = MIN_N) -> Change | None:
    """Change from ``previous`` to ``current``; significant only when |z| ≥ 1.96.

    Scores use z = (x₁ − x₂) / √(SE₁² + SE₂²). Counts (responses) use the Poisson test
    z = (a − b) / √(a + b). None when either side has too few answers.
    """
    if current.value is None or previous.value is None:
        return None
    delta = current.value - previous.value
    if current.metric == "responses":
        total = current.value + previous.value
        z = delta / math.sqrt(total) if total > 0 else None
    else:
        if current.too_few(min_n) or previous.too_few(min_n):
            return None
        se = math.sqrt((current.se or 0.0) ** 2 + (previous.se or 0.0) ** 2)
        z = delta / se if se > 0 else None
    return Change(delta, z, z is not None and abs(z) >= Z95)


STATUS_ON, STATUS_NEAR, STATUS_BELOW = "on target", "near target", "below target"
STATUS_NONE, STATUS_TOO_FEW = "no target", "too few responses"
STATUS_NO_DATA = "no data"  # not a single answer: nothing was imported for it


def status(score: Score, target: float | None, min_n: int = MIN_N) -> str:
    """On / near / below target, using the metric's direction and tolerance."""
    if score.n == 0:
        return STATUS_NO_DATA
    if score.value is None or score.too_few(min_n):
        return STATUS_TOO_FEW
    if target is None:
        return STATUS_NONE
    spec = METRICS[score.metric]
    gap = score.value - target if spec.higher_is_better is not False else target - score.value
    if gap >= 0:
        return STATUS_ON
    if -gap <= spec.near_target:
        return STATUS_NEAR
    return STATUS_BELOW


# --- customer-level loyalty -------------------------------------------------------------
# Customers are addressed by a dense code (their row in the customers frame), so "which
# customers are in view" and "each customer's latest answer" are array operations rather
# than hash group-bys. Response rows must be in date order.


@dataclass(frozen=True)
class CustomerArrays:
    """Customer attributes as arrays indexed by customer code."""

    churned_day: np.ndarray  # days since 1970-01-01; NOT_CHURNED when still a customer
    revenue: np.ndarray

    NOT_CHURNED = np.iinfo(np.int64).max

    @classmethod
    def from_frame(cls, customers: pl.DataFrame) -> CustomerArrays:
        """From a frame (churned_on, annual_revenue) whose row i is customer code i."""
        churned = customers["churned_on"].cast(pl.Int64).fill_null(cls.NOT_CHURNED).to_numpy()
        revenue = customers["annual_revenue"].cast(pl.Float64).fill_null(0.0).to_numpy()
        return cls(churned, revenue)

    @property
    def size(self) -> int:
        return self.churned_day.size


def _day(value: dt.date | None, default: int) -> int:
    return default if value is None else day_number(value)


_EPOCH = dt.date(1970, 1, 1)


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01, the unit of ``CustomerArrays.churned_day``."""
    return (value - _EPOCH).days


NO_ROW = np.iinfo(np.int32).max  # "no such row" in the links below


def customers_in_view(codes: np.ndarray, size: int) -> np.ndarray:
    """The distinct customer codes among ``codes``, ascending."""
    if not codes.size:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.bincount(codes, minlength=size))


def customer_links(codes: np.ndarray, nps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows in date order: the row of the same customer's previous response (-1 if
    none), and the row of their next NPS answer (``NO_ROW`` if none; ``nps`` -1 is blank).

    With them, a date range of rows [lo, hi) answers "which customers" (rows whose previous
    row is before lo) and "each one's latest answer" (answered rows whose next answer is at
    or after hi) with two filters instead of a group-by.
    """
    rows = np.arange(codes.size, dtype=np.int32)
    order = pl.DataFrame({"c": codes, "r": rows}).sort("c", "r")["r"].to_numpy()
    grouped = codes[order]
    same = grouped[1:] == grouped[:-1]
    prev = np.full(codes.size, -1, dtype=np.int32)
    prev[order[1:]] = np.where(same, order[:-1], -1)
    answered = order[nps[order] >= 0]  # still grouped by customer, in date order
    same_answered = codes[answered][1:] == codes[answered][:-1]
    next_answer = np.full(codes.size, NO_ROW, dtype=np.int32)
    next_answer[answered[:-1]] = np.where(same_answered, answered[1:], NO_ROW)
    return prev, next_answer


def left_in_period(customers: CustomerArrays, start, end) -> np.ndarray:
    """A mask over customer codes: who left within [start, end] (an open side when None)."""
    day = customers.churned_day
    left = (day != CustomerArrays.NOT_CHURNED) & (day >= _day(start, np.iinfo(np.int64).min))
    return left & (day <= _day(end, CustomerArrays.NOT_CHURNED))


def churn_counts(in_view: np.ndarray, customers: CustomerArrays, start, end) -> tuple[int, int]:
    """(churned, in view): of the distinct customer codes ``in_view``, those who left within
    [start, end]."""
    return int(left_in_period(customers, start, end)[in_view].sum()), int(in_view.size)


def latest_answers(codes: np.ndarray, nps: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's most recent NPS answer: (customer codes, answers).

    ``nps`` uses -1 for a blank answer; rows are in date order, so the last answered row of
    a customer is their latest answer.
    """
    answered = np.flatnonzero(nps >= 0)
    last = np.full(size, -1, dtype=np.int64)
    np.maximum.at(last, codes[answered], answered)
    who = np.flatnonzero(last >= 0)
    return who, nps[last[who]]


def detractor_churn_rate(
    latest_all: np.ndarray, customers: CustomerArrays, keep: np.ndarray | None = None
) -> tuple[float, int]:
    """Observed churn of detractors: among customers whose latest answer on any date is 0-6
    (``latest_all``, -1 for none), the share who have left. ``keep`` restricts customers."""
    detractors = (latest_all >= 0) & (latest_all <= 6)
    if keep is not None:
        detractors &= keep
    n = int(detractors.sum())
    if n == 0:
        return 0.0, 0
    left = detractors & (customers.churned_day != CustomerArrays.NOT_CHURNED)
    return float(left.sum() / n), n


def revenue_at_risk(
    who: np.ndarray, latest: np.ndarray, customers: CustomerArrays, rate: float, end
) -> dict[str, float | int]:
    """Σ annual revenue of still-active detractors × observed detractor churn rate.

    ``who``/``latest``: each customer's latest NPS answer in view (:func:`latest_answers`).
    Detractors answered 0-6 and had not left by ``end``; ``rate`` comes from
    :func:`detractor_churn_rate`.
    """
    detractors = who[latest <= 6]
    cutoff = _day(end, CustomerArrays.NOT_CHURNED - 1)  # without an end: never left
    active = detractors[customers.churned_day[detractors] > cutoff]
    revenue = float(customers.revenue[active].sum())
    return {
        "value": revenue * rate,
        "detractor_revenue": revenue,
        "churn_rate": rate,
        "detractors": int(active.size),
    }
