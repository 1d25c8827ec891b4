"""The data contract and the store on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys

import polars as pl
import pytest
import sqlalchemy as sa
from conftest import REPO

from cxmetrics.contract import schema, store
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters


def test_every_contract_table_is_created(sample_url):
    engine = store.make_engine(sample_url)
    assert schema.missing_tables(engine) == []
    engine.dispose()


@pytest.mark.parametrize(
    "column, value",
    [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 0), ("ces", 8)],
)
def test_out_of_range_scores_are_refused_by_the_database(tmp_path, column, value):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    schema.create_all(engine)
    row = {
        "response_id": 1,
        "customer_id": 1,
        "touchpoint_id": "t",
        "channel": "web",
        "responded_on": dt.date(2026, 1, 1),
        "source": "survey",
        column: value,
    }
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(schema.responses.insert(), row)
    engine.dispose()


def test_unknown_owner_role_and_source_are_refused(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    schema.create_all(engine)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            schema.stage_owners.insert(), {"stage_id": "s", "department_id": "d", "role": "owner"}
        )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            schema.responses.insert(),
            {
                "response_id": 1,
                "customer_id": 1,
                "touchpoint_id": "t",
                "channel": "web",
                "responded_on": dt.date(2026, 1, 1),
                "source": "email",
            },
        )
    engine.dispose()


def test_tables_read_back_with_contract_types(sample_url, sample_data):
    engine = store.make_engine(sample_url)
    responses = store.load_responses(engine)
    customers = store.load_customers(engine)
    engine.dispose()
    assert responses.schema["responded_on"] == pl.Date
    assert responses.schema["nps"] == pl.Int16
    assert "comment" not in responses.columns
    assert customers.schema["churned_on"] == pl.Date
    assert responses.height == sample_data.responses.height
    written = sample_data.responses.drop("comment").sort("response_id")
    assert responses.sort("response_id").equals(written)


def test_sqlalchemy_fallback_reads_the_same_as_the_fast_path(sample_url, monkeypatch):
    engine = store.make_engine(sample_url)
    fast = store.load_customers(engine)
    monkeypatch.setattr(store, "_connectorx_uri", lambda engine: None)
    slow = store.load_customers(engine)
    engine.dispose()
    assert fast.sort("customer_id").equals(slow.sort("customer_id"))


def test_writing_over_an_existing_file_needs_replace(tmp_path, sample_data):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    tables = {k: v for k, v in sample_data.tables().items() if k != "responses"}
    tables["responses"] = sample_data.responses.head(10)
    store.write_tables(url, tables)
    with pytest.raises(store.StoreError, match="already exists; pass --replace"):
        store.write_tables(url, tables)
    store.write_tables(url, tables, replace=True)


def test_a_failed_write_leaves_nothing_behind(tmp_path, sample_data):
    path = tmp_path / "half.db"
    tables = dict(sample_data.tables())
    bad = sample_data.responses.head(5).with_columns(pl.lit(99, dtype=pl.Int16).alias("nps"))
    tables["responses"] = bad  # violates the nps range check
    with pytest.raises(Exception):  # noqa: B017 - the driver's own integrity error
        store.write_tables(f"sqlite:///{path}", tables)
    assert not path.exists()
    assert not path.with_name("half.db.partial").exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("this is not a database"), "file is not a database"),
        (
            lambda p: sqlite3.connect(p).execute("create table other(a)").connection.commit(),
            "lacks the table(s) stages",
        ),
    ],
)
def test_unusable_databases_give_a_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.db"
    make(path)
    engine = store.make_engine(f"sqlite:///{path}")
    with pytest.raises(store.StoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.check(engine)
    engine.dispose()


def test_unreachable_server_names_the_database_without_the_password():
    engine = store.make_engine("postgresql+psycopg://cx:s3cret@127.0.0.1:9/cx")
    with pytest.raises(store.StoreError) as info:
        store.check(engine)
    assert "cannot" in str(info.value) and "127.0.0.1" in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "password",
    ["Zx9q@Kq7w:Lm7Secret", "Pq4x@Ss8y:W0rdZ9"],  # ":" and "@" not percent-encoded
)
def test_a_password_not_percent_encoded_is_refused_without_showing_any_of_it(password):
    url = f"postgresql+psycopg://cx:{password}@127.0.0.1:8621/cx"
    with pytest.raises(store.StoreError) as info:
        store.make_engine(url)
    said = str(info.value)
    assert "percent-encode the user name and password" in said
    pieces = password.replace("@", ":").split(":")  # none of them may be shown
    assert not [p for p in pieces if p in said], said
    assert info.value.__cause__ is None and info.value.__suppress_context__
    done = subprocess.run(
        [sys.executable, "-m", "cxmetrics", "summary", "--url", url],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 1 and "percent-encode" in done.stderr
    assert not [p for p in pieces if p in done.stderr], done.stderr


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y"])
def test_malformed_urls_are_refused_clearly(url):
    with pytest.raises(store.StoreError):
        store.make_engine(url)


def test_empty_database_says_there_is_nothing_to_show(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = store.make_engine(url)
    schema.create_all(engine)
    with pytest.raises(dataset.EmptyDataError, match="has no journey stages and no responses yet"):
        dataset.load(engine)
    engine.dispose()


def test_data_version_changes_when_responses_change(tmp_path, sample_data):
    path = tmp_path / "v.db"
    tables = dict(sample_data.tables())
    tables["responses"] = sample_data.responses.head(100)
    store.write_tables(f"sqlite:///{path}", tables)
    engine = store.make_engine(f"sqlite:///{path}")
    before = store.data_version(engine)
    with engine.begin() as conn:
        conn.execute(schema.responses.delete().where(schema.responses.c.response_id == 1))
    assert store.data_version(engine) != before
    engine.dispose()


def test_a_sqlite_file_replaced_under_a_live_engine_is_read_afresh(tmp_path, sample_data):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = store.make_engine(url)
    schema.create_all(engine)
    assert store.data_version(engine)[0] == 0
    tables = dict(sample_data.tables())
    tables["responses"] = sample_data.responses.head(250)
    store.write_tables(url, tables, replace=True)  # a new file moved over the old one
    assert store.data_version(engine)[0] == 250
    assert dataset.load(engine).responses.height == 250
    engine.dispose()


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30)),
        Filters(stages=("claim", "pay"), channels=("mobile",)),
        Filters(departments=("service",), segments=("Small business",), regions=("North",)),
    ],
)
def test_polars_statistics_equal_the_database_group_by(sample_url, loaded, filters):
    """Each statistic computed twice: Polars on loaded rows, and SQL by the database."""
    by = ["stage_id", "channel"]
    polars_side = m.sums(loaded.slice_stats(filters), by).with_columns(
        pl.col("stage_id").cast(pl.String), pl.col("channel").cast(pl.String)
    )
    engine = store.make_engine(sample_url)
    sql_side = store.load_stats_sql(engine, filters, loaded.stage_ids(filters), by)
    engine.dispose()
    assert sql_side.height > 0
    key = ["stage_id", "channel"]
    cols = [*key, *m.STAT_COLUMNS]
    assert polars_side.select(cols).sort(key).equals(sql_side.select(cols).sort(key))


def test_reading_in_chunks_gives_the_same_dataset(sample_url):
    engine = store.make_engine(sample_url)
    whole = store.load_responses(engine)
    chunks = list(store.iter_responses(engine, chunk=5_000))
    journey, customers = store.load_journey(engine), store.load_customers(engine)
    engine.dispose()
    assert len(chunks) == -(-whole.height // 5_000)  # ids are 1..n without gaps here
    assert pl.concat(chunks).sort("response_id").equals(whole.sort("response_id"))
    one = dataset.build(journey, customers, whole)
    many = dataset.build(journey, customers, iter(chunks))
    assert one.responses.equals(many.responses)
    dims = dataset.STAT_DIMENSIONS
    assert one.stats.sort(dims).equals(many.stats.sort(dims))


def test_a_reader_that_panics_falls_back_to_sqlalchemy(sample_url, monkeypatch):
    """connectorx's Rust panics are not Exceptions: one had escaped the fallback (the
    comments' export read nothing). The same rows come back through SQLAlchemy."""

    class Panic(BaseException):  # as pyo3's PanicException
        pass

    def panic(*_args, **_kwargs):
        raise Panic("called Result::unwrap() on an Err value")

    engine = store.make_engine(sample_url)
    stmt = sa.select(schema.stages.c.stage_id).order_by(schema.stages.c.stage_id)
    want = store.read_select(engine, stmt)
    monkeypatch.setattr(store, "_read_sqlite_adbc", lambda *_a: None)
    monkeypatch.setattr(store.pl, "read_database_uri", panic)
    assert store.read_select(engine, stmt).equals(want) and want.height > 0
    engine.dispose()


