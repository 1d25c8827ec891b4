"""Keep every visit under the dashboard's router (``dashboard.py``'s ``st.navigation``).

Because the project has a ``pages/`` folder, a fresh Streamlit server starts in its older
multipage mode: until ``dashboard.py`` has run once, a first visitor who opens a shared link
such as ``/voice`` gets ``pages/voice.py`` run on its own — without the page settings, the
page names and icons of ``dashboard.py``. A page that finds itself run that way switches
the server to the router and reruns, which opens the same page through ``dashboard.py``.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from cxapp import errors


def ensure() -> None:
    """Rerun under the router where needed; then the message of an error a button's
    callback met just before this run (:func:`errors.callback`)."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()
    errors.new_run()  # errors.warn_once: nothing said yet in this run
    errors.show_callback_error()
