"""The real UCI Drug Review data (Drugs.com reviews) through the mappings shipped in
``sample_data/drugreview``: imported with the CLI into a real SQLite file, every page rendered,
and what the pages show checked against the TSV files read with the csv module.

A shape the sample insurer does not have: no scores at all (no NPS, CSAT or CES), a sentiment
label per review, anonymous reviewers, scraped HTML text, ten years of data ending in 2017,
and a condition column with blanks, truncated names and scraping debris."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import os
import re
import sqlite3
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from streamlit.testing.v1 import AppTest
from test_cli import run

from cxmetrics.views.wording import NO_FIGURE
from scripts.screenshots import PAGES, _settle

DRUG = REPO / "sample_data" / "drugreview"
DATE_FORMATS = ("%B %d, %Y", "%d %B %Y", "%Y-%m-%d")
ALL_DATA = "All data"


# --- the files as a careful reader sees them (csv module; no project code) ------------


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def readable_date(text: str) -> bool:
    for fmt in DATE_FORMATS:
        try:
            dt.datetime.strptime(text.strip(), fmt)
            return True
        except ValueError:
            pass
    return False


def touchpoint_of(condition: str) -> str:
    """The condition's touchpoint as the mapping's value table says, applied by hand."""
    table = tomllib.loads((DRUG / "responses.toml").read_text())["values"]["touchpoint_id"]
    return table.get(condition.strip(), table["*"])


def stage_names() -> tuple[dict[str, str], dict[str, str]]:
    """touchpoint -> stage id, and stage id -> name, from the journey file."""
    journey = yaml.safe_load((DRUG / "journey.yaml").read_text())
    stage_of = {t["touchpoint_id"]: t["stage_id"] for t in journey["touchpoints"]}
    return stage_of, {s["stage_id"]: s["name"] for s in journey["stages"]}


@pytest.fixture(scope="module")
def expected(drugreview_files) -> dict:
    rows = {name: read_tsv(path) for name, path in drugreview_files.items()}
    every = [r for file_rows in rows.values() for r in file_rows]
    kept = [r for r in every if r[""].strip() and readable_date(r["date"])]
    comments = [r for r in kept if r["review"].strip()]
    stage_of, _ = stage_names()
    by_stage: dict[str, Counter] = {}
    for r in comments:
        by_stage.setdefault(stage_of[touchpoint_of(r["condition"])], Counter())[r["rating"]] += 1
    return {
        "rows": {name: len(r) for name, r in rows.items()},
        "rejected": {
            name: sum(1 for r in file_rows if not (r[""].strip() and readable_date(r["date"])))
            for name, file_rows in rows.items()
        },
        "responses": len(kept),
        "per_touchpoint": Counter(touchpoint_of(r["condition"]) for r in comments),
        "by_stage": by_stage,
        "blank_conditions": sum(1 for r in every if not r["condition"].strip()),
        "first": min(dt.datetime.strptime(r["date"], DATE_FORMATS[0]) for r in kept).date(),
        "last": max(dt.datetime.strptime(r["date"], DATE_FORMATS[0]) for r in kept).date(),
    }


@pytest.fixture(scope="module")
def drug_db(drugreview_files, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A real SQLite file filled through the CLI, and each import's summary line."""
    db = tmp_path_factory.mktemp("drugdb") / "drugs.db"
    url = f"sqlite:///{db}"
    out = {}
    done = run("init-db", "--url", url)
    assert done.returncode == 0, done.stderr
    done = run("import-journey", str(DRUG / "journey.yaml"), "--url", url)
    assert done.returncode == 0, done.stderr
    out["journey"] = done.stdout
    for table in ("customers", "responses"):
        for name, path in drugreview_files.items():
            done = run(
                "import",
                table,
                str(path),
                "--mapping",
                str(DRUG / f"{table}.toml"),
                "--url",
                url,
                "--accept-valid",
            )
            assert done.returncode == 0, done.stderr
            out[f"{table} {name}"] = done.stdout
    return url, out


def test_the_import_report_matches_the_files(drug_db, expected, drugreview_files):
    url, out = drug_db
    assert "7 stages, 20 touchpoints" in out["journey"]
    for name in drugreview_files:
        n, bad = expected["rows"][name], expected["rejected"][name]
        for table in ("customers", "responses"):
            assert (
                f"{name} → {table}: {n:,} rows read, {n:,} checked, {bad:,} "
                f"problem{'' if bad == 1 else 's'} in {bad:,} row{'' if bad == 1 else 's'}; "
                f"wrote {n - bad:,} rows"
            ) in out[f"{table} {name}"]
            assert "left out" not in out[f"{table} {name}"]  # no filter, no duplicates
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        assert (
            conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == (expected["responses"])
        )
        scores = conn.execute("SELECT COUNT(nps), COUNT(csat), COUNT(ces) FROM responses")
        assert scores.fetchone() == (0, 0, 0)
        labels = dict(conn.execute("SELECT sentiment_label, COUNT(*) FROM responses GROUP BY 1"))
        assert labels == dict(sum(expected["by_stage"].values(), Counter()))
        blank = conn.execute(
            "SELECT COUNT(*) FROM responses WHERE touchpoint_id = 'condition_not_stated'"
        ).fetchone()[0]
        assert blank == expected["blank_conditions"] > 0
        # scraped HTML is plain text: entities decoded, the words kept
        comments = [c for (c,) in conn.execute("SELECT comment FROM responses")]
    finally:
        conn.close()
    assert not any(re.search(r"&(#\d+|[a-z]+);", c) for c in comments)
    raw = [r["review"] for p in drugreview_files.values() for r in read_tsv(p)]
    assert sum("didn&#039;t" in r for r in raw) == sum("didn't" in c for c in comments) > 0
    assert sorted(plain(r) for r in raw) == sorted(comments)
    assert not any(c.startswith('"') and c.endswith('"') for c in comments)


