"""Every engine gives the numbers SQLite gives on the same data: DuckDB over a folder of
Parquet files, a DuckDB file, and Apache Spark in local mode over the same folder.

Each engine is started here: DuckDB in this process, one local Spark session for the module
(``spark://local?path=…``), and for the browser test a `streamlit run` server that starts
its own. The reference is the SQLite file the Parquet folder was exported from, and plain
SQL on that file (sqlite3), independent of the project.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import REPO
from engines import Engines, build, engine_of, need, run_cli
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from cxmetrics import cli
from cxmetrics.contract import lake, schema, spark_dialect, store
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import dataset, load_cache

ENGINES = ("duckdb-folder", "duckdb-file", "spark")
PAGES = ("journey", "loyalty", "accountability", "voice", "data", "glossary")
TIMEOUT = 300  # the first Spark run starts the JVM


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> Engines:
    out = build(tmp_path_factory.mktemp("engines"))
    yield out
    spark_dialect.stop_all()  # one Spark session for the module, stopped at its end


@pytest.fixture(params=ENGINES)
def engine_url(request, engines) -> str:
    need(engine_of(request.param))
    return engines.url(request.param)


@pytest.fixture(scope="module")
def sqlite_reports(engines) -> dict[str, dict]:
    return {
        command: run_cli(command, "--json", "--url", engines.sqlite)
        for command in ("summary", "findings")
    }


def sql_nps(db, start: dt.date, end: dt.date) -> tuple[float, int]:
    with sqlite3.connect(db) as conn:
        pro, det, n = conn.execute(
            "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses "
            "WHERE responded_on BETWEEN ? AND ?",
            (start.isoformat(), end.isoformat()),
        ).fetchone()
    return 100 * (pro - det) / n, n


@pytest.mark.parametrize("command", ["summary", "findings"])
def test_the_command_line_reports_the_same_numbers_as_sqlite(
    engine_url, engines, sqlite_reports, command
):
    got = run_cli(command, "--json", "--url", engine_url)
    want = sqlite_reports[command]
    assert got == want  # every number, sentence, interval and q-value, not only the keys
    if command == "summary":
        rows = pq.read_table(engines.lake / "responses.parquet").num_rows
        assert got["overall"]["responses"] == rows
        nps, n = sql_nps(engines.sqlite_file, *map(dt.date.fromisoformat, got["period"].values()))
        assert got["overall"]["nps"]["n"] == n
        assert got["overall"]["nps"]["value"] == pytest.approx(nps, abs=5e-5)
    else:
        assert sum(got["tested"].values()) > 0 and got["findings"]


@pytest.mark.parametrize("name", ["duckdb-folder", "spark"])
def test_a_start_on_the_kept_aggregates_reports_the_same_numbers_as_sqlite(
    name, engines, sqlite_reports, tmp_path, monkeypatch
):
    """A second start over a lake reads what the first kept (cxmetrics.stats.load_cache)
    and asks the engine for none of it, with every number as SQLite's."""
    need(engine_of(name))
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    url = engines.url(name)
    run_cli("summary", "--json", "--url", url)  # the first start: computed, then kept
    summed, asked = store.load_stats_sql, []

    def spied(*args, **kwargs):
        asked.append(args[3])
        return summed(*args, **kwargs)

    monkeypatch.setattr(store, "load_stats_sql", spied)
    for command in ("summary", "findings"):
        assert run_cli(command, "--json", "--url", url) == sqlite_reports[command]
    assert asked == []  # the daily statistics were not summed again


def test_the_group_by_statistics_are_the_same_as_sqlite(engine_url, engines):
    """The additive statistics computed by each engine's own GROUP BY (store.load_stats_sql)."""
    from cxmetrics.stats.filters import Filters

    view = Filters(start=dt.date(2025, 7, 1), end=dt.date(2026, 6, 30), channels=("web", "agent"))
    by = ["stage_id", "channel", "segment"]
    frames = []
    for url in (engines.sqlite, engine_url):
        engine = store.make_engine(url)
        try:
            frames.append(store.load_stats_sql(engine, view, None, by).sort(by))
        finally:
            engine.dispose()
    assert frames[0].height > 0
    assert frames[1].equals(frames[0])


