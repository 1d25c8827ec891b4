"""Data access: an engine from a URL, queries built with SQLAlchemy Core, Polars frames out.

Engines: a SQLite file (the default), Postgres, DuckDB (a ``.duckdb`` file, or a folder of
Parquet files read in place: ``duckdb:///FOLDER``), Apache Spark (``spark://local?path=FOLDER``
in this process, ``sc://host:port`` through Spark Connect; ``cxmetrics.contract.spark_dialect``) and
any other SQLAlchemy engine. Bulk reads take a fast path: the ADBC driver for SQLite files and
COPY for Postgres (neither loads pyarrow; connectorx when they cannot), Arrow for DuckDB and
Spark; other engines go through SQLAlchemy. Bulk writes go
through ADBC (SQLite), COPY (Postgres) or Arrow (DuckDB); Parquet folders and Spark are
read only.
Every failure a user can cause is raised as ``StoreError`` with a message that names the
database and what is wrong.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

from cxmetrics.contract import lake, schema, spark_dialect
from cxmetrics.contract import settings as company
from cxmetrics.contract.journey import Journey

Progress = Callable[[float, str], None]
spark_dialect.register()  # spark:// and sc:// URLs

REPO_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_DB_PATH = REPO_DIR / "sample_data" / "cx.db"
URL_ENV = "CX_DATABASE_URL"


class StoreError(RuntimeError):
    """The database cannot be used; the message says which and why, without secrets."""


def _quiet(_fraction: float, _message: str) -> None:
    return None


def default_url() -> str:
    return f"sqlite:///{DEFAULT_DB_PATH}"


def database_url() -> str:
    """``CX_DATABASE_URL`` if set, else the embedded sample SQLite file."""
    return os.environ.get(URL_ENV, "").strip() or default_url()


_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token", "key")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs. SQLAlchemy parses it; a
    password holding an unescaped "@" (which SQLAlchemy cuts at its first "@") is hidden up
    to the last "@", and so are query values that name a secret."""
    try:
        parsed = make_url(url)
        if "@" in (parsed.host or "") + (parsed.database or ""):
            # an unescaped "@" in the password: everything before the last "@" is the user
            # and the password (a query value holding "@" hides the host too: safe side)
            scheme, rest = url.split("://", 1)
            user = rest[: rest.rfind("@")].split(":", 1)[0]
            parsed = make_url(f"{scheme}://{user}:hidden@{rest[rest.rfind('@') + 1 :]}")
        hidden = {k: "***" for k in parsed.query if any(s in k.lower() for s in _SECRET_QUERY_KEYS)}
        shown = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
        return shown.replace("%2A%2A%2A", "***")
    except Exception:  # an unparseable URL: show only its scheme, never the rest
        return url.split("://", 1)[0] + "://…" if "://" in url else "(not a URL)"


def describe_error(exc: BaseException) -> str:
    """One line about a database error, with any password hidden."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).splitlines()[0] if str(inner) else type(inner).__name__
    return f"{type(inner).__name__}: {text}" if not isinstance(exc, StoreError) else text


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def lake_folder(url: str) -> Path | None:
    """The Parquet folder a DuckDB or Spark URL reads (``duckdb:///FOLDER``,
    ``spark://local?path=FOLDER``), or None for any other database."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None
    backend = parsed.get_backend_name()
    if backend == "duckdb" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if path.is_dir() or (not path.suffix and not path.exists()):
            return path.resolve()
    if backend == "spark" and parsed.query.get("path"):
        return Path(str(parsed.query["path"])).resolve()
    return None


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; a clear ``StoreError`` for a malformed or unsupported URL.

    ``duckdb:///FOLDER`` opens an in-memory DuckDB with one view per table over the
    folder's Parquet files; ``spark://local?path=FOLDER`` a local Spark session with one
    temporary view per table (started on first use)."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        # a ValueError is a part SQLAlchemy cannot read, such as a port that is not a number:
        # a password with ":" or "@" not percent-encoded; its text would show the password
        hint = (
            " (a SQLite file is sqlite:///relative/path.db or sqlite:////absolute/path.db)"
            if "://" not in url
            else ': percent-encode the user name and password ("@" as %40, ":" as %3A, '
            '"/" as %2F, "%" as %25)'
            if isinstance(exc, ValueError)
            else ""
        )
        raise StoreError(f"the database URL {safe_url(url)!r} is not a valid URL{hint}") from None
    if parsed.drivername.split("+")[0] == "postgres":  # Heroku's and libpq's scheme
        raise StoreError(
            f"the database URL {safe_url(url)!r} starts with postgres://, which SQLAlchemy "
            "does not read: write postgresql+psycopg:// instead"
        )
    path = sqlite_path(url)
    if path is not None and not path.parent.exists():
        raise StoreError(f"the folder for the SQLite file {path} does not exist")
    if path is not None and path.is_dir():
        raise StoreError(f"{path} is a folder, not a SQLite file: name the file in it")
    folder = lake_folder(url)
    if folder is not None:
        try:
            lake.check(folder)
        except lake.LakeError as exc:
            raise StoreError(str(exc)) from exc
    try:
        if path is not None:
            # a new connection each time: a file replaced while the dashboard runs (a
            # regenerated sample, a restored backup) is read, not the deleted old one
            return sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        if parsed.get_backend_name() == "duckdb":
            engine = (
                _duckdb_lake_engine(parsed, folder)
                if folder is not None
                else sa.create_engine(parsed, connect_args={"config": dict(DUCKDB_CONFIG)})
            )
            sa.event.listen(engine, "checkin", _duckdb_finish)
            return engine
        if parsed.get_backend_name() == "spark":
            # a connection is the process's session (spark_dialect.session), asked for anew
            # at each use, which makes a local session's views again when the lake's files
            # changed: a pooled connection never asked again, and read the files of its first
            return sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        # pre-ping: a connection the server dropped (restart, failover) is replaced, not used
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"no database driver for {safe_url(url)!r}: {exc}. Install the driver package "
            "(DuckDB and Spark: `python3 -m pip install -r requirements-engines.txt`)."
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"the database URL {safe_url(url)!r} cannot be used: {exc}") from exc


