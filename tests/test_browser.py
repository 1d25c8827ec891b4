"""End to end in a real Chromium against `streamlit run`: filters, page switches, the URL."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from cxmetrics.contract import sample
from scripts import serve

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def streamlit_server(
    url: str, log: Path, extra_env: dict[str, str] | None = None, address: str = "127.0.0.1"
):
    """``streamlit run dashboard.py`` on a free port of ``address`` against ``url``."""
    try:
        proc, base = serve.start({"CX_DATABASE_URL": url, **(extra_env or {})}, log, 60, address)
    except serve.ServerError as exc:
        pytest.fail(str(exc))
    try:
        yield base
    finally:
        serve.stop(proc, 20)


@pytest.fixture(scope="module")
def server(sample_url, tmp_path_factory):
    with streamlit_server(sample_url, tmp_path_factory.mktemp("streamlit") / "server.log") as base:
        yield base


def wait_ready(page):
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
    )
    page.wait_for_selector("[data-testid='stMetricValue']", timeout=60_000)


def nps_tile(page) -> str:
    return page.locator("[data-testid='stMetricValue']").first.inner_text().strip()


def test_filter_survives_page_switch_and_changes_numbers(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(server)
    wait_ready(page)
    before = nps_tile(page)

    period = page.locator("[data-testid='stSelectbox']").filter(has_text="Period")
    period.click()
    page.get_by_role("option", name="Last 30 days").click()
    page.wait_for_function(
        "old => document.querySelector(\"[data-testid='stMetricValue']\")?.innerText.trim()"
        " !== old",
        arg=before,
        timeout=60_000,
    )
    wait_ready(page)
    changed = nps_tile(page)
    assert changed != before
    assert "period=Last+30+days" in page.url or "period=Last%2030%20days" in page.url

    page.get_by_role("navigation").get_by_role("link", name="Glossary").click()
    page.get_by_role("heading", name="Glossary").wait_for(timeout=60_000)
    expect(page.get_by_role("combobox", name="Period")).to_have_value(
        "Last 30 days", timeout=30_000
    )
    assert "/glossary" in page.url and "period=Last" in page.url

    page.get_by_role("navigation").get_by_role("link", name="Overview").click()
    wait_ready(page)
    expect(page.get_by_role("combobox", name="Period")).to_have_value(
        "Last 30 days", timeout=30_000
    )
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text(
        changed, timeout=30_000
    )
    page.close()


def test_a_shared_link_reopens_the_filtered_view(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/?stage=File+a+claim&period=Latest+quarter")
    wait_ready(page)
    stage_filter = page.locator("[data-testid='stMultiSelect']").filter(has_text="Journey stage")
    expect(stage_filter).to_contain_text("File a claim", timeout=30_000)
    # the strip's card titles (the NPS chart labels its bars the same way)
    cards = page.locator("[data-testid='stMarkdownContainer']")
    expect(cards.get_by_text("5. File a claim", exact=True)).to_have_count(1, timeout=30_000)
    expect(page.get_by_text("1. Shop & quote", exact=True)).to_have_count(0)
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_a_link_s_filters_stay_in_the_address_on_every_page_until_reset(server, browser):
    """A link's filters (ids, start and end) show in the address by name, the address of
    the next page keeps them (a view passed on from there opens filtered), and Reset
    clears them from the sidebar and the address alike."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/?start=2026-07-06&end=2026-07-12&stage=claim")
    wait_ready(page)
    shown = ("period=Custom+range", "dates=2026-07-06&dates=2026-07-12", "stage=File+a+claim")
    page.wait_for_url(lambda url: all(part in url for part in shown), timeout=30_000)
    page.get_by_role("navigation").get_by_role("link", name="Journey").click()
    expect(page.get_by_role("heading", name="Customer journey")).to_be_visible(timeout=60_000)
    page.wait_for_url(
        lambda url: "/journey?" in url and all(part in url for part in shown), timeout=30_000
    )
    stage_filter = page.locator("[data-testid='stMultiSelect']").filter(has_text="Journey stage")
    expect(stage_filter).to_contain_text("File a claim")
    page.get_by_role("button", name="Reset filters").click()
    page.wait_for_url(
        lambda url: "/journey?period=" in url and "stage=" not in url and "dates=" not in url,
        timeout=30_000,
    )
    expect(stage_filter).not_to_contain_text("File a claim", timeout=30_000)
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_a_page_asks_nothing_of_any_server_but_the_dashboard(server, browser):
    """An intranet dashboard: the browser fetches every file from the dashboard's own
    server (the tab's icon came from a font service on the internet)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(server)
    wait_ready(page)
    page.get_by_role("navigation").get_by_role("link", name="Journey").click()
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)
    elsewhere = [url for url in asked if not url.startswith((server, "data:", "blob:", "about:"))]
    assert asked and elsewhere == [], elsewhere
    page.close()


def test_the_journey_page_renders_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(server)
    wait_ready(page)
    page.get_by_role("navigation").get_by_role("link", name="Journey").click()
    expect(page.get_by_role("heading", name="Customer journey")).to_be_visible(timeout=60_000)
    expect(
        page.get_by_role(
            "heading", name="Moments of truth: touchpoints against the rest of their stage"
        )
    ).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)
    assert "/journey" in page.url
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_the_accountability_page_renders_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/accountability")
    expect(page.get_by_role("heading", name="Accountability across silos")).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_text("False positive: Claims met").first).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_the_loyalty_page_renders_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/loyalty")
    expect(page.get_by_role("heading", name="Loyalty and value")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Influencers: the new VIPs")).to_be_visible(
        timeout=60_000
    )
    expect(page.locator(".js-plotly-plot")).to_have_count(9, timeout=60_000)
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_the_voice_page_renders_comments_as_text(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/voice")
    expect(page.get_by_role("heading", name="Voice of the customer")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("closed", exact=False).first).to_be_visible(timeout=60_000)
    page.get_by_role("tab", name="Verbatims").click()
    search = page.get_by_label("Search comments")
    search.fill("HYPERLINK(")
    search.press("Enter")
    expect(page.get_by_text("1 comments match", exact=False)).to_be_visible(timeout=60_000)
    # the <script> comment was never run, and no link was made of the Markdown comment
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("a[href='http://evil.example']").count() == 0
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def data_page_with(browser, base: str, *files):
    """The Data page in a new browser page, with ``files`` uploaded: the file to import,
    then (optional) its saved mapping."""
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    page.goto(f"{base}/data")
    expect(page.get_by_role("heading", name="What the dashboard holds")).to_be_visible(
        timeout=60_000
    )
    for key, path in zip(("data_file", "data_mapping"), files, strict=False):
        # by the widget's key: the journey's uploader comes first on the page
        uploader = page.locator(f".st-key-{key}")
        uploader.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
        # the file is on the server and the page has run with it before the next step: a
        # click too early ran the check without the saved mapping on a loaded machine
        expect(uploader).to_contain_text(Path(path).name, timeout=60_000)
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
    return page


def test_the_data_page_imports_an_uploaded_file(sample_db, browser, tmp_path):
    """Upload a file and its mapping, see the report, import the valid rows, see the counts."""
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    with sqlite3.connect(db) as conn:
        (before,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
    upload = tmp_path / "september.csv"
    upload.write_text(
        "ID,Customer,Touchpoint,Date,Recommend\n"
        "9000001,1,pay_first_bill,2026-09-01,9\n"
        "9000002,2,pay_first_bill,2026-09-02,11\n"
    )
    rules = tmp_path / "september.toml"
    rules.write_text(
        'table = "responses"\n[columns]\nresponse_id = "ID"\ncustomer_id = "Customer"\n'
        'touchpoint_id = "Touchpoint"\nresponded_on = "Date"\nnps = "Recommend"\n'
        '[constants]\nchannel = "web"\nsource = "survey"\n'
    )
    temp = tmp_path / "server-temp"  # the server's temporary folder, to look into
    temp.mkdir()
    with streamlit_server(
        f"sqlite:///{db}", tmp_path / "server.log", {"TMPDIR": str(temp)}
    ) as base:
        page = data_page_with(browser, base, upload, rules)
        expect(page.get_by_text("september.csv: 2 rows, 5 columns")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Check every row").click()
        expect(page.get_by_text("1 problem in 1 row", exact=True)).to_be_visible(timeout=60_000)
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == before
        page.get_by_text("Import the valid rows, report the rest").click()
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("wrote 1 row")).to_be_visible(timeout=60_000)
        assert not page.locator("[data-testid='stException']").count()
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
        folders = list(temp.glob("cx-dashboard-uploads-*"))  # private to the server, emptied
        assert len(folders) == 1, sorted(temp.rglob("*"))
        folder = folders[0]
        assert folder.stat().st_mode & 0o777 == 0o700
        assert [p for p in folder.rglob("*") if p.is_file()] == []
        page.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == before + 1
        assert conn.execute("SELECT nps FROM responses WHERE response_id = 9000001").fetchone() == (
            9,
        )


def test_the_data_page_names_a_saved_mapping_s_columns_the_file_lacks(sample_db, browser, tmp_path):
    """A saved mapping naming a column the file lacks was dropped without a word (the
    field showed "not in the file"), where the command line refuses it: the page names it."""
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    upload = tmp_path / "october.csv"
    upload.write_text("ID,Customer,Touchpoint,Date\n9000001,1,pay_first_bill,2026-09-01\n")
    rules = tmp_path / "october.toml"
    rules.write_text(
        'table = "responses"\n[columns]\nresponse_id = "ID"\ncustomer_id = "Customer"\n'
        'touchpoint_id = "Touchpoint"\nresponded_on = "Date"\nnps = "would_recommend"\n'
        '[constants]\nchannel = "web"\nsource = "survey"\n'
    )
    with streamlit_server(f"sqlite:///{db}", tmp_path / "server.log") as base:
        page = data_page_with(browser, base, upload, rules)
        expect(
            page.get_by_text("The saved mapping names 1 column that october.csv does not have")
        ).to_be_visible(timeout=60_000)
        expect(page.get_by_text("nps = 'would_recommend'", exact=False)).to_be_visible()
        assert not page.locator("[data-testid='stException']").count()
        page.close()


def test_the_data_page_rescales_a_rating_on_its_own_scale(sample_db, browser, tmp_path):
    """A CSAT on 1-10 and no saved mapping: the field's "scale in the file" rescales it onto
    1-5 (linear, then rounded: 1 + (x - 1) × 4 / 9), where every 6-10 was refused."""
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    upload = tmp_path / "stars.csv"
    stars = {9000001: 1, 9000002: 6, 9000003: 10}
    upload.write_text(
        "response_id,customer_id,touchpoint_id,responded_on,csat,channel,source\n"
        + "".join(
            f"{rid},1,pay_first_bill,2026-09-0{i + 1},{x},web,survey\n"
            for i, (rid, x) in enumerate(stars.items())
        )
    )
    with streamlit_server(f"sqlite:///{db}", tmp_path / "server.log") as base:
        page = data_page_with(browser, base, upload)
        scale = page.get_by_role("textbox", name="scale in the file")  # csat's: no nps here
        expect(scale).to_have_value("1-5", timeout=60_000)
        scale.fill("1-10")
        scale.press("Enter")
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("wrote 3 rows")).to_be_visible(timeout=60_000)
        page.close()
    with sqlite3.connect(db) as conn:
        got = dict(
            conn.execute(
                "SELECT response_id, csat FROM responses WHERE response_id IN (?, ?, ?)",
                tuple(stars),
            ).fetchall()
        )
    assert got == {str(rid): round(1 + (x - 1) * 4 / 9) for rid, x in stars.items()}


def settle(page) -> None:
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
    )


def choose(page, box, option: str) -> None:
    """Pick ``option`` in a selectbox or multiselect (``box``, its combobox). The keyboard
    opens the list (a click on the box did not); a rerun that starts just then closes it
    again, so it is opened again, up to five times."""
    for _ in range(5):
        settle(page)
        box.focus()
        page.keyboard.press("ArrowDown")
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the list holding {option!r} did not open")


def test_the_data_page_builds_ids_from_a_file_s_columns(sample_db, browser, tmp_path):
    """A file without ids (reviewers, say): the page builds the customer's id from a column,
    as a mapping's [ids] does, where it offered only a column or one value for every row.
    The rows it writes are those the command line writes with that mapping."""
    from cxmetrics import cli

    db, by_hand = tmp_path / "cx.db", tmp_path / "by-hand.db"
    shutil.copy(sample_db, db)
    shutil.copy(sample_db, by_hand)
    upload = tmp_path / "reviewers.csv"
    upload.write_text(
        "author,segment,region,joined_on\n"
        "Ann Lee,Reviewers,UK,2025-01-01\nBob Roy,Reviewers,FR,2025-02-01\n"
    )
    rules = tmp_path / "reviewers.toml"
    rules.write_text('table = "customers"\n[ids]\ncustomer_id = ["author"]\n')
    assert cli.main(["import", "customers", str(upload), "--mapping", str(rules),
                     "--url", f"sqlite:///{by_hand}"]) == 0  # fmt: skip

    def reviewers(path: Path) -> list[tuple]:
        with sqlite3.connect(path) as conn:
            return conn.execute(
                "SELECT customer_id, region FROM customers WHERE segment = 'Reviewers' "
                "ORDER BY region"
            ).fetchall()

    want = reviewers(by_hand)
    assert len(want) == 2 and all(str(cid).isdigit() for cid, _ in want)
    with streamlit_server(f"sqlite:///{db}", tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.goto(f"{base}/data")
        expect(page.get_by_role("heading", name="What the dashboard holds")).to_be_visible(
            timeout=60_000
        )
        table = page.get_by_role("combobox", name="Into table")
        choose(page, table, "customers")
        expect(table).to_have_value("customers", timeout=60_000)
        settle(page)
        uploader = page.locator(".st-key-data_file")
        uploader.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
        built = page.get_by_role("combobox", name="…or built from these columns")
        expect(built).to_have_count(1, timeout=60_000)  # customer_id's: the one id unmapped
        choose(page, built, "author")
        page.keyboard.press("Escape")
        settle(page)
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("wrote 2 rows")).to_be_visible(timeout=60_000)
        assert not page.locator("[data-testid='stException']").count()
        page.close()
    assert reviewers(db) == want


def test_the_data_page_reads_a_file_in_the_encoding_chosen(sample_db, browser, tmp_path):
    """A cp1252 file (Excel on Windows): every row was rejected as broken text, and the page
    offered no way to name the encoding short of editing a mapping by hand."""
    db = tmp_path / "cx.db"
    shutil.copy(sample_db, db)
    upload = tmp_path / "excel.csv"
    upload.write_bytes(
        "response_id,customer_id,touchpoint_id,responded_on,nps,channel,source,comment\n"
        '9000001,1,pay_first_bill,2026-09-01,9,web,survey,"Très bien, merci"\n'.encode("cp1252")
    )
    with streamlit_server(f"sqlite:///{db}", tmp_path / "server.log") as base:
        page = data_page_with(browser, base, upload)
        encoding = page.locator("[data-testid='stSelectbox']").filter(has_text="Text encoding")
        expect(encoding).to_be_visible(timeout=60_000)
        encoding.click()
        page.keyboard.type("cp1252")  # the list is long: filtered, its option is drawn
        page.get_by_role("option", name="cp1252").click()
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("wrote 1 row")).to_be_visible(timeout=60_000)
        page.close()
    with sqlite3.connect(db) as conn:
        (comment,) = conn.execute(
            "SELECT comment FROM responses WHERE response_id = '9000001'"
        ).fetchone()
    assert comment == "Très bien, merci"


def test_a_chart_and_the_briefing_download_from_the_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page.goto(server)
    wait_ready(page)
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)
    png_button = page.get_by_role("button", name="PNG image (high resolution)")
    for _ in range(3):  # a rerun that lands during the click closes the popover: open again
        page.get_by_role("button", name="Export", exact=True).first.click()
        try:
            png_button.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    expect(png_button).to_be_visible()
    with page.expect_download(timeout=60_000) as png:
        png_button.click()
    assert png.value.suggested_filename.startswith("nps-by-journey-stage-against-target_all_")
    content = png.value.path().read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", content[16:24])[0] == 2 * 1200
    page.get_by_role("button", name="Executive briefing (PPTX + PDF)").click()
    with page.expect_download(timeout=120_000) as deck:
        page.get_by_role("button", name="Download the PPTX").click(timeout=120_000)
    from pptx import Presentation

    slides = Presentation(str(deck.value.path())).slides
    company = sample.SETTINGS["company_name"]  # the sample company names itself
    assert slides[0].shapes.title.text == f"{company}: customer experience briefing"
    assert not page.locator("[data-testid='stException']").count()
    page.close()


def test_a_shared_link_as_a_servers_first_visit_goes_through_the_router(
    sample_url, browser, tmp_path
):
    """A fresh server whose first visitor opens /voice shows the router's page names and
    the wide layout, not Streamlit's list of files in pages/."""
    with streamlit_server(sample_url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"{base}/voice")
        expect(page.get_by_role("heading", name="Voice of the customer")).to_be_visible(
            timeout=60_000
        )
        nav = page.get_by_role("navigation")
        expect(nav.get_by_role("link", name="Voice of the customer")).to_be_visible()
        expect(nav.get_by_role("link", name="voice", exact=True)).to_have_count(0)
        assert not page.locator("[data-testid='stException']").count()
        page.close()