def render(url: str, monkeypatch) -> dict[str, tuple[list[str], int]]:
    """Every page under AppTest: the values of its metrics and its number of charts."""
    monkeypatch.setenv(store.URL_ENV, url)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    shown = {"overview": ([m.value for m in at.metric], len(at.get("plotly_chart")))}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        shown[page] = ([m.value for m in at.metric], len(at.get("plotly_chart")))
    return shown


@pytest.fixture(scope="module")
def sqlite_pages(engines) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        return render(engines.sqlite, mp)


def test_spark_sums_a_lake_in_customer_order_by_ranges_of_customers(engines, monkeypatch):
    """Past the size where parts grow, Spark sums a lake written in customer order by
    ranges of customers, as DuckDB does (by dates, each part would read the whole lake):
    the same daily statistics as SQLite's one read of the rows."""
    need("spark")
    from test_parts import same_statistics

    monkeypatch.setattr(store, "SUM_PART", 1_000)
    monkeypatch.setattr(store, "MAX_PARTS", 5)  # parts grow past 5,000 responses
    engine = store.make_engine(engines.url("spark"))
    assert store.ordered_by_customer(engine)
    summed, ranges = store.load_stats_sql, []

    def spied(engine, filters, stage_ids, by, customers=(None, None)):
        ranges.append(customers if filters.start is None else None)
        return summed(engine, filters, stage_ids, by, customers)

    monkeypatch.setattr(store, "load_stats_sql", spied)
    spark = dataset.load(engine)
    assert len(ranges) == 5 and None not in ranges and (None, None) not in ranges
    monkeypatch.setattr(store, "load_stats_sql", summed)
    rows = dataset.load(store.make_engine(engines.sqlite), hold="rows")
    assert spark.stats.height > 0 and same_statistics(spark.stats, rows.stats)


def test_every_page_renders_the_same_numbers_as_sqlite(
    engine_url, engines, sqlite_pages, monkeypatch
):
    shown = render(engine_url, monkeypatch)
    assert shown == sqlite_pages
    # the headline, by hand: the last 90 days (the sample company's default period)
    with sqlite3.connect(engines.sqlite_file) as conn:
        (last,) = conn.execute("SELECT MAX(responded_on) FROM responses").fetchone()
    end = dt.date.fromisoformat(last)
    nps, _ = sql_nps(engines.sqlite_file, end - dt.timedelta(days=89), end)
    assert shown["overview"][0][0] == METRICS["nps"].format(nps)


def test_every_page_renders_the_same_numbers_from_the_kept_aggregates(
    engines, sqlite_pages, tmp_path, monkeypatch
):
    """A dashboard process that starts on the aggregates another process kept of the lake
    (cxmetrics.stats.load_cache) shows every page as SQLite's, asking the engine for none
    of what was kept."""
    need("duckdb")
    from cxapp import data

    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    url = engines.url("duckdb-folder")
    run_cli("summary", "--json", "--url", url)  # the first process: computed, then kept
    for held in (data._dataset, data.VIEWS, data.PARTS):  # nothing of earlier tests' loads
        held.clear()
    summed, asked = store.load_stats_sql, []

    def spied(*args, **kwargs):
        asked.append(args[3])
        return summed(*args, **kwargs)

    monkeypatch.setattr(store, "load_stats_sql", spied)
    try:
        assert render(url, monkeypatch) == sqlite_pages
    finally:
        for held in (data._dataset, data.VIEWS, data.PARTS):
            held.clear()
    assert asked == []


def page_on(engines, name: str, page: str, monkeypatch) -> AppTest:
    """``pages/PAGE.py`` under AppTest on the engine ``name`` (a failure if it raised)."""
    need(engine_of(name))
    monkeypatch.setenv(store.URL_ENV, engines.url(name))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name", ["duckdb-folder", "duckdb-file", "spark"])
