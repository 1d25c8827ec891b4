"""Free text shown to people: personal details masked before display; "a" or "an" before a
name; "1 row" and "2 rows".

Masking takes time in proportion to the text's length, whatever the text: a comment is
written by anybody, and a pattern that backtracks over a long run of letters would hold the
server for everyone (an 80,000-character comment took 20 s with one plain pattern)."""

from __future__ import annotations

import re

import polars as pl

# An e-mail address is found from its "@": the domain after it by a pattern anchored there,
# the name before it by one scan backwards. Each character is read a bounded number of times.
_DOMAIN = re.compile(r"@[\w-]+(?:\.[\w-]+)+")
_NAME = re.compile(r"[\w.+-]+")  # matched on the reversed text, from the "@" backwards
# Phone numbers: 9-15 digits with optional +, spaces, dots, dashes and brackets between. It
# starts only where no letter or digit precedes and repeats a bounded number of times, so
# each start costs a bounded amount of work.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")


def _mask_emails(text: str) -> str:
    if "@" not in text:
        return text
    backwards = text[::-1]
    n = len(text)
    out, done = [], 0  # done: the end of the text already copied (or masked)
    for found in _DOMAIN.finditer(text):
        at = found.start()
        name = _NAME.match(backwards, n - at, n - done)  # never reaches into a masked part
        if name is None:
            continue
        out += [text[done : at - (name.end() - name.start())], "[email]"]
        done = found.end()
    out.append(text[done:])
    return "".join(out)


def mask_pii(text: str | None) -> str | None:
    """Replace e-mail addresses and phone numbers with placeholders."""
    if text is None:
        return None
    return _PHONE.sub("[phone]", _mask_emails(text))


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


def with_article(name: str) -> str:
    """ "a" or "an" before a name, by its first letter: "an Airport & departure", "a Claim"."""
    return f"{'an' if name[:1].lower() in 'aeiou' and name[:1] else 'a'} {name}"


def counted(n: int, one: str, many: str | None = None) -> str:
    """``n`` with the noun in the number it takes: "1 row", "0 rows", "2,264 rows"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def tested_together(n: int, one: str, where: str) -> str:
    """What a family of tests held: "all 5 comparisons in view together", or "the 1
    comparison in view" (no "all", no "together", for one)."""
    if n == 1:
        return f"the 1 {one} {where}"
    return f"all {counted(n, one)} {where} together"


def day_text(day) -> str:
    """A date as every page, briefing and message writes it: "3 Jul 2026"."""
    return f"{day.day} {day:%b %Y}"


def bucket_text(first_day, unit: str) -> str:
    """A trend's bucket by its first day, as a reader names it: "the week of 1 Jun 2015",
    "June 2015", "Q2 2015"."""
    if unit == "month":
        return f"{first_day:%B %Y}"
    if unit == "quarter":
        return f"Q{(first_day.month - 1) // 3 + 1} {first_day.year}"
    return f"the {unit} of {day_text(first_day)}"


def period_text(start, end) -> str:
    """A period as every page writes it: "3 Jul 2026 – 30 Sep 2026"."""
    return f"{day_text(start)} – {day_text(end)}"


def gap_text(a: float, b: float, decimals: int = 0) -> str:
    """The size of ``a - b`` with ``decimals``, as the tiles, charts and tables beside a
    sentence write the same change (the unrounded difference; "fell 16.2 points to 56.2%,
    was 72.5%" reads one point off the two rounded numbers, and the tile says 16.2 too). A
    gap that rounds to nothing (+30.4 against +29.6) gets one more decimal ("0.8"), never
    "0"."""
    gap = abs(a - b)
    if a != b and float(f"{gap:.{decimals}f}") == 0:
        return f"{gap:.{decimals + 1}f}"
    return f"{gap:.{decimals}f}"


def part_decimals(a: float, b: float, decimals: int = 0) -> int:
    """The decimals to write ``a`` and ``b`` with beside their gap (:func:`gap_text`), so
    that a reader who subtracts them finds it: ``decimals`` where the rounded numbers
    already give it, else one more ("closed 94% … confirmed 54%: a gap of 41 points" read
    as an error; "94.4% … 53.6%" subtracts to 40.8, 41)."""
    shown = float(f"{a:.{decimals}f}") - float(f"{b:.{decimals}f}")
    return decimals if f"{abs(shown):.{decimals}f}" == gap_text(a, b, decimals) else decimals + 1


#: A value quoted in a message longer than this is cut (a report or the file has it whole)
SHOWN_VALUE_CHARS = 80


def shortened(value: str | None, limit: int = SHOWN_VALUE_CHARS) -> str | None:
    """``value`` as a message quotes it: whole when short, else its start and its length
    ("wwww… (6,000 characters)")."""
    if value is None or len(value) <= limit:
        return value
    return f"{value[: limit - 1]}… ({len(value):,} characters)"
