"""Entry point: page config and the router. Each page in pages/ renders itself."""

import streamlit as st

from cxapp import auth, errors

st.set_page_config(page_title="CX dashboard", page_icon=":material/insights:", layout="wide")

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
router = st.navigation(pages, position="sidebar" if user is not None else "hidden")
with errors.guard():  # no traceback for users: an error id, the details in the log
    router.run()