def test_the_data_page_where_files_are_not_imported_shows_its_tables_and_why(
    engines, monkeypatch, name
):
    """On a lake the page said only "Table with name imports does not exist!": a lake has no
    import log. It shows each table's rows, as SQLite counts them, and says why files are
    not imported there (a lake and Spark are read only; a DuckDB file is written whole, by
    the sample's command), before any file is chosen."""
    at = page_on(engines, name, "data", monkeypatch)
    assert not at.error, [e.value for e in at.error]
    (holdings,) = [d.value for d in at.dataframe if "table" in d.value.columns]
    rows = dict(zip(holdings["table"], holdings["rows"], strict=True))
    with sqlite3.connect(engines.sqlite_file) as conn:
        for table in ("customers", "responses", "cases", "kpis"):
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert rows[table] == n, table
    (said,) = [i.value for i in at.info if "Nothing is imported here" in i.value]
    assert "export-parquet" in said
    assert "here.** Files cannot be written: " in said  # a sentence starts with a capital
    assert not at.get("file_uploader")


@pytest.mark.parametrize("name", ["duckdb-folder", "spark"])
def test_the_action_editor_is_not_offered_where_action_plans_cannot_be_written(
    engines, monkeypatch, name
):
    """A lake and Spark are read only: the Accountability page lists the action plans and
    says why they are not edited here, before anyone fills in a form for nothing."""
    at = page_on(engines, name, "accountability", monkeypatch)
    (said,) = [c.value for c in at.caption if c.value.startswith("Action plans are only read")]
    assert "read only" in said or "does not write" in said
    assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter:action_form")]
    with sqlite3.connect(engines.sqlite_file) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM actions").fetchone()
    lists = [len(d.value) for d in at.dataframe if "action_id" in d.value.columns]
    assert max(lists) == n  # every action plan is still listed


def test_a_folder_of_part_files_and_absent_optional_tables_are_read(engines, tmp_path):
    need("duckdb")
    folder = tmp_path / "lake"
    shutil.copytree(engines.lake, folder)
    parts = folder / "responses"
    parts.mkdir()
    table = pq.read_table(folder / "responses.parquet")
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "part-0.parquet")
    pq.write_table(table.slice(half), parts / "part-1.parquet")
    # what a Spark write leaves beside its parts, hidden to its readers: not read either
    (parts / "_temporary" / "0").mkdir(parents=True)
    pq.write_table(table.slice(0, half), parts / "_temporary" / "0" / "part-0.parquet")
    pq.write_table(table.slice(half), parts / ".part-1.parquet")
    (parts / "_SUCCESS").write_bytes(b"")
    (folder / "responses.parquet").unlink()
    for name in ("contacts", "cases", "kpis", "settings"):
        (folder / f"{name}.parquet").unlink()
    engine = store.make_engine(f"duckdb:///{folder}")
    try:
        ds = dataset.load(engine)
        assert ds.n_responses == table.num_rows
        assert store.load_kpis(engine).height == 0
        assert store.load_cases(engine).columns == [c.name for c in schema.cases.columns]
        assert store.data_version(engine)[0] == table.num_rows
    finally:
        engine.dispose()


def _responses_in_parts(engines, tmp_path) -> tuple[Path, Path, pq.Table]:
    """A copy of the test lake whose responses are a folder ``responses.parquet/`` (as Spark
    names a table it writes) of two part files; the lake, the folder and the rows."""
    folder = tmp_path / "lake"
    shutil.copytree(engines.lake, folder)
    table = pq.read_table(folder / "responses.parquet")
    (folder / "responses.parquet").unlink()
    parts = folder / "responses.parquet"
    (parts / "channel=elsewhere").mkdir(parents=True)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "part-0.parquet")
    pq.write_table(table.slice(half), parts / "channel=elsewhere" / "part-1.parquet")
    return folder, parts, table


def test_a_lake_reads_what_its_tables_hold_and_nothing_else(
    engines, sqlite_reports, tmp_path, monkeypatch
):
    """A table written as Spark names it, in a folder whose name looks like a partition of
    one of its columns, with a link back up the lake inside it: the same numbers as SQLite's
    (the files' own channels, and no other table's files read as responses)."""
    need("duckdb")
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    folder, parts, table = _responses_in_parts(engines, tmp_path)
    (parts / "loop").symlink_to("..", target_is_directory=True)
    assert lake.files(folder)["responses"] == [
        str(parts / "channel=elsewhere" / "part-1.parquet"),
        str(parts / "part-0.parquet"),
    ]
    url = f"duckdb:///{folder}"
    for command in ("summary", "findings"):
        assert run_cli(command, "--json", "--url", url) == sqlite_reports[command]


