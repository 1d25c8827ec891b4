"""Benchmark: the comments' stored analysis and the Voice page's first render of its themes
and comments, before (every comment read and analysed in the process) and now (SQL
statistics and one page of rows from ``comment_analysis``).

    python -m scripts.bench_comments [--url sqlite:///sample_data/cx.db]

Prints JSON: ``analyse_all_s`` (``analyse-comments --all`` on a copy of the database), and for
the first render of the Themes & sentiment and Verbatims tabs over the last 90 days, the
seconds and the memory a fresh process holds afterwards, each way (the dataset, loaded
first either way, not counted).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from cxmetrics.contract import store


def first_render(url: str, way: str) -> dict:
    """Run in a fresh process: load what the page needs and compute both tabs once."""
    import datetime as dt

    from cxmetrics.stats import comment_queries, dataset, voc
    from cxmetrics.stats.filters import Filters
    from cxmetrics.views import voc_view

    engine = store.make_engine(url)
    ds = dataset.load(engine)  # the page needs it either way; not counted
    base_mb = _rss_mb()
    view = Filters(ds.last_day - dt.timedelta(days=89), ds.last_day)
    stage_ids = ds.stage_ids(view)
    started = time.perf_counter()
    if way == "before":
        v = voc.build(ds, store.load_all_comments(engine))
        rows = voc.in_view(v, view, stage_ids)
        themes = voc.theme_summary(rows)
        voc.rising(rows, voc.in_view(v, view.previous_period(), stage_ids), 30, themes)
        voc.theme_by_stage(rows, ds.journey)
        voc.theme_trend(rows, "week", view.start, view.end)
        voc_view.sentiment_by_stage(rows, ds.journey)
        shown, _, _ = voc.page(voc.search(rows, voc.Query()), 1)
        voc.display_rows(shown, ds.journey)
        n = rows.height
    else:
        texts = comment_queries.Comments(engine)
        vv = voc_view.compute(ds, texts, pl.DataFrame(), pl.DataFrame(), view)
        vv.comment_status  # noqa: B018 (what the page asks first)
        vv.compute("themes")
        vv.compute("verbatims")
        shown, *_ = texts.page(vv.view, vv.stage_ids, voc.Query(), 1)
        voc.display_rows(shown, ds.journey)
        n = vv.comment_count
    seconds = time.perf_counter() - started
    return {
        "comments_in_view": n,
        "seconds": round(seconds, 2),
        "rss_held_after_mb": round(_rss_mb() - base_mb),  # what the process keeps
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _rss_mb() -> float:
    """The process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=store.default_url())
    parser.add_argument("--_render", choices=["before", "now"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._render:
        print(json.dumps(first_render(args.url, args._render)))
        return
    store.ensure_sample_database(args.url)
    out: dict = {}
    path = store.sqlite_path(args.url)
    if path is not None:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "copy.db"
            shutil.copy(path, copy)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "cxmetrics", "analyse-comments", "--all"]
                + ["--url", f"sqlite:///{copy}"],
                check=True,
                capture_output=True,
            )
            out["analyse_all_s"] = round(time.perf_counter() - started, 2)
    for way in ("before", "now"):
        done = subprocess.run(
            [sys.executable, "-m", "scripts.bench_comments", "--url", args.url, "--_render", way],
            check=True,
            capture_output=True,
            text=True,
        )
        out[f"first_render_{way}"] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