@pytest.fixture
def small_sample(monkeypatch, tmp_path):
    """The embedded sample's path in a temporary folder, and a small company behind it."""
    import functools

    from cxmetrics.contract import sample

    target = tmp_path / "cx.db"
    monkeypatch.setattr(store, "DEFAULT_DB_PATH", target)
    monkeypatch.setattr(sample, "generate", functools.partial(sample.generate, 300))
    return target


def responses_in(path) -> int:
    return sqlite3.connect(path).execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_an_empty_file_at_the_sample_s_place_is_replaced_by_the_sample(small_sample):
    """A page that read the URL before the sample existed left an empty file there (SQLite
    makes one), taken for the sample: every page then said "no such table" for good."""
    sa.create_engine(store.default_url()).connect().close()  # as the Data page's status did
    assert small_sample.exists() and store.sample_missing(store.default_url())
    assert store.ensure_sample_database(store.default_url())
    assert responses_in(small_sample) > 0
    assert not store.sample_missing(store.default_url())
    assert not store.ensure_sample_database(store.default_url())


def test_sessions_that_start_together_build_the_sample_once(small_sample):
    from concurrent.futures import ThreadPoolExecutor

    url = store.default_url()
    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(lambda _: store.ensure_sample_database(url), range(4)))
    assert sorted(built) == [False, False, False, True]
    assert responses_in(small_sample) > 0
    assert not small_sample.with_name("cx.db.partial").exists()