#: DuckDB's settings for each database it opens; a setting in the URL's query
#: (``duckdb:///FOLDER?threads=1&memory_limit=500MB``) is applied after them. DuckDB's
#: allocator gives freed memory back to the system only after a task that took 128 MB, or
#: a free of 512 MB at once: its queries here take less, so what each one freed stayed the
#: process's while the next ran (about 15-20 MB more at the peak of 1M responses,
#: ``scripts.bench_scale``); with 1 MB it is given back after each task, at no measured cost
DUCKDB_CONFIG = {
    "allocator_flush_threshold": "1MB",
    "allocator_bulk_deallocation_flush_threshold": "1MB",
}


def _duckdb_finish(dbapi_connection, _record=None) -> None:
    """Drop a result a query left unread (SQLAlchemy stops reading after ``scalar()``);
    DuckDB refuses Arrow reads and registrations on a connection that still holds one."""
    with contextlib.suppress(Exception):
        dbapi_connection.abort()


def _duckdb_lake_engine(parsed, folder: Path) -> sa.Engine:
    """An in-memory DuckDB whose every connection has one view per table of the lake."""
    # the URL keeps naming the folder (messages, the data version); DuckDB opens in memory,
    # a database of its own per connection, closed when the connection is given back: the
    # memory DuckDB took for a query (hash tables, sorts, its results) is freed with it,
    # where a pooled one kept it for the process's life
    engine = sa.create_engine(
        parsed,
        connect_args={"database": ":memory:", "config": dict(DUCKDB_CONFIG)},
        poolclass=sa.pool.NullPool,
    )

    @sa.event.listens_for(engine, "connect")
    def _views(dbapi_connection, _record) -> None:
        found = lake.check(folder)
        for name in lake.TABLES:
            if name in found:
                # the files' own columns: a folder named ``channel=web`` is not a column
                files = _duckdb_list(found[name])
                body = f"SELECT * FROM read_parquet({files}, hive_partitioning = false)"
            else:
                empty = lake.empty_select(schema.metadata.tables[name])
                body = str(empty.compile(engine, compile_kwargs={"literal_binds": True}))
            dbapi_connection.execute(f'CREATE OR REPLACE VIEW "{name}" AS {body}')

    return engine


def _duckdb_list(files: list[str]) -> str:
    """DuckDB's list literal of the files of one table of a lake (``lake.files``)."""
    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"[{quoted}]"


def read_only_reason(engine: sa.Engine) -> str | None:
    """Why the dashboard may not write to this database (a Parquet folder, Spark), or None."""
    url = str(engine.url)
    if engine.dialect.name == "spark":
        return (
            f"{safe_url(url)} is read through Spark, which the dashboard does not write to: "
            "import into the SQLite or Postgres database the lake is made from, then write "
            "the lake again (`python3 -m cxmetrics export-parquet FOLDER`)"
        )
    if engine.dialect.name == "duckdb" and lake_folder(url) is not None:
        return (
            f"{safe_url(url)} is a folder of Parquet files read in place (read only): import "
            "into the SQLite or Postgres database the lake is made from, then write the lake "
            "again (`python3 -m cxmetrics export-parquet FOLDER`)"
        )
    return None


def require_writable(engine: sa.Engine, what: str = "imports") -> None:
    """A clear ``StoreError`` when the database behind ``engine`` is read only."""
    reason = read_only_reason(engine)
    if reason is not None:
        raise StoreError(f"{what} cannot be written: {reason}")


def require_importable(engine: sa.Engine, what: str = "imports") -> None:
    """A clear ``StoreError`` unless file imports can write to this database: they upsert
    in bulk into SQLite or Postgres (a DuckDB file is written whole, by ``sample``)."""
    reason = import_refusal(engine, what)
    if reason is not None:
        raise StoreError(reason)


def import_refusal(engine: sa.Engine, what: str = "imports") -> str | None:
    """Why files cannot be imported into this database (:func:`require_importable`'s
    message), or None where they can."""
    try:
        require_writable(engine, what)
    except StoreError as exc:
        return str(exc)
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return (
            f"{what} cannot be written: file imports go into a SQLite or Postgres database, "
            f"not {engine.dialect.name} ({safe_url(str(engine.url))}); import there and "
            "write a lake from it with `python3 -m cxmetrics export-parquet FOLDER`"
        )
    return None


def check(engine: sa.Engine) -> None:
    """Connect once and make sure every table of the contract is there."""
    where = safe_url(engine.url.render_as_string(hide_password=False))
    try:
        needed = setup_needed(engine)
    except sa.exc.DatabaseError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot use the database {where}: {reason}") from exc
    except Exception as exc:  # drivers raise their own errors for refused connections
        raise StoreError(f"cannot connect to the database {where}: {exc}") from exc
    if needed is not None:
        raise StoreError(
            f"{needed}; create {'it' if needed.endswith('exist') else 'them'} with "
            "`python -m cxmetrics init-db` or point CX_DATABASE_URL at a CX database"
        )


