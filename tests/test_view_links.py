"""Every element of the overview and every page of the briefing links to the page and filtered
view that explains it. Expected links are written here from the link format itself (path,
then start, end, stage, department, channel…), with ids read from the database by plain
SQL, not taken from the code under test."""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxmetrics.contract import store
from cxmetrics.findings import findings as fx
from cxmetrics.reports import exports
from cxmetrics.stats.filters import Filters
from cxmetrics.views import links, overview_links

TIMEOUT = 120
PUBLIC = "https://cx.example.com"
PERIOD_DAYS = 90  # the test company's default period, "Last 90 days"
MD_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
# What explains each tile, as the issue asks: NPS over time and by loyalty group, churn and
# revenue at risk on Loyalty & value; CSAT, effort and the answers' sources by stage on Journey.
TILE_PAGES = {
    "NPS": "loyalty",
    "CSAT": "journey",
    "CES": "journey",
    "Responses": "journey",
    "Churn": "loyalty",
    "Revenue at risk": "loyalty",
}
PATHS = {"overview": "/", "journey": "/journey", "loyalty": "/loyalty"}
PATHS |= {"accountability": "/accountability", "voice": "/voice"}


def period(raw: sqlite3.Connection) -> tuple[dt.date, dt.date]:
    (last,) = raw.execute("SELECT MAX(responded_on) FROM responses").fetchone()
    end = dt.date.fromisoformat(last)
    return end - dt.timedelta(days=PERIOD_DAYS - 1), end


def url(base: str, page: str, start: dt.date, end: dt.date, *pairs: tuple[str, str]) -> str:
    """A link as the README writes it: the page's path, start and end, then the filters."""
    query = f"start={start}&end={end}" + "".join(f"&{k}={v}" for k, v in pairs)
    return f"{base}{PATHS[page]}?{query}"


def stage_ids(raw: sqlite3.Connection) -> dict[str, str]:
    """Stage name → id, in journey order."""
    return dict(raw.execute("SELECT name, stage_id FROM stages ORDER BY position").fetchall())


def affects(raw: sqlite3.Connection, stage_id: str, department_id: str) -> bool:
    return bool(
        raw.execute(
            "SELECT COUNT(*) FROM stage_owners WHERE stage_id = ? AND department_id = ?",
            (stage_id, department_id),
        ).fetchone()[0]
    )


def change_link(base: str, sentence: str, names: dict, start, end, *kept) -> str | None:
    """Where a "What changed" sentence leads: its stage's Journey page, or for a change of
    the whole view ("Overall NPS fell…") the page of that score's tile; None for a sentence
    that reports no change."""
    if sentence.startswith(("No score moved", "No previous period")):
        return None
    stage = next((n for n in names if sentence.startswith(f"{n} ")), None)
    if stage is not None:
        return url(base, "journey", start, end, ("stage", names[stage]), *kept)
    metric = re.match(r"Overall (NPS|CSAT|CES) ", sentence).group(1)
    return url(base, TILE_PAGES[metric], start, end, *kept)


# --- the links' rules, on their own ------------------------------------------------------


def test_the_public_address_is_read_once_and_refused_when_it_is_not_absolute():
    assert links.public_url({}) is None
    assert links.public_url({"CX_PUBLIC_URL": "  "}) is None
    assert links.public_url({"CX_PUBLIC_URL": " https://cx.example.com/ "}) == PUBLIC
    for bad in ("cx.example.com", "/cx", "ftp://cx.example.com"):
        with pytest.raises(ValueError, match=f"CX_PUBLIC_URL='{re.escape(bad)}' is not an abs"):
            links.public_url({"CX_PUBLIC_URL": bad})


def test_a_stage_and_an_action_keep_the_views_other_filters(loaded, raw_sql):
    view = Filters(
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 30),
        stages=("shop", "claim"),
        channels=("Phone",),
        regions=("North",),
    )
    assert overview_links.stage("", "claim", view) == (
        "/journey?start=2026-07-01&end=2026-09-30&stage=claim&channel=Phone&region=North"
    )
    # an action's owner goes into the link only when it affects the stage: the two
    # filters together would otherwise match no stage
    (owner,) = raw_sql.execute(
        "SELECT department_id FROM stage_owners WHERE stage_id = 'claim' AND role = 'lead'"
    ).fetchone()
    (stranger,) = raw_sql.execute(
        "SELECT department_id FROM departments WHERE department_id NOT IN "
        "(SELECT department_id FROM stage_owners WHERE stage_id = 'claim') LIMIT 1"
    ).fetchone()
    base = "https://cx.example.com/accountability?start=2026-07-01&end=2026-09-30&stage=claim"
    got = overview_links.action(PUBLIC, "claim", owner, view, loaded.journey)
    assert got == f"{base}&department={owner}&channel=Phone&region=North"
    got = overview_links.action(PUBLIC, "claim", stranger, view, loaded.journey)
    assert got == f"{base}&channel=Phone&region=North"


