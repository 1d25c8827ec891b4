"""The bulk readers that keep pyarrow and connectorx out of the dashboard's process: SQLite
through its ADBC driver, Postgres through COPY as CSV. Each must read every table of the
contract exactly as SQLAlchemy's row-by-row path does, and a process on either engine must
never import the libraries it no longer needs."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys

import polars as pl
import pytest
import sqlalchemy as sa

from cxmetrics.contract import schema, store

REPO = store.REPO_DIR

#: Libraries an engine that does not need them must never load (each costs 20-45 MB)
HEAVY = ("pyarrow", "connectorx", "duckdb", "pyspark")


def _held_tables(engine: sa.Engine) -> list[sa.Table]:
    held = set(sa.inspect(engine).get_table_names())
    return [t for name, t in schema.metadata.tables.items() if name in held]


def _spy(monkeypatch, name: str) -> list:
    """Record what ``store.<name>`` returns (None: it gave up and another reader ran)."""
    real, seen = getattr(store, name), []

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(store, name, spy)
    return seen


def _slow(engine: sa.Engine, table: sa.Table, monkeypatch) -> pl.DataFrame:
    """The same table through SQLAlchemy (the fast paths switched off)."""
    with monkeypatch.context() as m:
        m.setattr(store, "_connectorx_uri", lambda engine: None)
        return store.load_table(engine, table)


def _same(fast: pl.DataFrame, slow: pl.DataFrame, table: sa.Table) -> None:
    key = [c.name for c in table.primary_key.columns] or fast.columns
    assert fast.schema == slow.schema, table.name
    assert fast.sort(key).equals(slow.sort(key)), table.name


def test_sqlite_tables_read_through_adbc_equal_sqlalchemys(sample_url, monkeypatch):
    engine = store.make_engine(sample_url)
    tables = _held_tables(engine)
    assert {"responses", "customers", "cases", "contacts"} <= {t.name for t in tables}
    for table in tables:
        seen = _spy(monkeypatch, "_read_sqlite_adbc")
        fast = store.load_table(engine, table)
        assert seen and seen[-1] is not None, f"{table.name} was not read through ADBC"
        _same(fast, _slow(engine, table, monkeypatch), table)
    engine.dispose()


def _late_typed_file(path) -> str:
    """Customers whose churn date is null in the first 1,500 rows and a date after."""
    engine = sa.create_engine(f"sqlite:///{path}")
    schema.create_all(engine)
    engine.dispose()
    first = [
        (f"C{i:05d}", "Personal", "North", "2025-01-01", 10.0 + i, None, None, None)
        for i in range(1500)
    ]
    late = [
        (f"C{i:05d}", "Premier", "", "2025-02-03", None, 2.5, 0.0, "2025-06-30")
        for i in (1500, 1501)
    ]
    rows = first + late
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("batch_rows", [store.ADBC_SQLITE_BATCH_ROWS, 1000])
def test_a_column_null_in_its_first_rows_is_read_right(tmp_path, monkeypatch, batch_rows):
    """ADBC types a column by its first batch of rows: a date after 1,500 nulls is read
    (a batch bigger than the rows), or the driver gives up and the read falls back (a batch
    of 1,000); either way the values are SQLAlchemy's, an empty region stays empty."""
    engine = store.make_engine(_late_typed_file(tmp_path / "late.db"))
    monkeypatch.setattr(store, "ADBC_SQLITE_BATCH_ROWS", batch_rows)
    seen = _spy(monkeypatch, "_read_sqlite_adbc")
    fast = store.load_customers(engine)
    assert (seen[-1] is None) == (batch_rows == 1000)
    _same(fast, _slow(engine, schema.customers, monkeypatch), schema.customers)
    assert fast["churned_on"].drop_nulls().to_list() == [dt.date(2025, 6, 30)] * 2
    assert fast.filter(pl.col("customer_id") == "C01500")["region"].to_list() == [""]
    engine.dispose()


def _modules_after_load(url: str, hold: str) -> dict:
    """In a fresh process: load the dataset, compute the default overview; which of
    :data:`HEAVY` were imported, and the response count."""
    code = f"""
import json, sys
from cxmetrics.contract import store
from cxmetrics.stats import dataset
from cxmetrics.views import overview
from cxmetrics.stats.filters import Filters
engine = store.make_engine({url!r})
ds = dataset.load(engine, hold={hold!r})
overview.compute(ds, Filters())
print(json.dumps({{"loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "responses": ds.n_responses}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("hold", ["rows", "database"])
def test_a_sqlite_process_never_loads_pyarrow_connectorx_duckdb_or_spark(
    sample_url, sample_data, hold
):
    found = _modules_after_load(sample_url, hold)
    assert found == {"loaded": [], "responses": sample_data.responses.height}


@pytest.fixture(scope="module")
def pg_url(pg_server, sample_data):
    url = pg_server.create_database("readers")
    store.write_tables(url, sample_data.tables())
    return url


def test_postgres_tables_read_through_copy_equal_sqlalchemys(pg_url, monkeypatch):
    engine = store.make_engine(pg_url)
    tables = _held_tables(engine)
    assert {"responses", "customers", "cases", "contacts"} <= {t.name for t in tables}
    for table in tables:
        seen = _spy(monkeypatch, "_read_postgres_copy")
        fast = store.load_table(engine, table)
        assert seen and seen[-1] is not None, f"{table.name} was not read through COPY"
        _same(fast, _slow(engine, table, monkeypatch), table)
    engine.dispose()


def test_postgres_copy_keeps_empty_text_nulls_booleans_and_floats(pg_url):
    """Values CSV could blur: an empty text and a null, t and f, a float's last digit."""
    values = sa.union_all(
        sa.select(
            sa.literal("", sa.String).label("s"),
            sa.literal(True, sa.Boolean).label("b"),
            sa.literal(0.1 + 0.2, sa.Float).label("f"),
            sa.literal(dt.date(2026, 2, 28), sa.Date).label("d"),
        ),
        sa.select(
            sa.null().cast(sa.String),
            sa.literal(False, sa.Boolean),
            sa.literal(1e-300, sa.Float),
            sa.null().cast(sa.Date),
        ),
        sa.select(
            sa.literal('a,"b"\n\\N', sa.String),
            sa.null().cast(sa.Boolean),
            sa.null().cast(sa.Float),
            sa.literal(dt.date(1999, 12, 31), sa.Date),
        ),
    ).subquery()
    engine = store.make_engine(pg_url)
    frame = store.read_select(engine, sa.select(values))
    engine.dispose()
    assert frame.to_dict(as_series=False) == {
        "s": ["", None, 'a,"b"\n\\N'],
        "b": [True, False, None],
        "f": [0.1 + 0.2, 1e-300, None],
        "d": [dt.date(2026, 2, 28), None, dt.date(1999, 12, 31)],
    }


@pytest.mark.parametrize("hold", ["rows", "database"])
def test_a_postgres_process_never_loads_pyarrow_connectorx_duckdb_or_spark(
    pg_url, sample_data, hold
):
    found = _modules_after_load(pg_url, hold)
    assert found == {"loaded": [], "responses": sample_data.responses.height}