def plain(review: str) -> str:
    """A review as a reader sees it: its enclosing quotes off, its entities decoded."""
    text = review.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return html.unescape(text).strip()


def test_importing_a_file_again_changes_nothing(drug_db, expected, drugreview_files):
    url, _ = drug_db
    path = drugreview_files["drugsComTest.tsv"]
    mapping = str(DRUG / "responses.toml")
    again = run("import", "responses", str(path), "--mapping", mapping, "--url", url)
    assert again.returncode == 0, again.stderr
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        assert (
            conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == (expected["responses"])
        )
    finally:
        conn.close()


# --- the pages -------------------------------------------------------------------------


def app(url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("CX_DATABASE_URL", url)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    at.sidebar.selectbox(key="period").set_value("all").run()
    assert not at.exception, at.exception
    return at


def show(at: AppTest, tab: str) -> None:
    """Open a tab of the Voice page (the only page with tabs), as a click on it does."""
    at.session_state["voc_tab"] = tab
    at.run()


def figure(at: AppTest, title: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("title", {}).get("text") == title:
            return spec
    raise AssertionError(f"no chart titled {title!r}")


def test_every_page_renders(drug_db, expected, monkeypatch):
    at = app(drug_db[0], monkeypatch)
    first, last = expected["first"], expected["last"]
    shown = f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"  # "3 Jul 2026"
    assert any(shown in c.value for c in at.caption)
    assert dict((m.label, m.value) for m in at.metric)["Responses"] == (
        f"{expected['responses']:,}"
    )
    for page in sorted((REPO / "pages").glob("*.py")):
        at.switch_page(f"pages/{page.name}").run()
        assert not at.exception, (page.name, at.exception)
        for tab in [t.label for t in at.tabs][1:]:  # only the open tab runs
            show(at, tab)
            assert not at.exception, (page.name, tab, at.exception)


def test_comments_per_touchpoint_and_negative_share_per_stage(drug_db, expected, monkeypatch):
    at = app(drug_db[0], monkeypatch)
    at.switch_page("pages/voice.py").run()
    show(at, "Themes & sentiment")
    _, names = stage_names()
    sentiment = figure(at, "Sentiment of comments by stage")
    negative = next(t for t in sentiment["data"] if t["name"] == "Negative")
    shown = {re.sub("<br>", " ", x): y for x, y in zip(negative["x"], negative["y"], strict=True)}
    want = {}
    for stage, counts in expected["by_stage"].items():
        n = sum(counts.values())
        want[f"{names[stage]} n = {n:,}"] = 100 * counts["negative"] / n
    assert shown.keys() == want.keys()
    for label, share in want.items():
        assert shown[label] == pytest.approx(share), label
    assert sum(expected["per_touchpoint"].values()) == expected["responses"]
    show(at, "Verbatims")
    for touchpoint, n in expected["per_touchpoint"].items():
        at.multiselect(key="voc_touchpoints").set_value([touchpoint]).run()
        assert not at.exception, at.exception
        assert any(c.value.startswith(f"{n:,} comments match") for c in at.caption), touchpoint


ZERO = re.compile(r"^[+−-]?0(\.0+)?%?$")


def test_scores_never_imported_are_not_shown_as_zeros(drug_db, monkeypatch):
    at = app(drug_db[0], monkeypatch)
    pages = ("dashboard.py", "pages/journey.py", "pages/accountability.py", "pages/loyalty.py")
    said = []
    for page in pages:
        if page != "dashboard.py":
            at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        for m in at.metric:
            if m.label in ("NPS", "CSAT", "CES"):
                assert not ZERO.match(m.value.strip()), (page, m.label, m.value)
                said.append(m.value)
        if page == "dashboard.py":  # the tiles show a dash and their captions say why:
            # no review holds a score, so none is measured (not "No data" in this view)
            measured = [c.value for c in at.caption if "is not measured" in c.value]
            assert [c.split(" is ")[0] for c in measured] == ["NPS", "CSAT", "CES"], measured
    assert said
    # a dash on a tile (its caption says why), "Not measured" on a stage's card
    assert all(v in (NO_FIGURE, "Not measured") for v in said), sorted(set(said))
    assert "Not measured" in said


# --- Chromium ---------------------------------------------------------------------------


@pytest.mark.browser
def test_every_page_in_chromium(drug_db, browser, tmp_path_factory):
    from test_browser import streamlit_server

    url, _ = drug_db
    shots = Path(os.environ.get("CX_SHOTS_DIR") or tmp_path_factory.mktemp("drug-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    log = tmp_path_factory.mktemp("drug-server") / "server.log"
    with streamlit_server(url, log) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 2400})
        for name, path in PAGES.items():
            page.goto(f"{base}/{path}?period=All+data")
            _settle(page)
            views = [name]
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            tabs = page.get_by_role("tab")
            for i in range(1, tabs.count()):
                tabs.nth(i).click()
                _settle(page)
                views.append(f"{name}-tab{i + 1}")
                page.screenshot(path=str(shots / f"{views[-1]}.png"), full_page=True)
                assert page.locator("[data-testid='stException']").count() == 0, views[-1]
            assert page.locator("[data-testid='stException']").count() == 0, name
            assert page.get_by_text("Traceback").count() == 0, name
        page.close()
    assert len(list(shots.glob("*.png"))) >= len(PAGES)