def test_a_change_opens_its_stage_or_the_page_of_its_tile():
    view = Filters(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    period_ = "start=2026-07-01&end=2026-09-30"

    def change(family: str, stages: tuple[str, ...] = ()) -> fx.Finding:
        return fx.Finding(
            "change", "fell", -3.0, (-5.0, -1.0), 900, 0.01, 0.02, stages, (), (), "pts", family
        )

    assert overview_links.change("", change("csat", ("claim",)), view) == (
        "journey",
        f"/journey?{period_}&stage=claim",
    )
    assert overview_links.change("", change("nps"), view) == ("loyalty", f"/loyalty?{period_}")
    assert overview_links.change("", change("ces"), view) == ("journey", f"/journey?{period_}")


# --- the overview page -------------------------------------------------------------------


def overview(**sidebar) -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.run()
    for key, value in sidebar.items():
        at.sidebar.multiselect(key=key).set_value(value).run()
    assert not at.exception, at.exception
    return at


def test_every_element_of_the_overview_links_to_its_view(app_env, raw_sql):
    start, end = period(raw_sql)
    (channel,) = raw_sql.execute("SELECT channel FROM responses GROUP BY 1 ORDER BY 1 LIMIT 1")
    at = overview(channel=[channel[0]])
    kept = ("channel", channel[0].replace(" ", "+"))  # the view's filter, in every link
    markdown = [m.value for m in at.markdown]

    # the six tiles: each name opens the page that explains it
    tiles = dict(
        MD_LINK.match(m.removeprefix(":small[")).groups()
        for m in markdown
        if m.startswith(":small[[")
    )
    assert tiles == {name: url("", page, start, end, kept) for name, page in TILE_PAGES.items()}
    assert [t.label for t in list(at.metric)[:6]] == list(TILE_PAGES)  # labels unchanged

    # the strip: each stage's title opens the Journey page on that stage
    strip = [MD_LINK.match(m).groups() for m in markdown if m.startswith("[**")]
    names = stage_ids(raw_sql)
    assert strip == [
        (f"**{i}. {name}**", url("", "journey", start, end, ("stage", sid), kept))
        for i, (name, sid) in enumerate(names.items(), start=1)
    ]

    # the two charts: their captions end with the Journey page of the view
    charts = [c.value for c in at.caption if c.value.endswith(")") and "Black ticks" in c.value]
    assert len(charts) == 2
    for caption in charts:
        assert caption.endswith(f"[Journey →]({url('', 'journey', start, end, kept)})")

    # what changed: a stage's change opens that stage; a change of the whole view, its tile's
    (changed,) = [m for m in markdown if m.startswith("- ") and not m.startswith("- :material")]
    lines = changed.splitlines()
    assert any(" fell " in line or " rose " in line for line in lines)  # changes to link
    for line in lines:
        want = change_link("", line.removeprefix("- "), names, start, end, kept)
        if want is None:
            assert not MD_LINK.search(line)  # nothing to open
            continue
        label, link = MD_LINK.findall(line)[-1]
        assert link == want, line
        assert label.endswith(" →")

    # late actions: each opens the Accountability page on its stage and owner
    today = dt.date.today()
    late = raw_sql.execute(
        "SELECT action_id, stage_id, department_id FROM actions WHERE due_on < ? "
        "AND status IN ('planned', 'in progress') ORDER BY action_id",
        (today.isoformat(),),
    ).fetchall()
    assert late  # the test company holds late actions
    (listed,) = [m for m in markdown if "days late" in m]
    for action_id, stage_id, department_id in late:
        (line,) = [w for w in listed.splitlines() if f"({action_id})" in w]
        pairs = [("stage", stage_id)]
        if affects(raw_sql, stage_id, department_id):
            pairs.append(("department", department_id))
        want = url("", "accountability", start, end, *pairs, kept)
        assert line.endswith(f"[Accountability →]({want})"), line


# --- the briefing ------------------------------------------------------------------------

# The page that explains each page of the briefing, by its title.
BRIEFING_PAGES = {
    "What to know": "overview",
    "Headline numbers": "overview",
    "The journey, stage by stage": "journey",
    "The weakest moments of truth": "journey",
    "What changed": "overview",
    "Where loyalty is won and lost": "journey",
    "Green scorecards, red experiences": "accountability",
    "Does loyalty predict who leaves?": "loyalty",
    "Revenue at risk": "loyalty",
    "Closed is not resolved": "voice",
    "Contacts warn before surveys do": "voice",
    "Action plans and their measured effect": "accountability",
    "In customers' words": "voice",
}
# The page that explains a headline finding, by kind (a change on a stage: that stage's
# Journey page; of the whole view: its course over time on Loyalty & value).
FINDING_PAGES = {
    "false_positive": "accountability",
    "closed_loop": "accountability",
    "trend": "loyalty",
    "lead": "voice",
    "influencer": "loyalty",
    "at_risk": "loyalty",
    "channel": "journey",
}


@pytest.fixture(scope="module")
def briefing_inputs(sample_url):
    from cxmetrics.reports import briefing

    engine = store.make_engine(sample_url)
    try:
        yield briefing.load_inputs(engine)
    finally:
        engine.dispose()


def files(inputs, start, end):
    """The briefing of the default period, in both formats (charts left out: the pages and
    their links are what is tested)."""
    from cxmetrics.reports import briefing

    b = briefing.build(**inputs, f=Filters(start=start, end=end))
    pictures = [None] * len(b.slides)
    return b, briefing.to_pptx(b, pictures), briefing.to_pdf(b, pictures)


def pptx_links(data: bytes) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per slide after the title: its title's text and every (run text, address) on it."""
    from pptx import Presentation

    out = []
    for slide in list(Presentation(io.BytesIO(data)).slides)[1:]:
        boxes = [s for s in slide.shapes if s.has_text_frame]
        found = [
            (run.text, run.hyperlink.address)
            for box in boxes
            for para in box.text_frame.paragraphs
            for run in para.runs
            if run.hyperlink.address
        ]
        out.append((boxes[0].text_frame.paragraphs[0].runs[0].text, found))
    return out


def pdf_links(data: bytes) -> list[list[str]]:
    """Per page after the title: the addresses of its link annotations, in order."""
    from pypdf import PdfReader

    out = []
    for page in PdfReader(io.BytesIO(data)).pages[1:]:
        annots = [a.get_object() for a in page.get("/Annots", [])]
        out.append([a["/A"]["/URI"] for a in annots if a.get("/A", {}).get("/S") == "/URI"])
    return out


def test_the_briefing_links_each_page_and_finding_to_its_view(
    briefing_inputs, raw_sql, monkeypatch
):
    from cxmetrics.views import first_screen

    monkeypatch.setenv("CX_PUBLIC_URL", PUBLIC + "/")
    start, end = period(raw_sql)
    b, pptx, pdf = files(briefing_inputs, start, end)
    slides, pages = pptx_links(pptx), pdf_links(pdf)
    assert len(slides) == len(pages) == len(b.slides)

    # the findings of "What to know", each with its own view
    ds = briefing_inputs["ds"]
    view = Filters(start=start, end=end)
    ev = first_screen.evidence(
        ds, view, briefing_inputs["contacts"], briefing_inputs["cases"], briefing_inputs["kpis"]
    )
    known = first_screen.build(ds, view, ev, briefing_inputs["kpis"], None, end)
    assert known.headlines  # the test company has a story to tell
    wanted = []
    for h in known.headlines:
        item = h.finding
        if item.kind == "change":
            page = "journey" if item.stages else "loyalty"
        else:
            page = FINDING_PAGES[item.kind]
        if item.departments:
            pairs = [("department", d) for d in item.departments]
        else:
            pairs = [("stage", s) for s in item.stages]
        wanted.append(url(PUBLIC, page, start, end, *pairs))

    names = stage_ids(raw_sql)
    for (title, found), annots, slide in zip(slides, pages, b.slides, strict=True):
        assert title == slide.title
        if title.startswith("NPS by "):  # NPS by week or month: its course on Loyalty & value
            own = url(PUBLIC, "loyalty", start, end)
        elif title == "Contacts warn before surveys do":  # on the stage its sentence names
            (stage,) = [sid for n, sid in names.items() if slide.lines[0].startswith(n)]
            own = url(PUBLIC, "voice", start, end, ("stage", stage))
        else:
            own = url(PUBLIC, BRIEFING_PAGES[title], start, end)
        addresses = [address for _text, address in found]
        assert addresses[0] == own, title  # beside the title
        if title == "What to know":
            assert addresses[1:] == wanted
        elif title == "Headline numbers":  # each number opens the page its tile opens
            tiles = [line.split(":")[0] for line in slide.lines]
            assert tiles == list(TILE_PAGES)
            assert addresses == [own, *[url(PUBLIC, TILE_PAGES[t], start, end) for t in tiles]]
        elif title == "What changed":  # each change, as the overview's "What changed" links it
            changes = [change_link(PUBLIC, line, names, start, end) for line in slide.lines]
            assert any(changes)
            assert addresses == [own, *[c for c in changes if c]]
        else:
            assert addresses == [own], title

        # the PDF links the same views, in the same order (a line that wraps carries its
        # link in one rectangle per line: runs of one address are compared as one)
        def runs(links: list[str]) -> list[str]:
            return [a for i, a in enumerate(links) if i == 0 or links[i - 1] != a]

        assert runs(annots) == runs(addresses), title
        assert len(annots) >= len(addresses), title
        assert all(text.endswith(" page ›") for text, _ in found)


def test_without_a_public_address_the_briefing_names_no_link(briefing_inputs, raw_sql, monkeypatch):
    from pypdf import PdfReader

    monkeypatch.delenv("CX_PUBLIC_URL", raising=False)
    start, end = period(raw_sql)
    b, pptx, pdf = files(briefing_inputs, start, end)
    assert all(found == [] for _title, found in pptx_links(pptx))
    reader = PdfReader(io.BytesIO(pdf))
    assert not any(page.get("/Annots") for page in reader.pages)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "page ›" not in text and "cx.example.com" not in text
    assert "/journey" not in text and "http" not in text

    monkeypatch.setenv("CX_PUBLIC_URL", "cx.example.com")
    with pytest.raises(exports.ExportError, match="CX_PUBLIC_URL='cx.example.com'"):
        files(briefing_inputs, start, end)


# --- in the browser ----------------------------------------------------------------------


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _opened(page, link) -> object:
    """Click ``link`` (it opens a new tab, keeping the overview) and wait for its page."""
    with page.context.expect_page(timeout=30_000) as new:
        link.click()
    opened = new.value
    opened.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
    )
    return opened


