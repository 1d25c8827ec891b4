"""The data a dashboard session slices: loaded once per data version, then filtered in memory.

``Dataset`` holds the journey, customers, responses (without comment text) and the daily
additive statistics per touchpoint × channel × segment × region built from them. Filters
slice these frames; no per-widget query reaches the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics import store
from cxmetrics.filters import Filters
from cxmetrics.journey import Journey
from cxmetrics.metrics import CustomerArrays, latest_answers, response_stats

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

    @property
    def first_day(self) -> dt.date:
        return self.responses["responded_on"].min()

    @property
    def last_day(self) -> dt.date:
        return self.responses["responded_on"].max()

    def options(self, column: str) -> list[str]:
        """Values a filter can take, sorted."""
        source = self.customers if column in ("segment", "region") else self.responses
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
        return f.effective_stages(self.journey.stages_of_departments)

    def slice_stats(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        return _slice(self.stats, f, self.stage_ids(f), with_dates)

    def slice_responses(self, f: Filters, *, with_dates: bool = True) -> pl.DataFrame:
        return _slice(self.responses, f, self.stage_ids(f), with_dates)


def _slice(frame: pl.DataFrame, f: Filters, stage_ids, with_dates: bool) -> pl.DataFrame:
    """Rows of a frame sorted by responded_on: the date range by binary search, then the rest."""
    if with_dates and (f.start is not None or f.end is not None):
        dates = frame["responded_on"]
        lo = 0 if f.start is None else int(dates.search_sorted(f.start, side="left"))
        hi = frame.height if f.end is None else int(dates.search_sorted(f.end, side="right"))
        frame = frame.slice(lo, max(hi - lo, 0))
    cond = f.expression(date_col="responded_on", stage_ids=stage_ids, with_dates=False)
    return frame.filter(cond)


def build(journey: Journey, customers: pl.DataFrame, responses: pl.DataFrame) -> Dataset:
    """Enrich responses with stage, segment and region; build the daily statistics."""
    stage_of = journey.touchpoints.select("touchpoint_id", "stage_id")
    enums = {
        "touchpoint_id": pl.Enum(sorted(journey.touchpoints["touchpoint_id"].to_list())),
        "stage_id": pl.Enum(sorted(journey.stages["stage_id"].to_list())),
        "channel": pl.Enum(sorted(responses["channel"].unique().drop_nulls().to_list())),
        "segment": pl.Enum(sorted(customers["segment"].unique().drop_nulls().to_list())),
        "region": pl.Enum(sorted(customers["region"].unique().drop_nulls().to_list())),
        "source": pl.Enum(sorted(responses["source"].unique().drop_nulls().to_list())),
    }
    customers = customers.sort("customer_id").with_columns(
        pl.col("customer_id").cast(pl.Int32),
        pl.int_range(pl.len(), dtype=pl.Int32).alias("cust"),
    )
    enriched = (
        responses.with_columns(pl.col("customer_id").cast(pl.Int32))
        .join(stage_of, on="touchpoint_id", how="left")
        .join(customers.select("customer_id", "cust", "segment", "region"), on="customer_id",
              how="inner")  # a response must belong to a known customer
        .with_columns(
            *[pl.col(c).cast(pl.Int8) for c in ("nps", "csat", "ces")],
            *[pl.col(c).cast(dtype) for c, dtype in enums.items()],
        )
        .sort("responded_on", "response_id")
    )
    stats = response_stats(enriched, STAT_DIMENSIONS).sort("responded_on")
    arrays = CustomerArrays.from_frame(customers)
    who, answers = latest_answers(enriched["cust"].to_numpy(),
                                  enriched["nps"].fill_null(-1).to_numpy(), arrays.size)
    latest = np.full(arrays.size, -1, dtype=np.int8)
    latest[who] = answers
    return Dataset(journey, customers, enriched, stats, arrays, latest)


def load(engine: sa.Engine, progress: Progress = lambda f, m: None) -> Dataset:
    """Load and prepare everything the dashboard slices; raise StoreError if unusable."""
    store.check(engine)
    progress(0.05, "Reading the journey definition")
    journey = store.load_journey(engine)
    progress(0.15, "Reading customers")
    customers = store.load_customers(engine)
    progress(0.35, "Reading responses")
    responses = store.load_responses(engine)
    if responses.height == 0:
        raise EmptyDataError(
            f"the database {store.safe_url(str(engine.url))} has no responses yet; import "
            "some or generate the sample with `python -m cxmetrics sample`"
        )
    if journey.stages.height == 0:
        raise EmptyDataError("the database has no journey stages; import a journey definition")
    progress(0.75, "Building statistics")
    data = build(journey, customers, responses)
    progress(1.0, "Ready")
    return data