_METRIC_VALUES = """() => [...document.querySelectorAll('[data-testid=stMetricValue]')].map(e => [
    e.innerText.trim(),
    Math.round(e.getBoundingClientRect().top),
    [e, ...e.querySelectorAll('*')].some(x => x.scrollWidth > x.clientWidth + 1),
    !!e.closest('.st-key-tiles'),
])"""


@pytest.mark.parametrize("width", [1024, 1400])
def test_every_chart_title_fits_its_chart(server, browser, width):
    """At 1,024 px three titles ran past their chart's edge ("…coloured by the stage's NPS
    against targe"): plotly.js does not wrap a title, so each fits a half-page chart."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    past = []
    for name in ("", "journey", "loyalty", "accountability", "voice", "data"):
        page.goto(f"{server}/{name}")
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000
        )
        if name != "data":  # every chart drawn (the Data page has none)
            page.wait_for_function(
                "(() => { const c = document.querySelectorAll('[data-testid=stPlotlyChart]');"
                " return c.length > 0 && [...c].every(e => e.querySelector('.main-svg')); })()",
                timeout=60_000,
            )
        titles = page.evaluate(
            """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => {
                const t = p.querySelector('.gtitle'), r = p.getBoundingClientRect();
                if (!t || !t.textContent) return null;
                const b = t.getBoundingClientRect();
                return [t.textContent, b.left - r.left, r.right - b.right]; })
              .filter(Boolean)"""
        )
        assert titles or name == "data", name  # the pages' charts were measured
        past += [(name, *t) for t in titles if t[1] < -2 or t[2] < 0]
    page.close()
    assert not past, past


@pytest.mark.parametrize("width", [1024, 1400])
def test_the_ownership_map_s_stage_names_stand_level_under_its_title(server, browser, width):
    """At 1,024 px the colour bar beside the map left the six stages too little width: their
    names stood on end, over the map's title. The bar sits below it now."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{server}/accountability")
    chart = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Who affects each")
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].some(p => p.querySelector("
        "'.gtitle')?.textContent.startsWith('Who affects') && p.querySelector('.xtick text'))",
        timeout=60_000,
    )
    drawn = page.evaluate(
        """() => { const p = [...document.querySelectorAll('.js-plotly-plot')]
              .find(p => p.querySelector('.gtitle').textContent.startsWith('Who affects'));
            const box = e => { const r = e.getBoundingClientRect();
              return [r.left, r.top, r.right, r.bottom]; };
            return [box(p.querySelector('.gtitle')),
                    [...p.querySelectorAll('.xtick text')].map(t =>
                      [t.textContent, t.getAttribute('transform') || '', box(t)])]; }"""
    )
    page.close()
    title, ticks = drawn
    assert len(ticks) == 6, ticks  # the sample's stages
    assert not [t for t in ticks if "rotate" in t[1]], ticks  # level
    assert all(t[2][1] >= title[3] for t in ticks), (title, ticks)  # under the title
    for (_, _, a), (_, _, b) in zip(ticks, ticks[1:], strict=False):
        assert a[2] <= b[0], ticks  # side by side, none over the next


@pytest.mark.parametrize("width", [1024, 1400])
def test_the_action_form_shows_its_dates_and_status_whole(server, browser, width):
    """Five fields to a row cut the start and due dates to "2026 / 1" and the status to
    "plannec" at 1,024 px: the row wraps, three to a row, where the page is narrow."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{server}/accountability")
    form = page.locator("[data-testid='stForm']").filter(has_text="Create action")
    form.wait_for(timeout=60_000)
    form.scroll_into_view_if_needed()
    page.wait_for_selector("[data-testid='stForm'] [data-testid='stDateInput'] input")
    fields = page.evaluate(
        """() => { const form = [...document.querySelectorAll('[data-testid=stForm]')]
              .find(f => f.textContent.includes('Create action'));
            const widgets = '[data-testid=stDateInput], [data-testid=stSelectbox]';
            return [...form.querySelectorAll(widgets)]
              .map(w => [w.querySelector('[data-testid=stWidgetLabel]').textContent,
                         w.querySelector('input').value,
                         [w, ...w.querySelectorAll('*')]  // a 1-px hidden input aside
                           .some(e => e.clientWidth > 2 && e.scrollWidth > e.clientWidth + 1)])
              .filter(f => ['Start', 'Due', 'Status'].includes(f[0])); }"""
    )
    page.close()
    assert [f[0] for f in fields] == ["Start", "Due", "Status"], fields
    assert [len(f[1]) for f in fields[:2]] == [10, 10] and fields[2][1] == "planned", fields
    assert not [f for f in fields if f[2]], fields  # each shown whole


#: Tiles as the overview lays them out, with the widest numbers a company shows: a count of
#: eight figures, revenue at risk in millions, the extreme scores
_WIDE_TILES = """
import streamlit as st

from cxapp import ui
from cxmetrics.stats.metrics import Score
from cxmetrics.views.overview import Tile

st.set_page_config(layout="wide")
st.sidebar.selectbox("Period", ["Last 90 days"])
values = {VALUES}
risk = {"detractors": 1_234_567, "churn_rate": 0.034, "detractor_churn": 0.05,
        "other_churn": 0.016, "detractor_revenue": 3.6e9, "history_n": 9_876_543,
        "others_n": 8_765_432}
cols = ui.wrapping_columns(6, "tiles", per_row=3)
for col, (key, value) in zip(cols, values.items(), strict=True):
    with col:
        detail = risk if key == "revenue_at_risk" else {}
        ui.tile(Tile(key, Score(key, value, 10**7, 0.0001), detail=detail), 30, None, "£")
"""


@pytest.mark.parametrize(
    "values",
    [
        {  # the widest each tile shows
            "nps": -100.0,
            "csat": 100.0,
            "ces": 7.0,
            "responses": 12_860_200,
            "churn": 100.0,
            "revenue_at_risk": 123_456_789.0,
        },
        {"nps": 14.0, "csat": 74.1, "ces": 4.98, "responses": 26_033, "churn": 2.4,
         "revenue_at_risk": 134_000.0},
    ],
    ids=["widest", "sample"],
)  # fmt: skip
@pytest.mark.parametrize("width", [1024, 1280, 1400])
def test_a_tile_holds_its_number_whole_in_the_largest_type_that_fits(
    browser, tmp_path, width, values
):
    """1,286,020 responses (10M in a lake) were cut to "1,286,0" on a 1,400 px screen: a
    tile's number is set smaller where it is wider than its tile, as far as it needs (it
    then fills most of the tile's width), never cut; numbers that fit keep the metric's own
    type (2.25 rem, 36 px)."""
    script = tmp_path / "tiles.py"
    script.write_text(_WIDE_TILES.replace("{VALUES}", repr(values)))
    try:
        proc, base = serve.start({}, tmp_path / "server.log", 60, script=str(script))
    except serve.ServerError as exc:
        pytest.fail(str(exc))
    try:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(base)
        page.wait_for_function(
            "document.querySelectorAll('.st-key-tiles [data-testid=stMetricValue]').length === 6",
            timeout=60_000,
        )
        shown = page.evaluate(
            """() => [...document.querySelectorAll('.st-key-tiles [data-testid=stMetricValue]')]
            .map(e => { const r = document.createRange(); r.selectNodeContents(e);
                return [e.innerText.trim(),
                        [e, ...e.querySelectorAll('*')]
                            .some(x => x.scrollWidth > x.clientWidth + 1),
                        parseFloat(getComputedStyle(e).fontSize),
                        r.getBoundingClientRect().width / e.clientWidth]; })"""
        )
        errors = page.locator("[data-testid='stException']").count()
        page.close()
    finally:
        serve.stop(proc, 20)
    assert not errors, (tmp_path / "server.log").read_text()
    assert shown[3][0] == f"{values['responses']:,}", shown
    assert not [s for s in shown if s[1]], shown  # every number whole
    assert min(s[2] for s in shown) >= 16, shown  # and readable
    # in the metric's own type (36 px), or smaller only as far as the tile needs
    assert not [s for s in shown if s[2] < 36 and s[3] < 0.85], shown
    if width == 1400 and values["responses"] < 100_000:  # the sample's, as before
        assert {s[2] for s in shown} == {36.0}, shown


@pytest.mark.parametrize("width, tile_rows", [(1024, 2), (1400, 1)])
def test_no_headline_number_is_cut_on_a_laptop_or_a_desktop(server, browser, width, tile_rows):
    """At 1,024 px with the sidebar open the six tiles were 49 px wide: "£13" for £134k,
    "74.!" for 74.5%, and four stage cards' NPS as "+…". Rows wrap instead."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server)
    wait_ready(page)
    page.wait_for_function(  # all six tiles and every stage card drawn
        "document.querySelectorAll('.st-key-tiles [data-testid=stMetricValue]').length === 6"
        " && document.querySelectorAll('.st-key-stage_strip [data-testid=stMetricValue]')"
        ".length >= 6",
        timeout=60_000,
    )
    wait_ready(page)
    values = page.evaluate(_METRIC_VALUES)
    page.close()
    tiles = [v for v in values if v[3]]
    assert len(tiles) == 6 and len(values) >= 12, values  # the tiles and the stage cards
    assert not [v for v in values if v[2]], values  # every number shown whole
    assert len({top for _, top, _, _ in tiles}) == tile_rows, tiles
