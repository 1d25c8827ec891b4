"""The data a dashboard session slices: loaded once per data version, then filtered in memory.

``Dataset`` holds the journey, customers, responses (without comment text) and the daily
additive statistics per touchpoint × channel × segment × region built from them. Filters
slice these frames; no per-widget query reaches the database.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics import periods, schema, store
from cxmetrics import settings as company
from cxmetrics.behaviour import flag_repeat_contacts
from cxmetrics.filters import Filters
from cxmetrics.inference import design_effects
from cxmetrics.journey import Journey
from cxmetrics.metrics import (
    NO_ROW,
    CustomerArrays,
    Facts,
    customer_links,
    customers_in_view,
    latest_answers,
    response_stats,
)
from cxmetrics.registry import MIN_N

Progress = Callable[[float, str], None]

STAT_DIMENSIONS = ["responded_on", "touchpoint_id", "stage_id", "channel", "segment", "region"]


class EmptyDataError(store.StoreError):
    """The database has the tables but no responses to show."""


@dataclass(frozen=True)
class Dataset:
    journey: Journey
    customers: pl.DataFrame  # sorted by customer_id; row i is customer code i
    responses: pl.DataFrame  # sorted by responded_on; with cust (code), stage, segment, region
    stats: pl.DataFrame  # daily additive statistics by STAT_DIMENSIONS
    customer_arrays: CustomerArrays
    latest_nps: np.ndarray  # each customer's latest NPS answer on any date; -1 for none
    scope: tuple[str, ...] | None = None  # a manager's departments; None: the whole company
    #: Design effect of repeated answers by one customer, per metric (inference.design_effects)
    design_effect: dict = field(default_factory=dict)
    settings: company.Settings = company.Settings()

    @property
    def facts(self) -> Facts:
        """Which optional customer facts (revenue, cost, influence, churn) are recorded."""
        return self.customer_arrays.facts

    def default_period(self, min_n: int = MIN_N) -> tuple[str, str]:
        """The period preset a view opens on and why (:func:`periods.default_preset`): the
        company's setting, else the shortest preset with ``min_n`` NPS answers in view of
        this dataset (a manager's dataset counts their stages)."""
        dates, n_nps = self.stats["responded_on"], self.stats["n_nps"]

        def answers(start: dt.date, end: dt.date) -> int:
            lo = int(dates.search_sorted(start, side="left"))
            hi = int(dates.search_sorted(end, side="right"))
            return int(n_nps.slice(lo, max(hi - lo, 0)).sum())

        return periods.default_preset(
            self.first_day, self.last_day, answers, min_n, self.settings.default_period
        )

    def money(self, value: float | None) -> str:
        """An amount in the company's currency."""
        return self.settings.money(value)

    @property
    def first_day(self) -> dt.date:
        return self.responses["responded_on"].min()

    @property
    def last_day(self) -> dt.date:
        return self.responses["responded_on"].max()

    def options(self, column: str) -> list[str]:
        """Values a filter can take, sorted. A manager's dataset offers only the segments
        and regions of customers who answered at the stages in scope."""
        by_customer = column in ("segment", "region") and self.scope is None
        source = self.customers if by_customer else self.responses
        return sorted(source[column].cast(pl.String).unique().drop_nulls().to_list())

    def customer_mask(self, f: Filters) -> np.ndarray | None:
        """Customers in the chosen segments and regions (None: every customer)."""
        if not f.segments and not f.regions:
            return None
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
        """The data a manager of these departments may see: responses and statistics of the
        stages they affect (customer links and latest answers rebuilt on those rows), and
        the journey cut to those stages and departments (:meth:`Journey.scoped`)."""
        journey = self.journey.scoped(tuple(department_ids))
        keep = pl.col("stage_id").is_in(journey.stage_order)
        rows = self.responses.filter(keep).drop("prev_row", "next_answer")
        responses, latest = _linked(rows, self.customer_arrays.size)
        return Dataset(
            journey,
            self.customers,
            responses,
            self.stats.filter(keep),
            self.customer_arrays,
            latest,
            tuple(department_ids),
            self.design_effect,
            self.settings,
        )

    def slice_stats(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        return _slice(self.stats, f, self.stage_ids(f), with_dates)[0]

    def slice_responses(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        return _slice(self.responses, f, self.stage_ids(f), with_dates)[0]

    def customer_view(
        self, f: Filters, *, use_links: bool | None = None, latest: bool = True
    ) -> CustomerView:
        """The customers in view and each one's latest NPS answer in view.

        Without stage or channel filters every row of a customer in the date range is in
        view, so the precomputed links answer with two filters; otherwise (or when
        ``use_links`` is False) distinct codes and latest answers are computed from the rows.
        With ``latest=False`` (links only) the latest answers are left empty.
        """
        stage_ids = self.stage_ids(f)
        rows, lo, hi = _slice(self.responses, f, stage_ids, True)
        if use_links is None:
            use_links = stage_ids is None and not f.channels
        if use_links:
            first = np.sort(rows.filter(pl.col("prev_row") < lo)["cust"].to_numpy())
            if not latest:  # only the customers in view were asked for
                return CustomerView(first, first[:0], np.zeros(0, np.int8))
            last = rows.filter(pl.col("nps").is_not_null() & (pl.col("next_answer") >= hi))
            return CustomerView(first, last["cust"].to_numpy(), last["nps"].to_numpy())
        codes = rows["cust"].to_numpy()
        size = self.customer_arrays.size
        who, answers = latest_answers(codes, rows["nps"].fill_null(-1).to_numpy(), size)
        return CustomerView(customers_in_view(codes, size), who, answers)


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
        pl.concat(parts, rechunk=True)
        if parts
        else compact(
            pl.DataFrame(schema=store.polars_schema(schema.responses, store.COMMENT_COLUMNS)),
            journey,
            customers,
        )
    )
    del parts
    enriched = combined.with_columns(
        *[
            pl.col(c).cast(pl.Enum(sorted(combined[c].unique().drop_nulls().cast(pl.String))))
            for c in ("channel", "source")
        ]
    ).sort("responded_on", "response_id")
    del combined
    stats = (
        response_stats(enriched, STAT_DIMENSIONS)
        .sort("responded_on")  # the date order slicing relies on; order within a day is free
        .with_columns(  # trend buckets, so a trend is a group-by without date arithmetic
            pl.col("responded_on").dt.truncate("1w").alias("week"),
            pl.col("responded_on").dt.truncate("1mo").alias("month"),
            pl.col("responded_on").dt.truncate("1q").alias("quarter"),
        )
    )
    arrays = CustomerArrays.from_frame(customers, settings.churn_recorded)
    enriched, latest = _linked(enriched, arrays.size)
    deff = design_effects(enriched)
    return Dataset(journey, customers, enriched, stats, arrays, latest, None, deff, settings)


def _linked(responses: pl.DataFrame, size: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Responses in date order with each row's customer links (``prev_row``,
    ``next_answer``), and each customer's latest NPS answer (-1 for none)."""
    codes, nps = responses["cust"].to_numpy(), responses["nps"].fill_null(-1).to_numpy()
    prev_row, next_answer = customer_links(codes, nps)
    linked = responses.with_columns(
        pl.Series("prev_row", prev_row), pl.Series("next_answer", next_answer)
    )
    latest = np.full(size, -1, dtype=np.int8)
    last_rows = np.flatnonzero((nps >= 0) & (next_answer == NO_ROW))
    latest[codes[last_rows]] = nps[last_rows]
    return linked, latest


def load(engine: sa.Engine, progress: Progress = lambda f, m: None) -> Dataset:
    """Load and prepare everything the dashboard slices; raise StoreError if unusable."""
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
