"""Aggregates summed in parts (the daily statistics by ranges of dates, the questions about
each customer by ranges of customers) are the same as summed at once, and the daily
statistics are held in compact types that still sum exactly."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from engines import need
from test_answers import comparable

from cxmetrics.contract import store
from cxmetrics.stats import answers, dataset, metrics
from cxmetrics.stats.filters import Filters

D = dt.date
PERIODS = [(None, None), (D(2026, 7, 3), D(2026, 9, 30)), (D(2025, 11, 1), D(2026, 2, 28))]


def test_date_parts_cut_where_the_running_count_passes_each_multiple_of_the_size():
    days = pl.DataFrame(
        {
            "responded_on": [D(2024, 1, d) for d in (9, 1, 2, 3, 5, 6)],  # any order
            "responses": [5, 5, 5, 5, 5, 5],
        }
    )
    # sorted: 1, 2 | 3, 5 | 6, 9 (10 responses a part); the gaps between parts are closed
    assert dataset.date_parts(days, 10) == [
        (None, D(2024, 1, 2)),
        (D(2024, 1, 3), D(2024, 1, 5)),
        (D(2024, 1, 6), None),
    ]
    assert dataset.date_parts(days, 1000) == [(None, None)]
    assert dataset.date_parts(days.clear(), 10) == [(None, None)]


def test_ranges_and_id_range_cover_every_id_once():
    assert store.ranges(()) == [(None, None)]
    assert store.ranges(("C2", "C5")) == [(None, "C2"), ("C2", "C5"), ("C5", None)]
    ids = pl.DataFrame({"id": [f"C{i}" for i in range(1, 8)]})
    engine = sa.create_engine("sqlite://")
    ids.write_database("ids", engine)
    column = sa.column("id")
    seen = []
    for low, high in store.ranges(("C2", "C5")):
        stmt = (
            sa.select(column).select_from(sa.table("ids")).where(*store.id_range(column, low, high))
        )
        with engine.connect() as conn:
            seen.append(sorted(row[0] for row in conn.execute(stmt)))
    assert seen == [["C1"], ["C2", "C3", "C4"], ["C5", "C6", "C7"]]


def test_a_period_with_fewer_responses_is_read_in_fewer_parts():
    cuts = tuple(f"C{i}" for i in range(1, 10))  # 10 ranges of about 100 responses each
    assert store.fewer_cuts(cuts, 1_000, 100) == cuts
    assert store.fewer_cuts(cuts, 5_000, 100) == cuts
    assert store.fewer_cuts(cuts, 450, 100) == ("C2", "C4", "C6", "C8")  # 5 parts
    assert store.fewer_cuts(cuts, 150, 100) == ("C5",)  # 2 parts
    assert store.fewer_cuts(cuts, 100, 100) == ()  # one query
    assert store.fewer_cuts(cuts, 0, 100) == ()
    assert store.fewer_cuts((), 10_000, 100) == ()


def test_customer_cuts_make_ranges_of_about_the_size_asked(sample_url):
    engine = store.make_engine(sample_url)
    try:
        responses = store.load_responses(engine)
        cuts = store.customer_cuts(engine, 3_000)
    finally:
        engine.dispose()
    # SQLite orders text by its bytes, as Polars does
    per = responses.group_by("customer_id").len("n").sort("customer_id")
    biggest = int(per["n"].max())
    sizes = []
    for low, high in store.ranges(cuts):
        keep = pl.lit(True)
        if low is not None:
            keep &= pl.col("customer_id") >= low
        if high is not None:
            keep &= pl.col("customer_id") < high
        sizes.append(int(per.filter(keep)["n"].sum()))
    assert sum(sizes) == responses.height
    # a part starts with the first customer whose running count before them reaches the
    # next multiple of the size: a part is the size give or take one customer's responses
    assert all(3_000 - biggest < size < 3_000 + biggest for size in sizes[:-1])
    assert 0 < sizes[-1] < 3_000 + biggest
    assert len(sizes) >= responses.height // (3_000 + biggest)


def test_a_read_is_cut_into_at_most_max_parts(sample_url, monkeypatch):
    # 1,000 days of 100,000 responses: parts of SUM_PART would be a thousand queries
    days = pl.DataFrame(
        {"responded_on": pl.date_range(D(2020, 1, 1), D(2022, 9, 26), eager=True)}
    ).with_columns(responses=pl.lit(100_000))
    assert days.height == 1_000
    assert len(dataset.date_parts(days)) == store.MAX_PARTS == 50  # 20 days each
    assert len(dataset.date_parts(days.head(30))) == 30  # 3M: parts of SUM_PART still
    monkeypatch.setattr(store, "SUM_PART", 1_000)
    monkeypatch.setattr(store, "MAX_PARTS", 4)
    engine = store.make_engine(sample_url)
    try:
        assert len(store.ranges(store.customer_cuts(engine))) == 4
    finally:
        engine.dispose()


def same_statistics(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """The same daily statistics, row for row and type for type, but the dimensions' Enums
    (each load makes the channels' of the values it met)."""
    dims = dataset.STAT_DIMENSIONS
    as_text = [pl.col(c).cast(pl.String) for c in dims[1:]]
    return a.with_columns(as_text).sort(dims).equals(b.with_columns(as_text).sort(dims))


@pytest.fixture(scope="module")
def in_parts(sample_url, tmp_path_factory):
    """The sample loaded both ways with parts of 2,000 responses (a dozen or more), and from
    a Parquet lake of it, whose daily statistics are summed by ranges of customers."""
    need("duckdb")
    folder = tmp_path_factory.mktemp("lake") / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "SUM_PART", 2_000)
        patch.setattr(store, "MAX_PARTS", 12)  # parts grow past 24,000 responses
        rows = dataset.load(store.make_engine(sample_url), hold="rows")
        held = dataset.load(store.make_engine(sample_url), hold="database")
        lake_engine = store.make_engine(f"duckdb:///{folder}")
        assert store.ordered_by_customer(lake_engine)
        summed, by_customers = store.load_stats_sql, []

        def spied(engine, filters, stage_ids, by, customers=(None, None)):
            by_customers.append(customers != (None, None) and filters.start is None)
            return summed(engine, filters, stage_ids, by, customers)

        patch.setattr(store, "load_stats_sql", spied)
        lake = dataset.load(lake_engine)
        assert len(by_customers) >= 10 and all(by_customers)  # the lake's path
        assert len(held.database.customer_cuts) >= 10
        assert lake.database.customer_cuts == held.database.customer_cuts
        yield rows, held, lake


