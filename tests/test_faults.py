"""Database faults with real servers: unreachable at start, a table missing, an import
killed half-way. Messages are clear, nothing is half-written, and the pages come back by
themselves."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from conftest import REPO
from pg_server import PostgresServer
from streamlit.testing.v1 import AppTest
from test_browser import streamlit_server

from cxmetrics.contract import importer, schema, store


@pytest.fixture
def own_pg(tmp_path):
    """A Postgres server of this test's own, which the test may stop and start."""
    pg = PostgresServer(tmp_path / "pg")
    pg.start()
    yield pg
    pg.stop()


@pytest.mark.browser
def test_a_database_down_at_start_is_named_and_the_page_recovers_by_itself(
    own_pg, sample_data, browser, tmp_path
):
    url = own_pg.create_database("down_at_start")
    store.write_tables(url, sample_data.tables())
    own_pg.stop()
    with streamlit_server(url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        page.get_by_text("The dashboard cannot load its data.").wait_for(timeout=90_000)
        body = page.locator("[data-testid='stMain']").inner_text()
        assert "127.0.0.1" in body and "down_at_start" in body and "Traceback" not in body
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        own_pg.restart()
        # no click, no reload: the page finds the database back on its own
        page.wait_for_selector("[data-testid='stMetricValue']", timeout=90_000)
        assert page.get_by_text("The dashboard cannot load its data.").count() == 0


@pytest.mark.browser
def test_a_view_first_asked_for_in_an_outage_comes_back_by_itself(
    own_pg, sample_data, browser, tmp_path
):
    """Postgres stops after the dashboard loaded; a period nobody opened yet needs its
    customer-level answers from the database: the page says it cannot be loaded, and,
    without a click or a reload, shows the view once the database answers again."""
    url = own_pg.create_database("view_in_outage")
    store.write_tables(url, sample_data.tables())
    with streamlit_server(url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        page.wait_for_selector("[data-testid='stMetricValue']", timeout=90_000)
        own_pg.stop()
        page.goto(f"{base}/?period=all")
        page.get_by_text("cannot be loaded").first.wait_for(timeout=90_000)
        said = page.locator("[data-testid='stMain']").inner_text()
        assert "The database does not answer; this page tries again every" in said
        assert "Traceback" not in said
        own_pg.restart()
        page.wait_for_selector("[data-testid='stMetricValue']", timeout=90_000)
        assert page.get_by_text("cannot be loaded").count() == 0
    log = (tmp_path / "server.log").read_text()
    assert "the database does not answer" in log


def test_a_stopped_postgres_is_named_without_trying_every_reader(own_pg, monkeypatch):
    """The COPY reader cannot connect: the server is down, which connectorx (and its
    library's log lines, and pyarrow in memory) would only find again."""
    url = own_pg.create_database("stopped")
    engine = store.make_engine(url)
    own_pg.stop()

    tried = []

    def other_reader(*args, **_kwargs):
        tried.append(args[0])
        raise OSError("not this reader")

    monkeypatch.setattr(pl, "read_database_uri", other_reader)
    with pytest.raises(store.StoreError) as refused:
        store.read_select(engine, sa.select(schema.stages.c.stage_id))
    assert tried == []
    assert str(refused.value).startswith(f"cannot read from {store.safe_url(url)}: ")
    assert "Connection refused" in str(refused.value)
    engine.dispose()


@pytest.mark.browser
def test_a_database_without_data_yet_shows_it_once_the_first_import_lands(
    sample_data, browser, tmp_path
):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = store.make_engine(url)
    schema.create_all(engine)
    engine.dispose()
    with streamlit_server(url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        page.get_by_text("has no journey stages and no responses yet").wait_for(timeout=90_000)
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        store.write_tables(url, sample_data.tables(), replace=True)
        # the page was waiting for other data, not reloading in a loop; it shows it now
        page.wait_for_selector("[data-testid='stMetricValue']", timeout=90_000)
        assert page.get_by_text("has no journey stages").count() == 0


def test_a_missing_table_is_named_and_the_last_data_stays_until_it_is_back(
    sample_db, tmp_path, monkeypatch
):
    from cxapp import data

    path = tmp_path / "cx.db"
    shutil.copy(sample_db, path)
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{path}")
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.run()
    before = [(m.label, m.value) for m in at.metric]
    assert before and not at.warning
    with sqlite3.connect(path) as conn:
        kpis = conn.execute("SELECT * FROM kpis").fetchall()
        conn.execute("DROP TABLE kpis")
    data._version.clear()  # as when its one-minute cache runs out
    at.run()
    assert not at.exception
    (lost,) = [w.value for w in at.warning if "cannot be used right now" in w.value]
    assert "lacks the table(s) kpis" in lost and "init-db" in lost
    assert [(m.label, m.value) for m in at.metric] == before

    # a fresh session has no last data to fall back on: a clear message, no traceback
    fresh = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    data._last_good.clear()
    fresh.run()
    assert not fresh.exception and not fresh.metric
    assert "lacks the table(s) kpis" in fresh.error[0].value

    engine = store.make_engine(f"sqlite:///{path}")
    schema.create_all(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.executemany(f"INSERT INTO kpis VALUES ({', '.join('?' * len(kpis[0]))})", kpis)
    data._version.clear()
    fresh.run()
    assert not fresh.exception and not fresh.error
    assert [(m.label, m.value) for m in fresh.metric] == before


def _foreign_keys(conn, table: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            (table,),
        )
    }


def test_an_import_killed_half_way_leaves_postgres_as_it_was(pg_server, sample_data, tmp_path):
    url = pg_server.create_database("killed_import")
    store.write_tables(url, sample_data.tables())
    rows = max(importer.BULK_ROWS + 10_000, 60_000)  # the bulk path: foreign keys dropped
    base = sample_data.responses
    batch = pl.concat([base] * (rows // base.height + 1)).head(rows)
    batch = batch.with_columns((pl.int_range(pl.len()) + 50_000_000).alias("response_id"))
    path = tmp_path / "responses.csv"
    batch.write_csv(path)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        (before,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
        keys = _foreign_keys(conn, "responses")
    assert keys  # the contract's foreign keys are there to lose

    proc = subprocess.Popen(
        [sys.executable, "-m", "cxmetrics", "import", "responses", str(path), "--url", url],
        cwd=REPO,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watch = psycopg.connect(dsn, autocommit=True)
    deadline = time.monotonic() + 120
    caught = None
    while caught is None and proc.poll() is None and time.monotonic() < deadline:
        caught = watch.execute(  # the importer inside its write: copying or re-checking keys
            "SELECT query FROM pg_stat_activity WHERE datname = 'killed_import' "
            "AND pid <> pg_backend_pid() AND state = 'active' AND (query ILIKE 'COPY%%' "
            "OR query ILIKE 'ALTER TABLE%%' OR query ILIKE 'INSERT INTO%%')"
        ).fetchone()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert caught is not None, "the import finished before it could be interrupted"

    deadline = time.monotonic() + 60  # the server notices the lost client and rolls back
    while time.monotonic() < deadline:
        busy = watch.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = 'killed_import' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        if not busy:
            break
    watch.close()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT COUNT(*) FROM responses").fetchone() == (before,)
        assert _foreign_keys(conn, "responses") == keys
        assert conn.execute("SELECT COUNT(*) FROM imports").fetchone() == (0,)
