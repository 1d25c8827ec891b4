"""Links to filtered views: written by ``links.view_url``, opened by the sidebar."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest
from test_roles_app import users as roles_users

from cxmetrics.contract.periods import PRESETS
from cxmetrics.stats.filters import Filters
from cxmetrics.views import links

D = dt.date
CHOICES = links.Choices(
    D(2024, 10, 3),
    D(2026, 9, 30),
    {
        "stage": {"claim": "File a claim", "pay": "Pay & manage"},
        "department": {"claims": "Claims", "service": "Customer Service"},
        "channel": {"web": "web"},
    },
)


def test_view_url_writes_the_documented_format():
    f = Filters(D(2026, 1, 1), D(2026, 3, 31), stages=("claim",), departments=("claims", "service"))
    assert links.view_url("https://host/", "journey", f) == (
        "https://host/journey?start=2026-01-01&end=2026-03-31&stage=claim"
        "&department=claims&department=service"
    )
    assert links.view_url("https://host", "overview", Filters()) == "https://host/"
    assert links.view_url("http://h:8501/cx", "voice", Filters(channels=("web & app",))) == (
        "http://h:8501/cx/voice?channel=web+%26+app"
    )
    with pytest.raises(ValueError, match="unknown page 'nowhere'"):
        links.view_url("https://host", "nowhere", Filters())


def test_parse_query_reads_ids_and_names_and_names_every_bad_parameter():
    ok = links.parse_query(
        {"start": ["2026-01-01"], "end": "2026-03-31", "stage": ["claim", "Pay & manage"]},
        CHOICES,
    )
    assert (ok.start, ok.end, ok.lists, ok.problems) == (
        D(2026, 1, 1), D(2026, 3, 31), {"stage": ("claim", "pay")}, (),
    )  # fmt: skip
    bad = links.parse_query(
        {"start": ["01/02/2026"], "end": ["2030-01-01"], "department": ["claims", "hr"]},
        CHOICES,
    )
    assert bad.start is None and bad.end is None
    assert bad.lists == {"department": ("claims",)}
    assert len(bad.problems) == 3
    assert "'start=01/02/2026' is not a date" in bad.problems[0]
    assert "'end=2030-01-01' lies outside the data" in bad.problems[1]
    assert "'department' has no 'hr'" in bad.problems[2]
    swapped = links.parse_query({"start": ["2026-03-01"], "end": ["2026-01-01"]}, CHOICES)
    assert swapped.start is None and "is after" in swapped.problems[0]


def test_parse_query_reads_the_address_bar_s_own_period_and_dates():
    """What the sidebar writes in the address (names, ``period``, ``dates``) reads back."""
    shown = links.parse_query(
        {"period": "Custom range", "dates": ["2026-02-01", "2026-02-28"], "stage": "File a claim"},
        CHOICES,
    )
    assert (shown.period, shown.start, shown.end, shown.lists, shown.problems) == (
        "custom",
        D(2026, 2, 1),
        D(2026, 2, 28),
        {"stage": ("claim",)},
        (),
    )
    assert links.parse_query({"period": "Last 30 days"}, CHOICES).period == "30d"
    assert links.parse_query({"period": "30d"}, CHOICES).period == "30d"
    undated = links.parse_query({"period": "Custom range"}, CHOICES)
    assert undated.period is None
    assert undated.problems == ("'period=Custom range' has no dates (dates=START&dates=END)",)
    bad = links.parse_query({"period": "Fortnight", "dates": ["2026-09-30", "2026-01-01"]}, CHOICES)
    assert bad.period is None and bad.start is None and bad.end is None
    assert bad.problems == (
        "'dates=2026-09-30' is after 'dates=2026-01-01'",
        "'period=Fortnight' is not a period (known: " + ", ".join(PRESETS.values()) + ")",
    )
    mixed = links.parse_query(
        {"start": "2026-02-01", "dates": ["2026-03-01", "2026-03-31"]}, CHOICES
    )
    assert (mixed.start, mixed.end) == (D(2026, 2, 1), None)
    assert mixed.problems == ("'dates' is left out: the link also has 'start', which is used",)
    long = "x" * 5000  # a link cut and pasted into itself: quoted, not repeated whole
    huge = links.parse_query({"period": long, "stage": long, "start": long}, CHOICES)
    assert huge.problems == (
        f"'start={'x' * 79}… (5,000 characters)' is not a date in YYYY-MM-DD form",
        f"'period={'x' * 79}… (5,000 characters)' is not a period (known: "
        + ", ".join(PRESETS.values())
        + ")",
        f"'stage' has no '{'x' * 79}… (5,000 characters)' in this view (known: "
        + ", ".join(CHOICES.values["stage"])
        + ")",
    )
    early = links.parse_query({"dates": ["2020-01-01", "2026-01-01"]}, CHOICES)
    assert early.start is None and early.end == D(2026, 1, 1)
    assert early.problems == (
        "'dates=2020-01-01' lies outside the data (2024-10-03 to 2026-09-30)",
    )


def open_link(query: dict[str, str | list[str]]) -> AppTest:
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/journey.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_sets_the_initial_filters(app_env):
    at = open_link(
        {"start": "2026-07-06", "end": "2026-07-12", "stage": "claim", "department": "claims"}
    )
    assert at.sidebar.selectbox(key="period").value == "custom"
    assert at.sidebar.date_input(key="dates").value == (D(2026, 7, 6), D(2026, 7, 12))
    assert at.sidebar.multiselect(key="stage").value == ["claim"]
    assert at.sidebar.multiselect(key="department").value == ["claims"]
    assert not at.warning
    at.run()  # the link is read once: later runs keep what the user chose
    assert at.sidebar.multiselect(key="stage").value == ["claim"]


def test_a_bad_link_is_a_warning_naming_the_parameter(app_env):
    at = open_link({"start": "yesterday", "stage": ["claim", "nowhere"]})
    warnings = [w.value for w in at.warning]
    assert any("'start=yesterday' is not a date" in w for w in warnings), warnings
    assert any("'stage' has no 'nowhere'" in w for w in warnings), warnings
    assert at.sidebar.multiselect(key="stage").value == ["claim"]
    assert at.sidebar.selectbox(key="period").value != "custom"


def address(at) -> dict[str, list[str]]:
    """AppTest's query parameters, each as a list (a single value is kept as a string)."""
    return {k: [v] if isinstance(v, str) else list(v) for k, v in at.query_params.items()}


