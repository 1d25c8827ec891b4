"""Entry point: page config and the router. Each page in pages/ renders itself."""

from pathlib import Path
from urllib.parse import urlparse

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
    asked = urlparse(st.context.url or "").path.rstrip("/")
    if asked.endswith("/data") and not st.session_state.get("_data_refused"):
        st.session_state["_data_refused"] = True  # said once: the address now is the overview's
        st.toast(
            "The Data page shows the whole database, so it is for executives and analysts; "
            "here is your overview.",
            icon=":material/lock:",
            duration="long",
        )
router = st.navigation(pages, position="sidebar" if user is not None else "hidden")
with errors.guard():  # no traceback for users: an error id, the details in the log
    router.run()