@pytest.mark.parametrize("case", ["a pattern", "a colon", "twice", "unreadable"])
def test_a_lake_it_cannot_read_as_it_is_is_refused_naming_what_is_wrong(
    engines, tmp_path, monkeypatch, capsys, case
):
    need("duckdb")
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    folder, parts, _table = _responses_in_parts(engines, tmp_path)
    if case == "a pattern":  # DuckDB read part1.parquet twice, and never this one
        (parts / "part-0.parquet").rename(parts / "part[0].parquet")
        shutil.copy(parts / "part[0].parquet", parts / "part0.parquet")
        said = f"{parts / 'part[0].parquet'} cannot be read as it is named: rename it without [ ]"
    elif case == "a colon":  # Spark failed with "Relative path in absolute URI"
        (parts / "part-0.parquet").rename(parts / "part:0.parquet")
        said = f"{parts / 'part:0.parquet'} cannot be read as it is named: rename it without :"
    elif case == "twice":
        said = f"{folder} holds the table customers twice, as customers.parquet and as the folder"
    else:  # the folder's mode keeps this user out (the tests run as root: told so by os.walk)
        walk = lake.os.walk

        def refused(top, onerror=None, followlinks=False):
            for here, dirs, names in walk(top, onerror=onerror, followlinks=followlinks):
                if here.endswith("channel=elsewhere"):
                    onerror(PermissionError(13, "Permission denied", here))
                    return
                yield here, dirs, names

        monkeypatch.setattr(lake.os, "walk", refused)
        said = f"the folder {parts / 'channel=elsewhere'} of the lake cannot be read: Permission"
    if case == "twice":
        (folder / "customers").mkdir()
        shutil.copy(folder / "customers.parquet", folder / "customers" / "c.parquet")
    assert cli.main(["summary", "--url", f"duckdb:///{folder}"]) != 0
    message = capsys.readouterr().err
    assert said in message and message.count("\n") == 1, message  # one line, no traceback


def test_spark_reads_the_lake_as_it_is_now(engines, tmp_path, monkeypatch):
    """A folder of part files without subfolders (as Spark writes a table) is read; a part
    file added to it is read by the next load in the same process (a Spark view holds the
    files it was made of), and that load's aggregates are kept under the new files' name."""
    need("spark")
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "lake"
    shutil.copytree(engines.lake, folder)
    table = pq.read_table(folder / "responses.parquet")
    (folder / "responses.parquet").unlink()
    (folder / "responses").mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), folder / "responses" / "part-0.parquet")
    engine = store.make_engine(f"spark://local?path={folder}")
    try:
        assert dataset.load(engine).n_responses == half
        pq.write_table(table.slice(half), folder / "responses" / "part-1.parquet")
        assert dataset.load(engine).n_responses == table.num_rows
        kept = load_cache.read(load_cache.entry(engine))
        assert int(kept.stats["responses"].sum()) == table.num_rows
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["duckdb", "spark"])
def test_a_lake_exported_before_kpis_had_units_reads_them_empty(engines, tmp_path, name):
    """A lake written before ``unit`` was in the contract: its KPIs are read, unit empty,
    where the query for a column it lacks failed."""
    need(name)
    folder = tmp_path / "lake"
    shutil.copytree(engines.lake, folder)
    kpis = pq.read_table(folder / "kpis.parquet")
    assert "unit" in kpis.column_names
    pq.write_table(kpis.drop_columns(["unit"]), folder / "kpis.parquet")
    url = f"duckdb:///{folder}" if name == "duckdb" else f"spark://local?path={folder}"
    engine, sqlite = store.make_engine(url), store.make_engine(engines.sqlite)
    try:
        got = store.load_kpis(engine)
        want = store.load_kpis(sqlite)
    finally:
        engine.dispose()
        sqlite.dispose()
    assert want["unit"].null_count() == 0 and got["unit"].null_count() == got.height
    keys = ["department_id", "kpi", "week"]
    assert got.drop("unit").sort(keys).equals(want.drop("unit").sort(keys))


