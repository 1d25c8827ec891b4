"""Links to filtered views: written by ``links.view_url``, opened by the sidebar."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest
from test_roles_app import users as roles_users

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
