"""The voice-of-the-customer and data pages under AppTest, checked against plain SQL."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from statistics import NormalDist

import pytest
from conftest import HOSTILE_COMMENTS
from test_app import last_day, start

from cxmetrics.contract import store
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import findings, leading
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters


def open_voice(tab: str | None = None):
    at = start()
    at.switch_page("pages/voice.py").run()
    assert not at.exception, at.exception
    if tab:
        show(at, tab)
    return at


def show(at, tab: str) -> None:
    """Open a tab, as a click on it does (only the open tab runs)."""
    at.session_state["voc_tab"] = tab
    at.run()
    assert not at.exception, at.exception


def verbatim_table(at):
    tables = [d.value for d in at.dataframe if {"comment", "sentiment"} <= set(d.value.columns)]
    assert len(tables) == 1
    return tables[0]


def match_caption(at) -> str:
    return next(c.value for c in at.caption if " comments match " in c.value)


def test_voice_page_shows_every_section(app_env, raw_sql):
    at = open_voice()
    assert [t.label for t in at.tabs] == [
        "Closed loop",
        "Leading indicators",
        "Broken processes",
        "Themes & sentiment",
        "Verbatims",
    ]
    charts = {}
    for tab in [t.label for t in at.tabs]:
        show(at, tab)
        charts[tab] = len(at.get("plotly_chart"))
    assert charts == {
        "Closed loop": 1,
        "Leading indicators": 2,
        "Broken processes": 1,
        "Themes & sentiment": 4,
        "Verbatims": 0,
    }
    show(at, "Closed loop")
    end = last_day(raw_sql)
    begin = end - dt.timedelta(days=89)
    # only cases opened 60+ days before the data ends count; computed in SQL
    until = end - dt.timedelta(days=60)
    rows = raw_sql.execute(
        """SELECT d.name, COUNT(*), SUM(closed_on IS NOT NULL),
                  SUM(closed_on IS NOT NULL AND customer_confirmed = 1),
                  SUM(closed_on IS NOT NULL AND customer_confirmed = 0),
                  SUM(closed_on IS NOT NULL AND customer_confirmed IS NULL)
           FROM cases c JOIN departments d USING (department_id)
           WHERE opened_on BETWEEN ? AND ? GROUP BY d.name""",
        (begin.isoformat(), until.isoformat()),
    ).fetchall()
    gaps = {name: (opened, 100 * (closed - ok) / opened) for name, opened, closed, ok, *_ in rows}
    # the headline names a department only when its gap is larger than the others' by a
    # two-proportion test (continuity-corrected) kept by Benjamini-Hochberg, here by hand
    total_n = sum(r[1] for r in rows)
    total_x = sum(r[2] - r[3] for r in rows)
    tests, effects = {}, {}
    for name, opened, closed, ok, *_ in rows:
        n2, x2 = total_n - opened, total_x - (closed - ok)
        if opened < 30 or n2 < 30:
            continue
        pooled = total_x / total_n
        se = math.sqrt(pooled * (1 - pooled) * (1 / opened + 1 / n2))
        z = ((closed - ok) / opened - x2 / n2 - 0.5 * (1 / opened + 1 / n2)) / se
        tests[name] = 2 * (1 - NormalDist().cdf(z)) if z > 0 else 1.0
        effects[name] = (closed - ok) / opened - x2 / n2
    ranked = sorted(tests.values())
    passed = [p for i, p in enumerate(ranked, 1) if p <= 0.05 * i / len(ranked)]
    named = {n for n, p in tests.items() if passed and p <= max(passed)}
    if named:
        widest = max(named, key=effects.__getitem__)
        headline = at.error[0].value
        assert headline.startswith(f"**{widest}** closed")
        assert f"of the {gaps[widest][0]:,} cases" in headline
    else:
        assert not any("closed" in e.value for e in at.error)
    table = next(d.value for d in at.dataframe if "false_closure_rate" in d.value.columns)
    assert sorted(table["department"]) == sorted(gaps)
    by_name = {r[0]: r for r in rows}
    for row in table.itertuples():
        assert row.gap == pytest.approx(gaps[row.department][1])
        _, _, closed, _, said_no, not_asked = by_name[row.department]
        assert row.said_no_rate == pytest.approx(100 * said_no / closed)
        assert row.not_asked_rate == pytest.approx(100 * not_asked / closed)
    captions = " ".join(c.value for c in at.caption)
    assert f"Only cases opened up to {until.day} {until:%b %Y} count" in captions
    assert re.search(
        r"\b(1 test|\d+ tests) of a department's closed-versus-confirmed gap", captions
    )
    assert METRICS["false_closure_rate"].definition in " ".join(c.value for c in at.caption)


def test_hostile_comments_are_shown_as_plain_text_and_masked(app_env):
    at = open_voice("Verbatims")
    table = verbatim_table(at)
    shown = set(table["comment"].head(3))
    masked = HOSTILE_COMMENTS[2].replace("jo.bloggs@example.com", "[email]")
    assert shown == {HOSTILE_COMMENTS[0], HOSTILE_COMMENTS[1], masked}
    # nothing of theirs reached a Markdown or HTML element
    rendered = " ".join(md.value for md in at.markdown) + " ".join(c.value for c in at.caption)
    assert "__xss" not in rendered and "evil.example" not in rendered
    at.toggle(key="voc_unmasked").set_value(True).run()
    assert HOSTILE_COMMENTS[2] in set(verbatim_table(at)["comment"].head(3))


def test_search_and_filters_match_sql(app_env, raw_sql):
    at = open_voice("Verbatims")
    end = last_day(raw_sql)
    begin = end - dt.timedelta(days=89)
    at.text_input(key="voc_search").set_value("CHARGED").run()
    (want,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment LIKE '%charged%' "
        "AND responded_on BETWEEN ? AND ?",
        (begin.isoformat(), end.isoformat()),
    ).fetchone()
    assert want > 0
    assert match_caption(at).startswith(f"{want:,} comments match")
    table = verbatim_table(at)
    assert len(table) == min(want, 25)
    assert table["comment"].str.lower().str.contains("charged").all()
    at.multiselect(key="voc_sources").set_value(["complaint"]).run()
    (want,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment LIKE '%charged%' AND source = 'complaint' "
        "AND responded_on BETWEEN ? AND ?",
        (begin.isoformat(), end.isoformat()),
    ).fetchone()
    assert match_caption(at).startswith(f"{want:,} comments match")
    at.text_input(key="voc_search").set_value("no such words anywhere").run()
    assert not at.exception
    assert any(i.value.startswith("No comment matches") for i in at.info)


def test_paging_walks_through_the_comments(app_env, raw_sql):
    at = open_voice("Verbatims")
    first = verbatim_table(at)
    at.number_input(key="voc_page").set_value(2).run()
    second = verbatim_table(at)
    assert len(second) == 25
    assert second["responded_on"].max() <= first["responded_on"].min()
    assert "Page 2 of" in match_caption(at)
    at.number_input(key="voc_page").set_value(100_000).run()  # beyond the last page: clamped
    assert not at.exception
    (total,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment IS NOT NULL AND comment != '' "
        "AND responded_on BETWEEN ? AND ?",
        ((last_day(raw_sql) - dt.timedelta(days=89)).isoformat(), last_day(raw_sql).isoformat()),
    ).fetchone()
    pages = -(-total // 25)
    assert f"Page {pages:,} of {pages:,}" in match_caption(at)
    assert len(verbatim_table(at)) == total - 25 * (pages - 1)


def test_voice_page_follows_the_shared_filters(app_env):
    at = start()
    at.sidebar.multiselect(key="stage").set_value(["pay"]).run()
    at.switch_page("pages/voice.py").run()
    assert not at.exception
    show(at, "Verbatims")
    assert set(verbatim_table(at)["stage"]) == {"Pay & manage"}
    show(at, "Leading indicators")
    assert at.selectbox(key="voc_lead_stage").options == ["Pay & manage"]


def test_voice_page_warns_only_of_leads_the_findings_engine_kept(app_env, loaded, sample_url):
    engine = store.make_engine(sample_url)
    try:
        contacts = dataset.load_contacts(engine, loaded)
    finally:
        engine.dispose()
    tested = leading.candidates(loaded, contacts, Filters(end=loaded.last_day))
    kept = [k for k in findings.decide(tested) if k.effect < 0]
    at = open_voice("Leading indicators")
    warned = [w.value for w in at.warning if "contacts lead NPS" in w.value]
    assert warned == [f"{k.sentence}: when contacts rise, NPS falls later." for k in kept]
    caption = next(c.value for c in at.caption if "Benjamini-Hochberg" in c.value)
    assert f"Tested per stage ({len(tested)} stages)" in caption
    assert f"at least {leading.MIN_WEEKS} weeks" in caption
    table = next(d.value for d in at.dataframe if "leads" in d.value.columns)
    assert set(table.loc[table["leads"], "stage"]) == {
        loaded.journey.stage_name(k.stages[0]) for k in kept
    }


def test_data_page_shows_what_the_database_holds(app_env, raw_sql):
    at = start()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    status = at.dataframe[0].value
    for row in status.itertuples():
        (n,) = raw_sql.execute(f'SELECT COUNT(*) FROM "{row.table}"').fetchone()
        assert row.rows == n, row.table
    first, last = raw_sql.execute(
        "SELECT MIN(responded_on), MAX(responded_on) FROM responses"
    ).fetchone()
    responses = status[status["table"] == "responses"].iloc[0]
    assert (responses["from"], responses["to"]) == (first, last)
    assert any(i.value.startswith("Choose a file to import") for i in at.info)


def test_the_search_box_suggests_a_word_of_the_data(app_env, raw_sql):
    at = open_voice("Verbatims")
    placeholder = at.text_input(key="voc_search").placeholder
    assert placeholder.startswith("words or a phrase, e.g. ")
    word = placeholder.removeprefix("words or a phrase, e.g. ")
    assert word and word != "charged twice"
    (found,) = raw_sql.execute(
        "SELECT count(*) FROM responses WHERE lower(comment) LIKE ?", (f"%{word}%",)
    ).fetchone()
    assert found > 0


def test_cells_without_a_value_show_a_dash_not_none(app_env, raw_sql):
    """A comment without an NPS answer (most comments here) and a table without a last
    import: Streamlit writes "None" unless told what to show."""
    at = open_voice("Verbatims")
    (without,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment IS NOT NULL AND comment != '' AND nps IS NULL"
    ).fetchone()
    assert without > 0
    (element,) = [d for d in at.dataframe if "comment" in d.value.columns]
    assert element.value["nps"].isna().any()
    assert element.proto.placeholder == "–"
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert at.dataframe and {d.proto.placeholder for d in at.dataframe} == {"–"}
    assert at.dataframe[0].value["last_import"].isna().any()  # nothing imported yet


#: The width of the page's main column beside the sidebar on a 1,400 px screen, measured in
#: Chromium (the verbatims table spans x = 380 to 1,320 px)
MAIN_COLUMN_AT_1400 = 940


def test_verbatims_show_the_date_through_the_theme_on_a_1400_px_screen(app_env):
    """Every column up to the comment's theme has a width, and together they fit."""
    at = open_voice("Verbatims")
    (element,) = [d for d in at.dataframe if "comment" in d.value.columns]
    config = json.loads(element.proto.columns)
    shown = list(element.value.columns)
    first = shown[: shown.index("theme") + 1]
    assert first == ["responded_on", "stage", "touchpoint", "comment", "nps", "sentiment", "theme"]
    widths = [config[column].get("width") for column in first]
    assert all(isinstance(w, int) for w in widths), dict(zip(first, widths, strict=True))
    assert sum(widths) <= MAIN_COLUMN_AT_1400
