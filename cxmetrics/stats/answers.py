"""Each customer's answers in a period, per stage and channel: the customer-level aggregate.

The pages that count customers rather than answers (customers in view, each one's latest
NPS or CSAT answer, answers per customer, who answered at which stage, who complained) read
this frame instead of the answers themselves. Its size is set by the customers and the
stages and channels they answered at, not by how many answers they gave, and the database
can compute it with one ``GROUP BY`` (:func:`select`); :func:`from_rows` is the same
aggregate summed from rows already in memory.

Columns: ``cust`` (customer code), ``stage_id``, ``channel``, ``responses``, ``n_nps``,
``promoters``, ``detractors``, ``complaints`` (answers from the complaint source; these
five counts as Int16 where they fit, :func:`narrow`),
``nps`` and ``csat`` (the latest answer in the group; null if none) with ``nps_at`` and
``csat_at``: the answer's place in the customer's answers of the period (date, then response
id), so a customer's latest answer over several groups is the one with the largest ``*_at``
(places are compared within one customer only). Rows are sorted by customer, then
``nps_at`` (:data:`ORDER`), so a customer's latest NPS answer is their last answered row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import schema, store

KEYS = ("cust", "stage_id", "channel")
COUNTS = ("responses", "n_nps", "promoters", "detractors", "complaints")
SCORES = ("nps", "csat")
ORDER = ("cust", "nps_at")


def from_rows(rows: pl.DataFrame, part: int | None = None) -> pl.DataFrame:
    """The aggregate of response rows in (date, response id) order, as the dataset holds
    them (columns cust, stage_id, channel, source, nps, csat). Summed for one range of
    customers at a time, of about ``part`` rows each (default ``store.SUM_PART``): every
    answer of a customer is in one range, and the memory the grouping takes is that of
    one range."""
    part = part or store.SUM_PART
    rows = rows.select(*KEYS, "source", *SCORES)  # what a part copies: the columns it reads
    if rows.height <= part:
        return _from_rows(rows)
    per = np.bincount(rows["cust"].to_numpy(), minlength=1)
    before = np.cumsum(per) - per  # rows of the customers before each one
    starts = np.flatnonzero(np.diff(before // part, prepend=0) > 0)
    bounds = [0, *starts.tolist(), per.size]
    cust = pl.col("cust")
    parts = [
        _from_rows(rows.filter((cust >= low) & (cust < high)))
        for low, high in zip(bounds, bounds[1:], strict=False)
    ]
    # ranges in customer order: the whole is in ORDER too
    return pl.concat(parts, how="vertical_relaxed")


def _from_rows(rows: pl.DataFrame) -> pl.DataFrame:
    nps, place = pl.col("nps"), pl.int_range(pl.len(), dtype=pl.UInt32)
    source = rows["source"]
    complaint = (
        (source == "complaint")
        if "complaint" in getattr(source.dtype, "categories", ["complaint"])
        else pl.repeat(False, rows.height, eager=True)
    )
    flags = rows.select(
        *KEYS,
        nps.is_not_null().cast(pl.Int32).alias("n_nps"),
        (nps >= 9).fill_null(False).cast(pl.Int32).alias("promoters"),
        (nps <= 6).fill_null(False).cast(pl.Int32).alias("detractors"),
        pl.lit(complaint).fill_null(False).cast(pl.Int32).alias("complaints"),
        *[
            pl.when(pl.col(score).is_not_null()).then(place).alias(f"{score}_at")
            for score in SCORES
        ],
    )
    out = flags.group_by(KEYS).agg(
        pl.len().cast(pl.Int32).alias("responses"),
        *[pl.col(c).sum() for c in COUNTS[1:]],
        *[pl.col(f"{score}_at").max() for score in SCORES],
    )
    return (
        out.with_columns(
            pl.Series(score, _gather(rows[score], out[f"{score}_at"])) for score in SCORES
        )
        .select(*KEYS, *COUNTS, *[c for score in SCORES for c in (score, f"{score}_at")])
        .sort(ORDER)
        .pipe(narrow)
    )


def narrow(frame: pl.DataFrame) -> pl.DataFrame:
    """Each count held as Int16 where all its values fit, else Int32: ten bytes a row less
    (a third of the frame). Readers sum them as Int64 (Polars' sums, ``np.bincount``,
    ``np.cumsum(dtype=np.int64)``); parts put together take the wider type of the two."""
    highest = frame.select(pl.col(COUNTS).max()).row(0)
    fits = [c for c, top in zip(COUNTS, highest, strict=True) if top is None or top < 2**15]
    return frame.with_columns(pl.col(c).cast(pl.Int16) for c in fits)


def _gather(values: pl.Series, places: pl.Series) -> pl.Series:
    """``values`` at ``places`` (null where the place is null)."""
    found = places.is_not_null()
    picked = values.gather(places.fill_null(0)) if values.len() else values.clear(places.len())
    return pl.select(pl.when(found).then(picked)).to_series()


def select(
    start: dt.date | None,
    end: dt.date | None,
    first_customer: str | None = None,
    after_customers: str | None = None,
) -> sa.Select:
    """The same aggregate as a query the database runs (any SQLAlchemy dialect with window
    functions): one row per customer, stage and channel, keyed by the customer's id;
    :func:`placed` turns the ids into codes. ``first_customer`` and ``after_customers``
    (the first id not included) keep one range of customer ids, in the database's order."""
    r, t = schema.responses, schema.touchpoints
    where = []
    if start is not None:
        where.append(r.c.responded_on >= start)
    if end is not None:
        where.append(r.c.responded_on <= end)
    where += store.id_range(r.c.customer_id, first_customer, after_customers)
    rows = (
        sa.select(
            r.c.customer_id,
            t.c.stage_id,
            r.c.channel,
            r.c.source,
            r.c.nps,
            r.c.csat,
            sa.func.row_number()
            .over(partition_by=r.c.customer_id, order_by=(r.c.responded_on, r.c.response_id))
            .label("place"),
        )
        # customers the dataset does not know are left out by :func:`placed`, not by a join
        # here (a hash table of every customer id, in the engine's memory)
        .select_from(r.join(t, r.c.touchpoint_id == t.c.touchpoint_id))
        .where(*where)
        .subquery("ranked")
    )

    def latest(score: str) -> sa.ColumnElement:
        # the answer at the group's last place with an answer, in one number: place and
        # answer together (:func:`placed` takes them apart), so one window, not one per score
        key = sa.cast(k.place, sa.BigInteger) * _SHIFT + (k[score] + _OFFSET)
        return sa.func.max(sa.case((k[score].is_not(None), key), else_=None))

    k = rows.c
    return sa.select(
        k.customer_id,
        k.stage_id,
        k.channel,
        sa.type_coerce(sa.func.count(), sa.Integer).label("responses"),
        sa.type_coerce(sa.func.count(k.nps), sa.Integer).label("n_nps"),
        sa.type_coerce(store.count_where(k.nps >= 9), sa.Integer).label("promoters"),
        sa.type_coerce(store.count_where(k.nps <= 6), sa.Integer).label("detractors"),
        sa.type_coerce(store.count_where(k.source == "complaint"), sa.Integer).label("complaints"),
        *[sa.type_coerce(latest(score), sa.BigInteger).label(f"{score}_key") for score in SCORES],
    ).group_by(k.customer_id, k.stage_id, k.channel)


