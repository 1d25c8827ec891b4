"""Limits on what an import accepts, so one file cannot hold the server: the length of free
text, and (see :func:`check_frame`) the rows and columns a file may bring.

A value beyond a limit is reported with its row and column, never silently cut."""

from __future__ import annotations

# Free-text columns the contract stores as unbounded text, with the longest value an import
# accepts. A comment of 5,000 characters is about two pages; longer ones are refused.
TEXT = {
    ("responses", "comment"): 5_000,
    ("stages", "description"): 2_000,
    ("touchpoints", "description"): 2_000,
}


def text_length(table: str, column: str, declared: int | None) -> int | None:
    """The longest text an import accepts in ``table.column``: the column's declared length,
    else the limit above (None: no limit)."""
    return declared or TEXT.get((table, column))
