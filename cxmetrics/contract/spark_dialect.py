"""A small SQLAlchemy dialect for Apache Spark SQL, so the Core queries of the project run on
Spark unchanged.

URLs:

- ``spark://local?path=/data/cx-lake`` starts Spark in local mode inside this process (PyPI's
  ``pyspark`` and a Java 17 runtime) and puts one temporary view per table of the contract
  over the Parquet folder (``cxmetrics.contract.lake``). Options: ``cores`` (default 2),
  ``memory`` (driver memory, default ``1g``), ``partitions`` (shuffle partitions, default 4).
- ``sc://host:15002`` (Spark Connect) and ``sc://host:443/;token=…`` reach a cluster whose
  catalog holds the contract's tables; ``?database=cx`` chooses their database.

The DB-API part is a thin shim: a cursor runs ``spark.sql(sql, args)`` with named
parameters (``:name``, SQLAlchemy's own style) and fetches the rows. ``store.read_select``
does not go through it: it compiles the statement and takes the result as a Polars frame
(:meth:`Connection.frame`). One Spark session per URL serves every connection of the
process.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine import default
from sqlalchemy.sql import compiler

# --- DB-API shim ---------------------------------------------------------------------------

apilevel = "2.0"
threadsafety = 1
paramstyle = "named"


class Error(Exception):
    pass


class Warning(Exception):  # noqa: A001 - the name DB-API asks for
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class OperationalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class DataError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


_sessions: dict[tuple, Any] = {}
_lock = threading.Lock()

#: Local-mode settings: small enough for a shared machine, one executor thread per core.
LOCAL_DEFAULTS = {"cores": "2", "memory": "1g", "partitions": "4"}


def session(spec: tuple):
    """The Spark session for a connection spec, started once per process. A local session's
    views are made again when the lake's files have changed since they were made (a view
    holds the list of files it read at its making, and would go on reading those)."""
    with _lock:
        spark = _sessions.get(spec)
        if spark is not None and not _stopped(spark):
            if spec[0] == "local":
                _views_of_now(spark, Path(spec[1]))
            return spark
        kind, target, options = spec[0], spec[1], dict(spec[2])
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise OperationalError(
                "pyspark is not installed: `python3 -m pip install -r requirements-engines.txt`"
            ) from exc
        try:
            if kind == "local":
                _light_numpy_converters()
                spark = _local_session(SparkSession, options)
                spark.sparkContext.setLogLevel("ERROR")
                # Parquet's standard timestamps (not Spark's INT96) for :func:`_through_parquet`
                spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
                _views_of_now(spark, Path(target))
            else:
                spark = SparkSession.builder.remote(target).getOrCreate()
                if options.get("database"):
                    spark.catalog.setCurrentDatabase(options["database"])
        except Error:
            raise
        except Exception as exc:  # Java missing, a refused connection, a bad folder
            raise OperationalError(_first_line(exc)) from exc
        _sessions[spec] = spark
        return spark


def stop_all() -> None:
    """Stop every Spark session this process started (the JVM of local mode ends too)."""
    with _lock:
        for spark in _sessions.values():
            with contextlib.suppress(Exception):
                spark.stop()
        _sessions.clear()


def _stopped(spark) -> bool:
    """True when a local session was stopped (a Spark Connect session has no context here:
    the server keeps it)."""
    try:
        return spark.sparkContext._jsc is None
    except Exception:  # Spark Connect: no sparkContext on the client
        return False


def _light_numpy_converters() -> None:
    """pyspark's two NumPy converters of a local session's Java calls import
    ``pyspark.testing.utils`` at their first call, only to learn whether NumPy is installed;
    that module imports pandas and gRPC, about 55 MB of the dashboard's process. NumPy is
    one of the dashboard's requirements, so they are given the same test without it."""
    import numpy as np
    from py4j import protocol
    from pyspark.sql import types

    for converter in protocol.INPUT_CONVERTER:
        if isinstance(converter, getattr(types, "NumpyArrayConverter", ())):
            converter.can_convert = lambda obj: isinstance(obj, np.ndarray) and obj.ndim == 1
        elif isinstance(converter, getattr(types, "NumpyScalarConverter", ())):
            converter.can_convert = lambda obj: isinstance(obj, np.generic)


