"""The customer-level aggregate two ways: summed from the rows in memory, and computed by
the database with one GROUP BY over window functions (SQLite and a real Postgres)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cxmetrics.contract import store
from cxmetrics.stats import answers

D = dt.date
PERIODS = [(None, None), (D(2026, 7, 1), D(2026, 9, 30)), (D(2025, 1, 1), D(2025, 3, 31))]


@pytest.fixture(scope="module")
def pg_answers_url(pg_server, sample_data):
    url = pg_server.create_database("answers")
    store.write_tables(url, sample_data.tables())
    return url


def comparable(frame: pl.DataFrame) -> pl.DataFrame:
    """Keys as text, and each latest answer's place as its rank among the customer's latest
    answers (the two ways number places differently; the order within a customer is what
    counts)."""
    out = frame.with_columns(
        pl.col("stage_id").cast(pl.String),
        pl.col("channel").cast(pl.String),
        *[pl.col(f"{s}_at").rank("ordinal").over("cust").cast(pl.UInt32) for s in answers.SCORES],
    )
    return out.select(sorted(out.columns)).sort(list(answers.KEYS))


@pytest.mark.parametrize("engine_name", ["sqlite", "postgres"])
@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_the_database_computes_the_same_aggregate(
    engine_name, start, end, loaded, sample_url, request
):
    url = sample_url if engine_name == "sqlite" else request.getfixturevalue("pg_answers_url")
    engine = store.make_engine(url)
    try:
        by_sql = answers.load(engine, start, end, loaded.customers, loaded.responses.schema)
    finally:
        engine.dispose()
    in_memory = loaded.answers(start, end)
    assert by_sql.height == in_memory.height > 0
    assert comparable(by_sql).equals(comparable(in_memory))


def test_counts_by_hand_on_a_few_rows():
    rows = pl.DataFrame(
        {
            "cust": [0, 0, 1, 0, 1],
            "stage_id": ["a", "a", "a", "b", "a"],
            "channel": ["web"] * 5,
            "source": ["survey", "complaint", "survey", "survey", "survey"],
            "nps": [10, None, 3, 7, 9],
            "csat": [5, 2, None, 4, None],
        }
    )
    got = answers.from_rows(rows).sort("cust", "stage_id")
    # customer 0 at a: answers 10 and blank (complaint); 1 at a: 3 then 9; 0 at b: 7
    assert got.select("cust", "stage_id", "responses", "n_nps", "promoters", "detractors",
                      "complaints", "nps", "csat").rows() == [
        (0, "a", 2, 1, 1, 0, 1, 10, 2),
        (0, "b", 1, 1, 0, 0, 0, 7, 4),
        (1, "a", 2, 2, 1, 1, 0, 9, None),
    ]  # fmt: skip
    last = answers.latest(got)
    assert last.rows() == [(0, 7), (1, 9)]  # 0's latest answer is at b (row 3)


@pytest.mark.parametrize("with_null", [False, True])
def test_rows_of_chosen_stages_are_picked_by_code(with_null):
    """Enum stage column, with and without a null: the rows picked are those whose name is
    one of the chosen, row by row in plain Python."""
    names = ["shop", "buy", "pay", "help", "claim", "renew"]
    raw = [names[i % 6] for i in range(50)] + ([None] if with_null else [])
    column = pl.Series("stage_id", raw, dtype=pl.Enum(names))
    chosen = ("pay", "claim", "nowhere")
    got = answers._among(column, chosen)
    assert got.tolist() == [v in chosen for v in raw]


def _part(cust: list[int], **counts) -> pl.DataFrame:
    n = len(cust)
    return answers.narrow(
        pl.DataFrame(
            {
                "cust": pl.Series(cust, dtype=pl.Int32),
                "stage_id": ["a"] * n,
                "channel": ["web"] * n,
                **{c: pl.Series(counts.get(c, [1] * n), dtype=pl.Int32) for c in answers.COUNTS},
                "nps": pl.Series([9] * n, dtype=pl.Int8),
                "nps_at": pl.Series(range(n), dtype=pl.UInt32),
                "csat": pl.Series([None] * n, dtype=pl.Int8),
                "csat_at": pl.Series([None] * n, dtype=pl.UInt32),
            }
        )
    )


def test_counts_are_held_narrow_where_they_fit_and_parts_keep_every_value():
    small, big = _part([0, 1]), _part([2, 3], responses=[40_000, 2])  # 40,000 > Int16
    assert small.schema["responses"] == pl.Int16 and big.schema["responses"] == pl.Int32
    assert big.schema["n_nps"] == pl.Int16  # the other counts of that part fit
    whole = answers.in_order([big, small])
    assert whole.schema["responses"] == pl.Int32
    assert whole["responses"].to_list() == [1, 1, 40_000, 2]
    assert whole["responses"].sum() == 40_004  # summed wider than the type held


def test_parts_whose_customers_interleave_are_sorted_and_others_only_put_together():
    # a collation that orders ids differently from Polars puts customers of one part among
    # those of another: the whole is then sorted
    apart = answers.in_order([_part([5, 6]), _part([0, 2])])
    assert apart["cust"].to_list() == [0, 2, 5, 6]
    mixed = answers.in_order([_part([0, 5]), _part([2, 6])])
    assert mixed["cust"].to_list() == [0, 2, 5, 6]
    assert mixed.equals(mixed.sort(answers.ORDER))
    assert answers.in_order([_part([]), _part([1])])["cust"].to_list() == [1]


def test_a_database_s_groups_are_placed_by_hand_and_unknown_customers_left_out():
    customers = pl.DataFrame({"customer_id": ["A1", "B2", "C3"]}).with_columns(
        pl.int_range(3, dtype=pl.Int32).alias("cust")
    )
    types = {"cust": pl.Int32, "stage_id": pl.Enum(["buy", "claim"]), "channel": pl.Enum(["web"])}
    shift, offset = 65_536, 32_768  # place × 65,536 + answer + 32,768, as the query writes it
    frame = pl.DataFrame(
        {
            "customer_id": ["C3", "ZZ", "A1", "A1", "B2"],  # ZZ: not a known customer
            "stage_id": ["buy", "buy", "claim", "buy", "nowhere"],  # nowhere: not a stage
            "channel": ["web"] * 5,
            "responses": [2, 1, 1, 3, 1],
            "n_nps": [1, 1, 0, 2, 1],
            "promoters": [1, 0, 0, 1, 0],
            "detractors": [0, 1, 0, 1, 1],
            "complaints": [0, 0, 1, 0, 0],
            "nps_key": [
                4 * shift + 9 + offset,
                shift + 2 + offset,
                None,
                7 * shift + offset,
                shift + 3 + offset,
            ],
            "csat_key": [None, None, 2 * shift + 5 + offset, 3 * shift + 4 + offset, None],
        }
    )
    out = answers.placed(frame, customers, types)
    # in answers.ORDER: by customer code, then by the place of the latest NPS (none first)
    assert out.select("cust", pl.col("stage_id").cast(pl.String)).rows() == [
        (0, "claim"),
        (0, "buy"),
        (2, "buy"),
    ]
    assert out["responses"].to_list() == [1, 3, 2]
    assert out["nps"].to_list() == [None, 0, 9] and out["nps_at"].to_list() == [None, 7, 4]
    assert out["csat"].to_list() == [5, 4, None] and out["csat_at"].to_list() == [2, 3, None]
    assert out.schema["responses"] == pl.Int16 and out.schema["cust"] == pl.Int32


def test_codes_of_a_part_s_ids_are_those_of_a_join_to_every_customer():
    from cxmetrics.stats.dataset import prepare_customers

    ids = [f"c{i:03d}" for i in range(0, 300, 3)]  # c000, c003 … c297
    customers = prepare_customers(
        pl.DataFrame({"customer_id": ids[::-1], "segment": "a", "region": "n"})
    )
    everyone = customers.select("customer_id", "cust")
    parts = [
        ["c150", "c099", "c297", "c120"],  # out of order, the last customer among them
        ["c000", "c001", "c003", None],  # an unknown id between two known ones, a null
        ["zzz", "c151"],  # unknown beyond the last and between two
        [],
    ]
    for part in parts:
        got = answers.codes_of(pl.Series("customer_id", part, dtype=pl.String), customers)
        want = (
            pl.DataFrame({"customer_id": part}, schema={"customer_id": pl.String})
            .join(everyone, on="customer_id", how="left", maintain_order="left")
            .get_column("cust")
        )
        assert got.to_list() == want.to_list(), part
    assert answers.codes_of(pl.Series(["c150", "c099"]), customers).to_list() == [50, 33]
