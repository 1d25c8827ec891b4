"""In a real Chromium against `streamlit run`: sign-in by password and by a proxy's header,
a manager's shared links, and a company whose every name is hostile markup."""

from __future__ import annotations

import re

import polars as pl
import pytest
from playwright.sync_api import expect
from test_browser import streamlit_server

from cxmetrics.contract import access, store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"

# Markup a spreadsheet, a survey tool or a careless import could put in any name.
HOSTILE = (
    ' <img src=x onerror="window.__pwned=1"><a href="https://evil.example/a">a</a>'
    "[md](https://evil.example/md)<script>window.__pwned=2</script>"
    r"\[Re-verify your login\](//evil.example/login)"
)

PROBE = """() => ({
    pwned: window.__pwned ?? null,
    images: document.querySelectorAll("img[src='x']").length,
    links: [...document.querySelectorAll("a")].map(
        a => a.getAttribute("href") || a.getAttribute("xlink:href") || ""
    ).filter(h => h.includes("evil.example") && !h.startsWith("#")),  // not heading anchors
    text: document.body.innerText,
})"""


def wait_done(page, selector="[data-testid='stMetricValue']"):
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=90_000
    )
    page.wait_for_selector(selector, timeout=90_000)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.toml"
    access.add_user(path, "ceo@example.com", "executive", PASSWORD)
    access.add_user(path, "dana@example.com", "manager", PASSWORD, ("service",), "Dana")
    return path


def sign_in(page, email, password=PASSWORD):
    page.get_by_role("textbox", name="E-mail address").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_password_sign_in_rate_limit_and_log(sample_url, users_file, browser, tmp_path):
    log = tmp_path / "server.log"
    env = {"CX_USERS_FILE": str(users_file)}
    with streamlit_server(sample_url, log, env) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/voice?stage=shop&department=claims")
        wait_done(page, "input[type='password']")
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        for attempt, then in enumerate(["4 more attempts", "3 more", "2 more", "1 more attempt"]):
            sign_in(page, "dana@example.com", f"guess-{attempt}-Xq7")
            page.get_by_text(f"The e-mail address or the password is wrong. {then}").wait_for(
                timeout=90_000
            )
            wait_done(page, "input[type='password']")  # the rerun is over: the form is ready
        sign_in(page, "dana@example.com", "guess-4-Xq7")
        page.get_by_text("Sign-in for this account is paused for 15 minutes.").wait_for(
            timeout=90_000
        )
        wait_done(page, "input[type='password']")
        sign_in(page, "dana@example.com")
        page.get_by_text("Too many failed sign-ins").wait_for(timeout=90_000)
        assert page.locator("[data-testid='stMetricValue']").count() == 0

        other = browser.new_page(viewport={"width": 1400, "height": 1000})
        other.goto(f"{base}/voice?stage=shop&department=claims")
        wait_done(other, "input[type='password']")
        sign_in(other, "ceo@example.com")
        other.get_by_role("heading", name="Voice of the customer").wait_for(timeout=90_000)
        # the sidebar is drawn as the page runs: wait for it rather than read it at once
        expect(other.locator("[data-testid='stSidebar']")).to_contain_text(
            "Signed in as", timeout=60_000
        )
    text = log.read_text()
    assert text.count("sign-in failed for 'dana@example.com'") == 5
    assert "sign-in refused for 'dana@example.com'" in text
    assert "signed in: ceo@example.com (executive)" in text
    assert "guess-" not in text and PASSWORD not in text and "$argon2" not in text


