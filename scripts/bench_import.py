"""Benchmark: importing responses from CSV (issue #8).

    python -m scripts.bench_import [--responses 1000000] [--postgres]

Generates the sample company with about N responses, writes its journey and customers to
a fresh database, then times, from the CSV of its responses (contract column names, so the
mapping is the identity):

- the import into SQLite (read, map, validate, upsert): target <= 20 s for 1M;
- with ``--postgres``, the same into a throwaway PostgreSQL server on 127.0.0.1 (the test
  harness's): target <= 15 s;
- the validation report (a dry run) of the same file with 1% of its rows broken in one of
  four ways: target <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from cxmetrics.contract import importer, mapping, sample, store

RESPONSES_PER_CUSTOMER = 8.1


def prepare(folder: Path, responses: int) -> tuple[Path, Path, sample.SampleData]:
    data = sample.generate(max(1, round(responses / RESPONSES_PER_CUSTOMER)))
    good = folder / "responses.csv"
    data.responses.write_csv(good)
    rng = np.random.default_rng(1)
    frame = data.responses.with_columns(pl.col(pl.Int16, pl.Int64, pl.Date).cast(pl.String))
    n = frame.height
    bad = rng.choice(n, size=n // 100, replace=False)
    kind = rng.integers(0, 4, size=bad.size)
    edits = {
        "nps": ("x", bad[kind == 0]),
        "touchpoint_id": ("nowhere", bad[kind == 1]),
        "responded_on": ("2026-02-30", bad[kind == 2]),
        "customer_id": ("999999999", bad[kind == 3]),
    }
    for column, (value, rows) in edits.items():
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        frame = frame.with_columns(
            pl.when(pl.Series(mask)).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )
    broken = folder / "responses-1pct-bad.csv"
    frame.write_csv(broken)
    return good, broken, data


def base_tables(data: sample.SampleData) -> dict[str, pl.DataFrame]:
    keep = ("stages", "touchpoints", "departments", "stage_owners", "targets", "customers")
    return {k: v for k, v in data.tables().items() if k in keep or k == "incentives"}


def timed_import(url: str, path: Path, columns: list[str], **kw) -> dict:
    engine = store.make_engine(url)
    try:
        t0 = time.perf_counter()
        report = importer.run(
            engine, "responses", path, mapping.identity("responses", columns), **kw
        )
        seconds = time.perf_counter() - t0
    finally:
        engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "rows": report.source_rows,
        "written": report.written,
        "problems": report.problems.height,
        "rejected_rows": report.rejected_source_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        good, broken, data = prepare(folder, args.responses)
        columns = data.responses.columns
        out["csv_mb"] = round(good.stat().st_size / 1e6, 1)
        url = f"sqlite:///{folder / 'cx.db'}"
        store.write_tables(url, base_tables(data))
        out["sqlite_import"] = timed_import(url, good, columns)
        out["sqlite_reimport_same_file"] = timed_import(url, good, columns)
        out["validation_1pct_bad_dry_run"] = timed_import(
            url, broken, columns, dry_run=True, report_dir=folder / "report"
        )
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from pg_server import PostgresServer

            pg = PostgresServer(folder / "pg")
            pg.start()
            try:
                pg_url = pg.create_database("bench")
                store.write_tables(pg_url, base_tables(data))
                out["postgres_import"] = timed_import(pg_url, good, columns)
                out["postgres_reimport_same_file"] = timed_import(pg_url, good, columns)
            finally:
                pg.stop()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
