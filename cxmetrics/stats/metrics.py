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

from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.stats.inference import Z95, nps_interval, wilson

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
    stats: pl.DataFrame,
    by: list[str] | None = None,
    columns: tuple[str, ...] = STAT_COLUMNS,
    deff: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Roll statistics up to ``by`` (or to one row), then add the score columns."""
    return with_scores(sums(stats, by, columns), deff)


def _ratio(num: str, den: str, scale: float = 1.0) -> pl.Expr:
    return (
        pl.when(pl.col(den) > 0)
        .then(scale * pl.col(num).cast(pl.Float64) / pl.col(den))
        .otherwise(None)
    )


def nps_expr() -> pl.Expr:
    """NPS from the ``promoters``, ``detractors`` and ``n_nps`` columns; null where n is 0."""
    return 100 * (_ratio("promoters", "n_nps") - _ratio("detractors", "n_nps"))


def _wilson_gap(share: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The wider side of the Wilson interval of ``share`` at ``n`` (see ``inference.wilson``),
    per element; NaN where the share is unknown."""
    z2 = Z95 * Z95
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * np.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = np.fmax(centre - half, 0.0)
    hi = np.fmin(centre + half, 1.0)
    return np.fmax(share - lo, hi - share)


def _nps_margins(frame: pl.DataFrame, deff: dict[str, float] | None) -> pl.Series:
    """The 95% margin of NPS in points of each row (the same as :func:`nps_se` × 1.96, its
    Wilson floor included), null where n is 0. Array arithmetic: as a Polars expression this
    takes milliseconds to plan, for a frame of a few rows."""
    n = _floats(frame, "n_nps")
    known = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p, d = (np.where(known, _floats(frame, c) / n, np.nan) for c in ("promoters", "detractors"))
        # the effective n; a product with the reciprocal, as the expression engine computed it
        eff = n * (1.0 / max((deff or {}).get("nps", 1.0), 1.0))
        normal = 100 * Z95 * np.sqrt((p + d - (p - d) ** 2) / eff)
        floor = 100 * np.fmax(_wilson_gap(p, eff), _wilson_gap(d, eff))
        margin = np.fmax(normal, floor)
    return pl.Series("nps_moe", np.where(known, margin, np.nan), pl.Float64, nan_to_null=True)


