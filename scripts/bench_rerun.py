"""Benchmark: the server CPU of one rerun of each page whose view is already computed.

    python -m scripts.bench_rerun [--runs 10] [--url URL]

Runs the dashboard in this process (Streamlit's AppTest, one session), visits every page
twice so its views are computed and shared, then reruns it ``--runs`` times, and changes
the period back and forth between two periods already seen as many times. Prints the CPU
time (this process's, user and system) of a rerun per page: median, minimum and maximum.
What a rerun costs here is what every further session pays for the same view; the load
benchmark (``scripts/bench_load.py``) measures the same with browsers and the network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cxmetrics.contract import store

REPO = Path(__file__).resolve().parent.parent
PAGES = ("overview", "journey", "loyalty", "accountability", "voice", "glossary")
PERIODS = ("30d", "90d")


def _timed(at: AppTest, runs: int, before=None) -> dict:
    times = []
    for i in range(runs):
        if before:
            before(at, i)
        started = time.process_time()
        at.run()
        times.append(time.process_time() - started)
        if at.exception:
            raise SystemExit(f"the page failed: {at.exception}")
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--url", help="database URL (default: the sample database)")
    args = parser.parse_args()
    if args.url:
        os.environ[store.URL_ENV] = args.url
    store.ensure_sample_database(store.database_url())
    os.chdir(REPO)  # the app's own .streamlit/config.toml
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=600).run()

    def period(app: AppTest, i: int) -> None:
        app.sidebar.selectbox(key="period").set_value(PERIODS[i % len(PERIODS)])

    rerun, change = {}, {}
    for page in PAGES:
        at.switch_page(str(REPO / "pages" / f"{page}.py"))
        for name in PERIODS:  # both periods computed before anything is timed
            at.sidebar.selectbox(key="period").set_value(name)
            at.run()
            at.run()
        rerun[page] = _timed(at, args.runs)
        change[page] = _timed(at, args.runs, period)
    print(json.dumps({"runs": args.runs, "rerun": rerun, "period_change": change}, indent=2))


if __name__ == "__main__":
    main()
