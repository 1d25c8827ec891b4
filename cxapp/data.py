"""Cached loaders: one engine per URL and one loaded dataset per data version, per server.

Every Streamlit session shares them (``st.cache_resource``), so data is read once per
server, not once per user. A failure is shown as a clear message and stops the page.
"""

from __future__ import annotations

import streamlit as st

from cxmetrics import dataset, store
from cxmetrics.dataset import Dataset

VERSION_TTL_SECONDS = 60


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return store.make_engine(url)


@st.cache_data(ttl=VERSION_TTL_SECONDS, show_spinner=False)
def _version(url: str) -> tuple:
    return store.data_version(_engine(url))


@st.cache_resource(show_spinner=False, max_entries=2)
def _dataset(url: str, version: tuple) -> Dataset:
    bar = st.progress(0.0, text="Loading the data…")
    try:
        return dataset.load(_engine(url), progress=lambda f, m: bar.progress(f, text=m))
    finally:
        bar.empty()


def _create_sample(url: str) -> None:
    bar = st.progress(0.0, text="Creating the sample database (first run only)…")
    try:
        store.ensure_sample_database(url, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    finally:
        bar.empty()


def get_dataset() -> Dataset:
    """The dataset behind ``CX_DATABASE_URL``; on failure, say why and stop the page."""
    url = store.database_url()
    try:
        _create_sample(url)
        store.check(_engine(url))
        return _dataset(url, _version(url))
    except store.StoreError as exc:
        st.error(f"**The dashboard cannot load its data.** {exc}", icon=":material/error:")
        st.caption(
            "Set `CX_DATABASE_URL` to a SQLAlchemy URL of a CX database, or unset it to use "
            "the embedded sample data."
        )
        st.stop()
    except Exception as exc:  # a driver or file error we did not foresee: no traceback
        st.error(
            f"**The dashboard cannot load its data** from {store.safe_url(url)}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            icon=":material/error:",
        )
        st.stop()