def test_the_address_shows_a_link_s_filters_by_name_on_every_page(app_env):
    """A link's ids and dates become the address bar's own parameters, which another page
    keeps, so the view on screen can be passed on from anywhere."""
    at = open_link({"start": "2026-07-06", "end": "2026-07-12", "stage": "claim"})
    shown = {
        "period": ["Custom range"],
        "dates": ["2026-07-06", "2026-07-12"],
        "stage": ["File a claim"],
    }
    assert address(at) == shown
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception
    assert address(at) == shown
    assert at.sidebar.multiselect(key="stage").value == ["claim"]
    reopened = open_link(shown)  # the address as copied from the bar
    assert reopened.sidebar.date_input(key="dates").value == (D(2026, 7, 6), D(2026, 7, 12))
    assert reopened.sidebar.multiselect(key="stage").value == ["claim"]
    assert not reopened.warning


def test_reset_clears_every_filter_and_the_address(app_env):
    at = open_link({"start": "2026-07-06", "end": "2026-07-12", "stage": "claim"})
    at.sidebar.multiselect(key="department").set_value(["claims"]).run()
    assert address(at)["department"] == ["Claims"]
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    default = at.sidebar.selectbox(key="period").value
    assert default != "custom"
    for key in ("stage", "department", "channel", "segment", "region"):
        assert at.sidebar.multiselect(key=key).value == []
    assert address(at) == {"period": [PRESETS[default]]}
    at.run()  # nothing brings the old filters back
    assert at.sidebar.multiselect(key="stage").value == []
    assert at.sidebar.selectbox(key="period").value == default


@pytest.mark.parametrize(
    ("dates", "problem", "start"),
    [
        (["2026-07-12", "2026-07-06"], "'dates=2026-07-12' is after 'dates=2026-07-06'", None),
        (["July"], "'dates=July' is not a date", None),
        # the start is used, up to the data's last day, as a link's start alone is
        (["2026-07-06", "2031-01-01"], "'dates=2031-01-01' lies outside the data", D(2026, 7, 6)),
    ],
)
def test_dates_in_the_address_that_cannot_be_used_are_a_warning(
    app_env, raw_sql, dates, problem, start
):
    at = open_link({"period": "Custom range", "dates": dates})
    assert any(problem in w.value for w in at.warning), [w.value for w in at.warning]
    period = at.sidebar.selectbox(key="period").value
    if start is None:
        assert period != "custom"  # the company's default period
    else:
        (last,) = raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()
        assert period == "custom"
        assert at.sidebar.date_input(key="dates").value == (start, D.fromisoformat(last))
    assert at.get("plotly_chart")  # the page is drawn


users = roles_users  # the signed-in roles' users file (a fixture)


def test_a_link_cannot_reach_past_a_managers_scope(users):
    from test_roles_app import sign_in

    # Dana manages Customer Service, which contributes to File a claim; Claims is not hers
    at = sign_in("dana@example.com", {"stage": "claim", "department": ["claims", "service"]})
    warnings = [w.value for w in at.warning]
    assert any("'department' has no 'claims'" in w for w in warnings), warnings
    assert at.sidebar.multiselect(key="department").value == ["service"]
    assert at.sidebar.multiselect(key="stage").value == ["claim"]