def setup_needed(engine: sa.Engine) -> str | None:
    """What the database lacks before it can be used, in words (its SQLite file, or tables
    of the contract: ``init-db`` makes both), or None. Looking makes no file. A database
    that cannot be reached raises the driver's error."""
    path = sqlite_path(str(engine.url))
    if path is not None and not path.exists():
        return f"the SQLite file {path} does not exist"
    missing = schema.missing_tables(engine)
    if missing:
        where = safe_url(engine.url.render_as_string(hide_password=False))
        return f"the database {where} lacks the table(s) {', '.join(missing)}"
    return None


def sample_missing(url: str) -> bool:
    """True when ``url`` is the embedded sample database and it has not been created yet:
    no file, or a file without the responses table (SQLite makes an empty file when a page
    reads the URL before the sample exists; it was taken for the sample, and every page
    said "no such table" until the file was deleted by hand)."""
    return url == default_url() and not _holds_responses(DEFAULT_DB_PATH)


def _holds_responses(path: Path) -> bool:
    if not path.exists():
        return False
    try:  # read only: this check must not make the file it looks for
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'responses'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return found is not None


_SAMPLE_LOCK = threading.Lock()  # sessions of one process; the file lock: processes


@contextlib.contextmanager
def _building_sample() -> Iterator[None]:
    """Held while the sample is built: one session or process builds it, the others wait
    and then find it (they wrote the same partial file at once)."""
    with _SAMPLE_LOCK:
        try:
            import fcntl
        except ImportError:  # not POSIX: the sessions of one process are kept apart
            yield
            return
        lock = DEFAULT_DB_PATH.with_name(DEFAULT_DB_PATH.name + ".lock")
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_sample_database(url: str | None = None, progress: Progress = _quiet) -> bool:
    """Create the embedded sample database the first time it is needed (or again, where
    the file is there without it, :func:`sample_missing`).

    Only for the default URL; returns True when it was created now, by this caller.
    """
    url = url or database_url()
    if not sample_missing(url):
        return False
    from cxmetrics.contract import sample

    with _building_sample():
        if not sample_missing(url):  # built by another session while this one waited
            return False
        data = sample.generate(progress=lambda f, m: progress(0.7 * f, f"Generating {m}"))
        write_tables(
            url,
            data.tables(),
            replace=DEFAULT_DB_PATH.exists(),  # a file without the sample in it
            progress=lambda f, m: progress(0.7 + 0.3 * f, m),
        )
    return True


# --- writing ----------------------------------------------------------------------------


def for_sqlite(frame: pl.DataFrame) -> pl.DataFrame:
    """SQLite keeps dates as ISO text (what SQLAlchemy's Date type expects there)."""
    return frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"))


def _contract_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    table = schema.metadata.tables[name]
    cols = [c.name for c in table.columns if c.name in frame.columns]
    if name == "targets" and "target_id" not in frame.columns:
        frame = frame.with_row_index("target_id", offset=1).with_columns(
            pl.col("target_id").cast(pl.Int64)
        )
        cols = ["target_id", *cols]
    return frame.select(cols)


def write_tables(
    url: str,
    tables: dict[str, pl.DataFrame],
    *,
    replace: bool = False,
    progress: Progress = _quiet,
) -> None:
    """Write a whole dataset, all or nothing.

    A SQLite file is written beside its final path and moved into place when complete; any
    other database gets everything inside one transaction.
    """
    ordered = [
        (t.name, _contract_frame(t.name, tables[t.name]))
        for t in (*schema.WRITE_ORDER, *schema.OPTIONAL_TABLES)
        if t.name in tables
    ]
    total_rows = sum(f.height for _, f in ordered) or 1
    path = sqlite_path(url)
    if path is not None:
        _write_sqlite_file(path, ordered, replace, total_rows, progress)
    else:
        _write_transaction(url, ordered, replace, total_rows, progress)
    progress(1.0, "Done")


#: The share of a write's progress its tables take; the comments' analysis comes after
#: (:func:`_analyse_comments`, at 0.95), so the bar never runs back
WRITING = 0.9


def _write_sqlite_file(path, ordered, replace, total_rows, progress) -> None:
    if path.exists() and not replace:
        raise StoreError(f"{path} already exists; pass --replace to overwrite it")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{partial}")
    try:
        schema.create_all(engine)
        engine.dispose()
        done = 0
        for name, frame in ordered:
            progress(WRITING * done / total_rows, f"Writing {name} ({frame.height:,} rows)")
            if frame.height:
                for_sqlite(frame).write_database(
                    name, f"sqlite:///{partial}", if_table_exists="append", engine="adbc"
                )
            done += frame.height
        _analyse_comments(sa.create_engine(f"sqlite:///{partial}"), ordered, progress)
        os.replace(partial, path)
    except BaseException:
        engine.dispose()
        partial.unlink(missing_ok=True)
        raise


def _write_transaction(url, ordered, replace, total_rows, progress) -> None:
    engine = make_engine(url)
    require_writable(engine, "the tables")
    try:
        with engine.begin() as conn:
            if replace:
                schema.metadata.drop_all(conn)
            schema.metadata.create_all(conn)
            count = sa.select(sa.func.count()).select_from(schema.responses)
            if conn.execute(count).scalar_one():  # fetched to the end (DuckDB needs that)
                raise StoreError(
                    f"the database {safe_url(url)} already holds responses; pass --replace "
                    "to overwrite them"
                )
            done = 0
            for name, frame in ordered:
                progress(WRITING * done / total_rows, f"Writing {name} ({frame.height:,} rows)")
                if frame.height:
                    _insert(conn, schema.metadata.tables[name], frame)
                done += frame.height
        _analyse_comments(engine, ordered, progress)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot write to {safe_url(url)}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _analyse_comments(engine: sa.Engine, ordered, progress: Progress) -> None:
    """Sentiment and themes of the comments just written, stored once
    (``cxmetrics/contract/comment_analysis.py``), so the dashboard never computes them on start."""
    from cxmetrics.contract import comment_analysis

    written = dict(ordered).get("responses")
    if written is None or "comment" not in written.columns:
        return
    if written["comment"].drop_nulls().len() == 0:
        return
    progress(0.95, "Finding the comments' sentiment and themes")
    try:
        comment_analysis.analyse(engine)
    finally:
        engine.dispose()


