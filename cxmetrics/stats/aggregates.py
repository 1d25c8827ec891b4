"""What the database computes for a dataset that holds only aggregates.

A dataset in this mode never reads the responses themselves: the daily statistics
(``store.load_stats_sql``), each period's customer-level answers (:mod:`cxmetrics.stats.answers`),
the per-customer sums behind the design effects, and the few rows a page lists (complaints
in view, the source of the response that opened each case) are ``GROUP BY`` or filtered
queries the database answers. Every statement is SQLAlchemy Core, so each engine compiles
it in its own dialect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import schema, store
from cxmetrics.stats import answers, load_cache
from cxmetrics.stats.inference import ClusterTotals, design_effects_of_totals


@dataclass(frozen=True)
class InDatabase:
    """The responses, left where they are: the queries a dataset asks of them."""

    engine: sa.Engine
    customers: pl.DataFrame  # as dataset.prepare_customers makes them
    types: dict[
        str, pl.DataType
    ]  # cust, stage_id, channel, touchpoint_id as the dataset types them
    stage_ids: tuple[str, ...] | None = None  # a manager's stages; None: every stage
    #: where the queries about each customer are cut into parts (store.customer_cuts)
    customer_cuts: tuple[str, ...] = ()
    #: responses per range the cuts make (store.part_size of them all)
    part: int = store.SUM_PART
    #: where a lake's aggregates of this load are kept (load_cache); None: not kept
    kept: load_cache.Entry | None = None
    #: whether this load read them there (an earlier start kept them), not from the engine
    from_kept: bool = False

    def scoped(self, stage_ids: tuple[str, ...]) -> InDatabase:
        return replace(self, stage_ids=tuple(stage_ids))

    def answers(
        self, start: dt.date | None, end: dt.date | None, responses: int | None = None
    ) -> pl.DataFrame:
        """Each customer's answers in [start, end] (:mod:`cxmetrics.stats.answers`), in parts by
        ranges of customers as many as the period's ``responses`` need (None: all), of about
        the size of the ranges of all of them. Over a lake, a period's answers a process
        computed are kept for the next ones (:mod:`cxmetrics.stats.load_cache`)."""
        frame = load_cache.read_answers(self.kept, start, end)  # over a lake, kept
        if frame is None:
            cuts = self.customer_cuts
            if responses is not None:
                cuts = store.fewer_cuts(cuts, responses, self.part)
            frame = answers.load(self.engine, start, end, self.customers, self.types, cuts)
            load_cache.write_answers(self.kept, start, end, frame)
        if self.stage_ids is not None:
            frame = answers.in_view(frame, self.stage_ids)
        return frame

    def complaints(self, filters, stage_ids) -> pl.DataFrame:
        """Complaint responses in view: response_id, stage_id, touchpoint_id, responded_on."""
        if self.stage_ids is not None:
            stage_ids = tuple(s for s in self.stage_ids if stage_ids is None or s in stage_ids)
        r, t = schema.responses, schema.touchpoints
        joined, where = store.responses_in_view(filters, stage_ids)
        stmt = (
            sa.select(r.c.response_id, t.c.stage_id, r.c.touchpoint_id, r.c.responded_on)
            .select_from(joined)
            .where(r.c.source == "complaint", *where)
            .order_by(r.c.responded_on, r.c.response_id)
        )
        return store.read_select(self.engine, stmt).with_columns(
            pl.col(c).cast(self.types[c], strict=False) for c in ("stage_id", "touchpoint_id")
        )

    def case_sources(self) -> pl.DataFrame:
        """The source of the response that opened each case: response_id, source."""
        r, c = schema.responses, schema.cases
        stmt = (
            sa.select(r.c.response_id, r.c.source)
            .select_from(r.join(c, c.c.response_id == r.c.response_id))
            .distinct()
        )
        return store.read_select(self.engine, stmt)


def sources(engine: sa.Engine) -> tuple[str, ...]:
    """The sources the responses come from (survey, complaint…), sorted."""
    r = schema.responses
    stmt = sa.select(r.c.source).where(r.c.source.is_not(None)).distinct()
    return tuple(sorted(store.read_select(engine, stmt)["source"].cast(pl.String).to_list()))


def design_effects(engine: sa.Engine, cuts: tuple[str, ...] = ()) -> dict[str, float]:
    """``inference.design_effects`` from the database: a ``GROUP BY customer`` summed again
    to each metric's :class:`ClusterTotals`, so a row per range of customers that ``cuts``
    make (``store.customer_cuts``) comes here, not a row per customer."""
    r = schema.responses
    nps, csat, ces = r.c.nps, r.c.csat, r.c.ces

    def total(expr) -> sa.ColumnElement:
        return sa.type_coerce(sa.func.coalesce(sa.func.sum(expr), 0), sa.BigInteger)

    def flag(cond) -> sa.ColumnElement:
        return sa.case((cond, 1), else_=0)

    scored = {
        "nps": (nps, flag(nps >= 9) - flag(nps <= 6), flag(nps >= 9) + flag(nps <= 6)),
        "csat": (csat, flag(csat >= 4), flag(csat >= 4)),
        "ces": (ces, ces, ces * ces),
    }
    cols = []
    for metric, (column, value, square) in scored.items():
        cols += [
            sa.type_coerce(sa.func.count(column), sa.BigInteger).label(f"{metric}_k"),
            total(value).label(f"{metric}_u"),
            total(square).label(f"{metric}_sq"),
        ]
    t, c = schema.touchpoints, schema.customers
    placed = r.join(t, r.c.touchpoint_id == t.c.touchpoint_id).join(
        c, r.c.customer_id == c.c.customer_id
    )  # the answers a dataset can place: known touchpoint and customer
    stmt = sa.select(r.c.customer_id, *cols).select_from(placed).group_by(r.c.customer_id)
    fields = {
        "n": lambda p, m: p.c[f"{m}_k"],
        "total": lambda p, m: p.c[f"{m}_u"],
        "squares": lambda p, m: p.c[f"{m}_sq"],
        "u_squared": lambda p, m: p.c[f"{m}_u"] * p.c[f"{m}_u"],
        "u_k": lambda p, m: p.c[f"{m}_u"] * p.c[f"{m}_k"],
        "k_squared": lambda p, m: p.c[f"{m}_k"] * p.c[f"{m}_k"],
    }
    totals: dict[str, ClusterTotals] = {}
    for low, high in store.ranges(cuts):
        per = stmt.where(*store.id_range(r.c.customer_id, low, high)).subquery("per_customer")
        summed = sa.select(
            *[
                total(get(per, m)).label(f"{m}_{name}")
                for m in scored
                for name, get in fields.items()
            ]
        )
        row = store.read_select(engine, summed).row(0, named=True)
        for m in scored:
            part = ClusterTotals(*(float(row[f"{m}_{name}"]) for name in fields))
            totals[m] = totals[m] + part if m in totals else part
    return design_effects_of_totals(totals)


def latest_nps(
    engine: sa.Engine, customers: pl.DataFrame, cuts: tuple[str, ...] = ()
) -> np.ndarray:
    """Each customer's latest NPS answer on any date and stage (-1 for none), from a query
    that returns a row per customer, run once per range of customers that ``cuts`` make
    (``store.customer_cuts``)."""
    latest = np.full(customers.height, -1, dtype=np.int8)
    for low, high in store.ranges(cuts):
        last = store.read_select(engine, _latest_select(low, high))
        last = last.with_columns(answers.codes_of(last["customer_id"], customers)).drop_nulls(
            "cust"
        )
        latest[last["cust"].to_numpy()] = last["nps"].to_numpy()
    return latest


def _latest_select(low: str | None, high: str | None) -> sa.Select:
    r, t = schema.responses, schema.touchpoints
    where = [r.c.nps.is_not(None), *store.id_range(r.c.customer_id, low, high)]
    ranked = (
        sa.select(
            r.c.customer_id,
            r.c.nps,
            sa.func.row_number()
            .over(
                partition_by=r.c.customer_id,
                order_by=(r.c.responded_on.desc(), r.c.response_id.desc()),
            )
            .label("newest"),
        )
        .select_from(r.join(t, r.c.touchpoint_id == t.c.touchpoint_id))
        .where(*where)
        .subquery("ranked")
    )
    return sa.select(ranked.c.customer_id, ranked.c.nps).where(ranked.c.newest == 1)