@pytest.mark.browser
@pytest.mark.parametrize("sub_path", ["", "cx"], ids=["site root", "under /cx"])
def test_a_stage_and_a_tile_open_their_view_in_the_browser(
    sample_url, raw_sql, browser, tmp_path, sub_path
):
    """Also with the dashboard served under a sub-path (``server.baseUrlPath``, as behind a
    proxy's ``location /cx/``): every link between pages starts with it."""
    from test_browser import streamlit_server, wait_ready

    start, end = period(raw_sql)
    env = {"STREAMLIT_SERVER_BASE_URL_PATH": sub_path} if sub_path else {}
    with streamlit_server(sample_url, tmp_path / "server.log", env) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        wait_ready(page)
        page.get_by_role("link", name="5. File a claim", exact=True).wait_for(timeout=60_000)
        hrefs = page.locator("[data-testid='stMain'] a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        inside = [h for h in hrefs if h and not h.startswith(("http:", "https:", "#"))]
        # tiles, stages, charts, changes, first fold: each a page of this dashboard
        assert len(inside) >= 10, hrefs
        prefix = f"/{sub_path}/" if sub_path else "/"
        assert all(h.startswith(prefix) for h in inside), inside
        pages_named = {h[len(prefix) :].split("?")[0] for h in inside}
        assert pages_named <= set(links.PAGES.values()), pages_named

        journey = _opened(page, page.get_by_role("link", name="5. File a claim", exact=True))
        sidebar = journey.locator("[data-testid='stSidebar']")
        stage = sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Journey stage")
        stage.get_by_text("File a claim").wait_for(timeout=60_000)
        assert sidebar.get_by_role("combobox", name="Period").input_value() == "Custom range"
        sidebar.get_by_text(f"{_day(start)} – {_day(end)}").wait_for(timeout=30_000)
        assert journey.url.split("?")[0] == f"{base}/journey"
        assert journey.get_by_role("heading", name="Customer journey").is_visible()
        # the journey map holds the chosen stage alone
        main = journey.locator("[data-testid='stMain']")
        main.get_by_text("5. File a claim", exact=True).first.wait_for(timeout=60_000)
        assert not main.get_by_text("1. Shop & quote", exact=True).count()
        assert not journey.locator("[data-testid='stException']").count()
        assert not journey.locator("[data-testid='stAlertContentWarning']").count()
        journey.close()

        loyalty = _opened(page, page.get_by_role("link", name="Churn", exact=True))
        loyalty.get_by_role("heading", name="Loyalty").first.wait_for(timeout=60_000)
        assert loyalty.url.split("?")[0] == f"{base}/loyalty"
        sidebar = loyalty.locator("[data-testid='stSidebar']")
        sidebar.get_by_text(f"{_day(start)} – {_day(end)}").wait_for(timeout=30_000)
        assert not loyalty.locator("[data-testid='stException']").count()
        loyalty.close()
        page.close()
