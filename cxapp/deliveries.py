"""What the alerts sent to whom, for the Data page (the record covers every department, so
not for a department's manager)."""

from __future__ import annotations

import polars as pl

from cxapp import auth, data
from cxmetrics.reports import alert_log


def history(limit: int = 1000) -> pl.DataFrame:
    """The newest deliveries first: recipient, channel, status, finding, attempts, error."""
    if auth.current_user().scope is not None:
        raise PermissionError("the record of alerts covers every department")
    return alert_log.history(data.engine(), limit)
