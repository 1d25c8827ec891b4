"""Benchmark of the engines: the dashboard process on SQLite, Postgres, DuckDB over Parquet
and Spark local, at a chosen size.

    python3 -m scripts.bench_scale --engine sqlite --engine duckdb --responses 200000 \
        [--keep DIR] [--repeats 5]

For each size it builds the sample company once (``cxmetrics.contract.sample``, about 8.1 responses
per customer) into a SQLite file and a Parquet folder exported from it, both kept in
``--keep`` (default ``bench-results/scale``) and reused by later runs; Postgres is loaded
into a throwaway server (tests/pg_server.py) for the run. Then, per engine, a fresh child
process plays the dashboard process and measures:

- first overview: engine opened, data loaded (``dataset.load``) and the overview of the
  default view computed (as in ``scripts/bench.py``);
- new view: the first ``overview.compute`` of each preset view of ``scripts/bench.py`` (a
  new period asks the database for its customer-level answers when it holds them), the
  slowest of them;
- filter change: then ``--repeats`` timed runs of each view, each after the dataset forgot
  what it keeps per view (``Dataset.forget_views``, as in ``scripts/bench.py``); p50 and p95
  over all of them;
- peak resident memory of that process (its ``VmHWM``); for Spark also the peak resident
  memory of the JVM it started (``VmHWM`` of the java child process), reported apart.

``CX_HOLD`` (rows or database) is passed on to the child: unset, each engine holds what it
holds by default. Each engine's child starts with an empty cache of aggregates
(``cxmetrics.stats.load_cache``, in a temporary folder): its first overview is computed by
the engine. With ``--warm``, a second child then starts on the cache the first one wrote (a
restart, another process behind the proxy) and its first overview and peak are reported; only
lakes (DuckDB, Spark) are kept, so SQLite and Postgres show "-". It prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENGINES = ("sqlite", "postgres", "duckdb", "spark")
RESPONSES_PER_CUSTOMER = 8.1  # as scripts/bench.py: 203,005 responses from 25,000 customers


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _jvm_peak_mb() -> float | None:
    """Peak resident memory of the java processes this process started (Spark local)."""
    peaks = []
    for pid in _descendants(os.getpid()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if not cmd.endswith(b"java"):
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return round(sum(peaks)) if peaks else None


def _peak_rss_mb() -> int:
    """Peak resident memory of this process: ``VmHWM``, not ``getrusage``, whose
    ``ru_maxrss`` Linux carries over from the parent that started the process (fork, then
    exec): the Postgres run's parent holds every table it copied into the server."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(url: str, repeats: int) -> dict:
    """In the child process: first overview, filter changes, peak memory."""
    from cxmetrics.contract import store
    from cxmetrics.contract.periods import preset_range
    from cxmetrics.stats import dataset
    from cxmetrics.stats.filters import Filters
    from cxmetrics.views import overview
    from scripts.bench import _views

    t0 = time.perf_counter()
    engine = store.make_engine(url)
    ds = dataset.load(engine)
    preset, _why = ds.default_period()
    start, end = preset_range(preset, ds.first_day, ds.last_day)
    overview.compute(ds, Filters(start=start, end=end))
    first_s = time.perf_counter() - t0
    times, first_views = [], []
    for view in _views(ds.first_day, ds.last_day).values():
        t = time.perf_counter()
        overview.compute(ds, view)  # the first view of its period and filters
        first_views.append((time.perf_counter() - t) * 1000)
        for _ in range(repeats):
            ds.forget_views()  # cold: nothing kept from the view's previous run
            t = time.perf_counter()
            overview.compute(ds, view)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "hold": dataset.hold_for(engine),
        "responses": ds.n_responses,
        "first_view_max_ms": round(max(first_views), 1),
        "first_overview_s": round(first_s, 2),
        "filter_p50_ms": round(statistics.median(times), 1),
        "filter_p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "peak_rss_mb": _peak_rss_mb(),
        "jvm_peak_rss_mb": _jvm_peak_mb(),
    }


def prepare(responses: int, folder: Path) -> tuple[str, Path]:
    """The SQLite file and the Parquet folder of this size, built once and kept."""
    from cxmetrics.contract import sample, store

    db, lake = folder / f"cx-{responses}.db", folder / f"lake-{responses}"
    if not db.exists():
        customers = max(1, round(responses / RESPONSES_PER_CUSTOMER))
        print(f"generating {customers:,} customers into {db}", file=sys.stderr, flush=True)
        store.write_tables(f"sqlite:///{db}", sample.generate(customers).tables())
    if not lake.exists():
        engine = store.make_engine(f"sqlite:///{db}")
        try:
            store.export_parquet(engine, lake)
        finally:
            engine.dispose()
    return f"sqlite:///{db}", lake