@pytest.mark.parametrize(
    "family, stages, page",
    [
        ("csat", (), "journey"),  # a change of the whole view: the page its tile opens
        ("ces", (), "journey"),
        ("nps", (), "loyalty"),
        ("nps", ("claim",), "journey"),  # a stage's change: the Journey page on it
    ],
)
def test_a_change_opens_the_same_page_from_the_first_fold_the_changes_and_an_alert(
    family, stages, page
):
    from cxmetrics.findings import findings
    from cxmetrics.views import first_screen, overview_links

    item = findings.Finding("change", "moved", 1.0, (0.5, 1.5), 500, 0.01, 0.02, stages=stages)
    item = dataclasses.replace(item, family=family)
    view = Filters(start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31))
    expected = links.view_url("", page, dataclasses.replace(view, stages=stages))
    assert first_screen.link_for("", item, view, stages) == (page, expected)
    assert overview_links.change("", item, view) == (page, expected)
    assert links.page_of("change", stages, family) == page


def test_a_tile_with_too_few_answers_shows_a_dash_and_says_why(app_env, raw_sql):
    """A word is cut on one of six tiles ("Too few", "Not reco"): the tile shows a dash and
    its caption begins with the reason and n, counted here in plain SQL."""
    (n,) = raw_sql.execute(
        "SELECT COUNT(r.nps) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "WHERE t.stage_id = 'claim' AND r.responded_on BETWEEN '2026-07-06' AND '2026-07-08'"
    ).fetchone()
    assert 0 < n < 30
    at = open_link({"start": "2026-07-06", "end": "2026-07-08", "stage": "claim"})
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception
    nps = next(t for t in at.metric if t.label == "NPS" or t.value == "–")
    assert nps.value == "–"
    captions = [c.value for c in at.caption]
    assert any(c.startswith(f"Too few responses · n = {n:,} answers") for c in captions), captions


def test_a_stage_card_with_too_few_answers_keeps_its_words_whole(app_env, raw_sql):
    """Six stage cards to a row cut "Too few responses" in a badge and ran "CSAT Too few
    responses · CES Too few responses" over four lines: a card's badge says "Too few", its
    CSAT and CES a dash, and the n of each stays beside them (counted here in plain SQL)."""
    (n_csat,) = raw_sql.execute(
        "SELECT COUNT(r.csat) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "WHERE t.stage_id = 'claim' AND r.responded_on BETWEEN '2026-07-06' AND '2026-07-08'"
    ).fetchone()
    assert 0 < n_csat < 30
    at = open_link({"start": "2026-07-06", "end": "2026-07-08"})
    texts = [e.value for e in at.markdown]
    assert not any("CSAT **Too few" in t for t in texts), texts
    assert "CSAT **–** · CES **–**" in texts
    badges = [t for t in texts if "-badge[" in t]
    assert badges and all("Too few responses" not in t for t in badges), badges
    assert any(t.endswith("-badge[Too few]") for t in badges), badges
    assert any(c.value.startswith(f"n = {n_csat:,} CSAT · ") for c in at.caption)


def test_a_stage_card_names_the_metrics_below_or_near_target(app_env, loaded):
    """ "Below target" beside a stage's NPS read as the NPS's, where the CES was below: the
    card says which metrics have the stage's status, under its badge ("on CES")."""
    from cxmetrics.stats import metrics as m
    from cxmetrics.views import overview

    at = open_link({"start": "2026-07-03", "end": "2026-09-30"})
    view = Filters(start=dt.date(2026, 7, 3), end=dt.date(2026, 9, 30))
    stages = overview.compute(loaded, view).stages
    from cxmetrics.contract.registry import METRICS

    # each metric with its score and the target it misses: "on CES 5.21, target 5.30"
    expected = [
        "on "
        + "; ".join(
            f"{k.upper()} {METRICS[k].format(s.scores[k].value)}, "
            f"target {METRICS[k].format(s.targets[k])}"
            for k in ("nps", "csat", "ces")
            if s.statuses[k] == s.status
        )
        for s in stages
        if s.status in (m.STATUS_BELOW, m.STATUS_NEAR)
    ]
    assert any(" target " in e and not e.startswith("on NPS") for e in expected), expected
    captions = [c.value for c in at.caption]
    for text in expected:
        assert text in captions, (text, captions)
    # and the badge names it too ("CES below target"), or counts them where several are
    # ("3 below target": the card's width cuts three names), never a bare "Below target"
    badges = [md.value for md in at.markdown if "-badge[" in md.value]
    for s in stages:
        if s.status in (m.STATUS_BELOW, m.STATUS_NEAR):
            missed = [k for k in ("nps", "csat", "ces") if s.statuses[k] == s.status]
            said = METRICS[missed[0]].short if len(missed) == 1 else str(len(missed))
            assert any(b.endswith(f"-badge[{said} {s.status}]") for b in badges), (said, badges)
    assert not any(b.endswith("-badge[Below target]") for b in badges), badges
