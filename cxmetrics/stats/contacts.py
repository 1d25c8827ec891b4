"""Contacts prepared for the statistics: each contact flagged when it repeats (the third by
the same customer within 30 days), as the dataset loads them for the behavioural moments of
truth."""

from __future__ import annotations

import polars as pl

#: A repeat contact: at least the REPEAT_CONTACTS-th by one customer within
#: REPEAT_WINDOW_DAYS days.
REPEAT_CONTACTS = 3
REPEAT_WINDOW_DAYS = 30


def flag_repeat_contacts(contacts: pl.DataFrame) -> pl.DataFrame:
    """Add ``repeat_contact``: this contact is at least the third by the same customer within
    30 days (``cust``, ``contacted_on``). Returns the frame sorted by date."""
    back = REPEAT_CONTACTS - 1
    by_customer = contacts.sort("cust", "contacted_on", "contact_id")
    flagged = by_customer.with_columns(
        (
            (pl.col("cust") == pl.col("cust").shift(back))
            & (
                (pl.col("contacted_on") - pl.col("contacted_on").shift(back)).dt.total_days()
                <= REPEAT_WINDOW_DAYS - 1
            )
        )
        .fill_null(False)
        .alias("repeat_contact")
    )
    return flagged.sort("contacted_on", "contact_id")