def test_spark_results_come_as_spark_s_own_arrow_gives_them(engines):
    """A local session's results go through Parquet files (no pyarrow in the dashboard's
    process); the same queries fetched with Spark's ``toArrow()`` (the second way, here in
    the test's process) give the same frames: types, nulls, order, an empty result."""
    need("spark")
    engine = store.make_engine(engines.url("spark"))
    queries = (
        # many rows in order across the shuffle's partitions
        "SELECT response_id, responded_on, nps FROM responses "
        "ORDER BY responded_on DESC, response_id",
        "SELECT customer_id, count(*) AS n, avg(nps) AS mean FROM responses "
        "GROUP BY customer_id ORDER BY n DESC, customer_id",
        "SELECT NULL AS nothing, CAST(NULL AS DATE) AS no_day, CAST(2.5 AS DECIMAL(10, 2)) "
        "AS money, TIMESTAMP '2026-03-01 10:30:00' AS at, true AS yes, '' AS empty",
        "SELECT * FROM customers WHERE 1 = 0",
    )
    with sqlite3.connect(engines.sqlite_file) as conn:
        days = sorted(r[0] for r in conn.execute("SELECT responded_on FROM responses"))
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            for sql in queries:
                got = raw.frame(sql)
                arrow = pl.from_arrow(raw.spark.sql(sql).toArrow())
                assert got.schema == arrow.schema, sql
                assert got.equals(arrow), sql
            # in order for real: the first query's days against the SQLite file's, by hand
            newest_first = raw.frame(queries[0])["responded_on"].cast(pl.String).to_list()
    finally:
        engine.dispose()
    assert len(days) > 1000
    assert newest_first == days[::-1]