def run_child(engine: str, url: str, repeats: int, warm: bool = False) -> dict:
    """The child's figures; with ``warm``, and ``warm_first_overview_s``: the first overview
    of a second child that starts on the aggregates the first one kept."""
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        env = {**os.environ, "CX_CACHE_DIR": cache}
        command = [sys.executable, "-m", "scripts.bench_scale", "--child", url]
        command += ["--repeats", str(repeats)]
        row = _child(engine, command, env)
        row["warm_first_overview_s"] = row["warm_peak_rss_mb"] = None
        if warm and any(Path(cache).rglob("meta.json")):  # an entry was kept
            again = _child(engine, command, env)
            row["warm_first_overview_s"] = again["first_overview_s"]
            row["warm_peak_rss_mb"] = again["peak_rss_mb"]
    return row


def _child(engine: str, command: list[str], env: dict) -> dict:
    child = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    if child.returncode != 0:
        raise SystemExit(f"{engine}: the dashboard process failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def bench(
    engines: list[str], sizes: list[int], folder: Path, repeats: int, warm: bool = False
) -> list[dict]:
    rows = []
    for size in sizes:
        sqlite_url, lake = prepare(size, folder)
        for engine in engines:
            if engine == "postgres":
                rows.append({"engine": engine, **_postgres(sqlite_url, repeats)})
                continue
            url = {
                "sqlite": sqlite_url,
                "duckdb": f"duckdb:///{lake}",
                "spark": f"spark://local?path={lake}",
            }[engine]
            print(f"measuring {engine} at {size:,} responses", file=sys.stderr, flush=True)
            rows.append({"engine": engine, **run_child(engine, url, repeats, warm)})
    return rows


def _postgres(sqlite_url: str, repeats: int) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    import sqlalchemy as sa
    from pg_server import PostgresServer

    from cxmetrics.contract import store

    with tempfile.TemporaryDirectory() as tmp:
        pg = PostgresServer(Path(tmp) / "pg")
        url = pg.start()
        try:
            engine = store.make_engine(sqlite_url)
            try:
                held = sa.inspect(engine).get_table_names()  # a file made before a table existed
                tables = {
                    name: store.load_table(engine, table)
                    for name, table in store.schema.metadata.tables.items()
                    if name not in ("imports",) and name in held
                }
            finally:
                engine.dispose()
            store.write_tables(url, tables)
            del tables
            print("measuring postgres", file=sys.stderr, flush=True)
            return run_child("postgres", url, repeats)
        finally:
            pg.stop()


def table(rows: list[dict]) -> str:
    head = (
        f"{'engine':<9} {'hold':<9} {'responses':>10} {'first overview s':>17} "
        f"{'new view max ms':>16} {'filter p50 ms':>14} {'filter p95 ms':>14} "
        f"{'peak RSS MB':>12} {'JVM peak RSS MB':>16} {'warm first overview s':>22} "
        f"{'warm peak RSS MB':>17}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        jvm = "-" if r["jvm_peak_rss_mb"] is None else f"{r['jvm_peak_rss_mb']:,}"
        warm, warm_peak = (
            "-" if r.get(k) is None else r[k] for k in ("warm_first_overview_s", "warm_peak_rss_mb")
        )
        lines.append(
            f"{r['engine']:<9} {r['hold']:<9} {r['responses']:>10,} {r['first_overview_s']:>17} "
            f"{r['first_view_max_ms']:>16} {r['filter_p50_ms']:>14} {r['filter_p95_ms']:>14} "
            f"{r['peak_rss_mb']:>12,} {jvm:>16} {warm:>22} {warm_peak:>17}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", action="append", choices=ENGINES)
    parser.add_argument("--responses", type=int, action="append")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=REPO / "bench-results" / "scale")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument(
        "--warm", action="store_true", help="also time a second start on the kept aggregates"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats)))
        return
    args.keep.mkdir(parents=True, exist_ok=True)
    engines, sizes = args.engine or list(ENGINES), args.responses or [200_000]
    rows = bench(engines, sizes, args.keep, args.repeats, args.warm)
    print(table(rows))
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
