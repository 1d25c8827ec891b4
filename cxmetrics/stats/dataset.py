"""The data a dashboard session slices: loaded once per data version, then filtered in memory.

``Dataset`` holds the journey, customers, responses (without comment text) and the daily
additive statistics per touchpoint × channel × segment × region built from them. Filters
slice these frames; no per-widget query reaches the database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import memory, periods, schema, store
from cxmetrics.contract import settings as company
from cxmetrics.contract.journey import Journey
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.stats import aggregates, answers, load_cache
from cxmetrics.stats.aggregates import InDatabase
from cxmetrics.stats.contacts import flag_repeat_contacts
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import design_effects
from cxmetrics.stats.memo import Memo
from cxmetrics.stats.metrics import (
    STAT_COLUMNS,
    ChurnRates,
    CustomerArrays,
    Facts,
    detractor_churn_rate,
    response_stats,
    sums,
)

Progress = Callable[[float, str], None]

#: Periods whose customer-level answers a dataset keeps at once
ANSWER_PERIODS = 16
#: Memory the customer-level answers of the periods kept may take together (bytes, as
#: Polars estimates them): the period used longest ago leaves first, before a new period's
#: answers are computed, and is computed again when asked for; a period larger than this
#: alone is kept alone, but for its partner (:func:`partners`). ``CX_ANSWERS_MB`` sets it.
ANSWER_BYTES = 24 * 2**20
_ANSWERS_LOCK = threading.Lock()
#: Intermediate results of views (an overview, a view's customers) a dataset keeps at once
VIEW_ENTRIES = 48

STAT_DIMENSIONS = ["responded_on", "touchpoint_id", "stage_id", "channel", "segment", "region"]
_INT16 = (-(2**15), 2**15 - 1)


class EmptyDataError(store.StoreError):
    """The database has the tables but no responses to show."""


@dataclass(frozen=True)
class Dataset:
    journey: Journey
    customers: pl.DataFrame  # sorted by customer_id; row i is customer code i
    #: sorted by responded_on; with cust (code), stage, segment, region. None when the
    #: dataset holds only aggregates and the database answers the rest (``database``)
    responses: pl.DataFrame | None
    stats: pl.DataFrame  # daily additive statistics by STAT_DIMENSIONS
    customer_arrays: CustomerArrays
    latest_nps: np.ndarray  # each customer's latest NPS answer on any date; -1 for none
    scope: tuple[str, ...] | None = None  # a manager's departments; None: the whole company
    #: Design effect of repeated answers by one customer, per metric (inference.design_effects)
    design_effect: dict = field(default_factory=dict)
    settings: company.Settings = company.Settings()
    #: each period's customer-level answers by (start, end), as :meth:`answers` keeps them
    _answers: dict = field(default_factory=dict, compare=False, repr=False)
    #: the queries the database answers when the responses are not held
    database: InDatabase | None = None
    sources: tuple[str, ...] = ()  # where the responses come from (survey, complaint…)
    #: preparations per data version and loaded frame (:meth:`prepared`)
    _prepared: Memo = field(
        default_factory=lambda: Memo(16, ttl_seconds=float("inf")),
        init=False,
        compare=False,
        repr=False,
    )
    #: per-view results computed once and read by several parts of a page (:meth:`view`);
    #: a dataset made from this one (``scoped``, ``dataclasses.replace``) starts empty
    _views: Memo = field(
        default_factory=lambda: Memo(VIEW_ENTRIES, ttl_seconds=float("inf")),
        init=False,
        compare=False,
        repr=False,
    )

    #: churn rates of detractors per segments and regions (:meth:`detractor_rates`)
    _rates: Memo = field(
        default_factory=lambda: Memo(16, ttl_seconds=float("inf")),
        init=False,
        compare=False,
        repr=False,
    )

    #: results that depend on a period's customer-level answers alone (:meth:`of_period`),
    #: kept and dropped with that period's answers: (what, start, end) -> (answers, result)
    _period_parts: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def view(self, what: str, key, compute: Callable[[], object]):
        """``compute()``, run once for this dataset and ``(what, key)`` while it is among the
        :data:`VIEW_ENTRIES` latest asked for. Sessions share a dataset, so the key must hold
        everything the result depends on besides the dataset (usually the filters), and the
        result is read-only. Thread-safe: a second caller of a key being computed waits."""
        return self._views.get((what, key), compute)

    def prepared(self, what: str, source: object, compute: Callable[[], object]):
        """``compute()``, run once for this dataset and ``source`` (a frame loaded with it,
        such as the contacts; None for the dataset alone): a preparation that depends on
        the data version, not on a view (:meth:`forget_views` keeps it). Read-only."""
        key = ("prepared", what, id(source))
        held, value = self._prepared.get(key, lambda: (source, compute()))
        if held is not source:  # another frame now has that id: prepare this one
            return compute()
        return value

    def forget_views(self) -> None:
        """Drop every result :meth:`view` keeps (a benchmark measuring a view cold)."""
        self._views.clear()

    @property
    def facts(self) -> Facts:
        """Which optional customer facts (revenue, cost, influence, churn) are recorded."""
        return self.customer_arrays.facts

    def unmeasured(self, key: str) -> str | None:
        """What to import to see the score ``key`` (nps, csat, ces) where no response of
        this dataset, on any date, holds an answer for it; None where one does: a score never
        asked is not measured, where one with no answers in a view has no data there."""
        counts = self.prepared(
            "answers per score",
            None,
            lambda: self.stats.select(pl.col("^n_.*$").sum()).row(0, named=True),
        )
        if counts.get(f"n_{key}", 1):
            return None
        return (
            f"{METRICS[key].short} is not measured: no response holds a {key} answer. Import "
            f"responses with a {key} column to see it."
        )

    def unmeasured_scores(self) -> tuple[str, ...]:
        """The scores (of nps, csat, ces) :meth:`unmeasured`: never answered on any date."""
        return tuple(k for k in ("nps", "csat", "ces") if self.unmeasured(k))

    def default_period(self, min_n: int = MIN_N) -> tuple[str, str]:
        """The period preset a view opens on and why (:func:`periods.default_preset`): the
        company's setting, else the shortest preset with ``min_n`` NPS answers in view of
        this dataset (a manager's dataset counts their stages); where NPS is not measured,
        answers of the first score that is, else responses."""
        measured = [k for k in ("nps", "csat", "ces") if k not in self.unmeasured_scores()]
        column, what = (
            (f"n_{measured[0]}", f"{METRICS[measured[0]].short} answers")
            if measured
            else ("responses", "responses")
        )
        return periods.default_preset(
            self.first_day,
            self.last_day,
            lambda start, end: self._total(column, start, end),
            min_n,
            self.settings.default_period,
            what,
        )

    def money(self, value: float | None) -> str:
        """An amount in the company's currency."""
        return self.settings.money(value)

    @property
    def first_day(self) -> dt.date:
        return self.stats["responded_on"].min()

    @property
    def last_day(self) -> dt.date:
        return self.stats["responded_on"].max()

    @property
    def n_responses(self) -> int:
        return int(self.stats["responses"].sum())

    def options(self, column: str) -> list[str]:
        """Values a filter can take, sorted. A manager's dataset offers only the segments
        and regions of customers who answered at the stages in scope."""
        if column == "source":
            return list(self.sources)
        by_customer = column in ("segment", "region") and self.scope is None
        source = self.customers if by_customer else self.stats
        return sorted(source[column].cast(pl.String).unique().drop_nulls().to_list())

    def customer_mask(self, f: Filters) -> np.ndarray | None:
        """Customers in the chosen segments and regions (None: every customer)."""
        if not f.segments and not f.regions:
            return None
        return self.view("customer_mask", (f.segments, f.regions), lambda: self._mask(f))

    def _mask(self, f: Filters) -> np.ndarray:
        cond = pl.lit(True)
        if f.segments:
            cond &= pl.col("segment").is_in(list(f.segments))
        if f.regions:
            cond &= pl.col("region").is_in(list(f.regions))
        return self.customers.select(cond.alias("keep"))["keep"].to_numpy()

    def stage_ids(self, f: Filters) -> tuple[str, ...] | None:
        """Stages in view (None: every stage). A scoped dataset never answers None and
        never names a stage outside its scope, whatever the filters ask for."""
        chosen = f.effective_stages(self.journey.stages_of_departments)
        if self.scope is None:
            return chosen
        return tuple(s for s in self.journey.stage_order if chosen is None or s in chosen)

    def scoped(self, department_ids: tuple[str, ...]) -> Dataset:
        """The data a manager of these departments may see: statistics and answers of the
        stages they affect, and the journey cut to those stages and departments
        (:meth:`Journey.scoped`). Each customer's latest answer on any stage is kept: it
        only gives the annual churn of detractors and of everyone else, figures of the
        customer base that a manager's revenue at risk shares with an executive's view of
        the same departments (one number for one view)."""
        journey = self.journey.scoped(tuple(department_ids))
        keep = pl.col("stage_id").is_in(journey.stage_order)
        return Dataset(
            journey,
            self.customers,
            None if self.responses is None else self.responses.filter(keep),
            self.stats.filter(keep),
            self.customer_arrays,
            self.latest_nps,
            tuple(department_ids),
            self.design_effect,
            self.settings,
            {},
            None if self.database is None else self.database.scoped(journey.stage_order),
            self.sources,
        )

    def slice_stats(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        """The statistics in view; a cut beyond the dates is made once per view (:meth:`view`),
        as every part of a page reads it."""
        stage_ids = self.stage_ids(f)
        if stage_ids is None and not (f.channels or f.segments or f.regions):
            return _slice(self.stats, f, stage_ids, with_dates)[0]  # a slice: no copy
        dates = (f.start, f.end) if with_dates else (None, None)
        return self.view(
            "slice_stats",
            (*dates, stage_ids, f.channels, f.segments, f.regions),
            lambda: _slice(self.stats, f, stage_ids, with_dates)[0],
        )

    def cell_sums(self, f: Filters, unit: str | None = None) -> pl.DataFrame:
        """The statistics in view summed per stage, touchpoint and channel (and ``unit``:
        week, month or quarter, when given): :data:`CELL_KEYS` (+ ``unit``) and every
        statistic as Int64, a row per group with statistics in view, as :func:`metrics.sums`
        of :meth:`slice_stats` gives them. Without a segment or region filter it is read
        from the running totals per day prepared once per data version
        (:class:`DailySums`); with one, summed from the rows in view once per view."""
        stage_ids = self.stage_ids(f)
        if not (f.segments or f.regions):
            daily = self.prepared("daily_sums", None, lambda: DailySums.of(self.stats))
            if daily is not None:
                return self.view(
                    "cell_sums",
                    (f.start, f.end, stage_ids, f.channels, unit),
                    lambda: daily.sums(f.start, f.end, stage_ids, f.channels, unit),
                )
        by = [*CELL_KEYS, unit] if unit else list(CELL_KEYS)
        return self.view(
            "cell_sums",
            (f.start, f.end, stage_ids, f.channels, f.segments, f.regions, unit),
            lambda: sums(self.slice_stats(f), by, STAT_COLUMNS),
        )

    def slice_responses(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        """The response rows in view (a dataset that holds them: tests and scripts)."""
        if self.responses is None:
            raise ValueError("this dataset holds aggregates only; its rows stay in the database")
        return _slice(self.responses, f, self.stage_ids(f), with_dates)[0]

    def complaints(self, f: Filters) -> pl.DataFrame:
        """Complaint responses in view: response_id, stage_id, touchpoint_id, responded_on."""
        if self.database is not None:
            return self.database.complaints(f, self.stage_ids(f))
        return (
            self.slice_responses(f)
            .filter(pl.col("source") == "complaint")
            .select("response_id", "stage_id", "touchpoint_id", "responded_on")
        )

    def case_sources(self) -> pl.DataFrame:
        """The source of each response (response_id, source) a case may point at."""
        if self.database is not None:
            return self.database.case_sources()
        return self.responses.select("response_id", "source")

    def detractor_rates(self, f: Filters) -> ChurnRates:
        """Annual churn of detractors and of everyone else among the customers of the
        view's segments and regions, over all the data's dates
        (:func:`metrics.detractor_churn_rate`); once per data version, segments and regions,
        kept apart from the views (a view of another period or stage reads the same rates;
        at 12M customers they take 0.7 s) and from :meth:`prepared` (a choice of segments
        each would push out what every view reads)."""
        return self._rates.get(
            (f.segments, f.regions),
            lambda: detractor_churn_rate(
                self.latest_nps,
                self.customer_arrays,
                self.customer_mask(f),
                self.first_day,
                self.last_day,
            ),
        )

    def answers(self, start: dt.date | None, end: dt.date | None) -> pl.DataFrame:
        """Each customer's answers in [start, end] per stage and channel
        (:mod:`cxmetrics.stats.answers`), kept per period once computed, as many periods as
        :data:`ANSWER_PERIODS` and :func:`answer_bytes` allow (the oldest leaves first)."""
        key = (start, end)
        with _ANSWERS_LOCK:  # the last used goes to the end: the first leaves first
            frame = self._answers.pop(key, None)
            if frame is not None:
                self._answers[key] = frame
        if frame is None:
            responses = self._total("responses", start, end)
            spare = partners(start, end)
            self._let_go(self._bytes_per_response() * responses, spare)  # room first
            if self.database is not None:
                frame = self.database.answers(start, end, responses)
            else:
                frame = answers.from_rows(date_slice(self.responses, "responded_on", start, end))
            self._let_go(frame.estimated_size(), spare)
            with _ANSWERS_LOCK:  # sessions share a dataset
                self._answers[key] = frame
            memory.give_back()  # what making them freed
        return frame

    def _total(self, statistic: str, start: dt.date | None, end: dt.date | None) -> int:
        """A statistic summed over the days [start, end]."""
        return int(date_slice(self.stats, "responded_on", start, end)[statistic].sum())

    def _bytes_per_response(self) -> float:
        """What the answers held take per response of their periods (0 with none held)."""
        held = list(self._answers.items())
        responses = sum(self._total("responses", *key) for key, _ in held)
        return sum(f.estimated_size() for _, f in held) / responses if responses else 0.0

    def _let_go(self, coming: float, spare: tuple = ()) -> None:
        """Drop the answers of the periods used longest ago (and what was computed of them)
        until one more period, of ``coming`` bytes, fits :data:`ANSWER_PERIODS` and
        :func:`answer_bytes`; the periods in ``spare`` (the new one's partners) stay, unless
        the count of periods is at its limit."""
        budget = answer_bytes()
        with _ANSWERS_LOCK:
            while self._answers:
                full = len(self._answers) >= ANSWER_PERIODS
                over = sum(f.estimated_size() for f in self._answers.values()) + coming > budget
                others = [k for k in self._answers if k not in spare]
                if full:
                    gone = (others or list(self._answers))[0]
                elif over and others:
                    gone = others[0]
                else:
                    break
                self._answers.pop(gone)
                for part in [k for k in self._period_parts if k[1:] == gone]:
                    del self._period_parts[part]

    def of_period(self, what: str, start, end, compute: Callable[[pl.DataFrame], object]):
        """``compute(answers)`` of the period's customer-level answers (:meth:`answers`), run
        once per period while those answers are kept: work every view of the period shares,
        whatever its stages, channels, segments and regions (:meth:`forget_views` keeps it,
        as it keeps the answers). Read-only."""
        frame = self.answers(start, end)
        held = self._period_parts.get((what, start, end))
        if held is not None and held[0] is frame:
            return held[1]
        value = compute(frame)
        with _ANSWERS_LOCK:
            # what belongs to answers no longer kept (another dataset made from this one shares
            # them and may have dropped them) leaves with them
            for key in [
                k for k, v in self._period_parts.items() if self._answers.get(k[1:]) is not v[0]
            ]:
                del self._period_parts[key]
            if self._answers.get((start, end)) is frame:
                self._period_parts[(what, start, end)] = (frame, value)
        return value

    def _whole_period(self, f: Filters) -> bool:
        """Whether the view's answers are whole customers' answers of its period: no stage
        or channel cut (segments and regions keep or drop a customer as a whole)."""
        return self.stage_ids(f) is None and not f.channels

    def answers_in_view(self, f: Filters) -> pl.DataFrame:
        """:meth:`answers` of the view's period, cut to its stages, channels, segments and
        regions; once per view (:meth:`view`), as every part of a page reads it."""
        return self.view(
            "answers_in_view",
            self._answers_key(f),
            lambda: answers.in_view(
                self.answers(f.start, f.end), self.stage_ids(f), f.channels, self.customer_mask(f)
            ),
        )

    def _answers_key(self, f: Filters) -> tuple:
        """What :meth:`answers_in_view` reads of the filters."""
        return (f.start, f.end, self.stage_ids(f), f.channels, f.segments, f.regions)

    def customers_in(self, f: Filters) -> np.ndarray:
        """The distinct customer codes with an answer in view, ascending; once per view."""

        def compute():
            if not self._whole_period(f):
                return answers.customers(self.answers_in_view(f))
            everyone = self.of_period(  # held as int32: half the memory
                "customers", f.start, f.end, lambda frame: answers.customers(frame).astype(np.int32)
            )
            return everyone[self.kept(f, everyone)].astype(np.int64)

        return self.view("customers_in", self._answers_key(f), compute)

    def kept(self, f: Filters, codes: np.ndarray) -> slice | np.ndarray:
        """Which of these customer codes the view's segments and regions keep: an index
        (every one without such a filter)."""
        mask = self.customer_mask(f)
        if mask is None:
            return slice(None)
        kept = mask[codes]
        return kept if kept.dtype == bool else (kept == True)  # noqa: E712 (None: not kept)

    def latest_answers(self, f: Filters, score: str = "nps") -> tuple[np.ndarray, np.ndarray]:
        """Each customer's latest ``score`` answer in view: (customer codes ascending, their
        answers); once per view and score."""

        def latest(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
            last = answers.latest(frame, score)
            return last["cust"].to_numpy(), last[score].to_numpy()

        def compute():
            if not self._whole_period(f):
                return latest(self.answers_in_view(f))
            who, values = self.of_period(f"latest_{score}", f.start, f.end, latest)
            keep = self.kept(f, who)
            return who[keep], values[keep]

        return self.view("latest_answers", (*self._answers_key(f), score), compute)

    def customer_view(self, f: Filters, *, latest: bool = True) -> CustomerView:
        """The customers in view and each one's latest NPS answer in view (left empty with
        ``latest=False``); computed once per view (:meth:`view`)."""
        in_view = self.customers_in(f)
        if not latest:  # only the customers in view were asked for
            return CustomerView(in_view, in_view[:0], np.zeros(0, np.int8))
        return CustomerView(in_view, *self.latest_answers(f, "nps"))


def partners(start: dt.date | None, end: dt.date | None) -> tuple:
    """The periods of the same length just before and just after [start, end]: a view reads
    its own period's answers and the one before it (its changes), so each keeps the other,
    whatever the memory it takes (with the one alone, at 10M responses each evicted the
    other, and every filter change within a period read both again: 6 s a click on DuckDB).
    None for a period without both dates (all data has no period before it)."""
    before = Filters(start, end).previous_period()
    if before is None:
        return ()
    return ((before.start, before.end), (end + dt.timedelta(days=1), end + (end - before.end)))


def answer_bytes() -> int:
    """:data:`ANSWER_BYTES`, or ``CX_ANSWERS_MB`` megabytes when set."""
    chosen = os.environ.get("CX_ANSWERS_MB", "").strip()
    if not chosen:
        return ANSWER_BYTES
    try:
        megabytes = float(chosen)
    except ValueError:
        megabytes = -1.0
    if megabytes < 0:
        raise store.StoreError(f"CX_ANSWERS_MB={chosen!r} is not a number of megabytes (0 or more)")
    return int(megabytes * 2**20)


def date_slice(frame: pl.DataFrame, date_col: str, start, end) -> pl.DataFrame:
    """Rows of a frame sorted by ``date_col`` within [start, end], by binary search."""
    dates = frame[date_col]
    lo = 0 if start is None else int(dates.search_sorted(start, side="left"))
    hi = frame.height if end is None else int(dates.search_sorted(end, side="right"))
    return frame.slice(lo, max(hi - lo, 0))


@dataclass(frozen=True)
class CustomerView:
    in_view: np.ndarray  # distinct customer codes, ascending
    latest_who: np.ndarray  # customer codes with an NPS answer in view
    latest_nps: np.ndarray  # their latest answer in view


#: The cells :meth:`Dataset.cell_sums` sums the statistics in (the stage follows from the
#: touchpoint).
CELL_KEYS = ("stage_id", "touchpoint_id", "channel")
#: Running totals are kept up to this many integers (days × cells × statistics, 8 bytes
#: each); a larger journey or span sums the rows in view instead (once per view).
DAILY_SUMS_MAX = 4_000_000


@dataclass(frozen=True)
class DailySums:
    """Running totals of the statistics per (stage, touchpoint, channel) cell over the data's
    days, every segment and region together: the sums of any range of days are one
    difference, whatever the range (:meth:`sums`). Integer sums, so exactly those of the
    rows. Size: (days + 1) × cells × (statistics + 1) integers."""

    first: dt.date
    keys: pl.DataFrame  # one row per cell: CELL_KEYS with the statistics' dtypes
    stages: np.ndarray  # each cell's stage id (str)
    channels: np.ndarray  # each cell's channel (str)
    running: np.ndarray  # (days + 1, cells, statistics + rows): totals of the days before
    buckets: dict[str, np.ndarray]  # unit -> each day's bucket (its first day, as a Date's days)

    @classmethod
    def of(cls, stats: pl.DataFrame) -> DailySums | None:
        """From the statistics frame (sorted by date); None when a cell key or a statistic
        is missing, or when the totals would exceed :data:`DAILY_SUMS_MAX` integers."""
        columns = (*CELL_KEYS, *STAT_COLUMNS)
        if stats.height == 0 or any(stats[c].null_count() for c in columns):
            return None
        if not all(isinstance(stats[c].dtype, pl.Enum | pl.Categorical) for c in CELL_KEYS):
            return None  # keys without integer codes: the rows in view are summed instead
        first, last = stats["responded_on"].min(), stats["responded_on"].max()
        days = (last - first).days + 1
        codes = stats.select(CELL_KEYS)
        combined = np.zeros(stats.height, dtype=np.int64)
        for c in CELL_KEYS:  # one integer per distinct (stage, touchpoint, channel)
            part = codes[c].to_physical().cast(pl.Int64).to_numpy()
            combined = combined * (int(part.max()) + 1) + part
        _, first_row, cell = np.unique(combined, return_index=True, return_inverse=True)
        cells = first_row.size
        if (days + 1) * cells * (len(STAT_COLUMNS) + 1) > DAILY_SUMS_MAX:
            return None
        keys = codes[first_row]
        day = (stats["responded_on"] - first).dt.total_days().to_numpy().astype(np.int64)
        at = day * cells + cell.reshape(-1)
        running = np.zeros((days + 1, cells, len(STAT_COLUMNS) + 1), dtype=np.int64)
        for j, c in enumerate((*STAT_COLUMNS, None)):  # the last: rows, to know who is there
            # per day and cell (float sums of small integers are exact), then running totals
            weights = None if c is None else stats[c].to_numpy().astype(np.float64)
            per_day = np.bincount(at, weights, days * cells).astype(np.int64)
            np.cumsum(per_day.reshape(days, cells), axis=0, out=running[1:, :, j])
        calendar = pl.date_range(first, last, "1d", eager=True)
        return cls(
            first,
            keys,
            np.asarray(keys["stage_id"].cast(pl.String).to_list(), dtype=object),
            np.asarray(keys["channel"].cast(pl.String).to_list(), dtype=object),
            running,
            {
                unit: calendar.dt.truncate(every).to_physical().to_numpy()
                for unit, every in periods.BUCKETS.items()
            },
        )

    def sums(
        self,
        start: dt.date | None,
        end: dt.date | None,
        stage_ids: tuple[str, ...] | None,
        channels: tuple[str, ...],
        unit: str | None = None,
    ) -> pl.DataFrame:
        """:meth:`Dataset.cell_sums` of the days [start, end] (open sides: the data's), the
        stages (None: every one) and channels (empty: every one)."""
        days = self.running.shape[0] - 1
        lo = 0 if start is None else max((start - self.first).days, 0)
        hi = days - 1 if end is None else min((end - self.first).days, days - 1)
        keep = np.ones(self.stages.size, dtype=bool)
        if stage_ids is not None:
            keep &= np.isin(self.stages, list(stage_ids))
        if channels:
            keep &= np.isin(self.channels, list(channels))
        cells = np.flatnonzero(keep)
        if lo > hi:  # no day in view
            bounds, labels = np.zeros(0, np.int64), pl.Series(unit or "", [], dtype=pl.Date)
        elif unit is None:
            bounds, labels = np.array([lo, hi + 1]), None
        else:
            label = self.buckets[unit][lo : hi + 1]
            starts = np.flatnonzero(np.append(True, label[1:] != label[:-1]))
            bounds = np.append(starts + lo, hi + 1)
            labels = pl.Series(unit, label[starts]).cast(pl.Date)
        totals = self.running[bounds[1:]][:, cells] - self.running[bounds[:-1]][:, cells]
        periods = max(bounds.size - 1, 0)
        flat = totals.reshape(periods * cells.size, self.running.shape[2])
        present = flat[:, -1] > 0  # a group with rows in view, as a group-by gives
        frames = [self.keys[np.tile(cells, periods)[present]]]
        if unit is not None:
            dates = labels.gather(np.repeat(np.arange(periods), cells.size)[present])
            frames.append(dates.alias(unit).to_frame())
        values = np.ascontiguousarray(flat[present, : len(STAT_COLUMNS)].T)
        frames.append(pl.DataFrame(dict(zip(STAT_COLUMNS, values, strict=True))))
        return pl.concat(frames, how="horizontal")


def _slice(frame: pl.DataFrame, f: Filters, stage_ids, with_dates: bool):
    """Rows of a frame sorted by responded_on: the date range by binary search, then the rest.
    Returns the rows and the range [lo, hi) of positions the dates cover."""
    lo, hi = 0, frame.height
    if with_dates and (f.start is not None or f.end is not None):
        dates = frame["responded_on"]
        lo = 0 if f.start is None else int(dates.search_sorted(f.start, side="left"))
        hi = frame.height if f.end is None else int(dates.search_sorted(f.end, side="right"))
        frame = frame.slice(lo, max(hi - lo, 0))
    if stage_ids is None and not (f.channels or f.segments or f.regions):
        return frame, lo, hi  # nothing else to cut: no copy
    cond = f.expression(date_col="responded_on", stage_ids=stage_ids, with_dates=False)
    return frame.filter(cond), lo, hi


def prepare_customers(customers: pl.DataFrame) -> pl.DataFrame:
    """Customers sorted by id, with their dense code ``cust`` (the row number)."""
    return (
        customers.with_columns(pl.col("customer_id").cast(pl.String))
        .sort("customer_id")
        .with_columns(
            pl.int_range(pl.len(), dtype=pl.Int32).alias("cust"),
            pl.col("segment").cast(pl.Enum(sorted(customers["segment"].unique().drop_nulls()))),
            pl.col("region").cast(pl.Enum(sorted(customers["region"].unique().drop_nulls()))),
        )
    )


def compact(chunk: pl.DataFrame, journey: Journey, customers: pl.DataFrame) -> pl.DataFrame:
    """One chunk of raw responses in the in-memory shape: stage, customer code, segment and
    region added; scores as Int8; ids as Enum; free text as Categorical. Responses whose
    touchpoint or customer is unknown are left out (they cannot be placed in the journey)."""
    tp_enum = pl.Enum(sorted(journey.touchpoints["touchpoint_id"].to_list()))
    stage_enum = pl.Enum(sorted(journey.stages["stage_id"].to_list()))
    stage_of = journey.touchpoints.select(
        pl.col("touchpoint_id").cast(tp_enum), pl.col("stage_id").cast(stage_enum)
    )
    return (
        chunk.with_columns(
            pl.col("customer_id").cast(pl.String),
            pl.col("response_id").cast(pl.String),
            pl.col("touchpoint_id").cast(tp_enum, strict=False),
            *[pl.col(c).cast(pl.Int8) for c in ("nps", "csat", "ces")],
            pl.col("channel").cast(pl.Categorical),
            pl.col("source").cast(pl.Categorical),
        )
        .join(stage_of, on="touchpoint_id", how="inner")
        .join(
            customers.select("customer_id", "cust", "segment", "region"),
            on="customer_id",
            how="inner",
        )
        .drop("customer_id")
    )


def load_contacts(engine: sa.Engine, ds: Dataset) -> pl.DataFrame:
    """Contacts, prepared for the pages that read them (loaded only when one asks)."""
    return compact_contacts(store.load_contacts(engine), ds.journey, ds.customers)


def compact_contacts(
    contacts: pl.DataFrame, journey: Journey, customers: pl.DataFrame
) -> pl.DataFrame:
    """Contacts with customer code and stage, in date order, repeat contacts flagged.
    ``customers`` as prepared by :func:`prepare_customers`."""
    stage_enum = pl.Enum(sorted(journey.stages["stage_id"].to_list()))
    stage_of = journey.touchpoints.select("touchpoint_id", pl.col("stage_id").cast(stage_enum))
    frame = (
        contacts.select(
            pl.col("contact_id").cast(pl.String),
            pl.col("customer_id").cast(pl.String),
            "touchpoint_id",
            "contacted_on",
        )
        .join(stage_of, on="touchpoint_id", how="inner")
        .join(customers.select("customer_id", "cust"), on="customer_id", how="inner")
        .select("contact_id", "cust", "stage_id", "contacted_on")
    )
    return flag_repeat_contacts(frame)


def build(
    journey: Journey,
    customers: pl.DataFrame,
    responses: pl.DataFrame | Iterable[pl.DataFrame],
    settings: company.Settings | None = None,
) -> Dataset:
    """Compact responses (one frame or chunks of it), sort them by date, build statistics."""
    settings = settings or company.Settings()
    customers = prepare_customers(customers)
    chunks = [responses] if isinstance(responses, pl.DataFrame) else responses
    parts = [compact(chunk, journey, customers) for chunk in chunks]
    combined = (
        pl.concat(parts, rechunk=False)  # the sort below makes the one copy
        if parts
        else compact(
            pl.DataFrame(schema=store.polars_schema(schema.responses, store.COMMENT_COLUMNS)),
            journey,
            customers,
        )
    )
    del parts
    combined = combined.with_columns(
        *[
            pl.col(c).cast(pl.Enum(sorted(combined[c].unique().drop_nulls().cast(pl.String))))
            for c in ("channel", "source")
        ]
    )
    order = combined.select(
        pl.arg_sort_by("responded_on", "response_id", maintain_order=True)
    ).to_series()
    columns = combined.get_columns()
    del combined
    enriched = gathered(columns, order)
    types = {c: enriched.schema[c] for c in STAT_DIMENSIONS[1:]}
    days = enriched.group_by("responded_on").agg(pl.len().alias("responses"))
    stats = _by_date(
        compact_parts(
            (
                response_stats(date_slice(enriched, "responded_on", start, end), STAT_DIMENSIONS)
                for start, end in date_parts(days)
            ),
            types,
        )
    )
    arrays = CustomerArrays.from_frame(customers, settings.churn_recorded)
    return Dataset(
        journey,
        customers,
        enriched,
        stats,
        arrays,
        # the answers of all data are made when a view of all data asks for them
        answers.latest_of_rows(enriched, arrays.size),
        None,
        design_effects(enriched),
        settings,
        {},
        None,
        tuple(sorted(enriched["source"].unique().drop_nulls().cast(pl.String))),
    )


def gathered(columns: list[pl.Series], order: pl.Series) -> pl.DataFrame:
    """The frame of ``columns`` with their rows in ``order``, made one column at a time:
    each column leaves the list once its copy in order is made (and memory, when nothing
    else holds it), so this needs one column's copy beside them, not a second frame."""
    done = []
    while columns:
        done.append(columns.pop(0).gather(order))
    return pl.DataFrame(done)


def date_parts(
    days: pl.DataFrame, size: int | None = None
) -> list[tuple[dt.date | None, dt.date | None]]:
    """Consecutive date ranges [start, end] of about ``size`` responses each (default
    ``store.part_size`` of them all), from the responses per day (columns responded_on,
    responses); the first starts and the last ends open, so together they cover every date.
    The daily statistics are summed one range at a time, each part made compact before the
    next is summed, so what a load needs beside the result stays bounded."""
    size = size or store.part_size(int(days["responses"].sum()))
    days = days.sort("responded_on")
    part = (days["responses"].cum_sum() - days["responses"]) // size
    firsts = days.filter(part > part.shift(1, fill_value=0))["responded_on"].to_list()
    starts = [None, *firsts]
    ends = [d - dt.timedelta(days=1) for d in firsts] + [None]
    return list(zip(starts, ends, strict=True))


def compact_stats(stats: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """Daily statistics in the shape a dataset holds them: each dimension of ``types``
    (a row whose value is outside the type is left out; ``channel``, when ``types`` lacks
    it, as text), each count or sum as Int16 where all its values fit, else Int64 (Polars
    sums Int16 as Int64, so a roll-up never overflows)."""

    dims = [c for c in STAT_DIMENSIONS[1:] if c in types]
    return (
        stats.select(
            # a copy: the column as read may share its memory with the whole part an engine
            # handed over (Arrow), which would then be kept as long as the statistics
            pl.col("responded_on").cast(pl.Int64).cast(pl.Date),
            *[pl.col(c).cast(pl.String).cast(types[c], strict=False) for c in dims],
            *[pl.col(c).cast(pl.String) for c in STAT_DIMENSIONS[1:] if c not in types],
            *narrowed(stats),
        )
        # a day is where a response is counted: one without (a lake another tool wrote may
        # hold one) is left out, as a range of dates leaves it out
        .drop_nulls(["responded_on", *dims])
        .sort("responded_on")
    )


def narrowed(stats: pl.DataFrame) -> list[pl.Expr]:
    """Each count or sum of the statistics as Int16 where all its values fit, else Int64."""

    def fits(column: str) -> bool:
        low, high = stats[column].min(), stats[column].max()
        return low is None or (_INT16[0] <= low and high <= _INT16[1])

    return [pl.col(c).cast(pl.Int16 if fits(c) else pl.Int64) for c in STAT_COLUMNS]


def compact_parts(
    parts: Iterable[pl.DataFrame], types: dict[str, pl.DataType], *, overlapping: bool = False
) -> pl.DataFrame:
    """:func:`compact_stats` of each part as it comes, then one frame (a count held as Int64
    in any part is Int64 in all); ``channel`` left as text becomes an Enum of its values.
    ``overlapping``: parts by ranges of customers, whose days and cells recur from part to
    part, each added to the sum of those before it as it comes."""
    if overlapping:
        frame = None
        for part in parts:
            part = compact_stats(part, types).select(*STAT_DIMENSIONS, *STAT_COLUMNS)
            if frame is not None:
                frame = (
                    pl.concat([frame, part], how="vertical_relaxed")
                    .group_by(STAT_DIMENSIONS)
                    .agg(pl.col(STAT_COLUMNS).sum())
                )
                frame = frame.select(*STAT_DIMENSIONS, *narrowed(frame))  # held narrow
            else:
                frame = part
        frame = frame.sort("responded_on")  # once, after the last part
    else:
        frame = pl.concat([compact_stats(part, types) for part in parts], how="vertical_relaxed")
    if frame.schema["channel"] == pl.String:
        channels = sorted(frame["channel"].unique().drop_nulls())
        frame = frame.with_columns(pl.col("channel").cast(pl.Enum(channels)))
    return frame.select(*STAT_DIMENSIONS, *STAT_COLUMNS)


def _by_date(stats: pl.DataFrame) -> pl.DataFrame:
    """The statistics in date order, which slicing relies on (sorted only when they are
    not: parts summed one date range after another come in it, and a sort would copy
    them), with their trend buckets, so a trend is a group-by without date arithmetic."""
    days = stats["responded_on"]
    ordered = not days.null_count() and not (np.diff(days.to_physical().to_numpy()) < 0).any()
    if not ordered:
        stats = stats.sort("responded_on")
    return stats.with_columns(bucket_columns("responded_on"))


def bucket_columns(date_col: str) -> list[pl.Expr]:
    """The week, month and quarter of ``date_col`` (:data:`periods.BUCKETS`), each as the
    bucket's first day in a column named after it."""
    return [
        pl.col(date_col).dt.truncate(every).alias(unit) for unit, every in periods.BUCKETS.items()
    ]


def build_in_database(
    engine: sa.Engine,
    journey: Journey,
    settings: company.Settings | None = None,
    progress: Progress = lambda f, m: None,
    kept: load_cache.Entry | None = None,
) -> Dataset:
    """A dataset that holds only aggregates: the daily statistics, the customers and each
    customer's answers per stage and channel of the periods asked for, all computed by the
    database (:mod:`cxmetrics.stats.aggregates`); the responses stay where they are. The same
    numbers as :func:`build` on the same rows. Over a lake, what the load computes is kept
    for the next process that loads the same files (:mod:`cxmetrics.stats.load_cache`) in
    ``kept``: the entry named after the lake's files before the load read any of them."""
    settings = settings or company.Settings()
    held, from_kept = load_cache.read(kept), True
    if held is None:

        def waiting() -> None:
            progress(0.1, "Waiting for another process computing the same aggregates")

        with load_cache.computing(kept, waiting):
            held = load_cache.read(kept)  # kept by the process this one waited for
            if held is None:
                held, from_kept = _aggregates(engine, journey, progress), False
                progress(0.85, "Keeping the aggregates for the next start")
                if load_cache.write(kept, held) is None:
                    kept = None  # not kept: nor are the answers of this load's periods
    if from_kept:
        progress(0.85, "Read the aggregates an earlier start kept")
    customers = held.customers
    stats = _by_date(held.stats)
    types = {
        **_stat_types(journey, customers),
        "channel": stats.schema["channel"],
        "cust": customers.schema["cust"],
    }
    responses = int(stats["responses"].sum())
    part = store.part_size(responses)
    database = InDatabase(engine, customers, types, None, held.cuts, part, kept, from_kept)
    return Dataset(
        journey,
        customers,
        None,
        stats,
        CustomerArrays.from_frame(customers, settings.churn_recorded),
        held.latest_nps,
        None,
        held.design_effect,
        settings,
        {},
        database,
        held.sources,
    )


def _stat_types(journey: Journey, customers: pl.DataFrame) -> dict[str, pl.DataType]:
    return {
        "touchpoint_id": pl.Enum(sorted(journey.touchpoints["touchpoint_id"].to_list())),
        "stage_id": pl.Enum(sorted(journey.stages["stage_id"].to_list())),
        "segment": customers.schema["segment"],
        "region": customers.schema["region"],
    }


def _aggregates(engine: sa.Engine, journey: Journey, progress: Progress) -> load_cache.Aggregates:
    """What :func:`build_in_database` asks the engine for."""
    progress(0.15, "Reading customers")
    customers = prepare_customers(store.load_customers(engine))
    progress(0.2, "Summing responses per day in the database")
    types = _stat_types(journey, customers)
    cuts = store.customer_cuts(engine)
    days = store.responses_per_day(engine)
    # In a lake in customer order, a range of customers is a few row groups and a range of
    # days is all of them: past SUM_PART × MAX_PARTS responses (where parts grow), each
    # part by days would read the whole lake, so the parts are ranges of customers, whose
    # days recur from part to part and are summed again. Below, the whole lake is read
    # quickly, and parts by days take less (at 1M, 276 MB at the peak instead of 338).
    by_customer = (  # the size first: the order is read from the files' statistics
        store.part_size(int(days["responses"].sum())) > store.SUM_PART
        and store.ordered_by_customer(engine)
    )
    if by_customer:
        parts = [(Filters(), low_high) for low_high in store.ranges(cuts)]
    else:
        parts = [(Filters(start=start, end=end), (None, None)) for start, end in date_parts(days)]

    def summed():
        for i, (dates, customer_range) in enumerate(parts):
            progress(0.2 + 0.3 * i / len(parts), "Summing responses per day in the database")
            yield store.load_stats_sql(engine, dates, None, STAT_DIMENSIONS, customer_range)

    stats = compact_parts(summed(), types, overlapping=by_customer)
    progress(0.5, "Each customer's latest answer, in the database")
    whole = store.per_customer_cuts(engine, cuts)
    latest = aggregates.latest_nps(engine, customers, whole)
    progress(0.8, "Design effects, in the database")
    return load_cache.Aggregates(
        customers=customers,
        stats=stats,
        cuts=cuts,
        latest_nps=latest,
        design_effect=aggregates.design_effects(engine, whole),
        sources=aggregates.sources(engine),
    )


#: Where a dataset's responses are summed: "rows" read them into memory (fast filter
#: changes; memory grows with the responses), "database" leaves them in the database and
#: holds aggregates only. SQLite files hold rows; every other engine, the database.
HOLD_CHOICES = ("rows", "database")


def hold_for(engine: sa.Engine) -> str:
    """``CX_HOLD`` when set, else rows for a SQLite file and the database for the rest."""
    chosen = os.environ.get("CX_HOLD", "").strip().lower()
    if chosen:
        if chosen not in HOLD_CHOICES:
            raise store.StoreError(f"CX_HOLD={chosen!r} is not one of {', '.join(HOLD_CHOICES)}")
        return chosen
    return "rows" if engine.url.get_backend_name() == "sqlite" else "database"


def load(
    engine: sa.Engine, progress: Progress = lambda f, m: None, hold: str | None = None
) -> Dataset:
    """Load and prepare everything the dashboard slices; raise StoreError if unusable.
    ``hold``: rows or database (:data:`HOLD_CHOICES`; default :func:`hold_for`)."""
    with memory.loading():
        return _load(engine, progress, hold)


def _load(engine: sa.Engine, progress: Progress, hold: str | None) -> Dataset:
    # over a lake, its files are named first: what the load reads of them after (the
    # journey, the aggregates) is of these files or newer, and newer is not kept
    kept = load_cache.entry(engine)
    store.check(engine)
    progress(0.05, "Reading the journey definition")
    journey = store.load_journey(engine)
    try:
        settings = company.load(engine)
    except company.SettingsError as exc:
        raise store.StoreError(
            f"the settings of {store.safe_url(str(engine.url))} cannot be used: {exc}; fix "
            "them with `python -m cxmetrics settings set KEY VALUE`"
        ) from exc
    total = store.count_rows(engine, "responses")
    missing = [
        what
        for what, empty in (
            ("journey stages", journey.stages.height == 0),
            ("responses", total == 0),
        )
        if empty
    ]
    if missing:
        raise EmptyDataError(
            f"the database {store.safe_url(str(engine.url))} has no {' and no '.join(missing)} "
            "yet; import them, or generate the sample company with `python -m cxmetrics sample`"
        )
    if (hold or hold_for(engine)) == "database":
        data = build_in_database(engine, journey, settings, progress, kept)
        progress(1.0, "Ready")
        return data
    progress(0.10, "Reading customers and responses")

    def chunks():
        done = 0
        for chunk in store.iter_responses(engine):
            done += chunk.height
            progress(
                0.15 + 0.65 * min(done / total, 1.0), f"Reading responses ({done:,} of {total:,})"
            )
            yield chunk

    # Customers are read on a second thread while the first responses arrive.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(store.load_customers, engine)
        responses = chunks()
        first = next(responses, None)
        customers = pending.result()
    head = [] if first is None else [first]
    data = build(journey, customers, itertools.chain(head, responses), settings)
    progress(1.0, "Ready")
    return data
