"""Benchmark: chart exports and the executive briefing (issue #7).

    python -m scripts.bench_exports [--url URL]

On the embedded sample (or ``--url``): the first PNG export (starts Chromium), then ten
exports of different charts after it (target <= 5 s for the ten), then a full briefing of
the default view, PPTX and PDF, with all its charts (target <= 20 s).
"""

from __future__ import annotations

import argparse
import json
import time

from cxmetrics.contract import store
from cxmetrics.contract.periods import DEFAULT_PRESET, preset_range
from cxmetrics.reports import briefing, exports
from cxmetrics.stats.filters import Filters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or store.database_url()
    store.ensure_sample_database(url)
    engine = store.make_engine(url)
    inputs = briefing.load_inputs(engine)
    engine.dispose()
    ds = inputs["ds"]
    view = Filters(*preset_range(DEFAULT_PRESET, ds.first_day, ds.last_day))
    t0 = time.perf_counter()
    b = briefing.build(**inputs, f=view)
    build_s = time.perf_counter() - t0
    figures = [s.figure for s in b.slides if s.figure is not None]
    t0 = time.perf_counter()
    exports.image_bytes(figures[0], "png", "first")
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(10):
        exports.image_bytes(figures[i % len(figures)], "png", f"export {i}")
    ten_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    files = briefing.render(briefing.build(**inputs, f=view))
    briefing_s = time.perf_counter() - t0 + build_s
    print(
        json.dumps(
            {
                "first_png_s": round(first_s, 2),
                "ten_png_after_first_s": round(ten_s, 2),
                "briefing_charts": b.charts,
                "briefing_build_and_render_s": round(briefing_s, 2),
                "pptx_kb": round(len(files["pptx"]) / 1024),
                "pdf_kb": round(len(files["pdf"]) / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