def test_a_spark_process_loads_neither_pandas_nor_pyarrow(engines):
    """pyspark's NumPy converters would import its test helpers (pandas, gRPC) and
    ``toArrow()`` pyarrow, about 95 MB of the dashboard's process together."""
    need("spark")
    code = f"""
import json, sys
from cxmetrics.contract import store
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview
ds = dataset.load(store.make_engine({engines.url("spark")!r}))
overview.compute(ds, Filters())
print(json.dumps([m for m in ("pandas", "pyarrow", "grpc") if m in sys.modules]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_folder_without_a_required_table_names_it(engines, tmp_path):
    folder = tmp_path / "lake"
    shutil.copytree(engines.lake, folder)
    (folder / "customers.parquet").unlink()
    (folder / "stages.parquet").unlink()
    for url in (f"duckdb:///{folder}", f"spark://local?path={folder}"):
        with pytest.raises(store.StoreError) as err:
            store.make_engine(url)
        assert "lacks the table(s) stages, customers" in str(err.value)
        assert str(folder) in str(err.value)


def test_duckdb_gives_memory_back_after_each_task_and_takes_settings_from_the_url(
    engines, capsys, tmp_path
):
    need("duckdb")
    ask = sa.text("SELECT current_setting('allocator_flush_threshold'), current_setting('threads')")
    # a copy of the file: DuckDB opens a file once per process, with one configuration, and
    # the module's other tests keep the shared one open
    copy = tmp_path / "cx.duckdb"
    shutil.copy(engines.duckdb_file, copy)
    for where in (engines.lake, copy):
        engine = store.make_engine(f"duckdb:///{where}")
        with engine.connect() as conn:  # DuckDB's own default is 128 MB
            assert conn.execute(ask).one()[0] == "1MB"
        engine.dispose()
        engine = store.make_engine(f"duckdb:///{where}?threads=1&allocator_flush_threshold=2MB")
        with engine.connect() as conn:  # the URL's settings win over the defaults
            assert tuple(conn.execute(ask).one()) == ("2MB", 1)
        engine.dispose()
    url = f"duckdb:///{engines.lake}?threadz=1"
    assert cli.main(["summary", "--url", url]) != 0
    message = capsys.readouterr().err
    assert 'unrecognized configuration parameter "threadz"' in message
    assert message.count("\n") == 1  # one line, no traceback


def test_imports_into_a_lake_are_refused_with_the_reason(engines, tmp_path, capsys):
    need("duckdb")
    url = f"duckdb:///{engines.lake}"
    before = lake.version(engines.lake)
    assert cli.main(["settings", "set", "currency", "EUR", "--url", url]) != 0
    message = capsys.readouterr().err
    assert "folder of Parquet files read in place (read only)" in message
    assert "export-parquet" in message and message.count("\n") == 1  # one line, no traceback
    csv = tmp_path / "kpis.csv"
    csv.write_text("department_id,kpi,week,value,target,higher_is_better\n")
    assert cli.main(["import", "kpis", str(csv), "--url", url]) != 0
    assert "read only" in capsys.readouterr().err
    assert lake.version(engines.lake) == before


def test_export_parquet_writes_every_table_and_refuses_a_full_folder(
    engines, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(lake, "ROW_GROUP", 2_000)  # several groups of the test company's rows
    target = tmp_path / "copy"
    assert cli.main(["export-parquet", str(target), "--url", engines.sqlite]) == 0
    with sqlite3.connect(engines.sqlite_file) as conn:
        for name in (*schema.TABLE_NAMES, "settings"):
            (count,) = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()
            assert pq.read_table(target / f"{name}.parquet").num_rows == count, name
    assert cli.main(["export-parquet", str(target), "--url", engines.sqlite]) != 0
    assert "is not empty; pass --replace" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # nothing half-written
    # responses in customer order (as the database orders ids), in row groups a range of
    # customers can be read from: each group's ids span a range of its own
    responses = pq.ParquetFile(target / "responses.parquet")
    with sqlite3.connect(engines.sqlite_file) as conn:
        ids = [r[0] for r in conn.execute("SELECT customer_id FROM responses ORDER BY 1")]
    assert responses.read(columns=["customer_id"])["customer_id"].to_pylist() == ids
    groups = responses.metadata.num_row_groups
    assert groups == -(-len(ids) // lake.ROW_GROUP) > 1
    column = responses.schema_arrow.get_field_index("customer_id")
    spans = [
        (g.column(column).statistics.min, g.column(column).statistics.max)
        for g in (responses.metadata.row_group(i) for i in range(groups))
    ]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


def test_a_missing_engine_fails_on_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Java 17 runtime"):
        need("spark")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="Java 17 runtime"):
        need("spark")


@pytest.mark.browser
def test_the_dashboard_on_spark_in_a_browser(engines, browser, tmp_path):
    """`streamlit run` against Spark (the server starts its own local Spark), in Chromium:
    the headline NPS by plain SQL, then a filter change and a page switch."""
    need("spark")
    from test_browser import streamlit_server

    with sqlite3.connect(engines.sqlite_file) as conn:
        (last,) = conn.execute("SELECT MAX(responded_on) FROM responses").fetchone()
    end = dt.date.fromisoformat(last)
    url = engines.url("spark")
    with streamlit_server(url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(base)
        tile = page.locator("[data-testid='stMetricValue']").first
        nps_90, _ = sql_nps(engines.sqlite_file, end - dt.timedelta(days=89), end)
        expect(tile).to_have_text(METRICS["nps"].format(nps_90), timeout=TIMEOUT * 1000)

        page.locator("[data-testid='stSelectbox']").filter(has_text="Period").click()
        page.get_by_role("option", name="Last 30 days").click()
        nps_30, _ = sql_nps(engines.sqlite_file, end - dt.timedelta(days=29), end)
        expect(tile).to_have_text(METRICS["nps"].format(nps_30), timeout=TIMEOUT * 1000)

        page.get_by_role("navigation").get_by_role("link", name="Journey").click()
        expect(page.get_by_role("heading", name="Customer journey")).to_be_visible(
            timeout=TIMEOUT * 1000
        )
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT * 1000)
        assert not page.locator("[data-testid='stException']").count()
        page.close()
