"""A larger lake for the scale benchmark, made from a smaller one by copying its customers.

    python3 -m scripts.scale_lake SOURCE_LAKE TARGET_LAKE --copies 100

The sample generator cannot write 100M responses on this machine in reasonable time, so
this writes ``--copies`` copies of every customer of ``SOURCE_LAKE`` (a folder made by
``python3 -m cxmetrics export-parquet``) with everything that belongs to them: their
responses, contacts, cases and comment analyses. Copy ``k`` renames every id ``x`` to
``k-x`` (copy 0 keeps the ids), so customers, responses, contacts and cases stay distinct and
their links hold; dates, scores and the journey are unchanged. The result has ``copies``
times the customers and rows of the source, with the same days, dimensions and shape per
customer: the size the scale benchmark's 100M figures are measured on (``python3 -m
scripts.bench_scale --child duckdb:///TARGET_LAKE``). Each copy is written as its own Parquet
file inside ``TARGET_LAKE/table/``, one DuckDB ``COPY`` at a time, so memory stays small.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

#: Per-customer tables and their id columns renamed per copy.
COPIED = {
    "customers": ("customer_id",),
    "responses": ("response_id", "customer_id"),
    "contacts": ("contact_id", "customer_id"),
    "cases": ("case_id", "response_id", "customer_id"),
    "comment_analysis": ("response_id",),
}


def _select(source: Path, table: str, ids: tuple[str, ...], copy: int) -> str:
    renamed = ", ".join(f"'{copy}-' || {c} AS {c}" for c in ids)
    return (
        f"SELECT * REPLACE ({renamed}) FROM read_parquet('{source / table}.parquet')"
        if copy
        else f"SELECT * FROM read_parquet('{source / table}.parquet')"
    )


def scale(source: Path, target: Path, copies: int) -> dict[str, int]:
    import duckdb

    if copies < 1:
        raise SystemExit(f"--copies must be at least 1, not {copies}")
    if not (source / "responses.parquet").exists():
        raise SystemExit(f"{source} is not a lake: it has no responses.parquet")
    if target.exists():
        raise SystemExit(f"{target} exists already; remove it or choose another folder")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '2GB'")
    rows: dict[str, int] = {}
    for file in sorted(source.glob("*.parquet")):
        table = file.stem
        if table not in COPIED:
            shutil.copy(file, partial / file.name)
            continue
        (partial / table).mkdir()
        for copy in range(copies):
            out = partial / table / f"part-{copy:05d}.parquet"
            con.execute(
                f"COPY ({_select(source, table, COPIED[table], copy)}) "
                f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
            )
        rows[table] = con.execute(
            f"SELECT count(*) FROM read_parquet('{partial / table}/*.parquet')"
        ).fetchone()[0]
    con.close()
    partial.rename(target)  # all or nothing: the lake appears only when complete
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--copies", type=int, required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = scale(args.source, args.target, args.copies)
    for table, n in rows.items():
        print(f"{table}: {n:,} rows")
    print(f"written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
