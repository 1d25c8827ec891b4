"""Filters and period presets on tiny literal frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cxmetrics.contract.periods import PRESETS, preset_range
from cxmetrics.stats.filters import FilterError, Filters

D = dt.date
OWNERS = {"claims": ["claim"], "service": ["buy", "help", "claim"], "billing": ["pay"]}


def stages_of(departments):
    return sorted({s for d in departments for s in OWNERS[d]})


def test_filters_are_hashable_and_frozen():
    f = Filters(stages=("claim",))
    assert hash(f) == hash(Filters(stages=("claim",)))
    with pytest.raises(AttributeError):
        f.stages = ("pay",)


def test_start_after_end_is_refused():
    with pytest.raises(FilterError, match="after the end date"):
        Filters(start=D(2026, 2, 1), end=D(2026, 1, 1))


def test_a_bare_string_is_refused_where_a_tuple_is_expected():
    with pytest.raises(FilterError, match="stages must be a tuple"):
        Filters(stages="claim")


@pytest.mark.parametrize(
    "stages, departments, expected",
    [
        ((), (), None),
        (("pay",), (), ("pay",)),
        ((), ("claims",), ("claim",)),
        ((), ("claims", "billing"), ("claim", "pay")),
        (("help", "pay"), ("service",), ("help",)),
        (("pay",), ("claims",), ()),  # nothing in common: an empty view
    ],
)
def test_department_keeps_the_stages_it_affects(stages, departments, expected):
    f = Filters(stages=stages, departments=departments)
    assert f.effective_stages(stages_of) == expected


def test_previous_period_has_the_same_length_just_before():
    f = Filters(start=D(2026, 7, 1), end=D(2026, 9, 30))  # 92 days
    prev = f.previous_period()
    assert prev.end == D(2026, 6, 30)
    assert (prev.end - prev.start).days + 1 == 92
    assert prev.start == D(2026, 3, 31)
    assert Filters().previous_period() is None


FRAME = pl.DataFrame(
    {
        "responded_on": [D(2026, 1, 1), D(2026, 1, 2), D(2026, 1, 3), D(2026, 1, 4)],
        "stage_id": ["pay", "claim", "claim", "help"],
        "channel": ["web", "mobile", "web", "phone"],
        "segment": ["A", "A", "B", "B"],
        "region": ["N", "S", "N", "S"],
    }
)


@pytest.mark.parametrize(
    "filters, stage_ids, rows",
    [
        (Filters(), None, [0, 1, 2, 3]),
        (Filters(start=D(2026, 1, 2), end=D(2026, 1, 3)), None, [1, 2]),
        (Filters(channels=("web",)), None, [0, 2]),
        (Filters(segments=("B",), regions=("S",)), None, [3]),
        (Filters(), ("claim",), [1, 2]),
        (Filters(channels=("web",)), ("claim",), [2]),
        (Filters(), (), []),
    ],
)
def test_expression_selects_the_expected_rows(filters, stage_ids, rows):
    got = FRAME.with_row_index().filter(
        filters.expression(date_col="responded_on", stage_ids=stage_ids)
    )
    assert got["index"].to_list() == rows


def test_describe_in_plain_words():
    f = Filters(start=D(2026, 7, 1), end=D(2026, 9, 30), stages=("claim",), channels=("web",))
    text = f.describe({"claim": "File a claim"})
    assert text.startswith("1 Jul 2026 – 30 Sep 2026")
    assert "File a claim" in text and "web" in text and "all regions" in text


FIRST, LAST = D(2024, 10, 3), D(2026, 9, 30)


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("30d", (D(2026, 9, 1), LAST)),
        ("90d", (D(2026, 7, 3), LAST)),
        ("quarter", (D(2026, 7, 1), LAST)),
        ("year", (D(2025, 10, 1), LAST)),
        ("all", (FIRST, LAST)),
    ],
)
def test_presets_end_on_the_latest_day_with_data(preset, expected):
    assert preset_range(preset, FIRST, LAST) == expected


def test_presets_never_start_before_the_data():
    assert preset_range("year", D(2026, 6, 1), D(2026, 6, 30)) == (D(2026, 6, 1), D(2026, 6, 30))


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="unknown period preset 'decade'"):
        preset_range("decade", FIRST, LAST)
    assert "custom" in PRESETS