def test_a_password_sign_in_holds_in_new_tabs_and_reloads_until_sign_out(
    sample_url, users_file, browser, tmp_path
):
    """The dashboard opens its links in new tabs: a signed cookie keeps the sign-in there
    and across a reload; signing out ends it for new tabs too; a forged cookie is refused."""
    log = tmp_path / "server.log"
    with streamlit_server(sample_url, log, {"CX_USERS_FILE": str(users_file)}) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{base}/journey")
        wait_done(page, "input[type='password']")
        sign_in(page, "dana@example.com")
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar).to_contain_text("Signed in as Dana", timeout=90_000)
        page.wait_for_function("() => document.cookie.includes('cx_session=')", timeout=30_000)
        cookie = next(c for c in context.cookies() if c["name"] == "cx_session")
        assert cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain HTTP here
        assert cookie["expires"] == -1  # the browser's session: gone when it closes

        tab = context.new_page()  # a link the dashboard opens in a new tab
        tab.goto(f"{base}/loyalty?stage=claim")
        wait_done(tab)
        expect(tab.locator("[data-testid='stSidebar']")).to_contain_text(
            "Signed in as Dana · manager", timeout=60_000
        )
        assert tab.locator("input[type='password']").count() == 0
        page.reload()
        wait_done(page, "[data-testid='stSidebar']")
        expect(sidebar).to_contain_text("Signed in as Dana", timeout=60_000)

        page.get_by_role("button", name="Sign out").click()
        wait_done(page, "input[type='password']")
        expect(page.locator("input[type='password']")).to_be_visible()
        page.wait_for_function("() => !document.cookie.includes('cx_session=')", timeout=30_000)
        # the other tab is signed out at its next click, and cannot set the cookie again
        tab.get_by_role("button", name="Reset filters").click()
        tab.get_by_text("You have been signed out (Sign out").wait_for(timeout=60_000)
        assert tab.locator("[data-testid='stMetricValue']").count() == 0
        assert not any(c["name"] == "cx_session" for c in context.cookies())
        after = context.new_page()
        after.goto(f"{base}/journey")
        wait_done(after, "input[type='password']")
        assert after.locator("[data-testid='stMetricValue']").count() == 0

        # a cookie made up by someone without the server's key: the sign-in screen
        forged = browser.new_context()
        forged.add_cookies(
            [{"name": "cx_session", "value": cookie["value"][:-4] + "AAAA", "url": base}]
        )
        stranger = forged.new_page()
        stranger.goto(f"{base}/journey")
        wait_done(stranger, "input[type='password']")
        assert stranger.locator("[data-testid='stMetricValue']").count() == 0
        context.close()
        forged.close()
    text = log.read_text()
    assert text.count("signed in by the cookie of an earlier sign-in: dana@example.com") == 2


def test_a_proxy_header_signs_in_and_scopes_a_shared_link(
    sample_url,
    users_file,
    browser,
    tmp_path,
    raw_sql,
):
    env = {"CX_USERS_FILE": str(users_file), "CX_AUTH": "header"}
    with streamlit_server(sample_url, tmp_path / "server.log", env) as base:
        anonymous = browser.new_page()
        anonymous.goto(base)
        anonymous.get_by_text("No signed-in identity came with this request").wait_for(
            timeout=90_000
        )
        assert anonymous.locator("[data-testid='stMetricValue']").count() == 0

        context = browser.new_context(
            viewport={"width": 1400, "height": 1000},
            extra_http_headers={"X-Forwarded-Email": "dana@example.com"},
        )
        page = context.new_page()
        page.goto(f"{base}/journey?stage=shop&department=claims")
        wait_done(page)
        sidebar = page.locator("[data-testid='stSidebar']").inner_text()
        assert "Signed in as Dana · manager · Customer Service" in sidebar
        body = page.locator("[data-testid='stMain']").inner_text()
        names = dict(raw_sql.execute("SELECT stage_id, name FROM stages").fetchall())
        service = {
            r[0]
            for r in raw_sql.execute(
                "SELECT stage_id FROM stage_owners WHERE department_id = 'service'"
            )
        }
        assert "shop" not in service
        assert names["shop"] not in body
        for stage in service:
            assert names[stage] in body
        # the Data page's address: the overview, and a word why (not a silent landing)
        page.goto(f"{base}/data")
        wait_done(page)
        expect(page.get_by_text("The Data page shows the whole database")).to_be_visible(
            timeout=30_000
        )
        assert page.get_by_role("heading", name="Data", exact=True).count() == 0
        expect(page.get_by_role("heading", name="Customer experience overview")).to_be_visible()
        # and not Streamlit's own "Page not found" dialog over it
        assert page.get_by_text("Page not found").count() == 0
        assert page.get_by_role("dialog").count() == 0
        context.close()


