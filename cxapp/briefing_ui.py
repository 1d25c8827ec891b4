"""The one-click executive briefing: build the filtered view as PPTX and PDF, then offer
both for download."""

from __future__ import annotations

import streamlit as st

from cxapp import data, errors
from cxmetrics.reports import briefing, exports


def button(ds, view) -> None:
    """A button that builds the briefing of ``view`` with a progress bar; the files stay
    offered until the view changes."""
    st.button(
        "Executive briefing (PPTX + PDF)",
        icon=":material/slideshow:",
        help="One deck and one PDF of this view: KPIs, the journey, accountability, loyalty "
        "and revenue at risk, the closed loop and customers' words. Takes a few seconds.",
        on_click=_want,  # a callback: the click survives a rerun of the page
    )
    state = st.session_state.get("_briefing")
    if st.session_state.pop("_briefing_wanted", False):
        bar = st.progress(0.0, text="Gathering the numbers…")
        try:
            b = briefing.build(
                ds,
                data.get_kpis(),
                data.get_closed_loop(),
                data.get_contacts(),
                data.get_comments(),
                view,
                actions=data.get_actions(ds),
            )
            files = briefing.render(b, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
        except exports.ExportError as exc:
            bar.empty()
            st.error(f"**The briefing cannot be made.** {exc}", icon=":material/error:")
            return
        bar.empty()
        state = {"view": view, "files": files, "name": b.view_name, "day": b.made_on}
        st.session_state["_briefing"] = state
    if state and state["view"] == view:
        for fmt in briefing.FORMATS:
            st.download_button(
                f"Download the {fmt.upper()}",
                state["files"][fmt],
                file_name=exports.file_name("cx-briefing", state["name"], fmt, state["day"]),
                mime=exports.MIME[fmt],
                key=f"briefing_{fmt}",
                on_click="ignore",
                icon=":material/download:",
            )


@errors.callback
def _want() -> None:
    st.session_state["_briefing_wanted"] = True
