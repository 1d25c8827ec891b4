"""CSV files the fast reader refuses, read again record by record to say where and why.

Polars stops at the first malformed record with a message that names neither its line nor
what to fix ("found more fields than defined in 'Schema'"). Python's ``csv`` module reads
the same text one record at a time, so:

- a record with more fields than the header is kept apart, named by its line, and becomes
  a problem of that row (the rest of the file can still be imported with accept-valid),
  its extra fields kept whole for the import's report;
- a quote that opens and never closes stops the reading, naming the line it opens on.

:func:`separator` tells which separator a text file uses, for every CSV reader of the
project (data files and journey folders).
"""

from __future__ import annotations

import csv
import io

import polars as pl

#: The importer's column for why a record does not fit the header (null when it fits).
SHAPE = "__shape"
#: The column of a record's fields beyond the header's, whole, as CSV text (null when it
#: fits); present only when a record has more fields than the header
EXTRA = "__extra"


class CsvError(ValueError):
    """The text cannot be split into records; the message names the line and the fix."""


class TooLarge(ValueError):
    """The text is too large to read record by record."""


#: The largest text read record by record (a Python list per record takes many times the
#: text's size): a larger file the fast reader refused is refused with its message
MAX_CHARS = 50_000_000


#: Separators a text file may use, in the order they are tried on its header
SEPARATORS = (",", ";", "\t", "|")


def separator(text: str, suffix: str = ".csv") -> str:
    """A TSV's tab; else the one of :data:`SEPARATORS` that splits the header line into
    the most fields, read as CSV (quotes kept whole: "Score, 0-10";Date is two fields on
    ";"), the first of them on a tie; Excel writes ";" where the decimal mark is a comma."""
    if suffix == ".tsv":
        return "\t"
    header = text.lstrip("\ufeff").split("\n", 1)[0]

    def fields(candidate: str) -> int:
        try:
            return len(next(csv.reader([header], delimiter=candidate), []))
        except csv.Error:
            return 0

    return max(SEPARATORS, key=lambda s: (fields(s), -SEPARATORS.index(s)))


def read(text: str, separator: str = ",") -> tuple[pl.DataFrame, list[str | None]]:
    """The records of ``text`` as text columns named by its header (blank cells null), in
    file order, and for each record why it does not fit the header (naming its line) or
    None. A record with more fields than the header holds its first fields, and the rest in
    :data:`EXTRA`; one with fewer, its fields with the rest blank; neither is to be
    imported. A byte-order mark before the header is left out, as the fast reader does."""
    if len(text) > MAX_CHARS:
        raise TooLarge(f"{len(text):,} characters, more than {MAX_CHARS:,}")
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # one field may be all
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator, strict=True
    )
    records, shapes, extras = [], [], []
    header: list[str] | None = None
    start = 1  # the line the next record begins on
    try:
        for record in reader:
            if header is None:
                header = record
                named = _named(header)
                if EXTRA in header:
                    raise CsvError(
                        f"line 1: the header has a column named {EXTRA}, which is reserved"
                    )
            else:
                width = len(header)
                shapes.append(_shape(record, header, named, start))
                extras.append(_joined(record[width:], separator) if record[width:] else None)
                cells = (record + [""] * width)[:width]
                records.append([c if c != "" else None for c in cells])
            start = reader.line_num + 1
    except csv.Error as exc:
        if "end of data" in str(exc):
            raise CsvError(
                f'line {start}: a quoted value opens (") and never closes; close the quote '
                "or remove the stray quote on that line"
            ) from exc
        raise CsvError(f"line {reader.line_num}: {exc}") from exc
    if header is None:
        return pl.DataFrame(), []
    frame = pl.DataFrame(records, schema=[(h, pl.String) for h in _unique(header)], orient="row")
    if any(extras):
        frame = frame.with_columns(pl.Series(EXTRA, extras, dtype=pl.String))
    return frame, shapes


def _unique(header: list[str]) -> list[str]:
    """The header's names, a name's second and later uses named as the fast reader names
    them ("nps_duplicated_0"), so that the importer tells a column named twice the same way
    whichever reader read the file."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        if name in seen:
            out.append(f"{name}_duplicated_{seen[name]}")
            seen[name] += 1
        else:
            out.append(name)
            seen[name] = 0
    return out


def _joined(fields: list[str], separator: str) -> str:
    """Fields as one CSV line's text, quoted where they need it."""
    out = io.StringIO()
    csv.writer(out, delimiter=separator, lineterminator="").writerow(fields)
    return out.getvalue()


def _named(header: list[str]) -> int:
    """The fields a record needs: the header's, but for its trailing unnamed ones (a
    separator at its end). A record with fewer, a blank line aside, is short: a separator
    lost, another separator, a line cut short."""
    named = len(header)
    while named and not header[named - 1].strip():
        named -= 1
    return named


def _shape(record: list[str], header: list[str], named: int, line: int) -> str | None:
    """Why a record does not fit the header, naming its line; None when it does (and for a
    blank line, which is no record). ``named``: :func:`_named` of the header."""
    width = len(header)
    if 0 < len(record) < named:
        missing = ", ".join(h for h in header[len(record) :] if h.strip())
        return (
            f"line {line} has {len(record)} field{'s' if len(record) > 1 else ''}, the "
            f"header {width} (no {missing[:80]}); check the separators on that line, or "
            "that it was not cut short"
        )
    if len(record) <= width:
        return None
    extra = ", ".join(repr(v) for v in record[width:])
    return (
        f"line {line} has {len(record)} fields, the header {width} (extra: {extra[:80]}); "
        "put quotes around a value that holds the separator, or remove the extra fields"
    )


def has_short_records(text: str, separator: str = ",") -> bool:
    """Whether a record of ``text`` has fewer fields than its header (a blank line aside):
    the fast reader leaves their last cells blank without a word. One pass of the C
    reader, about 1.4 µs a record."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # one field may be all
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator)
    try:
        named = _named(next(reader))
        return any(0 < len(record) < named for record in reader)
    except StopIteration:
        return False
    except csv.Error:  # the fast reader took what this one cannot: let :func:`read` say why
        return True