@compiles(CreateColumn, "duckdb")
def _duckdb_column(element, ddl_compiler, **kw) -> str:
    """DuckDB has no SERIAL: a numbered key is a plain integer there (the writers number
    the targets themselves; imports, which need the database to number them, are
    refused on DuckDB)."""
    text = ddl_compiler.visit_create_column(element, **kw)
    return text.replace(" BIGSERIAL", " BIGINT").replace(" SERIAL", " INTEGER")


@compiles(sa.Float, "duckdb")
def _duckdb_float(type_, type_compiler, **kw) -> str:
    """FLOAT is 4 bytes in DuckDB (8 in Postgres and SQLite): revenue needs DOUBLE."""
    return "DOUBLE"


def copy_into(conn: sa.Connection, table_name: str, frame: pl.DataFrame) -> None:
    """Postgres COPY of a frame into a table, inside the connection's transaction."""
    raw = conn.connection.driver_connection
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    buffer = io.StringIO()
    frame.write_csv(buffer, include_header=False, null_value="\\N")
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY \"{table_name}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy,
    ):
        copy.write(buffer.getvalue())


def _insert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    if conn.dialect.name == "postgresql":
        copy_into(conn, table.name, frame)
        return
    if conn.dialect.name == "duckdb":  # one Arrow scan, not a row at a time
        key = next((c for c in table.primary_key.columns), None)
        if (
            len(table.primary_key.columns) == 1
            and isinstance(key.type, sa.Integer)
            and key.autoincrement is True
            and key.name not in frame.columns
        ):  # DuckDB has no SERIAL: number the rows after those already there
            first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar()
            frame = frame.with_row_index(key.name, offset=int(first) + 1).with_columns(
                pl.col(key.name).cast(pl.Int64)
            )
        raw = conn.connection.driver_connection
        _duckdb_finish(raw)
        raw.register("cx_incoming", frame.to_arrow())
        try:
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            raw.execute(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM cx_incoming')
        finally:
            raw.unregister("cx_incoming")
        return
    for chunk in frame.iter_slices(50_000):
        conn.execute(table.insert(), chunk.to_dicts())


# --- reading ----------------------------------------------------------------------------

_POLARS_TYPES = {
    sa.DateTime: pl.Datetime("us"),
    sa.Date: pl.Date,
    sa.Boolean: pl.Boolean,
    sa.SmallInteger: pl.Int16,
    sa.BigInteger: pl.Int64,
    sa.Integer: pl.Int64,
    sa.Float: pl.Float64,
    sa.String: pl.String,
    sa.Text: pl.String,
}


def _polars_type(column: sa.Column) -> pl.DataType:
    for sa_type, pl_type in _POLARS_TYPES.items():
        if isinstance(column.type, sa_type):
            return pl_type
    return pl.String


def polars_schema(table: sa.Table, exclude: tuple[str, ...] = ()) -> dict[str, pl.DataType]:
    """The Polars types of a contract table's columns."""
    return {c.name: _polars_type(c) for c in table.columns if c.name not in exclude}


def _conform(frame: pl.DataFrame, columns: list[sa.Column]) -> pl.DataFrame:
    """Give every column its contract type, whatever the driver returned."""
    exprs = []
    for col in columns:
        want = _polars_type(col)
        have = frame.schema[col.name]
        expr = pl.col(col.name)
        if want == pl.Date and have == pl.String:
            expr = expr.str.slice(0, 10).str.to_date("%Y-%m-%d")
        elif want == pl.Date and have == pl.Datetime:
            expr = expr.dt.date()
        elif want == pl.Boolean and have == pl.String:  # Postgres' CSV: t and f
            expr = expr.str.to_lowercase().is_in(["t", "true", "1"])
        elif want == pl.Datetime and have == pl.String:  # SQLite keeps date-times as text
            expr = expr.str.to_datetime(time_unit="us", strict=False)
        elif have != want:
            expr = expr.cast(want)
        exprs.append(expr.alias(col.name))
    return frame.select(exprs)


def _connectorx_uri(engine: sa.Engine) -> str | None:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(str(url))
        return f"sqlite://{path}" if path else None
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    return None


#: Engines read as columns: the statement compiled with its values inline, the result fetched
#: whole (DuckDB's Arrow stream read by Polars itself, without pyarrow; Spark's through
#: ``spark_dialect.Connection.frame``), never row by row.
FRAME_DIALECTS = ("duckdb", "spark")


def _read_frame(engine: sa.Engine, stmt: sa.Select) -> pl.DataFrame:
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            if engine.dialect.name == "spark":
                return raw.frame(sql)
            _duckdb_finish(raw)
            # the Arrow C stream interface: batches go straight into Polars (no pyarrow
            # table in between, nor pyarrow's memory in the process)
            return pl.DataFrame(raw.sql(sql))
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot read from {safe_url(str(engine.url))}: {exc.orig}") from exc
    except Exception as exc:  # the engines' own errors (a broken Parquet file, a lost session)
        where = safe_url(str(engine.url))
        raise StoreError(f"cannot read from {where}: {describe_error(exc)}") from exc


#: Types Polars parses from Postgres' CSV as they are; other columns are read as text and
#: given their type by :func:`_conform` (booleans are t and f there)
_CSV_TYPES = (pl.Int16, pl.Int64, pl.Float64, pl.Date, pl.String)


def _read_postgres_copy(
    engine: sa.Engine, sql: str, columns: list[sa.ColumnElement]
) -> pl.DataFrame | None:
    """A query on Postgres through ``COPY (query) TO STDOUT`` as CSV, parsed by Polars: no
    pyarrow nor connectorx in the process (about 60 MB less). Every value is quoted, so an
    empty text stays empty and only a null is unquoted; floats are written to round-trip
    exactly. None when it cannot (the caller reads the query another way)."""
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        return None
    types = {c.name: t if (t := _polars_type(c)) in _CSV_TYPES else pl.String for c in columns}
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:  # the server is down: no other reader will do better
        raise StoreError(f"cannot read from {safe_url(str(engine.url))}: {exc.orig}") from exc
    try:
        with conn:
            raw = conn.connection.driver_connection
            out = io.BytesIO()
            with (
                raw.cursor() as cur,
                cur.copy(
                    f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true, FORCE_QUOTE *)"
                ) as copy,
            ):
                for block in copy:
                    out.write(block)
        return pl.read_csv(out.getvalue(), schema=types, has_header=True)
    except Exception:  # the driver's errors and a value Polars cannot parse as its type
        return None


