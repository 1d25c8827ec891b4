"""Render an alert e-mail's HTML part in Chromium, as a reader's mail client would show it.

    python3 scripts/alert_mail.py [--url DATABASE_URL] [--since YYYY-MM-DD] \
        [--department claims] [--out docs/alert-mail.png]

It runs the alerts on the database (the sample by default, for the quarter from --since),
as a manager of the department would receive them, and saves a screenshot of the message.
Nothing is sent and nothing is recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cxmetrics.contract import access, store  # noqa: E402
from cxmetrics.reports import alerts  # noqa: E402
from cxmetrics.stats import dataset  # noqa: E402
from cxmetrics.views import finder  # noqa: E402
from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def manager_message(url: str, since: dt.date, department: str, public: str) -> alerts.Message:
    store.ensure_sample_database(url)
    engine = store.make_engine(url)
    try:
        ds = dataset.load(engine)
        inputs = finder.Inputs.read(engine, ds)
    finally:
        engine.dispose()
    start, end = alerts.period(ds, since)
    found = alerts.week_findings(ds, start, end, inputs)
    manager = access.User(f"{department}@example.com", access.MANAGER, departments=(department,))
    routed = alerts.route(found, start, end, ds.journey, {manager.email: manager}, public)
    (message,) = alerts.messages(routed, ds.settings.company_name or "CX dashboard")
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=store.database_url())
    parser.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2026, 7, 1))
    parser.add_argument("--department", default="claims")
    parser.add_argument("--public-url", default="https://cx.example.com")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "alert-mail.png")
    args = parser.parse_args()
    msg = manager_message(args.url, args.since, args.department, args.public_url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 760, "height": 600}, device_scale_factor=1.5)
        page.set_content(msg.html)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"wrote {args.out} ({msg.subject})")


if __name__ == "__main__":
    main()
