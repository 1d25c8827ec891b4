"""Spark Connect (``sc://host:port``): a local Spark Connect server started here, the tables
of the contract in its catalog (over the Parquet folder), and the command line's numbers
equal to SQLite's on the same data."""

from __future__ import annotations

import os

import pytest
from engines import build, need, run_cli

from cxmetrics import lake, spark_dialect

PORT = 15002  # Spark Connect's default port, where a local server listens


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A local Spark Connect server (pyspark starts it in its own JVM) with one catalog
    table per table of the lake."""
    need("spark-connect")
    engines = build(tmp_path_factory.mktemp("connect"))
    saved = {k: os.environ.get(k) for k in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.remote("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    for name, path in lake.table_files(engines.lake).items():
        spark.sql(f"CREATE TABLE `{name}` USING parquet LOCATION '{path}'")
    yield engines, f"sc://localhost:{PORT}"
    spark_dialect.stop_all()
    spark.stop()
    for key, value in saved.items():  # a later local session must not turn into a client
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.parametrize("command", ["summary", "findings"])
def test_spark_connect_reports_the_same_numbers_as_sqlite(connect_server, command):
    engines, url = connect_server
    assert run_cli(command, "--json", "--url", url) == run_cli(
        command, "--json", "--url", engines.sqlite
    )
