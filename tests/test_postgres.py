"""The store, the metrics and the CLI on a real PostgreSQL server, against SQLite's results."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from test_cli import run

from cxmetrics.contract import store
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview

VIEWS = [
    Filters(),
    Filters(start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30)),
    Filters(
        start=dt.date(2026, 1, 1),
        end=dt.date(2026, 6, 30),
        stages=("claim",),
        channels=("web", "mobile"),
    ),
    Filters(departments=("service",), segments=("Small business",)),
]


@pytest.fixture(scope="module")
def pg_url(pg_server, sample_data):
    url = pg_server.create_database("cx")
    store.write_tables(url, sample_data.tables())  # COPY inside one transaction
    return url


@pytest.fixture(scope="module")
def pg_loaded(pg_url):
    """The rows read into memory, as from a SQLite file."""
    engine = store.make_engine(pg_url)
    try:
        return dataset.load(engine, hold="rows")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_held(pg_url):
    """Postgres's default: the rows stay in the database, which computes the aggregates."""
    engine = store.make_engine(pg_url)
    assert dataset.hold_for(engine) == "database"
    return dataset.load(engine)  # keeps its engine for later periods


def test_postgres_loads_the_same_rows_as_sqlite(pg_loaded, loaded):
    assert pg_loaded.responses.height == loaded.responses.height
    assert pg_loaded.responses.equals(loaded.responses)
    dims = dataset.STAT_DIMENSIONS
    assert pg_loaded.stats.sort(dims).equals(loaded.stats.sort(dims))
    assert pg_loaded.customers.equals(loaded.customers)


def test_fast_and_sqlalchemy_reads_agree_on_postgres(pg_url, monkeypatch):
    engine = store.make_engine(pg_url)
    fast = store.load_customers(engine).sort("customer_id")
    monkeypatch.setattr(store, "_connectorx_uri", lambda engine: None)
    slow = store.load_customers(engine).sort("customer_id")
    engine.dispose()
    assert fast.equals(slow)


@pytest.mark.parametrize("view", VIEWS)
def test_overview_is_the_same_on_postgres_and_sqlite(pg_loaded, pg_held, loaded, view):
    want = overview.summary_dict(overview.compute(loaded, view))
    assert overview.summary_dict(overview.compute(pg_loaded, view)) == want
    assert overview.summary_dict(overview.compute(pg_held, view)) == want


@pytest.mark.parametrize("view", VIEWS)
def test_postgres_group_by_equals_polars_statistics(pg_url, loaded, view):
    by = ["stage_id", "segment"]
    engine = store.make_engine(pg_url)
    sql_side = store.load_stats_sql(engine, view, loaded.stage_ids(view), by)
    engine.dispose()
    polars_side = m.sums(loaded.slice_stats(view), by).with_columns(
        pl.col("stage_id").cast(pl.String), pl.col("segment").cast(pl.String)
    )
    cols = [*by, *m.STAT_COLUMNS]
    assert sql_side.height > 0
    assert sql_side.select(cols).sort(by).equals(polars_side.select(cols).sort(by))


def test_second_write_needs_replace_and_a_failed_write_changes_nothing(pg_server, sample_data):
    url = pg_server.create_database("cx_write")
    tables = dict(sample_data.tables())
    tables["responses"] = sample_data.responses.head(80)
    tables["cases"] = sample_data.cases.filter(pl.col("response_id").cast(pl.Int64) <= 80)
    store.write_tables(url, tables)
    with pytest.raises(store.StoreError, match="already holds responses"):
        store.write_tables(url, tables)
    bad = dict(tables)
    bad["responses"] = sample_data.responses.head(80).with_columns(
        pl.when(pl.col("response_id") == "70")
        .then(99)
        .otherwise(pl.col("nps"))
        .cast(pl.Int16)
        .alias("nps")
    )
    with pytest.raises(Exception):  # noqa: B017 - the server's check-constraint error
        store.write_tables(url, bad, replace=True)
    engine = store.make_engine(url)
    assert store.count_rows(engine, "responses") == 80  # the replace was rolled back whole
    assert store.count_rows(engine, "cases") == tables["cases"].height
    engine.dispose()


def test_cli_summary_on_postgres_matches_sqlite(pg_url, sample_url):
    args = (
        "summary",
        "--json",
        "--start",
        "2026-04-01",
        "--end",
        "2026-09-30",
        "--department",
        "claims",
    )
    on_pg, on_sqlite = run(*args, url=pg_url), run(*args, url=sample_url)
    assert on_pg.returncode == 0, on_pg.stderr
    assert json.loads(on_pg.stdout) == json.loads(on_sqlite.stdout)


def test_init_db_on_postgres(pg_server):
    url = pg_server.create_database("cx_init")
    out = run("init-db", "--url", url)
    assert out.returncode == 0, out.stderr
    engine = store.make_engine(url)
    assert store.count_rows(engine, "responses") == 0
    engine.dispose()


def test_the_dashboard_runs_on_postgres_with_sqlites_numbers(pg_url, sample_url, monkeypatch):
    from conftest import REPO
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(REPO)
    shown = {}
    for name, url in (("postgres", pg_url), ("sqlite", sample_url)):
        monkeypatch.setenv(store.URL_ENV, url)
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
        at.run()
        assert not at.exception, (name, at.exception)
        shown[name] = [(t.label, t.value) for t in at.metric]
        for page in ("pages/voice.py", "pages/data.py"):
            at.switch_page(page).run()
            assert not at.exception, (name, page, at.exception)
    assert shown["postgres"] == shown["sqlite"] and len(shown["sqlite"]) >= 6


def test_a_lost_database_keeps_the_last_data_on_screen_and_recovers(
    tmp_path, sample_data, monkeypatch
):
    """Stop the real server mid-session: the page says so, keeps the numbers it had, and
    comes back by itself when the server is up again."""
    from conftest import REPO
    from pg_server import PostgresServer
    from streamlit.testing.v1 import AppTest

    from cxapp import data

    pg = PostgresServer(tmp_path / "pg")
    pg.start()
    try:
        url = pg.create_database("faults")
        store.write_tables(url, sample_data.tables())
        monkeypatch.setenv(store.URL_ENV, url)
        monkeypatch.chdir(REPO)
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
        at.run()
        assert not at.exception and not at.warning
        before = [(m.label, m.value) for m in at.metric]
        pg.stop()
        data._version.clear()  # as when its one-minute cache runs out
        at.run()
        assert not at.exception, at.exception
        lost = [w.value for w in at.warning if "cannot be used right now" in w.value]
        assert len(lost) == 1 and "faults" in lost[0]
        assert [(m.label, m.value) for m in at.metric] == before
        pg.restart()
        data._version.clear()
        at.run()
        assert not at.exception and not [
            w for w in at.warning if "cannot be used right now" in w.value
        ]
        assert [(m.label, m.value) for m in at.metric] == before
    finally:
        pg.stop()