def test_statistics_summed_in_parts_equal_one_sum_of_the_rows(in_parts, loaded):
    rows, held, lake = in_parts
    dims = dataset.STAT_DIMENSIONS
    want = metrics.response_stats(loaded.responses, dims)
    as_text = [pl.col(c).cast(pl.String) for c in dims[1:]]
    as_int = [pl.col(c).cast(pl.Int64) for c in metrics.STAT_COLUMNS]
    for got in (rows.stats, held.stats, lake.stats, loaded.stats):
        assert got["responded_on"].is_sorted()
        assert (
            got.select(*dims, *metrics.STAT_COLUMNS)
            .with_columns(*as_text, *as_int)
            .sort(dims)
            .equals(want.with_columns(*as_text, *as_int).sort(dims))
        )
    assert rows.stats.sort(dims).equals(loaded.stats.sort(dims))  # types included
    for got in (held.stats, lake.stats):
        assert same_statistics(got, loaded.stats)


@pytest.mark.parametrize("period", PERIODS)
def test_customer_level_answers_in_parts_equal_the_rows(in_parts, loaded, period):
    rows, held, lake = in_parts
    want = comparable(loaded.answers(*period))
    assert comparable(held.answers(*period)).equals(want)
    assert comparable(lake.answers(*period)).equals(want)
    assert comparable(rows.answers(*period)).equals(want)


def test_answers_summed_per_range_of_customers_equal_one_sum(loaded):
    whole = answers.from_rows(loaded.responses, part=loaded.responses.height)
    split = answers.from_rows(loaded.responses, part=1_000)
    assert split.height == whole.height
    assert split.select("cust", "nps_at").equals(split.sort(answers.ORDER).select(*answers.ORDER))
    assert comparable(split).equals(comparable(whole))


