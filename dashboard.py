"""Entry point: page config and the router. Each page in pages/ renders itself."""

from pathlib import Path

import streamlit as st

from cxapp import auth, errors

FAVICON = Path(__file__).resolve().parent / "cxapp" / "favicon.png"

# the tab's icon from this server, not fetched from a font service on the internet
st.set_page_config(page_title="CX dashboard", page_icon=str(FAVICON), layout="wide")

user = auth.peek()  # None until signed in: each page then shows the sign-in screen
pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/journey.py", title="Journey", icon=":material/route:"),
    st.Page("pages/loyalty.py", title="Loyalty & value", icon=":material/favorite:"),
    st.Page("pages/accountability.py", title="Accountability", icon=":material/groups:"),
    st.Page("pages/voice.py", title="Voice of the customer", icon=":material/forum:"),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
    st.Page("pages/glossary.py", title="Glossary", icon=":material/menu_book:"),
]
if user is not None and user.scope is not None:  # managers: no whole-database page
    pages = [p for p in pages if p.title != "Data"]
    if st.session_state.pop("_data_refused", False):  # they asked for it: say why, once
        st.toast(
            "The Data page shows the whole database, so it is for executives and analysts; "
            "here is your overview.",
            icon=":material/lock:",
            duration="long",
        )

    def data_refused() -> None:
        """The Data page's address, for a manager: their overview, with a word why (a page
        missing from the navigation opened Streamlit's "Page not found" over it)."""
        st.session_state["_data_refused"] = True
        st.switch_page(pages[0])

    pages.append(st.Page(data_refused, title="Data", url_path="data", visibility="hidden"))
router = st.navigation(pages, position="sidebar" if user is not None else "hidden")
with errors.guard():  # no traceback for users: an error id, the details in the log
    router.run()
