"""The overview's first fold: the view's top findings, who owns each (from the journey's
ownership, read here with plain sqlite3), whether the owner's own scorecard is green, what it
costs and what is being done; nothing invented on data with no story; what to import on a
sparse database. Numbers are checked against SQL written here."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3

import pytest
from conftest import REPO, TEST_CUSTOMERS, TEST_SEED
from streamlit.testing.v1 import AppTest

from cxmetrics.contract import sample, store
from cxmetrics.findings import findings as fx
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import first_screen

TIMEOUT = 180
PERIOD_DAYS = 90  # the sample company's default period ("Last 90 days")


def overview() -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def fold(at: AppTest) -> list[str]:
    """The Markdown of the first fold, in order: its title line, then one per finding."""
    texts = [m.value for m in at.markdown]
    first = next(i for i, t in enumerate(texts) if t.startswith(":material/flag: **What to know**"))
    out = [texts[first]]
    for t in texts[first + 1 :]:
        if not re.match(r"\d\\\. |:material/check_circle:", t):
            break
        out.append(t)
    return out


def headline(lines: list[str], needle: str) -> str:
    (found,) = [t for t in lines if needle in t.split("\n")[0]]
    return found


def owners(raw: sqlite3.Connection, stage_id: str) -> tuple[str, list[str]]:
    """The lead and the contributors of a stage, by name, as the database holds them."""
    rows = raw.execute(
        "SELECT d.name, o.role FROM stage_owners o JOIN departments d USING (department_id) "
        "WHERE o.stage_id = ?",
        (stage_id,),
    ).fetchall()
    (lead,) = [name for name, role in rows if role == "lead"]
    return lead, sorted(name for name, role in rows if role != "lead")


def owner_line(raw: sqlite3.Connection, stage_id: str) -> str:
    lead, others = owners(raw, stage_id)
    (stage,) = raw.execute("SELECT name FROM stages WHERE stage_id = ?", (stage_id,)).fetchone()
    return f"{stage}: lead {lead}, with {', '.join(others)}"


def period(raw: sqlite3.Connection) -> tuple[dt.date, dt.date]:
    (last,) = raw.execute("SELECT MAX(responded_on) FROM responses").fetchone()
    end = dt.date.fromisoformat(last)
    return end - dt.timedelta(days=PERIOD_DAYS - 1), end


def sql_nps(raw: sqlite3.Connection, stage_id: str, start: dt.date, end: dt.date):
    pro, det, n = raw.execute(
        "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses r "
        "JOIN touchpoints t USING (touchpoint_id) WHERE t.stage_id = ? "
        "AND r.responded_on BETWEEN ? AND ?",
        (stage_id, start.isoformat(), end.isoformat()),
    ).fetchone()
    return 100 * (pro - det) / n, n


def test_the_first_fold_names_the_stories_with_their_owners(app_env, raw_sql):
    at = overview()
    lines = fold(at)
    assert 4 <= len(lines) <= 6  # the title and three to five findings
    start, end = period(raw_sql)
    # dates as the page's own header writes them: "3 Jul 2026", not "03 Jul 2026"
    assert f"**What to know** · {start.day} {start:%b %Y} – {end.day} {end:%b %Y} · " in lines[0]

    # Claims: green scorecard, red experience, with its owners and its own KPI-weeks.
    fp = headline(lines, "False positive: Claims")
    assert owner_line(raw_sql, "claim") in fp
    weeks, hits = raw_sql.execute(
        "SELECT COUNT(*), SUM(CASE WHEN higher_is_better THEN value >= target "
        "ELSE value <= target END) FROM kpis WHERE department_id = 'claims' "
        "AND week BETWEEN ? AND ?",
        (start.isoformat(), end.isoformat()),
    ).fetchone()
    assert f"Claims' own KPIs: green, {100 * hits / weeks:.0f}% of {weeks:,} KPI-weeks" in fp
    assert "green scorecard, red experience" in fp
    nps, n = sql_nps(raw_sql, "claim", start, end)
    assert f"NPS {nps:+.0f} ±" in fp and f"(n = {n:,})" in fp
    assert "a year at File a claim" in fp  # its cost, per year, in the company's currency
    assert re.search(r"£[\d,.]+[km]? a year at File a claim", fp)
    open_on_claim = raw_sql.execute(
        "SELECT title FROM actions WHERE stage_id = 'claim' "
        "AND status IN ('planned', 'in progress')"
    ).fetchall()
    assert open_on_claim
    for (title,) in open_on_claim:
        assert title in fp
    link = re.search(r"\]\((/accountability\?[^)]*)\)", fp).group(1)
    assert f"start={start}" in link and f"end={end}" in link and "department=claims" in link

    # Customer Service: closed against confirmed, checked against the cases table.
    cl = headline(lines, "Customer Service closed")
    (led,) = raw_sql.execute(
        "SELECT stage_id FROM stage_owners WHERE department_id = 'service' AND role = 'lead'"
    ).fetchone()
    assert owner_line(raw_sql, led) in cl
    m = re.search(
        r"closed ([\d.]+)% of the ([\d,]+) cases opened (\d\d? \w+ \d{4}) – (\d\d? \w+ \d{4}), "
        r"but customers confirmed only ([\d.]+)% resolved: a gap of (\d+) points",
        cl,
    )
    first, last = (dt.datetime.strptime(m.group(i), "%d %b %Y").date() for i in (3, 4))
    opened, closed, confirmed = raw_sql.execute(
        "SELECT COUNT(*), COUNT(closed_on), SUM(closed_on IS NOT NULL AND customer_confirmed = 1) "
        "FROM cases WHERE department_id = 'service' AND opened_on BETWEEN ? AND ?",
        (first.isoformat(), last.isoformat()),
    ).fetchone()
    assert int(m.group(2).replace(",", "")) == opened
    decimals = len(m.group(1).partition(".")[2])  # one where whole numbers miss the gap
    assert m.group(1) == f"{100 * closed / opened:.{decimals}f}"
    assert m.group(5) == f"{100 * confirmed / opened:.{decimals}f}"
    assert round(100 * (closed - confirmed) / opened) == int(m.group(6))
    # the two rates, as written, subtract to the gap as written
    assert round(float(m.group(1)) - float(m.group(5))) == int(m.group(6))
    assert "Customer Service's own KPIs: not green" in cl  # its scorecard, said either way
    assert "/accountability?" in cl and "department=service" in cl

    # File a claim: the decline against the previous 90 days, with n on both sides.
    drop = headline(lines, "File a claim NPS fell")
    before = sql_nps(
        raw_sql, "claim", start - dt.timedelta(days=PERIOD_DAYS), start - dt.timedelta(days=1)
    )
    assert f"to {nps:+.0f} (n = {n:,}; was {before[0]:+.0f}, n = {before[1]:,})" in drop
    assert f"fell {before[0] - nps:.0f} points" in drop
    # Same owners, cost and actions as the false positive on the same stage, said once.
    assert re.search(r"as in \d", drop) or owner_line(raw_sql, "claim") in drop
    assert "/journey?" in drop and "stage=claim" in drop
    assert first_screen.NO_CHANNEL not in " ".join(c.value for c in at.caption)
    # a channel filter leaves the cases' and KPIs' findings whole, and the screen says so
    at.sidebar.multiselect(key="channel").set_value(["mobile"]).run()
    lines = fold(at)
    assert any("False positive: Claims" in line for line in lines)
    assert first_screen.NO_CHANNEL in " ".join(c.value for c in at.caption)


def _run_on(tables, tmp_path, monkeypatch) -> AppTest:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store.write_tables(url, tables)
    monkeypatch.setenv(store.URL_ENV, url)
    monkeypatch.chdir(REPO)
    return overview()


def test_no_story_data_has_nothing_significant_to_report(tmp_path, monkeypatch):
    data = sample.generate(customers=TEST_CUSTOMERS, seed=TEST_SEED, stories=False)
    lines = fold(_run_on(data.tables(), tmp_path, monkeypatch))
    assert len(lines) == 2, lines  # the title and the sentence, no headline
    assert "Nothing significant to report in this view" in lines[1]


def test_a_sparse_database_says_what_to_import(tmp_path, monkeypatch):
    data = sample.generate(customers=TEST_CUSTOMERS, seed=TEST_SEED)
    tables = {k: v for k, v in data.tables().items() if k not in ("kpis", "cases", "actions")}
    at = _run_on(tables, tmp_path, monkeypatch)
    (said,) = [c.value for c in at.caption if "To see more here, import" in c.value]
    assert "kpis table" in said and "cases table" in said and "actions table" in said
    lines = fold(at)
    assert not any("False positive" in t or "Customer Service closed" in t for t in lines)


def _finding(kind, q, family="", stages=(), departments=(), effect=-10.0):
    return fx.Finding(
        kind, f"{kind} {family}", effect, (effect - 5, effect + 5), 100, q, q, stages,
        departments, family=family,
    )  # fmt: skip


def test_ranking_puts_accountability_first_and_one_score_per_place():
    kept = [
        _finding("channel", 1e-30, "ces", effect=1.2),
        _finding("change", 1e-6, "csat", ("claim",)),
        _finding("change", 1e-3, "nps", ("claim",)),
        _finding("change", 1e-2, "nps", ("shop",), effect=+8.0),  # a rise is not breaking
        _finding("closed_loop", 0.01, departments=("service",), effect=14.0),
        _finding("closed_loop", 1e-4, departments=("sales",), effect=-9.0),  # a narrower gap
        _finding("false_positive", 0.02, "", ("claim",), ("claims",)),
        _finding("moment", 1e-9, "", ("help",)),  # a standing difference, shown below
    ]
    ranked = first_screen.rank(kept)
    assert [(c.kind, c.family) for c in ranked] == [
        ("closed_loop", ""),
        ("false_positive", ""),
        ("change", "nps"),
        ("channel", "ces"),
    ]


def test_one_sentence_keeps_the_first_and_drops_markup():
    text = (
        "**Customer Service** closed 93% of the 1,044 cases, but customers confirmed only 58% "
        "resolved: a gap of 35 points (+14 points, 95% CI +10 to +18). Of its 966 closures, "
        "customers said 29% were not resolved."
    )
    assert first_screen.one_sentence(text) == (
        "Customer Service closed 93% of the 1,044 cases, but customers confirmed only 58% "
        "resolved: a gap of 35 points (+14 points, 95% CI +10 to +18)."
    )


@pytest.mark.browser
def test_the_first_fold_is_visible_at_1400_by_900(sample_url, tmp_path, browser):
    from test_browser import streamlit_server, wait_ready

    with streamlit_server(sample_url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base)
        wait_ready(page)
        block = page.locator(".st-key-first_fold")
        block.get_by_text("False positive: Claims").wait_for(timeout=60_000)
        box = block.bounding_box()
        assert box is not None and box["y"] >= 0
        assert box["y"] + box["height"] <= 900, box  # no scrolling for the answer
        assert block.is_visible()
        # the tiles sit above it, inside the same first screen
        tile = page.locator("[data-testid='stMetricValue']").first.bounding_box()
        assert tile["y"] + tile["height"] <= box["y"]
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1400])
def test_what_to_import_stays_inside_the_first_fold(partial_url, tmp_path, browser, width):
    """On a company without KPIs, cases or contacts, the fold's last line ("To see more
    here, import …") sat on the box's bottom border at 1,400 px and ran under it at 1,024:
    a caption's own negative margin under its block."""
    from test_browser import streamlit_server, wait_ready

    with streamlit_server(partial_url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(base)
        wait_ready(page)
        block = page.locator(".st-key-first_fold")
        last = block.get_by_text("To see more here, import")
        last.wait_for(timeout=60_000)
        inside = page.evaluate(
            """() => { const box = document.querySelector('.st-key-first_fold')
                .closest('[data-testid=stVerticalBlockBorderWrapper]') ||
                document.querySelector('.st-key-first_fold');
              const text = [...box.querySelectorAll('[data-testid=stCaptionContainer] p')].at(-1);
              const r = document.createRange(); r.selectNodeContents(text);
              const style = getComputedStyle(box);
              return [r.getBoundingClientRect().bottom,
                      box.getBoundingClientRect().bottom - parseFloat(style.borderBottomWidth)
                        - parseFloat(style.paddingBottom) / 2]; }"""
        )
        page.close()
    text_bottom, room = inside
    assert text_bottom <= room, inside  # clear of the border, with half its padding below


def test_the_briefing_opens_with_the_same_story(app_env, sample_url, raw_sql):
    """Page two of the PDF and slide two of the deck (after the title) are "What to know":
    the overview's findings, in its order, with the same owners read from the database."""
    import io

    from pptx import Presentation
    from pypdf import PdfReader

    from cxmetrics.reports import briefing

    shown = [re.sub(r"\\", "", t.split("\n")[0]).replace("**", "") for t in fold(overview())[1:]]
    engine = store.make_engine(sample_url)
    try:
        inputs = briefing.load_inputs(engine)
    finally:
        engine.dispose()
    start, end = period(raw_sql)
    b = briefing.build(**inputs, f=Filters(start=start, end=end))
    assert b.slides[0].title == briefing.WHAT_TO_KNOW
    no_pictures = [None] * len(b.slides)  # the page under test has no chart
    deck = Presentation(io.BytesIO(briefing.to_pptx(b, no_pictures)))
    slide = "\n".join(s.text_frame.text for s in deck.slides[1].shapes if s.has_text_frame)
    pdf = PdfReader(io.BytesIO(briefing.to_pdf(b, no_pictures)))
    page = " ".join(pdf.pages[1].extract_text().split())
    for text in (slide, page):
        flat = " ".join(text.split())
        assert flat.startswith(briefing.WHAT_TO_KNOW)
        assert [s for s in shown if " ".join(s.split()) in flat] == shown  # every one of them
        positions = [flat.index(" ".join(s.split())) for s in shown]
        assert positions == sorted(positions)  # in the same order
        assert owner_line(raw_sql, "claim") in flat
        assert "green scorecard, red experience" in flat


def test_a_view_too_small_to_test_says_so_not_that_nothing_fell(app_env, raw_sql):
    """ "Nothing significant … no score fell … (0 tests)" was said of a view where nothing
    could be compared: fewer answers in all than one comparison needs (plain SQL)."""
    (n,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "JOIN customers c USING (customer_id) WHERE t.stage_id = 'claim' AND r.channel = 'phone' "
        "AND c.segment = 'Premier' AND c.region = 'North' "
        "AND r.responded_on BETWEEN '2026-08-01' AND '2026-09-30'"
    ).fetchone()
    assert 0 < n < first_screen.MIN_N
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(
        {"period": "Custom range", "dates": ["2026-08-01", "2026-09-30"], "stage": "claim",
         "channel": "phone", "segment": "Premier", "region": "North"}
    )  # fmt: skip
    at.run()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    (title,) = [t for t in texts if t.startswith(":material/flag: **What to know**")]
    assert title.endswith("too few answers in this view to test anything")
    assert f":material/info: {first_screen.UNTESTED.format(min_n=first_screen.MIN_N)}" in texts
    assert not any("no score fell" in t for t in texts)
    captions = [c.value for c in at.caption]
    assert any("No change could be tested" in c for c in captions)
    assert not any("after testing all 0" in c for c in captions)
    at.switch_page("pages/loyalty.py").run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any("No change could be tested" in c for c in captions)
    assert not any("after testing all 0" in c for c in captions)


def test_a_finding_over_several_stages_names_each_lead_once(sample_url):
    """A finding over the whole journey listed Sales' scorecard twice (it leads two stages)."""
    engine = store.make_engine(sample_url)
    ds = dataset.load(engine)
    with sqlite3.connect(store.sqlite_path(sample_url)) as raw:
        lead_of = dict(
            raw.execute("SELECT stage_id, department_id FROM stage_owners WHERE role = 'lead'")
        )
    stages = tuple(ds.journey.stage_order)
    expected = []
    for s in stages:
        if lead_of.get(s) and lead_of[s] not in expected:
            expected.append(lead_of[s])
    assert len(expected) < len([s for s in stages if s in lead_of])  # one leads two stages
    assert first_screen.leads(ds, stages) == tuple(expected)


def test_a_manager_s_whole_view_finding_is_owned_by_their_stages_teams(sample_url):
    """A Claims manager, seeing one stage, read "Owner: every stage's team (a score of the
    whole journey)" under a finding of their view as a whole."""
    ds = dataset.load(store.make_engine(sample_url))
    assert first_screen.owners_text(ds, (), ()).startswith("Owner: every stage's team")
    mine = ds.scoped(("claims",))
    assert first_screen.owners_text(mine, (), ()) == (
        "Owner: the teams of your stages (a score of them all)"
    )


def test_an_action_s_measured_effect_carries_its_unit():
    """ "(-2.18, 95% CI -14.14 to +9.79)" said no unit: the effect is in its metric's points."""
    import polars as pl

    listing = pl.DataFrame(
        {
            "stage_id": ["pay", "pay", "pay"],
            "status": ["in progress", "planned", "done"],
            "late": [False, True, False],
            "due_on": [dt.date(2026, 12, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 2)],
            "title": ["Fix bills", "Call back", "Simpler form"],
            "department": ["Billing", "Service", "Digital"],
            "verdict": ["no change found", None, "improved"],
            "metric": ["csat", "nps", "ces"],
            "effect": [-2.18, None, 0.04],
            "effect_low": [-14.14, None, 0.01],
            "effect_high": [9.79, None, 0.07],
        }
    )
    got = first_screen.action_lines(listing, ("pay",), dt.date(2026, 11, 20))
    assert got == (  # the done action is not open: not listed
        "Call back (Service, due 1 Nov 2026, 19 days late); measured effect: not measured",
        "Fix bills (Billing, due 1 Dec 2026); measured effect: no change found "
        "(-2.2 CSAT points, 95% CI -14.1 to +9.8)",
    )
    listing = listing.with_columns(pl.lit("in progress").alias("status"))
    (*_, ces) = first_screen.action_lines(listing, ("pay",), dt.date(2026, 11, 20))
    assert ces.endswith("improved (+0.04 CES points, 95% CI +0.01 to +0.07)")  # two decimals


def test_action_plans_that_cannot_be_read_are_not_reported_as_none(app_env, monkeypatch):
    """The database fails while the action plans are read (the rest of the data is held):
    the first fold says what is being done is not known, never "no open action plan", and
    does not ask to import what is there; the late list says it cannot be read."""
    import sqlalchemy as sa

    from cxmetrics.contract import actions

    at = overview()
    before = "\n".join(fold(at))
    assert "Being done: " in before and "not known" not in before

    def lost(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(actions, "load", lost)
    monkeypatch.setattr(actions, "change_marker", lambda _engine: ("lost",))
    at.run()
    assert not at.exception, at.exception
    lines = fold(at)
    shown = "\n".join(lines)
    assert "no open action plan" not in shown
    said = [t for t in lines[1:] if "Being done: " in t]
    assert said and all(
        "Being done: not known, the action plans cannot be read right now" in t for t in said
    )
    everything = " ".join(m.value for m in [*at.markdown, *at.caption, *at.info])
    assert "import action plans" not in everything
    assert [w.value for w in at.warning] == [
        "Action plans cannot be read right now: ConnectionRefusedError: connection refused"
    ]
    assert "The action plans cannot be read right now" in " ".join(c.value for c in at.caption)
    # the server's log says so once while it lasts, and when they are read again
    from cxapp import data

    data.log_failure("actions", None)  # as after a read: the next failure is news
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    logging.getLogger("cxdashboard.data").addHandler(handler)
    try:
        at.run()
        at.run()
        monkeypatch.undo()
        at.run()
    finally:
        logging.getLogger("cxdashboard.data").removeHandler(handler)
    said = [
        (r.levelname, r.getMessage())
        for r in logged
        if r.getMessage().startswith(("Action plans", "actions:"))
    ]
    assert said[0][0] == "WARNING" and said[0][1].startswith(
        "Action plans cannot be read right now: ConnectionRefusedError: connection refused ("
    )
    assert said[1:] == [("INFO", "actions: read again")]


def test_the_accountability_page_says_once_that_action_plans_cannot_be_read(app_env, monkeypatch):
    """Three parts of the page read the action plans (a stage's, the list, the editor):
    one failure is one warning, where each part's own caption still says what is missing;
    and the next run of the page says it again."""
    import sqlalchemy as sa

    from cxmetrics.contract import actions

    at = overview()
    at.switch_page(str(REPO / "pages" / "accountability.py")).run()
    assert not at.exception, at.exception

    def unread(at: AppTest) -> list[str]:
        return [w.value for w in at.warning if "Action plans" in w.value]

    assert not unread(at)

    def lost(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(actions, "load", lost)
    monkeypatch.setattr(actions, "change_marker", lambda _engine: ("lost",))
    for _ in range(2):
        at.run()
        assert not at.exception, at.exception
        assert unread(at) == [
            "Action plans cannot be read right now: ConnectionRefusedError: connection refused"
        ]
        captions = " ".join(c.value for c in at.caption)
        assert "Action plans cannot be edited while they cannot be read." in captions


def test_where_only_good_news_held_the_first_screen_does_not_say_nothing_did():
    """ "Nothing significant to report" over a view where NPS rose 82 points, kept by the
    same tests the command line lists: what held is named, not denied."""
    rose = fx.Finding(
        "trend", "NPS rose 82 points in June 2015 (n = 56).", 82.0, (60.0, 104.0), 56, 1e-5,
        5e-5, (), (), family="nps",
    )  # fmt: skip
    fell = _finding("change", 1e-4, "nps", effect=-9.0)
    assert first_screen.good_news([rose, fell]) == ("NPS rose 82 points in June 2015 (n = 56).",)
    screen = first_screen.FirstScreen(
        dt.date(2007, 5, 20), dt.date(2015, 8, 2), [], 7, good_news=("NPS rose 82 points.",)
    )
    assert screen.nothing.startswith("Nothing went wrong in this view: no score fell")
    assert screen.nothing.endswith(
        "(7 tests, false discovery rate 5%). What held is good news: NPS rose 82 points."
    )
    two = first_screen.FirstScreen(
        dt.date(2007, 5, 20), dt.date(2015, 8, 2), [], 7, good_news=("A rose.", "B rose.")
    )
    assert two.nothing.endswith("What held is good news: A rose. And 1 more.")
    quiet = first_screen.FirstScreen(dt.date(2007, 5, 20), dt.date(2015, 8, 2), [], 7)
    assert quiet.nothing.startswith("Nothing significant to report in this view")