READ_PARTITIONS = 4  # parallel range reads of a large table on an integer column

#: Rows the SQLite ADBC driver reads before it fixes a column's type (its default, 1,024,
#: would type a column null in its first rows as an integer and refuse text after them)
ADBC_SQLITE_BATCH_ROWS = 1 << 20


def _read_sqlite_adbc(path: Path, sql: str) -> pl.DataFrame | None:
    """A query on a SQLite file through its ADBC driver, read by Polars from the Arrow C
    stream: no pyarrow nor connectorx in the process (about 60 MB less), and faster than
    connectorx. None when the driver cannot (a column whose type changes after the rows it
    typed it by): the caller reads it another way."""
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    try:
        database = adbc_driver_sqlite.connect(str(path))
    except adbc.Error:
        return None
    try:
        with adbc.AdbcConnection(database) as conn, adbc.AdbcStatement(conn) as statement:
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(ADBC_SQLITE_BATCH_ROWS)})
            statement.set_sql_query(sql)
            stream, _rows = statement.execute_query()
            return pl.DataFrame(stream)
    except Exception:  # the driver's own errors and Polars' while it reads the stream
        return None
    finally:
        database.close()


def read_select(
    engine: sa.Engine, stmt: sa.Select, partition_on: str | None = None
) -> pl.DataFrame:
    """Run a Core ``select`` and return a Polars frame typed by the contract.

    ``partition_on`` names an integer column to split a large read into parallel ranges.
    """
    columns = [c for c in stmt.selected_columns]
    uri = _connectorx_uri(engine)
    frame = None
    if engine.dialect.name in FRAME_DIALECTS:
        frame = _read_frame(engine, stmt)
    elif uri is not None:
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        path = sqlite_path(str(engine.url))
        if path is not None:
            frame = _read_sqlite_adbc(path, sql)
        elif engine.dialect.name == "postgresql":
            frame = _read_postgres_copy(engine, sql, columns)
    if frame is None and uri is not None:
        parts = (
            {"partition_on": partition_on, "partition_num": READ_PARTITIONS} if partition_on else {}
        )
        try:
            frame = pl.read_database_uri(sql, uri, engine="connectorx", **parts)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException:  # noqa: BLE001 (connectorx's Rust panics are not Exceptions)
            frame = None  # fall back to SQLAlchemy below
    if frame is None:
        try:
            with engine.connect() as conn:
                frame = pl.read_database(stmt, conn, infer_schema_length=None)
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"cannot read from {safe_url(str(engine.url))}: {exc.orig}") from exc
    return _conform(frame, columns)


def load_table(
    engine: sa.Engine,
    table: sa.Table,
    exclude: tuple[str, ...] = (),
    partition_on: str | None = None,
) -> pl.DataFrame:
    cols = [c for c in table.columns if c.name not in exclude]
    absent = _absent_added(engine, table)
    frame = read_select(engine, sa.select(*[c for c in cols if c.name not in absent]), partition_on)
    if not absent:
        return frame
    return frame.with_columns(
        pl.lit(None, _polars_type(table.c[name])).alias(name) for name in absent
    ).select([c.name for c in cols])


def _absent_added(engine: sa.Engine, table: sa.Table) -> set[str]:
    """The columns added to the contract since (:data:`schema.ADDED_COLUMNS`) that
    ``table`` lacks in this database or lake (not yet upgraded, exported before)."""
    added = schema.ADDED_COLUMNS.get(table.name)
    if not added:
        return set()
    # the columns of a query for no row: every engine answers it (an inspector query does
    # not work on DuckDB's views)
    probe = sa.select(sa.literal_column("*")).select_from(table).limit(0)
    try:
        with engine.connect() as conn:
            present = set(conn.execute(probe).keys())
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot read from {safe_url(str(engine.url))}: {exc.orig}") from exc
    return set(added) - present


