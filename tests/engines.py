"""The engines the tests start themselves, on one small sample company: a SQLite file (the
reference), a folder of Parquet files written from it (read by DuckDB and by Spark in local
mode) and a DuckDB file written by the project's own writer.

With ``CI=true`` an engine that cannot start (no Java, no pyspark, no duckdb-engine) fails
the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from cxmetrics import cli
from cxmetrics.contract import sample, store

#: Small enough for Spark's many little queries, big enough for every page to have data.
ENGINE_CUSTOMERS = 1_500
ENGINE_SEED = 7


def need(engine: str) -> None:
    """Fail (CI) or skip (elsewhere) unless ``engine`` ("duckdb", "spark" or
    "spark-connect") can start."""
    missing = []
    if engine == "duckdb" and importlib.util.find_spec("duckdb_engine") is None:
        missing.append("duckdb-engine (python3 -m pip install -r requirements-engines.txt)")
    if engine == "spark-connect":
        missing += [
            f"{module} (python3 -m pip install -r requirements-engines.txt)"
            for module in ("grpc", "grpc_status", "zstandard")
            if importlib.util.find_spec(module) is None
        ]
    if engine.startswith("spark"):
        if importlib.util.find_spec("pyspark") is None:
            missing.append("pyspark (python3 -m pip install -r requirements-engines.txt)")
        if shutil.which("java") is None:
            missing.append("a Java 17 runtime (bash scripts/install-system-deps.sh)")
    if not missing:
        return
    message = f"{engine} cannot start: missing {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Engines:
    sqlite_file: Path
    lake: Path
    duckdb_file: Path

    @property
    def sqlite(self) -> str:
        return f"sqlite:///{self.sqlite_file}"

    def url(self, engine: str) -> str:
        """The database URL of one engine over the same data."""
        return {
            "sqlite": self.sqlite,
            "duckdb-folder": f"duckdb:///{self.lake}",
            "duckdb-file": f"duckdb:///{self.duckdb_file}",
            "spark": f"spark://local?path={self.lake}",
        }[engine]


def build(folder: Path) -> Engines:
    """The sample company as a SQLite file, a Parquet folder exported from that file and a
    DuckDB file written from the same frames."""
    data = sample.generate(customers=ENGINE_CUSTOMERS, seed=ENGINE_SEED)
    out = Engines(folder / "cx.db", folder / "lake", folder / "cx.duckdb")
    store.write_tables(out.sqlite, data.tables())
    engine = store.make_engine(out.sqlite)
    try:
        store.export_parquet(engine, out.lake)
    finally:
        engine.dispose()
    if importlib.util.find_spec("duckdb_engine") is not None:
        store.write_tables(f"duckdb:///{out.duckdb_file}", data.tables())
    return out


def run_cli(*args: str) -> dict:
    """``python3 -m cxmetrics ARGS`` in this process (a started Spark session is reused)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(args))
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def engine_of(name: str) -> str:
    """The engine a test parameter needs started ("duckdb", "spark" or "sqlite")."""
    return name.split("-")[0]
