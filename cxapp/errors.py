"""Unexpected errors: a short message with an error id on the page, the traceback in the log.

Every page runs inside :func:`guard` (``dashboard.py`` wraps the router with it), and every
button's callback inside :func:`callback` (Streamlit runs callbacks before the page, outside
its guard; the page then shows the message), so no user ever sees a traceback, server paths
or the exception's text. The id on the page is the one logged with the traceback
(``cxdashboard.errors`` on the server's stderr), so whoever runs the server can find the
details of what a user reports.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import threading

import streamlit as st

log = logging.getLogger("cxdashboard.errors")
#: Set (the tests do) to let errors through to Streamlit, so that a test sees the exception.
RAISE_ENV = "CX_RAISE_PAGE_ERRORS"


def new_error_id() -> str:
    """A short id to quote, unique enough to find one line in a server's log."""
    return secrets.token_hex(4)


@contextlib.contextmanager
def guard():
    """Run a page; an unexpected exception is logged with an id and shown as a message.
    Streamlit's own control flow (``st.stop``, ``st.rerun``) is not an ``Exception`` and
    passes through."""
    try:
        yield
    except Exception:
        if os.environ.get(RAISE_ENV):
            raise
        error_id = new_error_id()
        log.exception("error %s on a page", error_id)
        _message(error_id)


def _message(error_id: str) -> None:
    st.error(
        f"**Something went wrong on this page** (error id `{error_id}`). Try another "
        "period or filter; if it happens again, give this id to the dashboard's "
        "administrator, who will find the details in the server log.",
        icon=":material/error:",
    )


_CALLBACK_ERROR = "_callback_error_id"


def callback(fn):
    """A widget's callback run as :func:`guard` runs a page: an unexpected exception is
    logged with an id, and the page that follows shows it (:func:`show_callback_error`)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            if os.environ.get(RAISE_ENV):
                raise
            error_id = new_error_id()
            log.exception("error %s in a button's callback", error_id)
            st.session_state[_CALLBACK_ERROR] = error_id

    return run


def show_callback_error() -> None:
    """The message of an error a callback met in this run, once (every page calls this
    first, through ``router.ensure``)."""
    error_id = st.session_state.pop(_CALLBACK_ERROR, None)
    if error_id is not None:
        _message(error_id)


_failing: dict[str, str] = {}  # what each part of the server last failed with, as logged
_failing_lock = threading.Lock()


def log_once(part: str, message: str | None, logger: logging.Logger, level=logging.WARNING):
    """Log a failure of ``part`` (the data, a view's, the action plans, sign-in's set-up)
    for whoever runs the server, once while it lasts: every session's every run meets it,
    the log gets it when it starts or changes. ``None``: ``part`` works again, which is
    logged, so the next failure is logged too."""
    with _failing_lock:
        if message is None:
            if _failing.pop(part, None) is not None:
                logger.info("%s: read again", part)
            return
        if _failing.get(part) == message:
            return
        _failing[part] = message
    logger.log(level, "%s", message)


#: The warnings a page has shown in this run (:func:`warn_once`)
SAID_THIS_RUN = "_said_this_run"


def new_run() -> None:
    """A page's run starts (``router.ensure``): :func:`warn_once` has said nothing yet."""
    st.session_state[SAID_THIS_RUN] = set()


def warn_once(message: str, icon: str) -> None:
    """``st.warning`` of ``message``, unless this run of the page has shown it already:
    one failure (the action plans unread) met by several parts of a page is said once."""
    said = st.session_state.setdefault(SAID_THIS_RUN, set())
    if message not in said:
        said.add(message)
        st.warning(message, icon=icon)
