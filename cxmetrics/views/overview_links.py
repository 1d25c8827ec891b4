"""The page and filtered view that explains each element of the overview.

Every link keeps the view's period and filters (:func:`links.view_url`) and narrows it to
what the element is about: a stage of the strip opens the Journey page on that stage, a late
action the Accountability page on its stage and department. ``base_url`` is "" for links
inside the dashboard (relative to the site) or the public address for files and mails.
"""

from __future__ import annotations

import dataclasses

from cxmetrics.contract.journey import Journey
from cxmetrics.findings import findings as fx
from cxmetrics.stats.filters import Filters
from cxmetrics.views import first_screen, links

#: Chart of the overview → the page that explains it (both are broken down by touchpoint on
#: the Journey page).
CHART_PAGES = {"fig_stage_nps": "journey", "fig_worst_moments": "journey"}


def title(page: str) -> str:
    """The page's name as the navigation shows it."""
    return first_screen.PAGE_TITLES.get(page, page.capitalize())


def markdown(page: str, url: str) -> str:
    """A short Markdown link to ``page``: "[Journey →](url)"."""
    return f"[{title(page)} →]({url})"


def tile(base_url: str, key: str, f: Filters) -> tuple[str, str]:
    """The page and link that explain the tile ``key`` in the view ``f``."""
    page = links.TILE_PAGES[key]
    return page, links.view_url(base_url, page, f)


def chart(base_url: str, key: str, f: Filters) -> tuple[str, str]:
    """The page and link that explain the overview's chart ``key``."""
    page = CHART_PAGES[key]
    return page, links.view_url(base_url, page, f)


def stage(base_url: str, stage_id: str, f: Filters) -> str:
    """The Journey page on one stage, in the same period and with the same other filters."""
    return links.view_url(base_url, "journey", dataclasses.replace(f, stages=(stage_id,)))


def change(base_url: str, item: fx.Finding, f: Filters) -> tuple[str, str]:
    """The page and link of a "What changed" line: a stage's change opens the Journey page
    on that stage (as the first fold links it); a change of the whole view, the page its
    tile opens."""
    return first_screen.link_for(base_url, item, f, item.stages)


def changes(base_url: str, sentences: list[str], kept: list[fx.Finding], f: Filters):
    """The "What changed" lines with the link of each: ``(sentence, page, url)``, page and url
    None for a line that reports no change (nothing moved, no previous period)."""
    by_sentence = {c.sentence: c for c in kept if c.kind == "change"}
    out = []
    for sentence in sentences:
        item = by_sentence.get(sentence)
        out.append((sentence, *(change(base_url, item, f) if item else (None, None))))
    return out


def action(base_url: str, stage_id: str, department_id: str, f: Filters, journey: Journey) -> str:
    """The Accountability page on an action's stage and owning department. A department
    that does not affect that stage is left out of the link: the two filters together would
    match no stage."""
    affects = stage_id in journey.stages_of_departments((department_id,))
    view = dataclasses.replace(
        f, stages=(stage_id,), departments=(department_id,) if affects else ()
    )
    return links.view_url(base_url, "accountability", view)
