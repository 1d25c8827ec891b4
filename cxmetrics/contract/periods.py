"""Date-range presets, anchored on the latest day with data (not on today)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

PRESETS = {
    "90d": "Last 90 days",
    "30d": "Last 30 days",
    "quarter": "Latest quarter",
    "year": "Latest 12 months",
    "all": "All data",
    "custom": "Custom range",
}
DEFAULT_PRESET = "90d"  # the CLI's briefing default; the dashboard chooses its own
#: The presets a default period is chosen from (shortest span first, see default_preset).
CANDIDATES = ("30d", "90d", "quarter", "year", "all")


WEEKLY_UP_TO_DAYS = 120  # longer periods trend by month


#: The calendar buckets a trend is drawn in, as Polars truncates a date to its bucket's
#: first day.
BUCKETS = {"week": "1w", "month": "1mo", "quarter": "1q"}


def trend_unit(start: dt.date, end: dt.date) -> str:
    """ "week" for periods shorter than WEEKLY_UP_TO_DAYS, else "month"."""
    return "week" if (end - start).days < WEEKLY_UP_TO_DAYS else "month"


def as_date(value) -> dt.date:
    """A date from a date, a date and time (its day) or ISO text ("2026-01-10"); a
    ``ValueError`` for anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


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


def default_preset(
    first: dt.date,
    last: dt.date,
    answers: Callable[[dt.date, dt.date], int],
    min_n: int,
    chosen: str | None = None,
    what: str = "NPS answers",
) -> tuple[str, str]:
    """The period a view opens on, and why, in words.

    ``chosen``: the company's setting, used as it is. Otherwise the shortest preset (by the
    days it spans on this data) in which ``answers(start, end)`` (``what`` they count, NPS
    answers unless the data has none) reaches ``min_n``; all data when none does."""
    if chosen:
        return chosen, f"{PRESETS[chosen]}: the company's default period."

    def span(preset: str) -> int:
        start, end = preset_range(preset, first, last)
        return (end - start).days

    spans = sorted(CANDIDATES, key=span)  # stable: equal spans keep CANDIDATES' order
    for preset in spans:
        n = answers(*preset_range(preset, first, last))
        if n >= min_n:
            return preset, (
                f"{PRESETS[preset]} chosen as the default: the shortest period with at least "
                f"{min_n} {what} ({n:,})."
            )
    n = answers(first, last)
    return "all", (
        f"All data chosen as the default: it holds only {n:,} {what}, fewer than {min_n}."
    )