@pytest.fixture(scope="module")
def hostile_url(sample_data, tmp_path_factory):
    """The test company with hostile markup appended to every name a page shows."""
    tables = sample_data.tables()

    def spoil(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
        return frame.with_columns(pl.col(c) + HOSTILE for c in columns)

    tables["stages"] = spoil(tables["stages"], "name", "description")
    tables["touchpoints"] = spoil(tables["touchpoints"], "name", "description")
    tables["departments"] = spoil(tables["departments"], "name")
    tables["kpis"] = spoil(tables["kpis"], "kpi")
    tables["cases"] = spoil(tables["cases"], "root_cause")
    tables["customers"] = spoil(tables["customers"], "region")
    path = tmp_path_factory.mktemp("hostile") / "cx.db"
    url = f"sqlite:///{path}"
    store.write_tables(url, tables)
    return url


PAGES = ["", "journey", "loyalty", "accountability", "voice", "data", "glossary"]
VOICE_TABS = ["Leading indicators", "Broken processes", "Themes & sentiment", "Verbatims"]


def test_hostile_names_are_shown_as_text_on_every_page(hostile_url, browser, tmp_path):
    with streamlit_server(hostile_url, tmp_path / "server.log") as base:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        seen_literally = set()
        visits = [f"{base}/{p}" for p in PAGES]
        visits += [
            f"{base}/voice?voc_tab={t.replace(' ', '+').replace('&', '%26')}" for t in VOICE_TABS
        ]
        visits.append(f"{base}/accountability?department=service")  # the manager view
        for url in visits:
            page.goto(url)
            page.wait_for_selector(
                "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=90_000
            )
            page.wait_for_selector("h1", timeout=90_000)
            page.wait_for_timeout(500)  # let charts draw their SVG (not an assertion)
            found = page.evaluate(PROBE)
            assert found["pwned"] is None, url
            assert found["images"] == 0, url
            assert found["links"] == [], url
            assert "Traceback" not in found["text"], url
            if re.search(r'<img src=x onerror="window\.__pwned=1">', found["text"]):
                seen_literally.add(url)
        assert f"{base}/" in seen_literally and f"{base}/journey" in seen_literally


def _header_page(browser, base, value):
    context = browser.new_context(extra_http_headers={"X-Forwarded-Email": value})
    page = context.new_page()
    page.goto(base)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=90_000
    )
    page.wait_for_selector("[data-testid='stAlert']", timeout=90_000)
    return context, page


def test_header_mode_believes_the_proxy_alone(sample_url, users_file, browser, tmp_path):
    header = {"CX_USERS_FILE": str(users_file), "CX_AUTH": "header"}
    # the proxy is another machine: a request made here, straight to the port, is refused
    env = {**header, "CX_TRUSTED_PROXIES": "10.9.9.9"}
    with streamlit_server(sample_url, tmp_path / "a.log", env) as base:
        context, page = _header_page(browser, base, "ceo@example.com")
        page.get_by_text("did not come through the sign-in proxy").wait_for()
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        context.close()
    assert "which is not a trusted proxy" in (tmp_path / "a.log").read_text()
    # a proxy that appends to the client's header: two identities in one, refused
    with streamlit_server(sample_url, tmp_path / "b.log", header) as base:
        context, page = _header_page(browser, base, "ceo@example.com, dana@example.com")
        page.get_by_text("came with several values").wait_for()
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        context.close()
    # listening on every interface without naming the proxy: nothing is shown to anybody
    with streamlit_server(sample_url, tmp_path / "c.log", header, address="0.0.0.0") as base:
        context, page = _header_page(browser, base, "ceo@example.com")
        page.get_by_text("Sign-in is misconfigured").wait_for()
        assert "CX_TRUSTED_PROXIES" not in page.locator("[data-testid='stAlert']").inner_text()
        assert page.locator("[data-testid='stMetricValue']").count() == 0
        context.close()
    assert "Set CX_TRUSTED_PROXIES" in (tmp_path / "c.log").read_text()  # the log says why