#: :func:`select` writes a group's latest answer and its place as place × _SHIFT + answer +
#: _OFFSET: any small integer answer fits below _SHIFT, and a place (at most 2³¹) times
#: _SHIFT stays within 64 bits
_SHIFT, _OFFSET = 65_536, 32_768


def placed(
    frame: pl.DataFrame, customers: pl.DataFrame, types: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """A frame from :func:`select` in the shape :func:`from_rows` gives: customer ids as
    codes (``customers`` as ``dataset.prepare_customers`` makes them), stages and channels
    of the ``types`` the dataset gives them (a value outside them is left out)."""
    # the codes alone are joined (a join of the frame would copy every column of it), then
    # the output is made narrow before it is sorted: a part's reading takes less memory
    return (
        frame.with_columns(codes_of(frame["customer_id"], customers))
        .select(
            pl.col("cust").cast(types["cust"]),
            *[pl.col(k).cast(pl.String).cast(types[k], strict=False) for k in KEYS[1:]],
            *[pl.col(c).cast(pl.Int32) for c in COUNTS],
            *[
                e
                for score in SCORES
                for key in [pl.col(f"{score}_key").cast(pl.Int64)]
                for e in (
                    (key % _SHIFT - _OFFSET).cast(pl.Int8).alias(score),
                    (key // _SHIFT).cast(pl.UInt32).alias(f"{score}_at"),
                )
            ],
        )
        .drop_nulls(list(KEYS))
        .pipe(narrow)
        .sort(ORDER)
    )


def codes_of(ids: pl.Series, customers: pl.DataFrame) -> pl.Series:
    """The code (``cust``) of each of these customer ids, null for an unknown one;
    ``customers`` sorted by id, as ``dataset.prepare_customers`` makes them. Only the
    customers from the least to the greatest of the ids are searched, found by binary
    search: a part of a query by ranges of customers is joined to its range, not to every
    customer (at 12M customers, each part's join to all of them took about a second)."""
    ids = ids.cast(pl.String)
    known = customers["customer_id"]
    low, high = ids.min(), ids.max()
    if low is None:  # no id, or none but nulls
        near = customers.clear()
    else:
        first = int(known.search_sorted(low, side="left"))
        near = customers.slice(first, int(known.search_sorted(high, side="right")) - first)
    return (
        ids.to_frame("customer_id")
        .join(
            near.select("customer_id", "cust"),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
        .get_column("cust")
    )


def in_view(
    frame: pl.DataFrame,
    stage_ids: tuple[str, ...] | None,
    channels: tuple[str, ...] = (),
    customer_mask: np.ndarray | None = None,
) -> pl.DataFrame:
    """The groups of the stages and channels in view, of the customers the mask keeps."""
    keep = np.ones(frame.height, dtype=bool)
    if stage_ids is not None:
        keep &= _among(frame["stage_id"], stage_ids)
    if channels:
        keep &= _among(frame["channel"], channels)
    if customer_mask is not None:
        kept = customer_mask[frame["cust"].to_numpy()]
        keep &= kept if kept.dtype == bool else (kept == True)  # noqa: E712 (None: not kept)
    if keep.all():
        return frame
    return frame.filter(pl.Series(keep))


def _among(column: pl.Series, values: tuple[str, ...]) -> np.ndarray:
    """Which rows of a stage or channel column hold one of ``values`` (null: none); an
    Enum's codes are compared, not its strings."""
    if isinstance(column.dtype, pl.Enum):
        wanted = set(values)
        categories = column.dtype.categories
        codes = [i for i, name in enumerate(categories) if name in wanted]
        physical = column.to_physical()
        if physical.null_count():
            return np.isin(physical.to_numpy(), codes)  # a null (NaN) is none of them
        wanted_code = np.zeros(len(categories), dtype=bool)  # code -> wanted, looked up
        wanted_code[codes] = True
        return wanted_code[physical.to_numpy()]
    return column.cast(pl.String).is_in(list(values)).fill_null(False).to_numpy()


def latest(frame: pl.DataFrame, score: str = "nps", by: tuple[str, ...] = ("cust",)):
    """Each customer's (or each ``by`` group's, ``by`` ending with the customer) latest
    ``score`` answer among the groups of ``frame``, in customer order."""
    if tuple(by) == ("cust",):
        answered = frame.select("cust", score, f"{score}_at").filter(pl.col(score).is_not_null())
        pick = _latest_rows(answered["cust"].to_numpy(), answered[f"{score}_at"].to_numpy())
        if pick is not None:  # one row per customer: no grouping needed
            return answered.filter(pl.Series(pick, dtype=pl.Boolean)).select("cust", score)
    answered = frame.filter(pl.col(score).is_not_null())
    if f"{score}_at" != ORDER[1]:  # rows are in NPS order within a customer
        answered = answered.sort("cust", f"{score}_at")
    return answered.group_by(list(by), maintain_order=True).agg(pl.col(score).last())


def _latest_rows(cust: np.ndarray, at: np.ndarray) -> np.ndarray | None:
    """A mask of each customer's row with the largest place ``at``, in one pass over rows
    whose customers come in runs (the frame's order, :data:`ORDER`); None when they do not
    (the caller then groups)."""
    if cust.size == 0:
        return np.zeros(0, dtype=bool)
    new = np.empty(cust.size, dtype=bool)
    new[0] = True
    np.not_equal(cust[1:], cust[:-1], out=new[1:])
    if (cust[1:] < cust[:-1]).any():
        return None
    last = np.append(new[1:], True)  # the last row of each customer's run
    if not ((at[1:] <= at[:-1]) & ~new[1:]).any():  # places rise within each run (ORDER)
        return last
    starts = np.flatnonzero(new)
    top = np.maximum.reduceat(at.astype(np.int64), starts)
    pick = at == np.repeat(top, np.diff(np.append(starts, cust.size)))
    return pick if int(pick.sum()) == starts.size else None  # places are unique per customer


def latest_per(
    frame: pl.DataFrame, column: str = "stage_id", score: str = "nps"
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each customer's latest ``score`` answer per value of ``column`` (an Enum, such as
    the stage): value -> (customer codes ascending, answers); values without an answer are
    left out. The same as :func:`latest` by (``column``, cust), without grouping."""
    answered = frame.select(column, "cust", score, f"{score}_at").filter(
        pl.col(score).is_not_null()
    )
    series = answered[column]
    if isinstance(series.dtype, pl.Enum) and answered.height:
        codes = series.to_physical().to_numpy()
        cust = answered["cust"].to_numpy()
        order = np.argsort(codes, kind="stable")  # by value, each customer's rows in turn
        codes = codes[order]
        key = codes.astype(np.int64) * (int(cust.max()) + 1) + cust[order]
        pick = _latest_rows(key, answered[f"{score}_at"].to_numpy()[order])
        if pick is not None:
            rows = order[pick]
            codes, cust, values = codes[pick], cust[rows], answered[score].to_numpy()[rows]
            names = series.dtype.categories
            bounds = np.flatnonzero(np.diff(codes)) + 1
            return {
                str(names[int(part[0])]): (c, v)
                for part, c, v in zip(
                    np.split(codes, bounds),
                    np.split(cust, bounds),
                    np.split(values, bounds),
                    strict=True,
                )
            }
    last = latest(frame, score, (column, "cust"))
    return {
        str(value[0]): (part["cust"].to_numpy(), part[score].to_numpy())
        for value, part in last.partition_by(column, as_dict=True).items()
    }


def latest_of_rows(rows: pl.DataFrame, size: int, score: str = "nps") -> np.ndarray:
    """Each customer's latest ``score`` answer on any date (-1 for none), an array of
    ``size`` customer codes, from response rows in (date, response id) order as the dataset
    holds them: each customer's last answered row. The same as :func:`latest` of the rows'
    aggregate, without making it (a few bytes a row)."""
    answered = rows[score].is_not_null().to_numpy()
    who = rows["cust"].to_numpy()[answered][::-1]  # newest first
    values = rows[score].fill_null(-1).cast(pl.Int8).to_numpy()[answered][::-1]
    codes, newest = np.unique(who, return_index=True)  # each customer's first row, newest first
    latest = np.full(size, -1, dtype=np.int8)
    latest[codes] = values[newest]
    return latest


def customers(frame: pl.DataFrame) -> np.ndarray:
    """The distinct customer codes of ``frame`` (rows in customer order), ascending."""
    codes = frame["cust"].to_numpy()
    if not codes.size:
        return codes.astype(np.int64)
    first = np.ones(codes.size, dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    return codes[first].astype(np.int64)


def load(
    engine: sa.Engine,
    start,
    end,
    customers: pl.DataFrame,
    types: Mapping[str, pl.DataType],
    cuts: tuple[str, ...] = (),
) -> pl.DataFrame:
    """:func:`select` run by the database, in the shape of :func:`from_rows`. ``cuts``
    (``store.customer_cuts``) split it into one query per range of customers, each placed
    before the next is read: a customer's answers are all in one range, so the parts
    together are the whole, and the memory the reading takes is that of one part."""
    parts = [
        placed(store.read_select(engine, select(start, end, low, high)), customers, types)
        for low, high in store.ranges(cuts)
    ]
    return in_order(parts)


def in_order(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Parts each in :data:`ORDER`, as one frame in that order. Each part holds a range of
    customer ids in the database's order of ids, the codes follow Polars' order of them:
    where the two agree (most collations) the parts' code ranges do not overlap and are put
    one after another; otherwise the whole is sorted (memory for a second copy)."""
    parts = [p for p in parts if p.height] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    parts.sort(key=lambda p: p["cust"][0])
    if all(a["cust"][-1] < b["cust"][0] for a, b in zip(parts, parts[1:], strict=False)):
        return pl.concat(parts, how="vertical_relaxed", rechunk=False)
    return pl.concat(parts, how="vertical_relaxed").sort(ORDER)
