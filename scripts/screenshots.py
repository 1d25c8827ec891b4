"""Take full-page screenshots of the running dashboard with headless Chromium.

    streamlit run dashboard.py --server.port 8501 --server.headless true &
    python -m scripts.screenshots --url http://127.0.0.1:8501 --out /tmp/shots

Each page (and any ``--query`` variants) is saved as a PNG in ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {
    "overview": "",
    "journey": "journey",
    "accountability": "accountability",
    "loyalty": "loyalty",
    "voice": "voice",
    "data": "data",
    "glossary": "glossary",
}


def _settle(page) -> None:
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120_000
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"]')"
        " && [...document.querySelectorAll('.js-plotly-plot')].every("
        "p => p.querySelector('.main-svg'))",
        timeout=60_000,
    )
    page.wait_for_timeout(800)  # Plotly's transitions end before the picture


def _shoot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    print(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--out", type=Path, default=Path("/tmp/cx-shots"))
    parser.add_argument(
        "--query",
        action="append",
        default=[],
        help="extra overview views, e.g. 'stage=File a claim'",
    )
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument(
        "--height",
        type=int,
        default=2400,
        help="Streamlit scrolls inside the page, so the viewport is the picture",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    views = [(name, f"{args.url}/{path}") for name, path in PAGES.items()]
    views += [(f"overview-{i}", f"{args.url}/?{q}") for i, q in enumerate(args.query, 1)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        for name, url in views:
            page.goto(url)
            _settle(page)
            _shoot(page, args.out / f"{name}.png")
            tabs = page.get_by_role("tab")
            for i in range(1, tabs.count()):  # every tab after the first, one picture each
                tabs.nth(i).click()
                _settle(page)
                _shoot(page, args.out / f"{name}-tab{i + 1}.png")
        browser.close()


if __name__ == "__main__":
    main()
