"""No user ever sees a traceback: an error id on the page, the traceback in the server log."""

from __future__ import annotations

import logging
import re

from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxapp import errors
from cxmetrics.views import overview


def test_an_unexpected_error_shows_an_id_and_logs_the_traceback(app_env, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /srv/cx/internal.py")

    monkeypatch.setattr(overview, "compute", broken)
    monkeypatch.delenv(errors.RAISE_ENV)  # as on a server: the users' message
    logger = logging.getLogger("cxdashboard.errors")
    logger.addHandler(caplog.handler)  # the dashboard's log does not propagate to the root
    try:
        with caplog.at_level(logging.ERROR, logger="cxdashboard.errors"):
            at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120).run()
    finally:
        logger.removeHandler(caplog.handler)
    assert not at.exception  # nothing reaches Streamlit's own exception display
    shown = " ".join(e.value for e in at.error)
    found = re.search(r"error id `([0-9a-f]{8})`", shown)
    assert found, shown
    assert "secret detail" not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    records = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info and records[0].exc_info[0] is RuntimeError
    assert "secret detail" in caplog.text and "Traceback" in caplog.text


def test_the_server_never_sends_error_details():
    import tomllib

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] is False