def load_journey(engine: sa.Engine) -> Journey:
    frames = {
        name: load_table(engine, schema.metadata.tables[name])
        for name in ("stages", "touchpoints", "departments", "stage_owners", "incentives")
    }
    frames["targets"] = load_table(engine, schema.targets, exclude=("target_id",))
    return Journey(**frames)


def load_customers(engine: sa.Engine) -> pl.DataFrame:
    return load_table(engine, schema.customers)


RESPONSE_CHUNK = 100_000  # rows of responses per read; bounds memory while loading
#: Responses summed per query when the database computes an aggregate in parts (the daily
#: statistics by dates, the customer-level answers by customers), on every engine: what a
#: part costs in memory, the engine's own (an in-process DuckDB) and the frame read, grows
#: with it. A server or Spark costs this process only the result, but at 1M responses the
#: result has a third (statistics) to four fifths (answers) as many rows as the part has
#: responses: parts four times this size took the Postgres reader about 50 MB more at the
#: peak of a load and 70 MB more at the answers of all data.
SUM_PART = 100_000
#: At most this many parts to a read: each part is a query, and on a lake each one reads the
#: metadata of every file and, where the lake's order does not cut it (the dates of a lake
#: in :data:`LAKE_ORDER`), every row group. At 100M responses, parts of :data:`SUM_PART`
#: made a thousand queries per read: the first overview took 2,379 s.
MAX_PARTS = 50


