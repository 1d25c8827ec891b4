"""The overview's first fold: the top findings of the view, who owns each, what it costs and
what is being done, each with a link to the page that explains it (the content is made by
``cxmetrics.views.first_screen``; this only draws it, compactly enough to read at 1400 × 900)."""

from __future__ import annotations

import streamlit as st

from cxmetrics.contract.text import counted, period_text
from cxmetrics.views import first_screen
from cxmetrics.views.wording import inert

KEY = "first_fold"
# Compact enough that the tiles and five findings read at 1400 × 900 without scrolling.
STYLE = (
    "<style>.st-key-first_fold p{font-size:0.86rem;line-height:1.35;margin-bottom:0}"
    ".st-key-first_fold [data-testid='stMarkdownContainer']{margin-bottom:0}"
    # a caption's own -1 rem under its block let the last line sit on the box's border
    ".st-key-first_fold [data-testid='stCaptionContainer']{margin-bottom:0}"
    ".st-key-first_fold [data-testid='stCaptionContainer'] p{margin-bottom:0}"
    ".st-key-first_fold .stElementContainer:first-child p{font-size:1rem}"
    ".st-key-first_fold{gap:0.6rem}"
    ".st-key-first_fold strong{font-weight:600}</style>"
)


def _link(label: str, url: str) -> str:
    return f"[{label} →]({url})"


def headline_markdown(i: int, h: first_screen.Headline, money) -> str:
    """One finding as three short lines of Markdown (text from the data made inert); two
    when an earlier finding has the same owners, cost and actions."""
    title = first_screen.PAGE_TITLES.get(h.page, h.page)
    first = f"{i}\\. **{inert(h.sentence)}**"
    if h.same_as is not None:
        return (
            f"{first}  \n:material/group: Owners, cost and actions as in {h.same_as}. · "
            f"{_link(title, h.link)}"
        )
    owner = inert(h.owner_text())
    if h.green_over_red:
        owner += " — **green scorecard, red experience**"
    doing = h.doing_text()
    third = f":material/payments: {inert(h.cost_text(money))}"
    if doing:
        third += f" · :material/build: {inert(doing)}"
    return "  \n".join([first, f":material/group: {owner}", f"{third} · {_link(title, h.link)}"])


def show(fs: first_screen.FirstScreen, money) -> None:
    """The block: headlines, or that there is nothing significant; what to import."""
    st.html(STYLE)
    with st.container(border=True, key=KEY):
        tested = (
            f"the findings that hold after {counted(fs.tested, 'test')} (false discovery rate "
            "5%), with who owns them"
            if fs.tested
            else "too few answers in this view to test anything"
        )
        st.markdown(
            f":material/flag: **What to know** · {period_text(fs.start, fs.end)} · " + tested
        )
        if fs.nothing:
            icon = ":material/check_circle:" if fs.tested else ":material/info:"
            st.markdown(f"{icon} {inert(fs.nothing)}")
        for i, h in enumerate(fs.headlines, start=1):
            st.markdown(headline_markdown(i, h, money))
        if fs.channel_note:
            st.caption(":material/info: " + fs.channel_note)
        if fs.import_line:
            st.caption(":material/database_off: " + inert(fs.import_line))