def _local_session(builder_cls, options: dict[str, str]):
    """A session of the process's local Spark: the first starts it (with these options);
    each later folder gets a session of its own (its own temporary views) on the same
    Spark context."""
    for spec, spark in _sessions.items():
        if spec[0] == "local" and not _stopped(spark):
            return spark.newSession()
    opts = {**LOCAL_DEFAULTS, **options}
    return (
        builder_cls.builder.master(f"local[{int(opts['cores'])}]")
        .appName("cx-dashboard")
        .config("spark.driver.memory", opts["memory"])
        .config("spark.sql.shuffle.partitions", str(int(opts["partitions"])))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _views_of_now(spark, folder: Path) -> None:
    """Make the session's views over the lake's files unless they are of them already (the
    session keeps the lake's version, ``lake.version``, its views were made of)."""
    from cxmetrics.contract import lake

    now = lake.version(folder) if folder.is_dir() else None
    if now is None or getattr(spark, "_cx_views_of", None) != now:
        _create_views(spark, folder)
        spark._cx_views_of = now


def _create_views(spark, folder: Path) -> None:
    """One temporary view per table of the lake; an empty one for an absent optional table."""
    from cxmetrics.contract import lake, schema

    try:
        found = lake.check(folder)
    except lake.LakeError as exc:
        raise OperationalError(str(exc)) from exc
    dialect = SparkDialect()
    for name in lake.TABLES:
        if name in found:
            reader = spark.read
            ddl = _parquet_ddl(found[name][0])
            if ddl is not None:  # the footer read here: no Spark job to infer the schema
                reader = reader.schema(ddl)
            frame = reader.parquet(*found[name])
        else:
            empty = lake.empty_select(schema.metadata.tables[name])
            frame = spark.sql(
                str(empty.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            )
        frame.createOrReplaceTempView(name)


_POLARS_TO_SPARK = {
    pl.Int8: "TINYINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INT",
    pl.Int64: "BIGINT",
    pl.Float32: "FLOAT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.String: "STRING",
    pl.Date: "DATE",
}


def _parquet_ddl(file: str) -> str | None:
    """The Spark schema of a local Parquet table, from one of its files' footer, or None
    when a column has a type outside the contract's (Spark then infers it)."""
    columns = []
    for name, dtype in pl.read_parquet_schema(file).items():
        spark_type = _POLARS_TO_SPARK.get(dtype.base_type())
        if spark_type is None:
            return None
        columns.append(f"`{name}` {spark_type}")
    return ", ".join(columns)


#: A result's files are read once, at once, from the local disk: not compressed, committed
#: by the tasks themselves (no renaming at the job's end) and without a _SUCCESS marker
#: (measured: about 240 against 265 ms a small query; toArrow() takes about 165)
_RESULT_WRITE = {
    "compression": "uncompressed",
    "mapreduce.fileoutputcommitter.algorithm.version": "2",
    "mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


def _through_parquet(result) -> pl.DataFrame:
    """A local session's query result as a Polars frame: Spark writes it as Parquet files in
    a temporary folder, Polars reads them in the order of the result's partitions (so an
    ordered result stays in order), and the folder is removed. ``toArrow()`` would need
    pyarrow in the dashboard's process, about 40 MB of it."""
    from pyspark.sql.types import NullType, StringType

    # Parquet has no column of nulls only: written as text, given back as nulls
    void = [f.name for f in result.schema.fields if isinstance(f.dataType, NullType)]
    for name in void:
        result = result.withColumn(name, result[name].cast(StringType()))
    folder = Path(tempfile.mkdtemp(prefix="cx-spark-"))
    try:
        result.write.options(**_RESULT_WRITE).parquet(str(folder / "result"))
        files = sorted((folder / "result").glob("part-*.parquet"))
        if not files:
            raise OperationalError("Spark wrote no file for a query's result")
        frame = pl.concat([pl.read_parquet(f) for f in files], rechunk=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return frame.with_columns(pl.col(void).cast(pl.Null)) if void else frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Cursor:
    arraysize = 1000

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self._rows: list[tuple] = []
        self._at = 0

    def execute(self, operation: str, parameters=None):
        spark = self.connection.spark
        try:
            frame = spark.sql(operation, args=dict(parameters) if parameters else None)
            fields = frame.schema.fields
            rows = [tuple(r) for r in frame.collect()] if fields else []
        except Exception as exc:
            raise DatabaseError(_first_line(exc)) from exc
        self.description = (
            [(f.name, f.dataType.simpleString(), None, None, None, None, True) for f in fields]
            if fields
            else None
        )
        self._rows, self._at, self.rowcount = rows, 0, len(rows)
        return self

    def executemany(self, operation: str, seq_of_parameters):
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)

    def fetchone(self):
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int | None = None):
        size = size or self.arraysize
        out = self._rows[self._at : self._at + size]
        self._at += len(out)
        return out

    def fetchall(self):
        out = self._rows[self._at :]
        self._at = len(self._rows)
        return out

    def close(self):
        self._rows = []

    def setinputsizes(self, *args):
        pass

    def setoutputsize(self, *args):
        pass


class Connection:
    """A DB-API connection over the process's Spark session (closing it keeps the session)."""

    def __init__(self, spec: tuple):
        self.spark = session(spec)
        self.local = spec[0] == "local"

    def frame(self, sql: str) -> pl.DataFrame:
        """The result of ``sql`` as a Polars frame: through Parquet files in local mode
        (:func:`_through_parquet`), as Arrow from Spark Connect (whose client needs pyarrow
        anyway)."""
        result = self.spark.sql(sql)
        if self.local:
            return _through_parquet(result)
        return pl.from_arrow(result.toArrow(), rechunk=False)

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        pass


def connect(spec: tuple) -> Connection:
    return Connection(spec)


# --- dialect -------------------------------------------------------------------------------


class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    def __init__(self, dialect):
        super().__init__(dialect, initial_quote="`", escape_quote="`")


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    def visit_string(self, type_, **kw):
        return "STRING"

    visit_VARCHAR = visit_NVARCHAR = visit_CHAR = visit_NCHAR = visit_string
    visit_text = visit_TEXT = visit_unicode = visit_unicode_text = visit_string

    def visit_small_integer(self, type_, **kw):
        return "SMALLINT"

    def visit_integer(self, type_, **kw):
        return "INT"

    def visit_big_integer(self, type_, **kw):
        return "BIGINT"

    def visit_float(self, type_, **kw):
        return "DOUBLE"

    visit_FLOAT = visit_REAL = visit_DOUBLE = visit_double = visit_float

    def visit_boolean(self, type_, **kw):
        return "BOOLEAN"

    def visit_datetime(self, type_, **kw):
        return "TIMESTAMP"


class SparkCompiler(compiler.SQLCompiler):
    def limit_clause(self, select, **kw):
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            text += " OFFSET " + self.process(select._offset_clause, **kw)
        return text


_SPARK_TYPES = {
    "string": sa.String,
    "varchar": sa.String,
    "char": sa.String,
    "smallint": sa.SmallInteger,
    "tinyint": sa.SmallInteger,
    "int": sa.Integer,
    "bigint": sa.BigInteger,
    "double": sa.Float,
    "float": sa.Float,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "timestamp": sa.DateTime,
    "timestamp_ntz": sa.DateTime,
}


class SparkDialect(default.DefaultDialect):
    name = "spark"
    driver = "pyspark"
    statement_compiler = SparkCompiler
    type_compiler_cls = SparkTypeCompiler
    preparer = SparkIdentifierPreparer
    default_paramstyle = "named"
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    supports_alter = False
    supports_sequences = False
    postfetch_lastrowid = False
    max_identifier_length = 255

    @classmethod
    def import_dbapi(cls):
        return sys.modules[__name__]

    def create_connect_args(self, url):
        options = tuple(sorted((k, str(v)) for k, v in url.query.items() if k != "path"))
        if url.drivername == "spark":
            if (url.host or "local") != "local":
                raise sa.exc.ArgumentError(
                    f"spark://{url.host} is not a local session: use spark://local?path=FOLDER "
                    "for Spark inside this process, or sc://HOST:PORT for Spark Connect"
                )
            path = url.query.get("path")
            if not path:
                raise sa.exc.ArgumentError(
                    "spark://local needs the Parquet folder: spark://local?path=/data/cx-lake"
                )
            return [], {"spec": ("local", str(Path(path).resolve()), options)}
        remote = f"sc://{url.host}" + (f":{url.port}" if url.port else "")
        if url.database:
            remote += f"/{url.database}"  # Spark Connect's own ";key=value" parameters
        return [], {"spec": ("connect", remote, options)}

    def connect(self, *cargs, **cparams):
        return connect(**cparams)

    def get_default_isolation_level(self, dbapi_conn):
        return None

    def _get_server_version_info(self, connection):
        return None

    def _get_default_schema_name(self, connection):
        return None

    def do_rollback(self, dbapi_connection):
        pass

    def do_commit(self, dbapi_connection):
        pass

    def do_ping(self, dbapi_connection):
        dbapi_connection.spark.sql("SELECT 1").collect()
        return True

    def get_table_names(self, connection, schema=None, **kw):
        sql = "SHOW TABLES" + (f" IN {self.identifier_preparer.quote(schema)}" if schema else "")
        rows = connection.exec_driver_sql(sql).all()
        return [row[1] for row in rows]  # namespace, tableName, isTemporary

    def get_view_names(self, connection, schema=None, **kw):
        return []

    def has_table(self, connection, table_name, schema=None, **kw):
        return table_name in self.get_table_names(connection, schema)

    def get_columns(self, connection, table_name, schema=None, **kw):
        name = self.identifier_preparer.quote(table_name)
        if schema:
            name = f"{self.identifier_preparer.quote(schema)}.{name}"
        columns = []
        for col_name, data_type, *_ in connection.exec_driver_sql(f"DESCRIBE TABLE {name}"):
            if not col_name or col_name.startswith("#"):
                break  # partition information follows the columns
            base = data_type.split("(")[0].lower()
            columns.append(
                {
                    "name": col_name,
                    "type": _SPARK_TYPES.get(base, sa.String)(),
                    "nullable": True,
                    "default": None,
                }
            )
        return columns

    def get_pk_constraint(self, connection, table_name, schema=None, **kw):
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(self, connection, table_name, schema=None, **kw):
        return []

    def get_indexes(self, connection, table_name, schema=None, **kw):
        return []


def spark_session(engine: sa.Engine):
    """The Spark session behind an engine of this dialect."""
    with engine.connect() as conn:
        return conn.connection.driver_connection.spark


def register() -> None:
    """Make ``spark://`` and ``sc://`` URLs open this dialect."""
    registry.register("spark", __name__, "SparkDialect")
    registry.register("sc", __name__, "SparkDialect")


register()
