"""Date-range presets, anchored on the latest day with data (not on today)."""

from __future__ import annotations

import datetime as dt

PRESETS = {
    "90d": "Last 90 days",
    "30d": "Last 30 days",
    "quarter": "Latest quarter",
    "year": "Latest 12 months",
    "all": "All data",
    "custom": "Custom range",
}
DEFAULT_PRESET = "90d"


WEEKLY_UP_TO_DAYS = 120  # longer periods trend by month


def trend_unit(start: dt.date, end: dt.date) -> str:
    """ "week" for periods shorter than WEEKLY_UP_TO_DAYS, else "month"."""
    return "week" if (end - start).days < WEEKLY_UP_TO_DAYS else "month"


def preset_range(preset: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The (start, end) of a preset for data covering ``first`` to ``last``.

    "quarter" is the calendar quarter that holds ``last``, up to ``last``. Ranges never
    start before ``first``.
    """
    if preset == "30d":
        start = last - dt.timedelta(days=29)
    elif preset == "90d":
        start = last - dt.timedelta(days=89)
    elif preset == "quarter":
        start = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    elif preset == "year":
        start = last - dt.timedelta(days=364)
    elif preset == "all":
        start = first
    else:
        raise ValueError(f"unknown period preset {preset!r}; known: {', '.join(PRESETS)}")
    return max(start, first), last
