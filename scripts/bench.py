"""Benchmark: generator, first load, overview recompute and peak memory.

    python -m scripts.bench --responses 1000000 [--responses 10000000] [--keep DIR]

For each size it generates the sample company into a SQLite file (timed), then, in a fresh
process, loads it into frames (timed, peak memory) and recomputes the overview for a series
of filter changes (median of repeated runs). Targets: generator 1M in <= 60 s; overview
recompute <= 50 ms at 1M and <= 300 ms at 10M; first load of 1M <= 3 s; peak <= 3 GB at 10M
(issue #2); journey and accountability pages <= 150 ms at 1M (issues #3, #4); loyalty and
voice-of-the-customer pages <= 200 ms at 1M (issues #5, #6); the overview with its findings
and trends <= 100 ms at 1M (issue "The executive's first screen"). Text analysis of 200k
distinct comments: ``python -m scripts.bench_text``.

Every timed run is a filter change to a view not seen before: each page runs once untimed
(reading the period's customer-level answers, which the dataset keeps per period with what
depends on them alone, such as each customer's latest answer in the period
(``Dataset.of_period``), and the preparations it keeps per data version, such as the weekly
contacts), then before every timed run the dataset forgets every result it keeps per view
or per part of a view's filters
(``Dataset.forget_views``: overviews, customers in view and their latest answers, churn
rates of the view's segments, the lead test of its stages, segments, regions and weeks), so
no repeat reads what the one before it computed for that view, nor what another view with
some of the same filters did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cxmetrics.contract import sample

RESPONSES_PER_CUSTOMER = 8.1  # measured: 203,005 responses from 25,000 customers


def _views(first: dt.date, last: dt.date):
    from cxmetrics.contract.periods import preset_range
    from cxmetrics.stats.filters import Filters

    def period(p, **kw):
        start, end = preset_range(p, first, last)
        return Filters(start=start, end=end, **kw)

    return {
        "last 90 days (default)": period("90d"),
        "last 30 days": period("30d"),
        "latest quarter": period("quarter"),
        "latest 12 months": period("year"),
        "all data": Filters(),
        "90 days, stage File a claim": period("90d", stages=("claim",)),
        "90 days, department Customer Service": period("90d", departments=("service",)),
        "90 days, mobile, Small business": period(
            "90d", channels=("mobile",), segments=("Small business",)
        ),
        "90 days, region North": period("90d", regions=("North",)),
    }


def measure_load_and_compute(url: str, repeats: int) -> dict:
    """Run in a fresh process: first load, then recompute per view; peak RSS."""
    from cxmetrics.contract import actions, store
    from cxmetrics.findings import action_effect, closed_loop, leading
    from cxmetrics.stats import comment_queries, dataset, voc
    from cxmetrics.views import (
        accountability,
        first_screen,
        journey_view,
        loyalty,
        overview,
        voc_view,
    )

    def journey_page(ds, view):
        jv = journey_view.compute(ds, contacts, view)
        stage = jv.stages[0].stage_id
        journey_view.touchpoint_table(ds, jv, stage)
        journey_view.channel_table(jv, stage)

    engine = store.make_engine(url)
    t0 = time.perf_counter()
    ds = dataset.load(engine)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    contacts = dataset.load_contacts(engine, ds)
    contacts_s = time.perf_counter() - t0
    kpis = store.load_kpis(engine)

    def accountability_page(ds, view):
        av = accountability.compute(ds, kpis, view)
        stage = accountability.worst_stage(av.stages, [s.stage_id for s in av.stages])
        accountability.stage_weekly_nps(ds, view, stage)
        accountability.scorecard(ds.journey, stage, av.kpi_table)
        accountability.verdict_table(av.verdicts)
        accountability.incentive_table(av.verdicts, ds.journey)

    def loyalty_page(ds, view):
        stats = ds.slice_stats(view)
        loyalty.trend(stats, "week", None)
        loyalty.trend(stats, "week", "segment")
        customers = loyalty.customers_in_view(ds, view)
        loyalty.churn_by_loyalty(customers)
        loyalty.churn_by_csat(customers)
        loyalty.satisfied_at_risk(customers)
        by_stage = loyalty.latest_by_stage(ds, view)
        loyalty.revenue_at_risk_by(ds, view, "stage", by_stage)
        loyalty.revenue_at_risk_by(ds, view, "segment")
        loyalty.value_summary(customers)
        loyalty.influencer_nps_by_stage(ds, view)
        loyalty.influencer_detractors(ds, view, ds.journey.stage_order[-1], by_stage)

    texts = comment_queries.Comments(engine)  # analysed when written; queried, never loaded
    n_comments = texts.status().analysed
    t0 = time.perf_counter()
    cases = closed_loop.prepare_for(ds, store.load_cases(engine), contacts)
    cases_s = time.perf_counter() - t0

    def voice_tab(section: str):
        """The voice page with one tab open: its headlines, then that tab."""

        def run(ds, view):
            vv = voc_view.compute(ds, texts, cases, contacts, view)
            vv.compute("headlines")
            vv.compute(section)
            if section == "leading indicators":
                leading.table(vv.signals, ds.journey)
            if section == "verbatims":
                shown, *_ = texts.page(view, vv.stage_ids, voc.Query(text="twice"), 2)
                voc.display_rows(shown, ds.journey)

        return run

    action_plans = actions.load(engine)

    def overview_page(ds, view):
        """What the overview page computes on a filter change, as it does: tiles and stages,
        their trends, every finding of the view with its cost (the first fold; it computes the
        overview again inside, as the page's shared view does), the action plans."""
        overview.compute(ds, view)
        overview.trends(ds, view)
        ev = first_screen.evidence(ds, view, contacts, cases, kpis)
        listing = action_effect.listing(ds, action_plans, ds.last_day)
        first_screen.build(ds, view, ev, kpis, listing, ds.last_day)

    pages = {
        "recompute_ms": overview.compute,
        "overview_with_findings_ms": overview_page,
        "journey_page_ms": journey_page,
        "accountability_page_ms": accountability_page,
        "loyalty_page_ms": loyalty_page,
        **{
            f"voice_{name.replace(' ', '_')}_tab_ms": voice_tab(name)
            for name in (
                "closed loop",
                "leading indicators",
                "broken processes",
                "themes",
                "verbatims",
            )
        },
    }
    results: dict = {key: {} for key in pages}
    for name, view in _views(ds.first_day, ds.last_day).items():
        for key, page in pages.items():
            page(ds, view)  # warm
            times = []
            for _ in range(repeats):
                ds.forget_views()  # cold: nothing kept from the view's previous run
                t = time.perf_counter()
                page(ds, view)
                times.append((time.perf_counter() - t) * 1000)
            results[key][name] = round(statistics.median(times), 1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "responses": ds.n_responses,
        "stats_rows": ds.stats.height,
        "first_load_s": round(load_s, 2),
        "contacts_load_s": round(contacts_s, 2),
        "comments": n_comments,
        "closed_loop_prepare_s": round(cases_s, 2),
        **results,
        "peak_rss_mb": round(peak_mb),
    }


def bench_size(responses: int, folder: Path, repeats: int) -> dict:
    customers = max(1, round(responses / RESPONSES_PER_CUSTOMER))
    path = folder / f"cx-{responses}.db"
    url = f"sqlite:///{path}"
    out: dict = {"target_responses": responses, "customers": customers}
    if not path.exists():
        from cxmetrics.contract import store

        t0 = time.perf_counter()
        data = sample.generate(customers)
        out["generate_s"] = round(time.perf_counter() - t0, 2)
        out["generated_responses"] = data.responses.height
        t0 = time.perf_counter()
        store.write_tables(url, data.tables())
        out["write_sqlite_s"] = round(time.perf_counter() - t0, 2)
        del data
    child = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--child", url, "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    out.update(json.loads(child.stdout))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, action="append")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="folder for the generated databases")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_load_and_compute(args.child, args.repeats)))
        return
    sizes = args.responses or [1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            print(json.dumps(bench_size(size, folder, args.repeats), indent=2), flush=True)


if __name__ == "__main__":
    main()
