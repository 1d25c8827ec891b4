"""Spark Connect (``sc://host:port``): a local Spark Connect server started here, the tables
of the contract in its catalog (over the Parquet folder), and the command line's numbers
equal to SQLite's on the same data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from engines import build, need, run_cli

from cxmetrics.contract import spark_dialect
from scripts.serve import free_port

SERVER = Path(__file__).resolve().parent / "spark_connect_server.py"


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A local Spark Connect server on a free port, in a process of its own (a Spark
    Connect client cannot share a process with a local Spark), with one catalog table per
    table of the lake."""
    need("spark-connect")
    engines = build(tmp_path_factory.mktemp("connect"))
    port = free_port()
    log = tmp_path_factory.mktemp("connect-log") / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(port), str(engines.lake)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        if proc.stdout.readline().strip() != "ready":  # bounded: the server exits on error
            pytest.fail(f"the Spark Connect server did not start:\n{log.read_text()[-3000:]}")
        yield engines, f"sc://localhost:{port}"
    finally:
        spark_dialect.stop_all()
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("command", ["summary", "findings"])
def test_spark_connect_reports_the_same_numbers_as_sqlite(connect_server, command):
    engines, url = connect_server
    assert run_cli(command, "--json", "--url", url) == run_cli(
        command, "--json", "--url", engines.sqlite
    )