def test_latest_answers_and_design_effects_in_parts_equal_the_rows(in_parts, loaded):
    rows, held, lake = in_parts
    for got in (held, rows, lake):
        assert np.array_equal(got.latest_nps, loaded.latest_nps)
        assert got.design_effect == loaded.design_effect
    scoped = held.scoped(("service",))
    want = loaded.scoped(("service",))
    assert np.array_equal(scoped.latest_nps, want.latest_nps)


def test_counts_are_int16_where_they_fit_and_sum_as_int64():
    types = {
        "touchpoint_id": pl.Enum(["t1"]),
        "stage_id": pl.Enum(["s1"]),
        "channel": pl.Enum(["web"]),
        "segment": pl.Enum(["a"]),
        "region": pl.Enum(["n"]),
    }
    day = D(2026, 1, 1)
    n = 3
    frame = pl.DataFrame(
        {
            "responded_on": [day] * n,
            "touchpoint_id": ["t1"] * n,
            "stage_id": ["s1"] * n,
            "channel": ["web"] * n,
            "segment": ["a"] * n,
            "region": ["n"] * n,
            **{c: [30_000] * n for c in metrics.STAT_COLUMNS},
        }
    ).with_columns(pl.col("ces_sq").cast(pl.Int64) * 10)  # 300,000: past Int16
    compact = dataset.compact_stats(frame, types)
    assert compact.schema["responses"] == pl.Int16
    assert compact.schema["ces_sq"] == pl.Int64
    total = metrics.sums(compact).row(0, named=True)
    assert total["responses"] == 90_000  # 3 x 30,000: no Int16 overflow in the roll-up
    assert total["ces_sq"] == 900_000
    rolled = metrics.sums(compact, ["stage_id"]).row(0, named=True)
    assert rolled["promoters"] == 90_000
    assert compact["responses"].sum() == 90_000
    # a value outside the dataset's types is left out, as before
    other = frame.with_columns(pl.lit("t9").alias("touchpoint_id"))
    assert dataset.compact_stats(other, types).height == 0


def test_a_lake_response_without_a_date_is_left_out_by_either_kind_of_part(
    sample_url, tmp_path, monkeypatch
):
    """The contract's tables forbid it, but a lake another tool wrote may hold a response
    with no date: parts by dates never meet it, parts by customers must leave it out too."""
    need("duckdb")
    folder = tmp_path / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    responses = pl.read_parquet(folder / "responses.parquet")
    first = responses["response_id"][0]
    dateless = pl.when(pl.col("response_id") == first).then(None).otherwise("responded_on")
    responses.with_columns(dateless.alias("responded_on")).write_parquet(
        folder / "responses.parquet"
    )
    monkeypatch.setattr(store, "SUM_PART", 2_000)
    loaded = {}
    for max_parts in (1_000, 3):  # parts by dates, then by ranges of customers
        monkeypatch.setattr(store, "MAX_PARTS", max_parts)
        loaded[max_parts] = dataset.load(store.make_engine(f"duckdb:///{folder}"))
    by_dates, by_customers = loaded[1_000], loaded[3]
    assert by_customers.database.customer_cuts  # more than one part
    placed = responses.height - 1
    assert by_dates.n_responses <= placed  # (a response on an unknown touchpoint is not placed)
    assert by_customers.n_responses == by_dates.n_responses
    assert by_customers.stats["responded_on"].null_count() == 0
    assert same_statistics(by_customers.stats, by_dates.stats)
    by_month = by_customers.cell_sums(Filters(), "month")  # failed on a null day
    assert int(by_month["responses"].sum()) == by_dates.n_responses


def test_a_lake_is_summed_by_customers_only_where_its_row_groups_are_in_customer_order(
    sample_url, tmp_path
):
    need("duckdb")
    folder = tmp_path / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    responses = pl.read_parquet(folder / "responses.parquet")
    engine = store.make_engine(f"duckdb:///{folder}")
    for order, expected in (("customer_id", True), ("responded_on", False)):
        # row groups of 2,000 rows: in date order each holds customers from all over
        responses.sort(order, "response_id").write_parquet(
            folder / "responses.parquet", row_group_size=2_000
        )
        assert store.ordered_by_customer(engine) is expected, order
        # Spark reads the same footers here, without starting a session
        spark = store.make_engine(f"spark://local?path={folder}")
        assert store.ordered_by_customer(spark) is expected, order
    assert not store.ordered_by_customer(store.make_engine(sample_url))  # not a lake
