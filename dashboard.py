"""Entry point: page config and the router. Each page in pages/ renders itself."""

import streamlit as st

st.set_page_config(page_title="CX dashboard", page_icon=":material/insights:", layout="wide")

router = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/journey.py", title="Journey", icon=":material/route:"),
        st.Page("pages/loyalty.py", title="Loyalty & value", icon=":material/favorite:"),
        st.Page("pages/accountability.py", title="Accountability", icon=":material/groups:"),
        st.Page("pages/voice.py", title="Voice of the customer", icon=":material/forum:"),
        st.Page("pages/data.py", title="Data", icon=":material/database:"),
        st.Page("pages/glossary.py", title="Glossary", icon=":material/menu_book:"),
    ]
)
router.run()
