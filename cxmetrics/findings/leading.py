"""Leading indicators: contact-centre volume warns of falling NPS before surveys show it.

Per stage and full week: contacts, repeat contacts (the third or later by the same customer
within 30 days) and NPS. Whether contacts in week t foretell NPS in week t + lag is a
cross-correlation of two weekly series, and weekly series remember their past: a plain
correlation of two unrelated but smooth (or differenced) series is "significant" far more
often than its p-value says. So the test is built for autocorrelated series:

1. **Pre-whitening.** Each series (contacts, NPS) gets its own autoregression with a constant
   and a linear trend, ``x_t = a + b·t + φ_1 x_{t-1} + … + φ_p x_{t-p} + e_t``, its order
   p (0-3) chosen by AIC and fitted by least squares over the weeks where the series and
   its p previous weeks are known. The residuals e_t are what is left once each series'
   own memory and trend are taken out; slow trends moving together no longer count.
2. **Cross-correlation** r(lag) of the residuals, contacts in week t against NPS in week
   t + lag, lag 0-8 weeks (the chart shows all nine).
3. **Permutation test, maximum over lags.** Contacts can lead NPS by 1-8 weeks: the statistic
   is the largest |r(lag)| over those eight lags (with the contacts standardised over all
   their weeks, so that one product gives every lag of every reordering). Its null
   distribution comes from ``PERMUTATIONS`` random reorderings of the contacts residuals
   (which, once whitened, are exchangeable if contacts and NPS are unrelated), with the
   same eight lags recomputed on each; p = (1 + reorderings at least as extreme) /
   (1 + reorderings). Taking the maximum corrects for the eight lags exactly, with their
   dependence. The random generator is seeded from the data, so the same view always gives
   the same answer.
4. **Stages.** One such test per stage with at least ``MIN_WEEKS`` pairs of weeks: the stages
   of a view are one family, corrected by Benjamini-Hochberg (:func:`findings.decide`).

The 95% interval of r is Fisher's (atanh r ± 1.96 / √(n − 3)) on the whitened series, at
the lag found. A correlation needs many weeks, so this looks back up to ``HISTORY_WEEKS``
full weeks from the end of the chosen period, whatever its start. Contacts have no channel
in the data contract's sense of a survey channel, so the channel filter does not apply here.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from cxmetrics.contract.text import day_text
from cxmetrics.findings import findings
from cxmetrics.findings.findings import Finding
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import Z95

MAX_LAG_WEEKS = 8
LEAD_LAGS = tuple(range(1, MAX_LAG_WEEKS + 1))  # the lags at which contacts can lead NPS
HISTORY_WEEKS = 104
MIN_WEEKS = 26  # pairs of weeks a correlation needs before it is shown or tested
MAX_AR_ORDER = 3
PERMUTATIONS = 999
#: A test stops after its first FIRST_PERMUTATIONS reorderings when at least STOP_EXCEEDING
#: of them already reach the observed statistic: its p-value, (1 + those) / (1 + 99), is then
#: at least 0.11, above any p-value a finding can be kept with (a 5% false discovery rate)
FIRST_PERMUTATIONS = 99
STOP_EXCEEDING = 10


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
    # Sums per stage, week, segment and region, prepared once per data version: the view's
    # weeks, stages, segments and regions are a cut of them.
    cut = pl.col("week").is_between(span[0], span[1])
    if stage_ids is not None:
        cut &= pl.col("stage_id").cast(pl.String).is_in(stages)
    if f.segments:
        cut &= pl.col("segment").cast(pl.String).is_in(list(f.segments))
    if f.regions:
        cut &= pl.col("region").cast(pl.String).is_in(list(f.regions))
    weeks = pl.date_range(span[0], span[1], "1w", eager=True)
    order = sorted(stages)  # the frame comes sorted by stage id, then week
    where = {sid: i for i, sid in enumerate(order)}
    cells = len(order) * weeks.len()

    def summed(frame: pl.DataFrame, columns: tuple[str, ...]) -> list[np.ndarray]:
        """``columns`` of the rows in view summed per (stage, week) cell of the grid."""
        part = frame.filter(cut)
        stage = part["stage_id"]
        if isinstance(stage.dtype, pl.Enum):  # each code's row of the grid, looked up once
            lookup = np.array([where.get(c, -1) for c in stage.dtype.categories], np.int64)
            row = lookup[stage.to_physical().to_numpy()]
        else:
            row = np.array([where[s] for s in stage.cast(pl.String).to_list()], np.int64)
        col = (part["week"] - span[0]).dt.total_days().to_numpy() // 7
        cell = row * weeks.len() + col
        return [
            np.bincount(cell, part[c].to_numpy().astype(np.float64), cells).astype(np.int64)
            for c in columns
        ]

    n_contacts, n_repeat = summed(_contacts_by_week(ds, contacts), ("contacts", "repeat_contacts"))
    n_nps, promoters, detractors = summed(
        _answers_by_week(ds), ("n_nps", "promoters", "detractors")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n_contacts > 0, 100 * n_repeat / n_contacts, np.nan)
    nps = np.where(n_nps >= max(min_n, 1), m.nps_values(promoters, detractors, n_nps), np.nan)
    return pl.DataFrame(
        {
            "stage_id": np.repeat(order, weeks.len()).tolist(),
            "week": pl.concat([weeks] * len(order)) if order else weeks.clear(),
            "contacts": n_contacts,
            "repeat_contacts": n_repeat,
            "repeat_rate": pl.Series(rate, dtype=pl.Float64, nan_to_null=True),
            "n_nps": n_nps,
            "nps": pl.Series(nps, dtype=pl.Float64, nan_to_null=True),
        },
        schema=schema,
    )


def _contacts_by_week(ds: Dataset, contacts: pl.DataFrame) -> pl.DataFrame:
    """Contacts and repeat contacts per stage, week (Monday), segment and region of the
    customer; once per dataset and contacts frame (``Dataset.prepared``)."""

    def build() -> pl.DataFrame:
        codes = contacts["cust"]
        return (
            contacts.select(
                "stage_id",
                pl.col("contacted_on").dt.truncate("1w").alias("week"),
                "repeat_contact",
                ds.customers["segment"].gather(codes).alias("segment"),
                ds.customers["region"].gather(codes).alias("region"),
            )
            .group_by("stage_id", "week", "segment", "region")
            .agg(
                pl.len().cast(pl.Int64).alias("contacts"),
                pl.col("repeat_contact").sum().cast(pl.Int64).alias("repeat_contacts"),
            )
            .sort("week", "stage_id")
        )

    return ds.prepared("contacts_by_week", contacts, build)


def _answers_by_week(ds: Dataset) -> pl.DataFrame:
    """NPS answers, promoters and detractors per stage, week, segment and region; once per
    dataset (``Dataset.prepared``)."""
    return ds.prepared(
        "answers_by_week",
        None,
        lambda: m.sums(
            ds.stats,
            ["stage_id", "week", "segment", "region"],
            ("n_nps", "promoters", "detractors"),
        ).sort("week", "stage_id"),
    )


def prewhiten(series: np.ndarray, max_order: int = MAX_AR_ORDER) -> np.ndarray:
    """Residuals of the autoregression with constant and linear trend whose order (0 to
    ``max_order``) has the smallest AIC; NaN where the week or one of its p previous weeks
    is unknown (NaN marks an unknown week). All NaN when too few weeks to fit."""
    y = np.asarray(series, dtype=float)
    size = y.size
    out = np.full(size, np.nan)

    def design(p: int, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.arange(first, size)
        cols = [np.ones(t.size), t / max(size, 1)] + [y[t - k] for k in range(1, p + 1)]
        x = np.column_stack(cols)
        known = ~np.isnan(y[t]) & ~np.isnan(x).any(axis=1)
        return t[known], x[known], y[t[known]]

    def fit(t, x, target):
        coef, *_ = np.linalg.lstsq(x, target, rcond=None)
        return coef, target - x @ coef

    # Order by AIC on the weeks every candidate order can use.
    best, best_aic = 0, math.inf
    for p in range(max_order + 1):
        t, x, target = design(p, max_order)
        if t.size <= x.shape[1] + 2:
            continue
        _, resid = fit(t, x, target)
        rss = float(resid @ resid)
        aic = t.size * math.log(max(rss, 1e-12) / t.size) + 2 * x.shape[1]
        if aic < best_aic - 1e-9:
            best, best_aic = p, aic
    t, x, target = design(best, best)
    if t.size <= x.shape[1] + 2:
        return out
    _, resid = fit(t, x, target)
    out[t] = resid
    return out


def pairs_at(x: np.ndarray, y: np.ndarray, lag: int) -> np.ndarray:
    """Indices t where x[t] and y[t + lag] are both known."""
    t = np.arange(x.size - lag)
    return t[~np.isnan(x[t]) & ~np.isnan(y[t + lag])]


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def lagged_correlations(
    contacts: np.ndarray, nps: np.ndarray, max_lag: int = MAX_LAG_WEEKS
) -> list[tuple[int, float | None, int]]:
    """(lag, r, pairs) for lag 0..max_lag: r between contacts in week t and NPS in week
    t + lag, over the weeks where both are known (NaN marks an unknown week); r is None
    below ``MIN_WEEKS`` pairs."""
    out = []
    for lag in range(max_lag + 1):
        t = pairs_at(contacts, nps, lag)
        r = pearson(contacts[t], nps[t + lag]) if t.size >= MIN_WEEKS else None
        out.append((lag, r, int(t.size)))
    return out


def _seed(*arrays: np.ndarray) -> int:
    """A seed that depends only on the data: the same view gets the same permutations."""
    crc = 0
    for a in arrays:
        missing = np.isnan(a)
        crc = zlib.crc32(missing.tobytes(), crc)
        crc = zlib.crc32(np.where(missing, 0.0, np.round(a, 9)).tobytes(), crc)
    return crc


def max_lag_test(
    contacts: np.ndarray,
    nps: np.ndarray,
    lags: tuple[int, ...] = LEAD_LAGS,
    permutations: int = PERMUTATIONS,
) -> tuple[int, float, int, float] | None:
    """On two already whitened series: (lag, r, pairs, p) of the strongest |r| over ``lags``
    and its permutation p-value (contacts residuals reordered, maximum over the lags taken
    on every reordering). None when a lag has fewer than ``MIN_WEEKS`` pairs or a series
    is constant.

    Two stages: the first :data:`FIRST_PERMUTATIONS` reorderings, and the rest only when
    fewer than :data:`STOP_EXCEEDING` of those reached the observed statistic (else p is
    theirs, at least 0.11). The reorderings are the same as drawn at once, so for any level
    below 0.11 the test rejects exactly when the test of all ``permutations`` does: it keeps
    its level, and most stages without a lead cost a tenth of the work."""
    x, y = np.asarray(contacts, dtype=float), np.asarray(nps, dtype=float)
    known = np.flatnonzero(~np.isnan(x))
    index = [pairs_at(x, y, lag) for lag in lags]
    if any(t.size < MIN_WEEKS for t in index) or np.nanstd(x) == 0 or np.nanstd(y) == 0:
        return None
    # The statistic per lag: sum over the paired weeks t of z(contacts)_t × NPS_{t + lag}
    # centred over those pairs, divided by √(pairs · Σ centred²), where z standardises the
    # contacts over all their known weeks. It is Pearson's r but for the contacts' mean and
    # spread being taken over all weeks instead of the paired ones (the same in the usual
    # case of no missing week), so every lag of every reordering is one product.
    z = (x[known] - x[known].mean()) / x[known].std()
    weights = np.zeros((known.size, len(lags)))
    position = np.full(x.size, -1)
    position[known] = np.arange(known.size)
    for j, (lag, t) in enumerate(zip(lags, index, strict=True)):
        c = y[t + lag] - y[t + lag].mean()
        weights[position[t], j] = c / math.sqrt(t.size * float(c @ c))
    # einsum's own loops, not BLAS: a threaded BLAS is slower on a product this small.
    observed = np.einsum("bk,kl->bl", z[np.newaxis], weights)[0]
    j = int(np.argmax(np.abs(observed)))  # the first (shortest) lag on a tie
    bound = abs(observed[j]) - 1e-12
    rng = np.random.default_rng(_seed(x, y))

    def exceeding(count: int) -> int:
        """Of ``count`` more reorderings, how many reach the observed statistic."""
        shuffled = rng.permuted(np.broadcast_to(z, (count, known.size)), axis=1)
        stats = np.einsum("bk,kl->bl", shuffled, weights)
        return int((np.abs(stats).max(axis=1) >= bound).sum())

    first = min(FIRST_PERMUTATIONS, permutations)
    exceed = exceeding(first)
    if exceed >= STOP_EXCEEDING or first == permutations:
        p = (1 + exceed) / (1 + first)
    else:
        p = (1 + exceed + exceeding(permutations - first)) / (1 + permutations)
    t = index[j]
    r = pearson(x[t], y[t + lags[j]])
    if r is None:
        return None
    return lags[j], r, int(t.size), p


def fisher_interval(r: float, n: int, z: float = Z95) -> tuple[float, float] | None:
    """95% interval of a correlation: tanh(atanh r ± z / √(n − 3))."""
    if n <= 3:
        return None
    centre = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    half = z / math.sqrt(n - 3)
    return math.tanh(centre - half), math.tanh(centre + half)


@dataclass(frozen=True)
class Signal:
    stage_id: str
    correlations: list[tuple[int, float | None, int]]  # whitened, lags 0-8
    best_lag: int | None  # of 1-8 weeks, the lag with the strongest correlation, either sign
    best_r: float | None
    pairs: int
    p: float | None = None  # permutation p-value, maximum over lags 1-8
    q: float | None = None  # Benjamini-Hochberg over the stages tested in the view
    kept: bool = False  # a finding: q within the false discovery rate
    #: the last day of the last week tested: a lead is a pattern of the weeks up to it,
    #: which a one-day view still states (None: not known)
    until: dt.date | None = None

    @property
    def significant(self) -> bool:
        return self.kept

    @property
    def leads(self) -> bool:
        """Contacts rise before NPS falls: a kept finding with a negative r."""
        return bool(self.kept and self.best_r is not None and self.best_r < 0)


def signal(
    stage_id: str, contacts: np.ndarray, nps: np.ndarray, correlations: bool = True
) -> Signal:
    """One stage's whitened correlations and its test (not yet judged with the others).
    Without ``correlations`` (the findings read the test only) the chart's correlations at
    every lag are left empty."""
    ex = prewhiten(np.asarray(contacts, dtype=float))
    ey = prewhiten(np.asarray(nps, dtype=float))
    corr = lagged_correlations(ex, ey) if correlations else []
    test = max_lag_test(ex, ey)
    if test is None:
        return Signal(stage_id, corr, None, None, 0)
    lag, r, pairs, p = test
    return Signal(stage_id, corr, lag, r, pairs, p)


def signals(per_week: pl.DataFrame, correlations: bool = True) -> list[Signal]:
    """One signal per stage of :func:`weekly`, tested but not yet judged (see :func:`judge`);
    ``correlations``: as :func:`signal`."""
    stages = np.asarray(per_week["stage_id"].cast(pl.String).to_list(), dtype=object)
    weeks = per_week["week"].to_numpy()
    contacts = per_week["contacts"].to_numpy().astype(np.float64)
    nps = per_week["nps"].cast(pl.Float64).to_numpy()  # NaN where null
    # every stage has the same grid of weeks (:func:`weekly`): the last one's Sunday
    last = per_week["week"].max()
    until = last + dt.timedelta(days=6) if last is not None else None
    out = []
    for stage in dict.fromkeys(stages.tolist()):  # in the order the stages come
        rows = np.flatnonzero(stages == stage)
        rows = rows[np.argsort(weeks[rows], kind="stable")]
        tested = signal(str(stage), contacts[rows], nps[rows], correlations)
        out.append(replace(tested, until=until))
    return out


def _minus(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}".replace("-", "\u2212")


def _weeks(k: int) -> str:
    return "1 week" if k == 1 else f"{k} weeks"


def sentence(s: Signal, stage_name: str) -> str:
    if s.best_r is not None and s.best_r < 0:
        what = f"contacts lead NPS by {_weeks(s.best_lag)}"
    else:
        what = f"more contacts come before a higher NPS {_weeks(s.best_lag)} later"
    # the span it holds over, which can be far longer than the view it is found in
    span = f"the {s.pairs} weeks to {day_text(s.until)}" if s.until else f"{s.pairs} weeks"
    return f"{stage_name}: {what} (r = {_minus(s.best_r)} over {span})"


def findings_of(tested: list[Signal], journey) -> list[Finding]:
    """One candidate per stage tested: the family of lead tests of a view."""
    return [
        Finding(
            "lead",
            sentence(s, journey.stage_name(s.stage_id)),
            s.best_r,
            fisher_interval(s.best_r, s.pairs),
            s.pairs,
            s.p,
            stages=(s.stage_id,),
            unit="r",
            family="lead",
        )
        for s in tested
        if s.p is not None
    ]


def judge(tested: list[Signal], journey) -> list[Signal]:
    """The signals with their q-value over the stages tested, and whether each is kept."""
    adjusted = {f.stages[0]: f for f in findings.adjust(findings_of(tested, journey))}
    out = []
    for s in tested:
        f = adjusted.get(s.stage_id)
        if f is None:
            out.append(s)
        else:
            out.append(replace(s, q=f.q, kept=f.significant))
    return out


def candidates(ds: Dataset, contacts: pl.DataFrame, f: Filters) -> list[Finding]:
    """The view's family of lead tests, unadjusted (p set, q None): one per stage in view
    with at least ``MIN_WEEKS`` pairs of weeks. ``contacts`` from
    :func:`dataset.load_contacts`."""
    # The test reads the weekly series only: the stages, segments and regions in view and the
    # weeks up to the view's end. Views that share them (another start date, another channel)
    # share one test, kept by the dataset as a result of a view (``Dataset.view``).
    end = f.end or ds.last_day
    reads = (id(contacts), ds.stage_ids(f), f.segments, f.regions, window(ds.first_day, end))
    held, found = ds.view(
        "lead_candidates",
        reads,
        lambda: (contacts, findings_of(signals(weekly(ds, contacts, f), False), ds.journey)),
    )
    if held is not contacts:  # another contacts frame now has that id
        return findings_of(signals(weekly(ds, contacts, f), False), ds.journey)
    return list(found)


def family_caption(tested: int) -> str:
    """What was tested and how it was corrected, for the page and the briefing."""
    if tested == 0:
        return (
            f"No stage has {MIN_WEEKS}+ pairs of weeks with enough NPS answers: nothing was tested."
        )
    stages = "1 stage" if tested == 1 else f"{tested} stages"
    return (
        f"Tested per stage ({stages}): each weekly series is pre-whitened (its own "
        "autoregression and trend taken out), then the strongest correlation over lags of "
        f"1-{MAX_LAG_WEEKS} weeks is compared with {PERMUTATIONS:,} random reorderings of the "
        "contacts (which corrects for the lags tried); a lead is stated only where the false "
        "discovery rate over the stages (Benjamini-Hochberg) stays at "
        f"{findings.FDR:.0%}, and with at least {MIN_WEEKS} weeks."
    )


def describe(s: Signal, stage_name: str) -> str:
    """What the test says about one stage, kept or not."""
    if s.best_r is None:
        return (
            f"{stage_name}: too few weeks ({MIN_WEEKS} needed) with {m.MIN_N}+ NPS answers "
            "for a test."
        )
    verdict = (f"p = {s.p:.3f}, q = {s.q:.3f}" if s.q is not None else f"p = {s.p:.3f}") + (
        ": a finding" if s.kept else ": not a finding"
    )
    if s.leads:
        return (
            f"**{stage_name}:** contacts lead NPS by **{_weeks(s.best_lag)}** "
            f"(r = {_minus(s.best_r)} over {s.pairs} weeks, {verdict}): when contacts rise, "
            "NPS falls later."
        )
    return (
        f"{stage_name}: the strongest link at 1-{MAX_LAG_WEEKS} weeks is "
        f"{_weeks(s.best_lag)} later (r = {_minus(s.best_r)} over {s.pairs} weeks, {verdict})."
    )


def table(signals: list[Signal], journey) -> pl.DataFrame:
    """One row per stage: the lag with the strongest link, r, weeks, p, q and whether
    contacts lead NPS there (a kept finding with a negative r)."""
    return pl.DataFrame(
        {
            "stage": [journey.stage_name(s.stage_id) for s in signals],
            "best_lag": [s.best_lag for s in signals],
            "r": [s.best_r for s in signals],
            "weeks": [s.pairs for s in signals],
            "p": [s.p for s in signals],
            "q": [s.q for s in signals],
            "significant": [s.significant for s in signals],
            "leads": [s.leads for s in signals],
        },
        schema={
            "stage": pl.String,
            "best_lag": pl.Int64,
            "r": pl.Float64,
            "weeks": pl.Int64,
            "p": pl.Float64,
            "q": pl.Float64,
            "significant": pl.Boolean,
            "leads": pl.Boolean,
        },
    )
