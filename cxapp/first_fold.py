"""The overview's first fold: the top findings of the view, who owns each, what it costs and
what is being done, each with a link to the page that explains it (the content is made by
``cxmetrics.first_screen``; this only draws it, compactly enough to read at 1400 × 900)."""

from __future__ import annotations

import streamlit as st

from cxmetrics import first_screen
from cxmetrics.wording import inert

KEY = "first_fold"
# Compact enough that the tiles and five findings read at 1400 × 900 without scrolling.
STYLE = (
    "<style>.st-key-first_fold p{font-size:0.86rem;line-height:1.35;margin-bottom:0.1rem}"
    ".st-key-first_fold h4{padding:0 0 0.2rem 0}"
    ".st-key-first_fold [data-testid='stVerticalBlock']{gap:0.45rem}"
    ".st-key-first_fold strong{font-weight:600}</style>"
)


def _link(label: str, url: str) -> str:
    return f"[{label} →]({url})"


def headline_markdown(i: int, h: first_screen.Headline, money) -> str:
    """One finding as three short lines of Markdown (text from the data made inert); two
    when an earlier finding has the same owners, cost and actions."""
    title = first_screen.PAGE_TITLES.get(h.page, h.page)
    if h.same_as is not None:
        return (
            f"{i}\\. **{inert(h.sentence)}**  \n"
            f":material/group: Owners, cost and actions as in {h.same_as}. · "
            f"{_link(title, h.link)}"
        )
    owner = h.owners
    if h.scorecards:
        marks = []
        for card in h.scorecards:
            text = inert(card.text)
            if card.green and h.finding.kind in ("false_positive", "change", "trend"):
                text += " — **green scorecard, red experience**"
            marks.append(text)
        owner += " · " if owner else ""
        owner = inert(owner) + " · ".join(marks)
    else:
        owner = inert(owner)
    if h.costs:
        cost = "Revenue at risk: " + "; ".join(first_screen.cost_text(c, money) for c in h.costs)
    elif not h.stage_ids:
        cost = "Revenue at risk: the whole view's is on its tile above"
    else:
        cost = "Revenue at risk: not recorded for this stage"
    if h.actions:
        doing = "Being done: " + "; ".join(h.actions)
    elif h.stage_ids:
        doing = "Being done: no open action plan on this stage"
    else:
        doing = ""
    lines = [
        f"{i}\\. **{inert(h.sentence)}**",
        f":material/group: {owner}",
        f":material/payments: {inert(cost)}"
        + (f" · :material/build: {inert(doing)}" if doing else "")
        + f" · {_link(title, h.link)}",
    ]
    return "  \n".join(lines)


def show(fs: first_screen.FirstScreen, money) -> None:
    """The block: headlines, or that there is nothing significant; what to import."""
    st.html(STYLE)
    with st.container(border=True, key=KEY):
        st.markdown(
            f"#### What to know\n{fs.start:%d %b %Y} – {fs.end:%d %b %Y} · the findings that "
            f"hold after {fs.tested:,} tests (false discovery rate 5%), with who owns them"
        )
        if fs.nothing:
            st.markdown(f":material/check_circle: {inert(fs.nothing)}")
        for i, h in enumerate(fs.headlines, start=1):
            st.markdown(headline_markdown(i, h, money))
        if fs.import_line:
            st.caption(":material/database_off: " + inert(fs.import_line))
