"""Links to a filtered view of the dashboard, and reading them back.

One format for every link the project writes (alerts, briefings by mail, later the
overview's own links) and for the sidebar that opens them::

    https://cx.example.com/journey?start=2026-09-21&end=2026-09-27&stage=claim&department=claims

- the path is the page's url path (:data:`PAGES`; the overview is the site's root);
- ``start`` and ``end`` are the period's first and last day (``YYYY-MM-DD``);
- ``stage``, ``department``, ``channel``, ``segment`` and ``region`` are repeated once per
  value, stages and departments by id (their display names are accepted when read back,
  as the sidebar's own widgets write them).

:func:`view_url` writes a link from a :class:`~cxmetrics.stats.filters.Filters`;
:func:`parse_query` reads the query parameters back against what the data holds and names
every parameter it cannot use, so the app can say so instead of failing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from cxmetrics.contract.periods import PRESETS
from cxmetrics.contract.text import shortened
from cxmetrics.stats.filters import Filters

#: Where the dashboard is served for people outside it (mails, briefing files).
PUBLIC_URL_ENV = "CX_PUBLIC_URL"

#: Page name → url path, as ``dashboard.py`` registers the pages (``st.Page`` derives the
#: path from the file name; the default page is the root).
PAGES = {
    "overview": "",
    "journey": "journey",
    "loyalty": "loyalty",
    "accountability": "accountability",
    "voice": "voice",
    "data": "data",
    "glossary": "glossary",
}

#: The page a finding's link opens, by kind (a stage's score opens the Journey page); the
#: alerts and the overview's first fold link the same way.
PAGE_OF_KIND = {
    "change": "overview",
    "target": "overview",
    "trend": "loyalty",
    "lead": "voice",
    "false_positive": "accountability",
    "closed_loop": "accountability",
    "moment": "journey",
    "channel": "journey",
    "behaviour": "journey",
    "at_risk": "loyalty",
    "influencer": "loyalty",
}


#: An overview tile (and a finding about the whole view's score of that metric) → the page
#: that explains it: NPS over time and by loyalty group on Loyalty & value; CSAT, effort and
#: where the answers come from by stage and touchpoint on Journey; churn and revenue at risk
#: on Loyalty & value.
TILE_PAGES = {
    "nps": "loyalty",
    "csat": "journey",
    "ces": "journey",
    "responses": "journey",
    "churn": "loyalty",
    "revenue_at_risk": "loyalty",
}


def page_of(kind: str, stages: Sequence[str] = (), metric: str | None = None) -> str:
    """The page that explains a finding of ``kind`` on ``stages`` (about ``metric``, the
    family of a change: a change of the whole view opens the page its tile opens)."""
    if kind in ("change", "target") and stages:
        return "journey"
    if kind == "change" and metric in TILE_PAGES:
        return TILE_PAGES[metric]
    return PAGE_OF_KIND.get(kind, "overview")


#: Query parameter → the ``Filters`` field it fills (``start``/``end`` apart).
LISTS = {
    "stage": "stages",
    "department": "departments",
    "channel": "channels",
    "segment": "segments",
    "region": "regions",
}


def view_url(base_url: str, page: str, filters: Filters) -> str:
    """The link that opens ``page`` of the dashboard at ``base_url`` with ``filters`` set."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; pages: {', '.join(PAGES)}")
    pairs: list[tuple[str, str]] = []
    if filters.start is not None:
        pairs.append(("start", filters.start.isoformat()))
    if filters.end is not None:
        pairs.append(("end", filters.end.isoformat()))
    for param, attr in LISTS.items():
        pairs += [(param, v) for v in getattr(filters, attr)]
    url = base_url.rstrip("/") + "/" + PAGES[page]
    return url + ("?" + urlencode(pairs) if pairs else "")