def part_size(responses: int) -> int:
    """Responses per part for a read of ``responses`` in parts: :data:`SUM_PART`, or more
    where that would make more than :data:`MAX_PARTS` parts."""
    return max(SUM_PART, -(-responses // MAX_PARTS))


#: Columns of responses read with the comments only, not into the dataset.
COMMENT_COLUMNS = ("comment", "sentiment_label")


def load_responses(engine: sa.Engine) -> pl.DataFrame:
    """Every response without its comment text (comments are loaded where they are read)."""
    return load_table(engine, schema.responses, exclude=COMMENT_COLUMNS)


def iter_responses(engine: sa.Engine, chunk: int = RESPONSE_CHUNK) -> Iterator[pl.DataFrame]:
    """Responses without comments, about ``chunk`` rows at a time in id order, so a caller
    can compact each part before the next is read. Ids are text and may be anything (a
    CRM's own ids, hashes): the parts are cut at every ``chunk``-th id in the database's
    own order, not at fixed id ranges."""
    r = schema.responses
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(r)).scalar()
        if not total:
            return
        cuts = [
            conn.execute(
                sa.select(r.c.response_id).order_by(r.c.response_id).limit(1).offset(k)
            ).scalar()
            for k in range(chunk, total, chunk)
        ]
    cols = [c for c in r.columns if c.name not in COMMENT_COLUMNS]
    if not cuts:  # one part: a plain read is faster than a ranged one
        yield read_select(engine, sa.select(*cols))
        return
    bounds = [None, *cuts, None]
    for low, high in zip(bounds, bounds[1:], strict=False):
        stmt = sa.select(*cols)
        if low is not None:
            stmt = stmt.where(r.c.response_id >= low)
        if high is not None:
            stmt = stmt.where(r.c.response_id < high)
        yield read_select(engine, stmt)


def customer_cuts(engine: sa.Engine, size: int | None = None) -> tuple[str, ...]:
    """Customer ids, in the database's own order of ids, that cut the responses into
    ranges of customers with about ``size`` responses each (default :func:`part_size` of
    them all): a query whose every row is about one customer (each one's latest answer,
    answers per customer) runs once per range (:func:`ranges`, :func:`id_range`) and the
    parts together are the whole."""
    r = schema.responses
    stmt = (
        sa.select(r.c.customer_id, sa.type_coerce(sa.func.count(), sa.BigInteger).label("n"))
        .group_by(r.c.customer_id)
        .order_by(r.c.customer_id)
    )
    per = read_select(engine, stmt)
    size = size or part_size(int(per["n"].sum()))
    part = (per["n"].cum_sum() - per["n"]) // size
    return tuple(per.filter(part > part.shift(1, fill_value=0))["customer_id"].cast(pl.String))


#: Engines that run their queries inside the dashboard's process: the memory a query takes
#: is the dashboard's own (a server's, Spark's JVM's is not)
IN_PROCESS = ("sqlite", "duckdb")


def ordered_by_customer(engine: sa.Engine) -> bool:
    """Whether the engine reads a lake in customer order (DuckDB or Spark over a Parquet
    folder whose responses' row groups hold ranges of customer ids that do not overlap, as
    :data:`LAKE_ORDER` writes them): a range of customers is a few row groups there, a
    range of dates is every one of them. Read from the files' statistics alone."""
    folder = lake_folder(str(engine.url))
    if engine.dialect.name not in ("duckdb", "spark") or folder is None:
        return False
    files = lake.files(folder).get("responses")
    if files is None:
        return False
    if engine.dialect.name == "duckdb":
        query = (
            "SELECT stats_min_value, stats_max_value "
            f"FROM parquet_metadata({_duckdb_list(files)}) WHERE path_in_schema = 'customer_id'"
        )
        with engine.connect() as conn:
            groups = conn.exec_driver_sql(query).fetchall()
    else:  # Spark reads the files in its own process: their footers are read here
        groups = lake.row_group_ranges(files, "customer_id")
    if not groups or any(low is None or high is None for low, high in groups):
        return False
    groups.sort()
    # a customer whose answers span two row groups is the last of one and the first of the next
    return all(high <= low for (_, high), (low, _) in zip(groups, groups[1:], strict=False))


def per_customer_cuts(engine: sa.Engine, cuts: tuple[str, ...]) -> tuple[str, ...]:
    """The cuts for a query over all responses that returns a row per customer (each one's
    latest answer, their sums): parts where the engine works in this process; one query
    elsewhere, where only its result (a row per customer) comes here."""
    return cuts if engine.dialect.name in IN_PROCESS else ()


def fewer_cuts(cuts: tuple[str, ...], responses: int, size: int | None = None) -> tuple:
    """Every k-th of ``cuts`` (made for all the responses), so that a query of ``responses``
    of them (a period's) runs in parts of about ``size`` (default :data:`SUM_PART`), taking
    a period's responses as spread evenly over the customers: a short period is one query."""
    parts = max(1, -(-responses // (size or SUM_PART)))
    step = -(-(len(cuts) + 1) // parts)
    return cuts[step - 1 :: step]


def count_where(cond: sa.ColumnElement) -> sa.ColumnElement:
    """How many rows of a group meet ``cond``, in any dialect: ``count(CASE WHEN cond THEN 1
    END)``, 0 for none. The same number as ``sum(CASE WHEN cond THEN 1 ELSE 0 END)``, from a
    count's state (8 bytes a group) where the sum's is a wide integer: DuckDB's grouping of
    the daily statistics (a dozen such counts) took about 20 MB less at 1M responses."""
    return sa.func.count(sa.case((cond, 1)))


def ranges(cuts: tuple[str, ...]) -> list[tuple[str | None, str | None]]:
    """The ranges [low, high) that ``cuts`` make; the first and last are open."""
    bounds = [None, *cuts, None]
    return list(zip(bounds, bounds[1:], strict=False))


def id_range(column: sa.ColumnElement, low: str | None, high: str | None) -> list:
    """WHERE clauses keeping the ids of ``column`` in [low, high) (None: no bound)."""
    return [
        *([] if low is None else [column >= low]),
        *([] if high is None else [column < high]),
    ]


def load_contacts(engine: sa.Engine) -> pl.DataFrame:
    c = schema.contacts
    return read_select(
        engine,
        sa.select(c.c.contact_id, c.c.customer_id, c.c.touchpoint_id, c.c.contacted_on),
    )


def load_kpis(engine: sa.Engine) -> pl.DataFrame:
    return load_table(engine, schema.kpis)


def load_cases(engine: sa.Engine) -> pl.DataFrame:
    return load_table(engine, schema.cases)


def load_comments(engine: sa.Engine, filters, stage_ids, limit: int = 200) -> pl.DataFrame:
    """The newest comments in view, with their date, touchpoint, channel, source and scores.
    Filters are pushed down to the database; comments are never held in memory."""
    r, t = schema.responses, schema.touchpoints
    joined, where = responses_in_view(filters, stage_ids)
    stmt = (
        sa.select(
            r.c.response_id,
            r.c.responded_on,
            t.c.stage_id,
            r.c.touchpoint_id,
            t.c.name.label("touchpoint"),
            r.c.channel,
            r.c.source,
            r.c.nps,
            r.c.csat,
            r.c.ces,
            r.c.comment,
        )
        .select_from(joined)
        .where(r.c.comment.is_not(None), r.c.comment != "", *where)
        .order_by(r.c.responded_on.desc(), r.c.response_id.desc())
        .limit(limit)
    )
    return read_select(engine, stmt)


def comments_select(engine: sa.Engine) -> sa.Select:
    """The non-empty comments with their response id and the source's own sentiment label
    (null where it has none; a database made before that column existed has none at all)."""
    r = schema.responses
    held = column_names(engine, r.name)
    label = (
        r.c.sentiment_label
        if "sentiment_label" in held
        else sa.cast(sa.null(), sa.String).label("sentiment_label")
    )
    return sa.select(r.c.response_id, r.c.comment, label).where(
        r.c.comment.is_not(None), r.c.comment != ""
    )


def load_all_comments(engine: sa.Engine) -> pl.DataFrame:
    """Every comment of :func:`comments_select`, for the text analysis."""
    return read_select(engine, comments_select(engine)).with_columns(
        pl.col("sentiment_label").cast(pl.String)
    )


def column_names(engine: sa.Engine, table_name: str) -> set[str]:
    """The columns a table has in the database, read from an empty query (no reflection,
    which some dialects lack)."""
    query = sa.select(sa.text("*")).select_from(sa.table(table_name)).where(sa.false())
    with engine.connect() as conn:
        return set(conn.execute(query).keys())


#: The order of the responses in a lake: by customer (in the database's order of ids, as
#: ``id_range`` compares them), so that each range of customers a customer-level query
#: reads (``customer_cuts``) lies in a few row groups, whose statistics let DuckDB and
#: Spark skip the rest. In date order every range read every row group of its period: at
#: 10M responses, loading took 100 s and "all data" 60 s; in this order 52 s and 20 s.
LAKE_ORDER = ("customer_id", "responded_on", "response_id")


def export_parquet(engine: sa.Engine, folder: Path, *, replace: bool = False) -> list[str]:
    """Write every table of the contract (and the settings, action plans and comments'
    analysis, when the database has them) as ``FOLDER/table.parquet``: a lake that DuckDB
    and Spark read in place. All or nothing."""
    check(engine)
    names = [*schema.TABLE_NAMES]
    inspector = sa.inspect(engine)
    for optional in (*schema.OPTIONAL_TABLES, schema.comment_analysis, schema.comment_models):
        if inspector.has_table(optional.name):
            names.append(optional.name)

    def frames():
        for name in names:
            frame = load_table(engine, schema.metadata.tables[name])
            if name == "responses":  # see LAKE_ORDER
                frame = frame.sort(*LAKE_ORDER)
            yield name, frame

    try:
        return lake.export(frames(), folder, replace=replace)
    except lake.LakeError as exc:
        raise StoreError(str(exc)) from exc


def count_rows(engine: sa.Engine, table_name: str) -> int:
    table = schema.metadata.tables[table_name]
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())


def responses_in_view(filters, stage_ids):
    """The responses ⋈ customers ⋈ touchpoints join and the filters' WHERE clauses."""
    r, c, t = schema.responses, schema.customers, schema.touchpoints
    joined = r.join(c, r.c.customer_id == c.c.customer_id).join(
        t, r.c.touchpoint_id == t.c.touchpoint_id
    )
    where = filters.where(
        {
            "date": r.c.responded_on,
            "stage_id": t.c.stage_id,
            "channel": r.c.channel,
            "segment": c.c.segment,
            "region": c.c.region,
        },
        stage_ids,
    )
    return joined, where


def load_stats_sql(
    engine: sa.Engine,
    filters,
    stage_ids,
    by: list[str],
    customers: tuple[str | None, str | None] = (None, None),
) -> pl.DataFrame:
    """Additive statistics computed by the database with one GROUP BY.

    A second implementation of ``metrics.response_stats`` used to check it; any SQLAlchemy
    dialect compiles it, and the fast reader of each engine fetches it. ``customers``: the
    range [low, high) of customer ids summed (:func:`id_range`; None: no bound).
    """
    r, c, t = schema.responses, schema.customers, schema.touchpoints
    dims = {
        "responded_on": r.c.responded_on,
        "touchpoint_id": r.c.touchpoint_id,
        "stage_id": t.c.stage_id,
        "channel": r.c.channel,
        "segment": c.c.segment,
        "region": c.c.region,
    }

    aggs = [
        sa.func.count().label("responses"),
        sa.func.count(r.c.nps).label("n_nps"),
        count_where(r.c.nps >= 9).label("promoters"),
        count_where(r.c.nps.between(7, 8)).label("passives"),
        count_where(r.c.nps <= 6).label("detractors"),
        sa.func.count(r.c.csat).label("n_csat"),
        count_where(r.c.csat >= 4).label("csat_top2"),
        count_where(r.c.csat == 5).label("csat_top1"),
        sa.func.count(r.c.ces).label("n_ces"),
        sa.func.coalesce(sa.func.sum(r.c.ces), 0).label("ces_sum"),
        sa.func.coalesce(sa.func.sum(r.c.ces * r.c.ces), 0).label("ces_sq"),
        count_where(r.c.ces >= 5).label("ces_easy"),
        count_where(r.c.nps.is_not(None) & (r.c.csat >= 4)).label("n_good"),
        count_where((r.c.nps >= 9) & (r.c.csat >= 4)).label("good_promoters"),
        count_where((r.c.nps <= 6) & (r.c.csat >= 4)).label("good_detractors"),
        count_where(r.c.nps.is_not(None) & (r.c.csat <= 3)).label("n_poor"),
        count_where((r.c.nps >= 9) & (r.c.csat <= 3)).label("poor_promoters"),
        count_where((r.c.nps <= 6) & (r.c.csat <= 3)).label("poor_detractors"),
    ]
    aggs = [sa.type_coerce(agg, sa.BigInteger).label(agg.name) for agg in aggs]
    joined, where = responses_in_view(filters, stage_ids)
    # the range on both sides of the join: each side reads only its customers' row groups
    where += [*id_range(r.c.customer_id, *customers), *id_range(c.c.customer_id, *customers)]
    stmt = sa.select(*[dims[b].label(b) for b in by], *aggs).select_from(joined).where(*where)
    if by:
        stmt = stmt.group_by(*[dims[b] for b in by])
    frame = read_select(engine, stmt)
    return frame.with_columns(
        [pl.col(col).cast(pl.Int64) for col in frame.columns if col not in by]
    )


def responses_per_day(engine: sa.Engine) -> pl.DataFrame:
    """How many responses each date has (responded_on, responses): where to cut a long
    read into parts of about equal size."""
    r = schema.responses
    count = sa.type_coerce(sa.func.count(), sa.BigInteger).label("responses")
    return read_select(engine, sa.select(r.c.responded_on, count).group_by(r.c.responded_on))


def data_version(engine: sa.Engine) -> tuple:
    """A cheap fingerprint that changes when the data changes (a cache key)."""
    r = schema.responses
    with engine.connect() as conn:
        count, last_id = conn.execute(
            sa.select(sa.func.count(), sa.func.max(r.c.response_id))
        ).one()
        customers = conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar()
    last_import = None
    if sa.inspect(engine).has_table(schema.imports.name):  # every import is logged there
        with engine.connect() as conn:
            last_import = conn.execute(sa.select(sa.func.max(schema.imports.c.import_id))).scalar()
    analysed = None  # comments analysed since (``analyse-comments``, an import)
    if sa.inspect(engine).has_table(schema.comment_analysis.name):
        a = schema.comment_analysis
        with engine.connect() as conn:
            analysed = tuple(
                conn.execute(sa.select(sa.func.count(), sa.func.max(a.c.analysed_at))).one()
            )
    settings = tuple(sorted(company.read(engine).items()))  # a changed setting shows at once
    path, folder = sqlite_path(str(engine.url)), lake_folder(str(engine.url))
    mtime = path.stat().st_mtime_ns if path is not None and path.exists() else None
    if folder is not None:  # a Parquet file rewritten in place keeps its row counts
        mtime = lake.version(folder)
    return (count, last_id, customers, last_import, mtime, settings, analysed)
