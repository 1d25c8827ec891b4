"""Free text shown to people: personal details masked before display."""

from __future__ import annotations

import re

import polars as pl

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 9-15 digits with optional +, spaces, dots, dashes and brackets between.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")


def mask_pii(text: str | None) -> str | None:
    """Replace e-mail addresses and phone numbers with placeholders."""
    if text is None:
        return None
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def mask_pii_column(texts: pl.Series) -> pl.Series:
    """``mask_pii`` on every value of a column, each distinct text masked once."""
    distinct = texts.unique().drop_nulls()
    masked = pl.DataFrame(
        {"raw": distinct, "masked": [mask_pii(t) for t in distinct.to_list()]},
        schema={"raw": pl.String, "masked": pl.String},
    )
    return (
        texts.rename("raw")
        .to_frame()
        .join(masked, on="raw", how="left", maintain_order="left")["masked"]
        .rename(texts.name)
    )