def public_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The dashboard's public address from ``CX_PUBLIC_URL`` (``os.environ`` by default), or
    None when it is not set. A value that is not an absolute http(s) address is refused with
    a message naming it: a file's link must open from anywhere."""
    env = os.environ if environ is None else environ
    value = env.get(PUBLIC_URL_ENV, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{PUBLIC_URL_ENV}={value!r} is not an absolute address: give the dashboard's "
            "address as people open it, such as https://cx.example.com"
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class Choices:
    """What a link may name: the dates the data covers and, per list parameter, every
    allowed id with its display name (``{id: name}``)."""

    first_day: dt.date
    last_day: dt.date
    values: Mapping[str, Mapping[str, str]]  # parameter → {id: display name}


@dataclass(frozen=True)
class LinkView:
    """What a link asks for: only the parameters it carried and that could be used."""

    start: dt.date | None = None
    end: dt.date | None = None
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parameter → ids
    problems: tuple[str, ...] = ()  # one sentence per parameter that could not be used
    period: str | None = None  # a period preset's key (``periods.PRESETS``), by key or name

    @property
    def empty(self) -> bool:
        return self.start is None and self.end is None and not self.lists and not self.period


def parse_query(params: Mapping[str, Sequence[str] | str], choices: Choices) -> LinkView:
    """Read a link's query parameters (``{name: [values]}``; a single string is one value).

    Values the data does not hold, dates that are not dates or lie outside the data, and a
    start after the end are left out, each with a sentence naming the parameter."""

    def values(name: str) -> list[str]:
        raw = params.get(name, [])
        return [raw] if isinstance(raw, str) else list(raw)

    problems: list[str] = []
    # dates as a link writes them (start, end) or as the sidebar shows them in the address
    # bar (dates=START&dates=END, with period=Custom range)
    given = {name: [v for v in values(name) if v.strip()] for name in ("start", "end")}
    named = {"start": "start", "end": "end"}
    pair = [v for v in values("dates") if v.strip()]
    if pair and not (given["start"] or given["end"]):
        given = {"start": pair[:1], "end": pair[-1:]}
        named = {"start": "dates", "end": "dates"}
    elif pair:
        used = [f"'{name}'" for name in ("start", "end") if given[name]]
        verb = "are" if len(used) > 1 else "is"
        problems.append(
            f"'dates' is left out: the link also has {' and '.join(used)}, which {verb} used"
        )
    days: dict[str, dt.date | None] = {}
    for name in ("start", "end"):
        got, shown = given[name], named[name]
        days[name] = None
        if not got:
            continue
        try:
            day = dt.date.fromisoformat(got[-1].strip())
        except ValueError:
            problems.append(f"'{shown}={shortened(got[-1])}' is not a date in YYYY-MM-DD form")
            continue
        if not choices.first_day <= day <= choices.last_day:
            problems.append(
                f"'{shown}={day}' lies outside the data ({choices.first_day} to {choices.last_day})"
            )
            continue
        days[name] = day
    start, end = days["start"], days["end"]
    if start and end and start > end:
        problems.append(f"'{named['start']}={start}' is after '{named['end']}={end}'")
        start = end = None

    period = None
    for v in values("period")[-1:]:
        by_name = {name: key for key, name in PRESETS.items()}
        period = v if v in PRESETS else by_name.get(v)
        if period is None:
            problems.append(
                f"'period={shortened(v)}' is not a period (known: {', '.join(PRESETS.values())})"
            )
        elif period == "custom" and not (given["start"] or given["end"]):
            problems.append(f"'period={v}' has no dates (dates=START&dates=END)")
            period = None

    lists: dict[str, tuple[str, ...]] = {}
    for param in LISTS:
        allowed = choices.values.get(param, {})
        by_name = {name: key for key, name in allowed.items()}
        kept: list[str] = []
        unknown: list[str] = []
        for v in values(param):
            key = v if v in allowed else by_name.get(v)
            if key is None:
                unknown.append(v)
            elif key not in kept:
                kept.append(key)
        if unknown:
            problems.append(
                f"'{param}' has no {', '.join(repr(shortened(u)) for u in unknown)} in this view"
                + (f" (known: {', '.join(allowed)})" if allowed else "")
            )
        if kept:
            lists[param] = tuple(kept)
    return LinkView(start, end, lists, tuple(problems), period)