def _floats(frame: pl.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64, NaN where null (plain arrays: each Polars operation on a
    series of a few rows costs a tenth of a millisecond)."""
    return frame[column].to_numpy().astype(np.float64, copy=False)


def _ratios(frame: pl.DataFrame, num: str, den: str, scale: float = 1.0) -> np.ndarray:
    """``scale`` × num / den per row as :func:`_ratio` computes it; NaN where den is 0."""
    n = _floats(frame, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = scale * _floats(frame, num) / n
    return np.where(n > 0, values, np.nan)


def nps_values(promoters: np.ndarray, detractors: np.ndarray, n: np.ndarray) -> np.ndarray:
    """NPS in points of counts per element, as :func:`nps_expr` computes it; NaN where n is
    0 (arrays: for frames of a few rows and for grids of counts)."""
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        nps = 100 * (np.asarray(promoters, np.float64) / n - np.asarray(detractors, np.float64) / n)
    return np.where(n > 0, nps, np.nan)


def with_scores(frame: pl.DataFrame, deff: dict[str, float] | None = None) -> pl.DataFrame:
    """Add NPS (and margin), CSAT, CSAT top box, CES and CES-easy; null where n is 0.

    ``deff``: design effects of repeated answers by customer (``Dataset.design_effect``);
    the margin allows for them. The same numbers as :func:`_ratio` and :func:`nps_expr`
    give, in arrays (the scores of a few rows cost more to plan as expressions than to
    compute)."""

    def column(name: str, values: np.ndarray) -> pl.Series:
        return pl.Series(name, values, pl.Float64, nan_to_null=True)

    nps = nps_values(*(_floats(frame, c) for c in ("promoters", "detractors", "n_nps")))
    return frame.with_columns(
        column("nps", nps),
        _nps_margins(frame, deff),
        column("csat", _ratios(frame, "csat_top2", "n_csat", 100.0)),
        column("csat_top1", _ratios(frame, "csat_top1", "n_csat", 100.0)),
        column("ces", _ratios(frame, "ces_sum", "n_ces")),
        column("ces_easy", _ratios(frame, "ces_easy", "n_ces", 100.0)),
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


def scores_of(row: dict, deff: dict[str, float] | None = None) -> dict[str, Score]:
    """Scores with standard errors from one row of :func:`totals`.

    ``deff``: design effects of repeated answers by customer (``Dataset.design_effect``).
    Standard errors allow for them, and never fall to zero when every answer agrees (the
    Wilson interval's half-width is the floor)."""
    deff = deff or {}
    n_nps, n_csat, n_ces = row["n_nps"], row["n_csat"], row["n_ces"]
    out = {"responses": Score("responses", float(row["responses"]), int(row["responses"]))}
    if n_nps:
        p, d = row["promoters"] / n_nps, row["detractors"] / n_nps
        se = nps_se(row["promoters"], row["detractors"], n_nps, deff.get("nps", 1.0))
        out["nps"] = Score("nps", 100 * (p - d), n_nps, se)
    else:
        out["nps"] = Score("nps", None, 0)
    if n_csat:
        k = deff.get("csat", 1.0)
        share = row["csat_top2"] / n_csat
        out["csat"] = Score("csat", 100 * share, n_csat, _proportion_se(share, n_csat, k))
        top1 = row["csat_top1"] / n_csat
        out["csat_top1"] = Score("csat_top1", 100 * top1, n_csat, _proportion_se(top1, n_csat, k))
    else:
        out["csat"] = Score("csat", None, 0)
        out["csat_top1"] = Score("csat_top1", None, 0)
    if n_ces:
        k = max(deff.get("ces", 1.0), 1.0)
        mean = row["ces_sum"] / n_ces
        var = (row["ces_sq"] - n_ces * mean**2) / (n_ces - 1) if n_ces > 1 else 0.0
        out["ces"] = Score("ces", mean, n_ces, math.sqrt(k * max(var, 0.0) / n_ces))
        easy = row["ces_easy"] / n_ces
        out["ces_easy"] = Score(
            "ces_easy", 100 * easy, n_ces, _proportion_se(easy, n_ces, deff.get("ces", 1.0))
        )
    else:
        out["ces"] = Score("ces", None, 0)
        out["ces_easy"] = Score("ces_easy", None, 0)
    return out


def nps_se(promoters: int, detractors: int, n: int, deff: float = 1.0) -> float:
    """Standard error of an NPS in points: the wider half of :func:`inference.nps_interval`
    over 1.96, so it allows for repeated answers and never falls to zero."""
    lo, hi = nps_interval(promoters, detractors, n, deff)
    value = 100 * (promoters - detractors) / n
    return max(value - lo, hi - value) / Z95


def proportion_score(metric: str, hits: int, n: int) -> Score:
    """A percentage score (such as churn) with its binomial standard error."""
    if n <= 0:
        return Score(metric, None, 0)
    share = hits / n
    return Score(metric, 100 * share, n, _proportion_se(share, n))


def _proportion_se(share: float, n: int, deff: float = 1.0) -> float:
    """Standard error in points of a share, at the effective n (n / design effect), never
    below the Wilson interval's widest half-width / 1.96."""
    eff = n / max(deff, 1.0)
    lo, hi = wilson(share * eff, eff)
    floor = max(share - lo, hi - share) / Z95
    return 100 * max(math.sqrt(max(share * (1 - share), 0.0) / eff), floor)


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
    """On / near / below target, judged with the score's 95% margin.

    Below target only when the whole interval lies on the wrong side of the target; on target
    when the value meets it; near target otherwise (the interval reaches the target, so the
    data cannot tell). Views that judge many scores at once also control the false discovery
    rate over them (:func:`target_p`, ``overview.judge_targets``).
    """
    if score.n == 0:
        return STATUS_NO_DATA
    if score.value is None or score.too_few(min_n):
        return STATUS_TOO_FEW
    if target is None:
        return STATUS_NONE
    spec = METRICS[score.metric]
    sign = -1.0 if spec.higher_is_better is False else 1.0
    gap = sign * (score.value - target)
    if gap >= 0:
        return STATUS_ON
    if -gap > (score.moe or 0.0):
        return STATUS_BELOW
    return STATUS_NEAR


def target_p(score: Score, target: float) -> float | None:
    """One-sided p-value that the score is truly worse than its target."""
    if score.value is None or not score.se:
        return None
    sign = -1.0 if METRICS[score.metric].higher_is_better is False else 1.0
    z = sign * (target - score.value) / score.se
    return 0.5 * math.erfc(z / math.sqrt(2.0))


# --- customer-level loyalty -------------------------------------------------------------
# Customers are addressed by a dense code (their row in the customers frame), so "which
# customers are in view" and "each customer's latest answer" are array operations rather
# than hash group-bys. Response rows must be in date order.


#: The customers' optional facts, and the column a company imports to record each.
FACT_COLUMNS = {
    "revenue": "annual_revenue",
    "cost": "cost_to_serve",
    "influence": "influence",
    "churn": "churned_on",
}
FACT_NAMES = {
    "revenue": "revenue",
    "cost": "cost to serve",
    "influence": "influence",
    "churn": "churn",
}


@dataclass(frozen=True)
class Facts:
    """Which optional facts about customers the company records. A fact nobody has is
    unknown, never zero: revenue, cost to serve and influence are known when any customer
    has a value; churn when any customer has a churn date, unless the company's settings
    say whether churn is recorded."""

    revenue: bool = True
    cost: bool = True
    influence: bool = True
    churn: bool = True

    @classmethod
    def of(cls, customers: pl.DataFrame, churn_recorded: bool | None = None) -> Facts:
        def known(column: str) -> bool:
            return column in customers.columns and customers[column].null_count() < len(customers)

        churn = known("churned_on") if churn_recorded is None else churn_recorded
        return cls(known("annual_revenue"), known("cost_to_serve"), known("influence"), churn)

    def missing(self, *names: str) -> list[str]:
        """Of the facts ``names``, those not recorded."""
        return [n for n in names if not getattr(self, n)]

    def unknown_text(self, *names: str) -> str | None:
        """What is missing and what to import to see it; None when all ``names`` are known."""
        absent = self.missing(*names)
        if not absent:
            return None
        words = " and ".join(FACT_NAMES[n] for n in absent)
        columns = ", ".join(FACT_COLUMNS[n] for n in absent)
        verb = "is" if len(absent) == 1 else "are"
        return (
            f"{words[0].upper()}{words[1:]} {verb} not recorded: import customers with "
            f"{columns} to see this."
        )


@dataclass(frozen=True)
class CustomerArrays:
    """Customer attributes as arrays indexed by customer code."""

    churned_day: np.ndarray  # days since 1970-01-01; NOT_CHURNED when still a customer
    revenue: np.ndarray  # NaN where unknown
    joined_day: np.ndarray | None = None  # days since 1970-01-01; None: not known
    facts: Facts = Facts()

    NOT_CHURNED = np.iinfo(np.int64).max

    @classmethod
    def from_frame(
        cls, customers: pl.DataFrame, churn_recorded: bool | None = None
    ) -> CustomerArrays:
        """From a frame (churned_on, annual_revenue, optional joined_on) whose row i is
        customer code i. ``churn_recorded``: the company's setting (None: decided by the
        data)."""
        churned = customers["churned_on"].cast(pl.Int64).fill_null(cls.NOT_CHURNED).to_numpy()
        revenue = customers["annual_revenue"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        joined = None
        if "joined_on" in customers.columns:
            joined = customers["joined_on"].cast(pl.Int64).fill_null(np.iinfo(np.int64).min)
            joined = joined.to_numpy()
        return cls(churned, revenue, joined, Facts.of(customers, churn_recorded))

    @property
    def size(self) -> int:
        return self.churned_day.size


def _day(value: dt.date | None, default: int) -> int:
    return default if value is None else day_number(value)


_EPOCH = dt.date(1970, 1, 1)


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01, the unit of ``CustomerArrays.churned_day``."""
    return (value - _EPOCH).days


def left_in_period(customers: CustomerArrays, start, end) -> np.ndarray:
    """A mask over customer codes: who left within [start, end] (an open side when None)."""
    day = customers.churned_day
    left = (day != CustomerArrays.NOT_CHURNED) & (day >= _day(start, np.iinfo(np.int64).min))
    return left & (day <= _day(end, CustomerArrays.NOT_CHURNED))


def churn_counts(in_view: np.ndarray, customers: CustomerArrays, start, end) -> tuple[int, int]:
    """(churned, in view): of the distinct customer codes ``in_view``, those who left within
    [start, end]."""
    return int(left_in_period(customers, start, end)[in_view].sum()), int(in_view.size)


DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class ChurnRates:
    """Annual churn of detractors and of everyone else with an answer: customers who left
    per customer-year as a customer within the data's dates (Poisson rates), and what
    being a detractor adds to it."""

    detractors_left: int
    detractor_years: float
    others_left: int
    other_years: float
    n: int  # detractors (latest answer on any date 0-6)
    n_others: int  # customers whose latest answer is 7-10

    @staticmethod
    def _rate(left: int, years: float) -> float | None:
        return left / years if years > 0 else None

    @property
    def detractor_rate(self) -> float | None:
        return self._rate(self.detractors_left, self.detractor_years)

    @property
    def other_rate(self) -> float | None:
        return self._rate(self.others_left, self.other_years)

    @property
    def attributable(self) -> float:
        """Detractors' annual churn − everyone else's, floored at 0 (0 when unknown)."""
        d, o = self.detractor_rate, self.other_rate
        return 0.0 if d is None or o is None else max(d - o, 0.0)

    @property
    def interval(self) -> tuple[float, float]:
        """95% interval of the attributable annual rate, from both rates' Poisson
        uncertainty (a count of 0 counts as 1 so that the interval never collapses),
        floored at 0."""
        d, o = self.detractor_rate, self.other_rate
        if d is None or o is None:
            return 0.0, 0.0
        var = (
            max(self.detractors_left, 1) / self.detractor_years**2
            + max(self.others_left, 1) / self.other_years**2
        )
        half = Z95 * math.sqrt(var)
        return max(d - o - half, 0.0), max(d - o + half, 0.0)


def _exposure_years(
    who: np.ndarray, customers: CustomerArrays, first: int, last: int
) -> tuple[int, float]:
    """(left, customer-years) of the customers ``who`` between days ``first`` and ``last``:
    each one counts from joining (or ``first``) to leaving (or ``last``)."""
    churned = customers.churned_day[who]
    begin = np.full(who.size, first, dtype=np.int64)
    if customers.joined_day is not None:
        begin = np.maximum(begin, customers.joined_day[who])
    left = (churned != CustomerArrays.NOT_CHURNED) & (churned >= first) & (churned <= last)
    stop = np.minimum(churned, last + 1)  # gone before ``first``: no exposure
    days = np.clip(stop - begin, 0, None)
    return int(left.sum()), float(days.sum()) / DAYS_PER_YEAR


def detractor_churn_rate(
    latest_all: np.ndarray,
    customers: CustomerArrays,
    keep: np.ndarray | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> ChurnRates:
    """Annual churn of detractors (customers whose latest answer on any date is 0-6;
    ``latest_all``, -1 for none) and of the other customers with an answer (7-10), over the
    data's dates [``start``, ``end``] (the whole data: ``Dataset.first_day``/``last_day``).
    ``keep`` restricts customers."""
    answered = latest_all >= 0
    if keep is not None:
        answered = answered & keep
    detractors = np.flatnonzero(answered & (latest_all <= 6))
    others = np.flatnonzero(answered & (latest_all > 6))
    done = customers.churned_day[customers.churned_day != CustomerArrays.NOT_CHURNED]
    if start is not None:
        first = day_number(start)
    elif customers.joined_day is not None and customers.joined_day.size:
        first = int(customers.joined_day.min())
    else:
        first = int(done.min(initial=0))
    last = day_number(end) if end is not None else int(done.max(initial=first))
    d_left, d_years = _exposure_years(detractors, customers, first, last)
    o_left, o_years = _exposure_years(others, customers, first, last)
    return ChurnRates(d_left, d_years, o_left, o_years, int(detractors.size), int(others.size))


def revenue_at_risk(
    who: np.ndarray, latest: np.ndarray, customers: CustomerArrays, rates: ChurnRates, end
) -> dict:
    """Σ annual revenue of still-active detractors × attributable annual churn (detractors'
    annual churn − everyone else's, floored at 0), with its 95% range.

    ``who``/``latest``: each customer's latest NPS answer in view (:func:`latest_answers`).
    Detractors answered 0-6 and had not left by ``end``; ``rates`` come from
    :func:`detractor_churn_rate`. Detractors whose revenue is unknown are left out of the
    sum and counted in ``unknown_revenue``. ``value``, ``low``, ``high`` and
    ``detractor_revenue`` are None when no customer's revenue is recorded; the value and the
    rates also when churn is not recorded.
    """
    detractors = who[latest <= 6]
    cutoff = _day(end, CustomerArrays.NOT_CHURNED - 1)  # without an end: never left
    active = detractors[customers.churned_day[detractors] > cutoff]
    amounts = customers.revenue[active]
    known = ~np.isnan(amounts)
    revenue = float(amounts[known].sum()) if customers.facts.revenue else None
    churn = customers.facts.churn
    lo, hi = rates.interval
    priced = revenue is not None and churn
    return {
        "value": revenue * rates.attributable if priced else None,
        "low": revenue * lo if priced else None,
        "high": revenue * hi if priced else None,
        "detractor_revenue": revenue,
        "churn_rate": rates.attributable if churn else None,
        "detractor_churn": rates.detractor_rate if churn else None,
        "other_churn": rates.other_rate if churn else None,
        "history_n": rates.n,
        "others_n": rates.n_others,
        "detractors": int(active.size),
        "unknown_revenue": int((~known).sum()) if customers.facts.revenue else int(active.size),
    }


#: Revenue at risk is stated as a range, not a point, when its 95% interval's half-width is
#: more than this share of the value.
RANGE_ABOVE = 0.25


def range_only(value: float, half: float) -> bool:
    """True when an interval of half-width ``half`` is too wide (or the value 0) for a
    point to be stated: a range is shown instead."""
    return value <= 0 or half > RANGE_ABOVE * value


def revenue_range_only(risk: dict) -> bool:
    """:func:`range_only` for a row of revenue at risk (value, low, high)."""
    if risk.get("value") is None or risk.get("low") is None:
        return False
    return range_only(risk["value"], (risk["high"] - risk["low"]) / 2)
