"""Import a CSV, TSV, XLSX or Parquet file into one table of the data contract.

    read -> map columns (``mapping.py``) -> validate row by row -> upsert by id

Rows that fail the mapping's ``[where]`` conditions are left out before mapping and counted.
Validation names the row, column, value and reason of every problem: types, ranges,
allowed values, required fields, text too long, unparseable dates, unknown references
(stage, touchpoint, customer, department, response), duplicate ids in the file and broken
encodings. By default an import is all or nothing: any problem and nothing is written.
``accept_valid`` writes the valid rows and reports the rest. Ids taken from numbers in
scientific notation or with decimals are warned about, naming the column. Rows are upserted
by their id in one transaction, so importing the same file twice changes nothing. Writes are
bulk: ADBC into a staging table on SQLite, COPY on Postgres, then one ``INSERT … ON CONFLICT``.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import csv_rows, limits, migrate, schema, store
from cxmetrics.contract.journey import TABLES as JOURNEY_TABLES
from cxmetrics.contract.mapping import (
    OTHERS,
    Condition,
    Mapping,
    filled,
    look_alike,
    missing_required,
    same_name,
    with_same_names,
)
from cxmetrics.contract.text import counted

Progress = Callable[[float, str], None]
ROW = "__row"  # the source row number: the header is row 1, the first data row row 2
FORMATS = (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".parquet")
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}
PROBLEM_SCHEMA = {"row": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}
ORDINAL = r"(?i)\b(\d{1,2})(?:st|nd|rd|th)\b"  # "19th March" -> "19 March", before strptime
SCIENTIFIC = r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$"  # 5.70306E+17
DECIMAL = r"^[+-]?\d*\.\d+$"  # 12.5, 12.0
#: An ISO date, or date and time (as typed date cells of XLSX and Parquet read): always a date
ISO_STAMP = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
TAG = re.compile(r"<[^>]{1,200}>")  # an HTML tag inside scraped text
BLANK = "__blank_"  # + an [ids] column: the names of its source columns that are blank


class ImportError_(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong format, missing columns)."""


def _quiet(_f: float, _m: str) -> None:
    return None


# --- reading ---------------------------------------------------------------------------


#: What a file is, by its first bytes, when it is not text
_NOT_TEXT = {
    b"PK\x03\x04": "an Excel workbook (XLSX) or another zip file, not text: save it as CSV "
    "from Excel, or import it as a workbook under its own name (.xlsx)",
    b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (XLS), not text: save it as CSV or XLSX "
    "from Excel",
    b"PAR1": "a Parquet file, not text: import it under its own name (.parquet)",
}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _text_encoding(raw: bytes, encoding: str, name: str) -> str:
    """The encoding a text file is read in: the mapping's, unless the file's byte-order
    mark says UTF-16 (Excel's "Unicode Text"); a file that is not text at all, or UTF-16
    without a mark, is refused with what it is and what to do."""
    for magic, what in _NOT_TEXT.items():
        if raw.startswith(magic):
            raise ImportError_(f"{name} is {what}")
    if raw.startswith(_UTF16_BOMS):
        return "utf-16"
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    if not wide and b"\x00" in raw[:4096]:
        raise ImportError_(
            f"{name} holds NUL bytes, so it is not {encoding} text: UTF-16 without a "
            "byte-order mark, most likely. Name its encoding in the mapping: encoding = "
            '"utf-16-le" (or "utf-16-be")'
        )
    return encoding


def read_source(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """Every cell as text, with the source row number in ``__row``. Cells of CSV lines that
    are not valid ``encoding`` hold U+FFFD, which validation reports."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ImportError_(
            f"{path.name}: unknown file type {suffix or '(none)'}; use CSV, TSV, XLSX or Parquet"
        )
    try:
        limits.check_source(path)  # before reading: a small file can unpack to gigabytes
    except limits.TooLarge as exc:
        raise ImportError_(f"{path.name} is too large to import: {exc}") from exc
    except OSError:
        pass  # reading it below names the problem
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            raw = path.read_bytes()
            text = raw.decode(_text_encoding(raw, encoding, path.name), errors="replace")
            if not text.replace("\ufeff", "").strip():  # blank: spaces, tabs, a BOM
                raise _empty_file(path.name)
            frame, shapes = _read_csv(text, csv_rows.separator(text, suffix), path.name)
        elif suffix in (".xlsx", ".xls"):
            shapes = None
            frame = pl.read_excel(path, infer_schema_length=0)
        else:
            shapes = None
            frame = pl.read_parquet(path)
    except OSError as exc:
        raise ImportError_(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ImportError_:
        raise
    except Exception as exc:  # the parser's own message names the line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportError_(
            f"{path.name} cannot be read as {suffix.lstrip('.').upper()}: {first}"
        ) from exc
    if frame.width == 0:  # no header at all: say so, not "no column X"
        raise _empty_file(path.name)
    try:
        limits.check_frame(frame.height, frame.width)
    except limits.TooLarge as exc:
        raise ImportError_(f"{path.name} is too large to import: {exc}") from exc
    # the record-by-record reader adds EXTRA itself, and refuses a header that has it
    for reserved in (ROW, csv_rows.SHAPE, *([] if shapes else [csv_rows.EXTRA])):
        if reserved in frame.columns:
            raise ImportError_(f"{path.name} has a column named {reserved}, which is reserved")
    if shapes and any(shapes):
        frame = frame.with_columns(pl.Series(csv_rows.SHAPE, shapes, dtype=pl.String))
    # typed cells as their ISO text ("2026-01-10", "2026-01-10 13:45:00.123456", to the
    # microsecond, as before: an id built from a time stays the same), read as dates by
    # ISO_STAMP whatever the mapping's date formats
    frame = frame.with_columns(pl.all().cast(pl.String))
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    # a blank line (trailing ones, often) is no row: not a row of empty, rejected cells; a
    # ragged line whose first fields are empty stays, to be reported
    cells = [c for c in frame.columns if c not in (ROW, csv_rows.SHAPE, csv_rows.EXTRA)]
    if cells:
        blank = pl.all_horizontal(pl.col(cells).is_null())
        if csv_rows.SHAPE in frame.columns:
            blank = blank & pl.col(csv_rows.SHAPE).is_null()
        frame = frame.filter(~blank)
    if frame.height == 0:  # not an import of nothing, recorded as the table's last one
        raise ImportError_(
            f"{path.name} has a header but no rows: nothing to import (an export that "
            "found nothing, or one cut short?)"
        )
    return frame


def _empty_file(name: str) -> ImportError_:
    return ImportError_(f"{name} is empty: it has no header row and no rows")


def _read_csv(text: str, separator: str, file_name: str) -> tuple[pl.DataFrame, list | None]:
    """The fast reader; when it refuses the text, or may have filled a short record's last
    cells with blanks without a word, the record-by-record one, which names the line of a
    malformed record and keeps the well-formed ones (see ``csv_rows.read``)."""
    try:
        frame = pl.read_csv(text.encode("utf-8"), separator=separator, infer_schema_length=0)
    except pl.exceptions.PolarsError as exc:
        refused = exc
    else:
        if not _may_be_short(frame, text, separator):
            return frame, None
        refused = None
    try:
        return csv_rows.read(text, separator)
    except csv_rows.CsvError as bad:
        raise ImportError_(f"{file_name} cannot be read as CSV: {bad}") from bad
    except Exception:
        if refused is None:
            raise
        raise refused from None


def _may_be_short(frame: pl.DataFrame, text: str, separator: str) -> bool:
    """Whether a record the fast reader read had fewer fields than the header: only where
    the last column has a blank (a short record has no last cell), then by one pass of the
    C reader; not above the size the record-by-record reader takes."""
    if frame.width < 2 or not frame[frame.columns[-1]].null_count():
        return False
    return len(text) <= csv_rows.MAX_CHARS and csv_rows.has_short_records(text, separator)


def file_columns(source: pl.DataFrame) -> list[str]:
    """The file's own columns of a frame from :func:`read_source`."""
    return [c for c in source.columns if c not in (ROW, csv_rows.SHAPE, csv_rows.EXTRA)]


def shape_problems(source: pl.DataFrame) -> pl.DataFrame:
    """The rows whose record did not fit the header, as problems of the report."""
    if csv_rows.SHAPE not in source.columns:
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    return source.filter(pl.col(csv_rows.SHAPE).is_not_null()).select(
        pl.col(ROW).alias("row"),
        pl.lit("(the whole row)").alias("column"),
        # the extra fields whole (the reason cuts them at 80 characters); none when short
        (
            pl.col(csv_rows.EXTRA).fill_null("")
            if csv_rows.EXTRA in source.columns
            else pl.lit("", dtype=pl.String)
        ).alias("value"),
        pl.col(csv_rows.SHAPE).alias("reason"),
    )


# --- mapping ---------------------------------------------------------------------------


#: Bits of a hashed id: customer ids were 32-bit integers and the others 64-bit in earlier
#: versions of the contract; the same widths keep re-imports of old files on the same ids.
HASHED_ID_BITS = {"customer_id": 31}


def _stable_id(values: list[str | None], bits: int) -> list[int | None]:
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        digest = hashlib.blake2b(v.encode("utf-8"), digest_size=8).digest()
        out.append(int.from_bytes(digest, "big") & ((1 << bits) - 1))
    return out


def check_upgraded(engine: sa.Engine, table: str, columns: list[str]) -> None:
    """The database is of the current contract as far as this import needs, or an error
    names what is older and the command that upgrades it: ids still integers or customer
    facts still required (any import there goes wrong: Postgres cannot add the newer
    tables, SQLite stores a numeric id as a number), or a column of ``columns`` that
    ``table`` lacks (added to the contract since). A new column the import does not fill
    can wait. Only the databases files are imported into are looked at."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return
    older = [
        c
        for c in migrate.pending(engine)
        if c.what != "new column" or (c.table == table and c.column in columns)
    ]
    if older:
        shown = "; ".join(str(c) for c in older[:3])
        more = f"; and {counted(len(older) - 3, 'more change')}" if len(older) > 3 else ""
        raise ImportError_(
            f"the database was made by an earlier version of the dashboard ({shown}{more}). "
            "Upgrade it (every row is kept) with "
            f"`python3 -m cxmetrics init-db --url {store.safe_url(str(engine.url))}`, then "
            "import again"
        )


def check_columns(source: pl.DataFrame, m: Mapping, file_name: str = "the file") -> None:
    """Every column the mapping names is in the file, or an error names the missing ones."""
    missing = sorted(m.source_columns() - set(source.columns))
    if missing:
        raise ImportError_(
            f"{file_name} has no column {', '.join(repr(c) for c in missing)} named in the "
            f"mapping (its columns: {', '.join(file_columns(source))})"
        )


def unread_warnings(source: pl.DataFrame, given: Mapping, m: Mapping) -> list[str]:
    """What a file's columns read by their names leave out, and why: a column named like no
    column of the table (a misspelt "nps_score" was not read, without a word), one named like
    a column the mapping gives otherwise, or like one two columns are named like; and, of
    responses, every score. None where the mapping ``given`` names the columns it reads
    (``[columns]``), which leaves the others out on purpose; ``m``: the mapping as read
    (:func:`with_same_names`)."""
    if given.columns:
        return []
    read = m.source_columns() | (set(m.unpivot.columns) if m.unpivot else set())
    unread = [c for c in file_columns(source) if c not in read]
    contract = [c.name for c in schema.metadata.tables[m.table].columns]
    out, unknown, otherwise, ambiguous = [], [], {}, {}
    for column in unread:
        name = next((n for n in contract if same_name(column, n)), None)
        if name is None:
            unknown.append(column)
        elif name in filled(m):
            otherwise.setdefault(name, []).append(column)
        else:
            ambiguous.setdefault(name, []).append(column)
    if unknown:
        out.append(
            f"not read: the file's column{'s' if len(unknown) > 1 else ''} "
            f"{_listed(unknown)}, named like no column of {m.table} ({', '.join(contract)}); "
            "rename a column in the file to read it, or name every column to read in a "
            "mapping's [columns] (--mapping FILE on the command line, the column choices on "
            "the Data page)"
        )
    for name, columns in otherwise.items():
        how = f"from {m.columns[name]!r}" if name in m.columns else "as the mapping gives it"
        out.append(f"not read: {_listed(columns)}: {m.table}' {name} is read {how}")
    for name, columns in ambiguous.items():
        out.append(
            f"not read: {_listed(columns)}, each named like {name}: which of them holds it "
            f"cannot be told; name one in a mapping's [columns]"
        )
    scales = schema.RANGES.get(m.table, {})  # a table of scores has their scales
    scores = [c for c in ("nps", "csat", "ces") if c in scales]
    if scores and not filled(m) & set(scores):
        ranges = ", ".join(f"{c} {scales[c][0]:g}-{scales[c][1]:g}" for c in scores)
        out.append(f"these responses hold no score: no column is read as {ranges}")
    return out


def _listed(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns)


def check_required(source: pl.DataFrame, m: Mapping, file_name: str = "the file") -> None:
    """Every column the table requires has a value, or an error names all that lack one,
    the file's own columns and how to map them."""
    missing = missing_required(m)
    if not missing:
        return
    columns = file_columns(source)
    alike = [(c, look_alike(c, columns)) for c in missing]
    hint = "; ".join(f"{c} = {a!r}" for c, a in alike if a)
    example = f" ({hint})" if hint else f' (e.g. {missing[0]} = "Your column")'
    raise ImportError_(
        f"{file_name} gives no value for {', '.join(missing)}, which {m.table} requires "
        f"(its columns: {', '.join(columns)}); name the file's column for each in a "
        f"mapping's [columns]{example}, or give a constant (the mapping: --mapping FILE on "
        "the command line, the column choices on the Data page)"
    )


#: How the CSV reader names a header's second column of one name ("nps_duplicated_0")
_TWICE = re.compile(r"(.+)_duplicated_\d+")


def check_twice_named(source: pl.DataFrame, m: Mapping, file_name: str) -> None:
    """Refuse a file whose header names a column the mapping reads more than once: which
    of them holds the answers cannot be told (the first was read, without a word)."""
    have = set(source.columns)
    twice = {
        found[1] for c in source.columns if (found := _TWICE.fullmatch(c)) and found[1] in have
    }
    read = sorted(twice & m.source_columns())
    if read:
        names = ", ".join(repr(c) for c in read)
        raise ImportError_(
            f"{file_name} has more than one column named {names} in its header, and the "
            "import reads it: rename the columns so that each name is used once"
        )


def _passes(c: Condition, m: Mapping) -> pl.Expr:
    cell = pl.col(c.column).str.strip_chars().fill_null("")
    if c.dated:  # a cell that is not a date (blank too) is null here, and fails
        day = _date(cell, _formats_of(c.column, m))
        keep = pl.lit(True)
        if c.since is not None:
            keep &= day >= c.since
        if c.before is not None:
            keep &= day < c.before
        return keep.fill_null(False)
    if c.blank is not None:
        return (cell == "") if c.blank else (cell != "")
    hit = cell.is_in(list(c.values))
    return ~hit if c.negate else hit


def filter_rows(source: pl.DataFrame, m: Mapping) -> pl.DataFrame:
    """The source rows that pass every ``[where]`` condition of the mapping."""
    if not m.where:
        return source
    cond = pl.lit(True)
    for c in m.where:
        cond &= _passes(c, m)
    return source.filter(cond)


def id_warnings(source: pl.DataFrame, m: Mapping) -> list[str]:
    """Warnings, naming the file's column, about ids read from numbers in scientific
    notation or with decimals: digits are lost there, so different ids collide."""
    used: dict[str, list[str]] = {}  # source column -> contract id columns it feeds
    for contract, src in m.columns.items():
        if contract.endswith("_id"):
            used.setdefault(src, []).append(contract)
    for contract, sources in m.ids.items():
        for src in sources:
            if src in source.columns:
                used.setdefault(src, []).append(contract)
    out = []
    for src, contracts in used.items():
        if src not in source.columns:
            continue
        cell = pl.col(src).str.strip_chars()
        for pattern, what, why in (
            (
                SCIENTIFIC,
                "numbers in scientific notation",
                "digits were lost when the file was saved, so different ids collide",
            ),
            (
                DECIMAL,
                "numbers with decimals",
                "an id is a code, not a quantity; rounded or float ids collide",
            ),
        ):
            hits = source.filter(cell.str.contains(pattern).fill_null(False))
            if hits.height:
                first = hits.row(0, named=True)
                out.append(
                    f"column {src!r} (→ {', '.join(contracts)}) holds {what} as ids "
                    f"({counted(hits.height, 'row')}, e.g. {first[src].strip()!r} "
                    f"in row {first[ROW]}): "
                    f"{why}. Export the column as text, or build the id from other columns "
                    "with [ids]."
                )
    return out


#: A score column whose answers all sit on the two lowest values of its scale is warned
#: about from this many answers on: a yes/no column (1/0) read as 0-10 makes every customer
#: a detractor
LOWEST_TWO_FROM = 20


def scale_warnings(valid: pl.DataFrame, table: str, m: Mapping) -> list[str]:
    """Warnings, naming the file's column, about a score whose answers all sit on the two
    lowest values of its scale (only 0 and 1 of NPS' 0-10): a yes/no answer read as the
    worst scores. It is imported as it is; the warning says how to map it."""
    out = []
    for column, (low, high) in schema.RANGES.get(table, {}).items():
        if column not in valid.columns or low is None or high is None or high - low < 4:
            continue
        answers = valid[column].drop_nulls()
        if answers.len() < LOWEST_TWO_FROM or not answers.is_between(low, low + 1).all():
            continue
        source = m.columns.get(column, column)
        held = " and ".join(str(v) for v in sorted(answers.unique().to_list()))
        out.append(
            f"column {source!r} (→ {column}) holds only {held} in its "
            f"{answers.len():,} answers, of the two lowest of {column}'s {low}-{high} scale: "
            "every answer reads as one of the worst. If it is a yes/no answer, map its "
            f"values with [values.{column}] (for NPS, 1 = 10 and 0 = 0, as the README's "
            "worked example does), or give its scale with [rescale."
            f"{column}]."
        )
    return out


#: Dates that stand for a missing one: the start of Unix time (a 0 read as a date) and
#: spreadsheets' day 0 and day 1
PLACEHOLDER_DATES = (dt.date(1970, 1, 1), dt.date(1899, 12, 30), dt.date(1900, 1, 1))


def placeholder_date_warnings(valid: pl.DataFrame, table: str, m: Mapping) -> list[str]:
    """Warnings, naming the file's column, about dates that are placeholders for a missing
    one (:data:`PLACEHOLDER_DATES`). Only a customer's dates may be that early (one may have
    joined in 1985; other dates before 1990 are refused): they are imported as they are."""
    if table not in schema.NO_EARLIEST:
        return []
    out = []
    for column in schema.EVENT_DATES.get(table, ()):
        if column not in valid.columns:
            continue
        dates = valid[column].drop_nulls()
        found = [d for d in PLACEHOLDER_DATES if (dates == d).any()]
        if not found:
            continue
        held = int(dates.is_in(found).sum())
        where = (
            f"column {m.columns[column]!r} (→ {column})"
            if column in m.columns
            else f"{column} (the mapping's constant)"
        )
        named = " and ".join(d.isoformat() for d in found)
        out.append(
            f"{where} gives {named} in {counted(held, 'row')}: a date that "
            "usually stands for a missing one (1970-01-01 is a 0 read as a date). They are "
            "imported as they are; give those rows their real dates."
        )
    return out


def ambiguous_date_warnings(mapped: pl.DataFrame, m: Mapping) -> list[str]:
    """Warnings, naming the file's column, about dates that two of the mapping's formats
    read as different days (03/04/2025 is 3 April by ``%d/%m/%Y`` and 4 March by
    ``%m/%d/%Y``): the first format that reads a cell wins, so they are imported as that
    one reads them. Quiet when other rows only the first format reads show that the file
    writes it; rows only the other reads, or none either way, leave those days a guess."""
    out = []
    for column, formats in m.dates.items():
        if column not in mapped.columns or len(formats) < 2:
            continue
        text = pl.col(column)
        read = mapped.select(
            pl.col(ROW), text, *(_date(text, (f,)).alias(f"__{i}") for i, f in enumerate(formats))
        )
        read_by = [pl.col(f"__{i}") for i in range(len(formats))]
        # per format, the file's rows (an unpivoted one makes several) it alone reads
        only = [
            read.filter(
                pl.all_horizontal(
                    read_by[x].is_not_null(),
                    *(c.is_null() for k, c in enumerate(read_by) if k != x),
                )
            )[ROW].n_unique()
            for x in range(len(formats))
        ]
        for i, first in enumerate(formats):
            # the rows ``first`` reads: it wins where no format before it reads them
            won = pl.all_horizontal(read_by[i].is_not_null(), *(c.is_null() for c in read_by[:i]))
            for j in range(i + 1, len(formats)):
                other = read_by[j]
                differ = read.filter(won & other.is_not_null() & (read_by[i] != other))
                if not differ.height:
                    continue
                only_other, only_first = only[j], only[i]
                if only_first and not only_other:
                    continue  # the file writes ``first``: its other rows prove it
                example = differ.row(0, named=True)
                source = m.columns.get(column, column)
                if only_other and only_first:
                    why = (
                        f" {counted(only_first, 'other row')} can only be {first} and "
                        f"{counted(only_other, 'row')} only {formats[j]}: the file holds dates "
                        f"written both ways, so those read as {first} may be wrong."
                    )
                elif only_other:
                    why = (
                        f" {counted(only_other, 'other row')} can only be {formats[j]} and none "
                        f"only {first}: the file seems to write {formats[j]}; put it first "
                        "in [dates]."
                    )
                else:
                    why = (
                        " No row tells which the file writes: check one against its source "
                        "and put that format first in [dates]."
                    )
                out.append(
                    f"column {source!r} (→ {column}): {counted(differ[ROW].n_unique(), 'row')} "
                    f"read as {first} would be another day as {formats[j]} (e.g. "
                    f"{example[column].strip()!r} in row {example[ROW]}, taken as "
                    f"{example[f'__{i}'].isoformat()}, not {example[f'__{j}'].isoformat()})." + why
                )
    return out


def apply_mapping(source: pl.DataFrame, m: Mapping, file_name: str = "the file") -> pl.DataFrame:
    """The contract's columns (as text) from the source's, plus ``__row``."""
    check_columns(source, m, file_name)
    frame = source
    key_name = None
    if m.unpivot:
        u = m.unpivot
        keep = [c for c in frame.columns if c not in u.columns]
        frame = frame.unpivot(
            on=list(u.columns), index=keep, variable_name="__key", value_name="__value"
        ).filter(
            pl.col("__value").is_not_null()
            & ~pl.col("__value").str.strip_chars().is_in(["", *u.skip])
        )
        frame = frame.with_columns(pl.col("__key").replace_strict(u.columns)).sort(ROW, "__key")
        key_name = u.key
    exprs = [pl.col(ROW)]
    for contract, src in m.columns.items():
        exprs.append(pl.col(src).alias(contract))
    if m.unpivot:
        exprs += [pl.col("__key").alias(m.unpivot.key), pl.col("__value").alias(m.unpivot.value)]
    for contract, value in m.constants.items():
        exprs.append(pl.lit(None if value is None else str(value), dtype=pl.String).alias(contract))
    out = frame.select(exprs)
    for contract, sources in m.ids.items():
        parts = [pl.col("__key") if s == key_name else pl.col(s) for s in sources]
        joined = frame.select(pl.concat_str(parts, separator="\x1f").alias("k"))["k"].to_list()
        bits = HASHED_ID_BITS.get(contract, 63)
        blank = [  # which source columns left the id unbuilt, for the report
            pl.when(pl.col(s).is_null()).then(pl.lit(repr(s))) for s in sources if s != key_name
        ]
        out = out.with_columns(
            pl.Series(contract, _stable_id(joined, bits), dtype=pl.Int64).cast(pl.String),
            frame.select(
                pl.concat_str(blank, separator=", ", ignore_nulls=True).replace("", None)
                if blank
                else pl.lit(None, dtype=pl.String)
            )
            .to_series()
            .alias(BLANK + contract),
        )
    for contract, table_map in m.values.items():
        if contract in out.columns:
            cell = pl.col(contract).str.strip_chars()
            if "" in table_map:  # a rule for blank cells
                cell = cell.fill_null("")
            listed = {k: v for k, v in table_map.items() if k != OTHERS}
            if OTHERS in table_map:  # every value not listed (blank too, unless listed)
                cell = cell.fill_null("")
                mapped = cell.replace_strict(
                    listed, default=pl.lit(table_map[OTHERS]), return_dtype=pl.String
                )
            else:
                mapped = cell.replace(listed)
            out = out.with_columns(mapped.alias(contract))
    for contract in m.html:
        if contract in out.columns:
            out = out.with_columns(
                pl.col(contract).map_elements(_plain_text, return_dtype=pl.String)
            )
    for contract in m.unquote:
        if contract in out.columns:
            out = out.with_columns(
                pl.col(contract)
                .str.strip_chars()
                .str.replace(r'(?s)^"(.*)"$', "${1}")
                .str.strip_chars()
                .alias(contract)
            )
    return out


def _plain_text(text: str) -> str:
    """Text scraped from a web page as a reader sees it: entities decoded, tags removed."""
    return html.unescape(TAG.sub(" ", text)).strip()


# --- validation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Validated:
    valid: pl.DataFrame  # typed contract columns of the rows without problems
    problems: pl.DataFrame  # row, column, value, reason
    rows: int  # contract rows checked
    dropped: pl.DataFrame | None = None  # row, column, value, reason: keep-first's duplicates
    #: row, column, value, reason: wrong values left empty (the mapping's blank_invalid)
    blanked: pl.DataFrame | None = None


def _problem(
    frame: pl.DataFrame, bad: pl.Expr, column: str, value: pl.Expr, reason
) -> pl.DataFrame:
    reason_expr = reason if isinstance(reason, pl.Expr) else pl.lit(reason)
    return frame.filter(bad).select(
        pl.col(ROW).alias("row"),
        pl.lit(column).alias("column"),
        value.cast(pl.String).alias("value"),
        reason_expr.cast(pl.String).alias("reason"),
    )


ISO_DATE = ("%Y-%m-%d",)


def _date(text: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """Text read as a date with the first of ``formats`` that reads it (ordinal suffixes
    dropped), or an ISO date and time; null where none does."""
    plain = text.str.replace_all(ORDINAL, "${1}")
    return pl.coalesce(
        [
            *(plain.str.strptime(pl.Date, f, strict=False) for f in formats),
            pl.when(text.str.contains(ISO_STAMP)).then(
                text.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            ),
        ]
    )


def _formats_of(source: str, m: Mapping) -> tuple[str, ...]:
    """The ``[dates]`` formats of the contract column a file's column fills (ISO if none)."""
    filled = [k for k, col in m.columns.items() if col == source] or [source]
    return next((m.dates[k] for k in filled if k in m.dates), ISO_DATE)


def _parse(column: sa.Column, text: pl.Expr, m: Mapping) -> tuple[pl.Expr, str]:
    """The typed expression of one column and what a failure to parse is called."""
    kind = column.type
    if isinstance(kind, sa.Date):
        formats = m.dates.get(column.name, ISO_DATE)
        parsed = _date(text, formats)
        if len(formats) == 1:
            return parsed, f"not a date in the form {formats[0]}"
        return parsed, f"not a date in any of the forms {', '.join(formats)}"
    if isinstance(kind, sa.Boolean):
        lower = text.str.to_lowercase()
        return (
            pl.when(lower.is_in(list(TRUE))).then(True).when(lower.is_in(list(FALSE))).then(False),
            "not true/false (or yes/no, 1/0)",
        )
    if isinstance(kind, sa.Integer):
        number = _rescaled(text.cast(pl.Float64, strict=False), m.rescale.get(column.name))
        if column.name in m.rescale:
            number = number.round(0)
        whole = pl.when(number == number.round(0)).then(number)
        r = m.rescale.get(column.name)
        # a rescaled rating is rounded onto the contract's scale: what fails is a value
        # off the file's own scale (14 on 1-10), not one with decimals
        return whole.cast(pl.Int64, strict=False), (
            "not a whole number"
            if r is None
            else f"not a number on the file's scale, {r.low:g} to {r.high:g}"
        )
    if isinstance(kind, sa.Float):
        number = _rescaled(text.cast(pl.Float64, strict=False), m.rescale.get(column.name))
        return number, "not a number"
    return text, ""


def _rescaled(number: pl.Expr, r) -> pl.Expr:
    """Linear from [low, high] onto [to_low, to_high]; outside [low, high] gives null. A
    scale written from its best end (from = [5, 1]: 1 is best) is turned round."""
    if r is None:
        return number
    scaled = r.to_low + (number - r.low) * (r.to_high - r.to_low) / (r.high - r.low)
    return pl.when(number.is_between(min(r.low, r.high), max(r.low, r.high))).then(scaled)


#: In ``references``: each touchpoint with its stage, "touchpoint|stage" (actions only).
TOUCHPOINT_STAGE = "__touchpoint_stage"


def references(engine: sa.Engine, table: sa.Table) -> dict[str, pl.Series]:
    """For each foreign-key column of ``table``: the keys that exist in the database. For
    actions also every touchpoint with its stage, so that a touchpoint of another stage is
    refused."""
    out = {}
    with engine.connect() as conn:
        for fk in table.foreign_keys:
            target = fk.column
            rows = conn.execute(sa.select(target).distinct()).scalars().all()
            out[fk.parent.name] = pl.Series([str(r) for r in rows], dtype=pl.String)
        if table.name == "actions":
            t = schema.touchpoints
            pairs = conn.execute(sa.select(t.c.touchpoint_id, t.c.stage_id)).all()
            out[TOUCHPOINT_STAGE] = pl.Series([f"{a}|{b}" for a, b in pairs], dtype=pl.String)
    return out


def validate(frame: pl.DataFrame, m: Mapping, known: dict[str, pl.Series]) -> Validated:
    """Check every row of a mapped frame; ``known`` from :func:`references`."""
    table = schema.metadata.tables[m.table]
    problems = []
    text_cols = {}
    for column in table.columns:
        if column.name in frame.columns:
            raw = pl.col(column.name)
            clean = pl.when(raw.str.strip_chars() != "").then(raw.str.strip_chars())
            text_cols[column.name] = clean
    present = frame.select(ROW, *[e.alias(n) for n, e in text_cols.items()])
    typed_exprs = [pl.col(ROW)]
    for column in table.columns:
        if column.name not in present.columns:
            continue
        text = pl.col(column.name)
        parsed, reason = _parse(column, text, m)
        typed_exprs.append(parsed.alias(column.name))
        # broken encodings
        problems.append(
            _problem(
                present,
                text.str.contains("\ufffd", literal=True).fill_null(False),
                column.name,
                text,
                f"broken encoding: bytes that are not valid {m.encoding} text; if the file "
                'is in another encoding, name it in the mapping: encoding = "cp1252" (Excel '
                'on Windows) or "latin-1"',
            )
        )
        if reason:
            problems.append(
                _problem(present, text.is_not_null() & parsed.is_null(), column.name, text, reason)
            )
        if schema.required(column) and BLANK + column.name in frame.columns:
            problems.append(  # an id from [ids]: name the blank source column(s)
                _problem(
                    frame,
                    pl.col(BLANK + column.name).is_not_null(),
                    column.name,
                    pl.lit(""),
                    pl.format(
                        "cannot build the id: blank source column(s) {}",
                        pl.col(BLANK + column.name),
                    ),
                )
            )
        elif schema.required(column):
            problems.append(
                _problem(present, text.is_null(), column.name, pl.lit(""), "required but empty")
            )
        length = limits.text_length(table.name, column.name, getattr(column.type, "length", None))
        if length and isinstance(column.type, sa.String):
            problems.append(
                _problem(
                    present,
                    text.str.len_chars() > length,
                    column.name,
                    text,
                    f"longer than {length} characters",
                )
            )
    typed = present.select(typed_exprs)
    for name, (low, high) in schema.RANGES.get(table.name, {}).items():
        if name in typed.columns:
            value = pl.col(name)
            bad = value.is_not_null() & (
                (value < low if low is not None else pl.lit(False))
                | (value > high if high is not None else pl.lit(False))
            )
            span = f"{low} to {high}" if high is not None else f"at least {low}"
            problems.append(_problem(typed, bad, name, value, f"out of range ({span})"))
    latest = dt.date.today() + dt.timedelta(days=1)
    earliest = None if table.name in schema.NO_EARLIEST else schema.EARLIEST_DATE
    for name in schema.EVENT_DATES.get(table.name, ()):
        if name in typed.columns:
            day = pl.col(name)
            wrong = day > latest if earliest is None else (day < earliest) | (day > latest)
            span = f"after {latest}" if earliest is None else f"{earliest} to {latest}"
            reason = f"not a plausible date ({span})" if earliest else f"in the future ({span})"
            problems.append(_problem(typed, day.is_not_null() & wrong, name, day, reason))
    for name, allowed in schema.ALLOWED.get(table.name, {}).items():
        if name in typed.columns:
            bad = pl.col(name).is_not_null() & ~pl.col(name).is_in(list(allowed))
            problems.append(
                _problem(typed, bad, name, pl.col(name), f"not one of {', '.join(allowed)}")
            )
    for first, then in schema.DATE_ORDER.get(table.name, ()):
        if {first, then} <= set(typed.columns):
            bad = (pl.col(then) < pl.col(first)).fill_null(False)
            problems.append(_problem(typed, bad, then, pl.col(then), f"before {first}"))
    pairs = known.get(TOUCHPOINT_STAGE)
    if pairs is not None and {"touchpoint_id", "stage_id"} <= set(typed.columns):
        tp = pl.col("touchpoint_id").cast(pl.String)
        pair = pl.concat_str([tp, pl.col("stage_id").cast(pl.String)], separator="|")
        bad = (
            tp.is_not_null()
            & pl.col("stage_id").is_not_null()
            & tp.is_in(pairs.str.split("|").list.first().implode())
            & ~pair.is_in(pairs.implode())
        )
        problems.append(
            _problem(
                typed,
                bad,
                "touchpoint_id",
                tp,
                pl.format("not a touchpoint of stage {}", pl.col("stage_id")),
            )
        )
    for name, keys in known.items():
        if name in typed.columns:
            target = next(fk.column for fk in table.c[name].foreign_keys)
            as_text = pl.col(name).cast(pl.String)
            bad = as_text.is_not_null() & ~as_text.is_in(keys.implode())
            problems.append(
                _problem(
                    typed,
                    bad,
                    name,
                    as_text,
                    f"unknown {target.table.name[:-1]} (not in {target.table.name})",
                )
            )
    keys = [c.name for c in table.primary_key.columns if c.name in typed.columns]
    dropped = pl.DataFrame(schema=PROBLEM_SCHEMA)
    if keys and len(keys) == len(table.primary_key.columns):
        first = typed.group_by(keys).agg(pl.col(ROW).min().alias("__first"))
        dup = typed.join(first, on=keys, how="left").filter(pl.col(ROW) != pl.col("__first"))
        if m.duplicates == "keep-first":  # asked for: later rows of an id are not imported
            typed = typed.join(dup.select(ROW), on=ROW, how="anti")
            dropped = dup.select(
                pl.col(ROW).alias("row"),
                pl.lit("+".join(keys)).alias("column"),
                pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator=", ").alias(
                    "value"
                ),
                pl.format(
                    "duplicate id, left out (duplicates = keep-first; first at row {})",
                    pl.col("__first"),
                ).alias("reason"),
            ).sort("row")
        elif dup.height:
            problems.append(
                dup.select(
                    pl.col(ROW).alias("row"),
                    pl.lit("+".join(keys)).alias("column"),
                    pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator=", ").alias(
                        "value"
                    ),
                    pl.format(
                        "duplicate id in the file (first at row {})", pl.col("__first")
                    ).alias("reason"),
                )
            )
    report = (
        (
            pl.concat([p.cast(PROBLEM_SCHEMA) for p in problems], how="vertical")
            if problems
            else pl.DataFrame(schema=PROBLEM_SCHEMA)
        )
        .unique(maintain_order=True)
        .sort("row", "column")
    )
    if dropped.height:  # a row left out (keep-first) is not written: not refused either
        report = report.filter(~pl.col("row").is_in(dropped["row"].implode()))
    report, blanked, typed = _blank_invalid(report, typed, m.blank_invalid)
    bad_rows = report["row"].unique()
    valid = typed.filter(~pl.col(ROW).is_in(bad_rows.implode()))
    return Validated(valid, report, typed.height, dropped.cast(PROBLEM_SCHEMA), blanked)


def _blank_invalid(
    report: pl.DataFrame, typed: pl.DataFrame, columns: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The problems of ``columns`` taken out of ``report``, but in rows rejected for another
    problem: their cells are left empty in ``typed`` and listed apart (the problems left,
    the cells left empty, the rows)."""
    of_columns = pl.col("column").is_in(list(columns))
    rejected = report.filter(~of_columns)["row"].unique()
    blank = report.filter(of_columns & ~pl.col("row").is_in(rejected.implode()))
    if not blank.height:
        return report, blank, typed
    cells = {c: blank.filter(pl.col("column") == c)["row"] for c in blank["column"].unique()}
    typed = typed.with_columns(
        pl.when(pl.col(ROW).is_in(rows.implode())).then(None).otherwise(pl.col(c)).alias(c)
        for c, rows in cells.items()
    )
    return report.join(blank, on=["row", "column"], how="anti"), blank, typed


# --- writing ---------------------------------------------------------------------------


def _upsert_sql(table: sa.Table, columns: list[str], staging: str, dialect: str) -> str:
    keys = [c.name for c in table.primary_key.columns]
    cols = ", ".join(f'"{c}"' for c in columns)
    updates = [c for c in columns if c not in keys]
    action = (
        "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in updates)
        if updates
        else "DO NOTHING"
    )
    where = " WHERE true" if dialect == "sqlite" else ""  # SQLite's upsert-from-SELECT rule
    return (
        f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {staging}{where} '
        f"ON CONFLICT ({', '.join(keys)}) {action}"
    )


def _present_sql(table: sa.Table, staging: str) -> str:
    """How many rows of the staging table have an id the table holds already (an update)."""
    on = " AND ".join(f's."{c.name}" = t."{c.name}"' for c in table.primary_key.columns)
    return f'SELECT COUNT(*) FROM {staging} s JOIN "{table.name}" t ON {on}'


@dataclass(frozen=True)
class Written:
    """Rows an upsert wrote: ``rows`` in all, ``updated`` of them had their id there already."""

    rows: int = 0
    updated: int = 0


def upsert(
    engine: sa.Engine,
    table_name: str,
    frame: pl.DataFrame,
    log: tuple[str, pl.DataFrame] | None = None,
) -> Written:
    """Insert or update ``frame``'s rows by primary key, in one transaction, in bulk.
    ``log``: a table and rows appended to it in the same transaction (an audit trail)."""
    table = schema.metadata.tables[table_name]
    frame = frame.select([c.name for c in table.columns if c.name in frame.columns])
    if frame.height == 0:
        return Written()
    schema.create_all(engine)
    path = store.sqlite_path(str(engine.url))
    if path is not None:
        import adbc_driver_sqlite.dbapi as adbc

        conn = adbc.connect(str(path))
        try:
            with conn.cursor() as cur:
                cur.adbc_ingest(
                    "import_staging",
                    store.for_sqlite(frame).to_arrow(),
                    mode="replace",
                    temporary=True,
                )
                cur.execute(_present_sql(table, "import_staging"))
                updated = cur.fetchone()[0]
                cur.execute(_upsert_sql(table, frame.columns, "import_staging", "sqlite"))
                cur.execute("DROP TABLE import_staging")
                if log is not None and log[1].height:
                    cur.adbc_ingest(log[0], store.for_sqlite(log[1]).to_arrow(), mode="append")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
        return Written(frame.height, int(updated))
    with engine.begin() as conn:
        staging = f"import_staging_{table.name}"
        conn.exec_driver_sql(
            f'CREATE TEMP TABLE {staging} (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
        )
        store.copy_into(conn, staging, frame)
        updated = conn.exec_driver_sql(_present_sql(table, staging)).scalar_one()
        dropped = _drop_foreign_keys(conn, table.name) if frame.height >= BULK_ROWS else []
        conn.exec_driver_sql(_upsert_sql(table, frame.columns, staging, "postgresql"))
        for name, definition in dropped:  # checked again, all rows at once
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD CONSTRAINT "{name}" {definition}')
        if log is not None and log[1].height:
            store.copy_into(conn, log[0], log[1])
    return Written(frame.height, int(updated))


BULK_ROWS = 50_000  # from this many rows, Postgres checks foreign keys once, not per row


def _drop_foreign_keys(conn: sa.Connection, table_name: str) -> list[tuple[str, str]]:
    """Drop a table's foreign keys inside the import's transaction, to add them back after
    the insert (PostgreSQL's advice for bulk loads: one check of all rows instead of one
    per row; the rows were validated already). Needs the table's owner; without that
    right, the keys stay and are checked row by row. Returns (name, definition) pairs."""
    keys = conn.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %(t)s::regclass AND contype = 'f'",
        {"t": table_name},
    ).all()
    try:
        with conn.begin_nested():
            for name, _definition in keys:
                conn.exec_driver_sql(f'ALTER TABLE "{table_name}" DROP CONSTRAINT "{name}"')
    except sa.exc.DBAPIError:
        return []
    return [(name, definition) for name, definition in keys]


# --- the whole import ------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    table: str
    file: str
    source_rows: int
    checked_rows: int
    problems: pl.DataFrame
    rejected_source_rows: int
    written: int
    dry_run: bool
    accept_valid: bool
    report_path: Path | None = None
    rejected_path: Path | None = None
    filtered_rows: int = 0  # source rows left out by the mapping's [where]
    where: str = ""  # the [where] conditions in words
    duplicates: pl.DataFrame | None = None  # keep-first's left-out rows (also in the report)
    warnings: tuple[str, ...] = ()  # e.g. ids from numbers in scientific notation
    #: rows written whose id the table held already (None: nothing written, or a dry run)
    updated: int | None = None
    blanked: pl.DataFrame | None = None  # wrong values left empty (the mapping's blank_invalid)

    @property
    def duplicates_dropped(self) -> int:
        return 0 if self.duplicates is None else self.duplicates.height

    @property
    def ok(self) -> bool:
        """Nothing was refused, or the caller chose to accept the valid rows."""
        return self.problems.height == 0 or self.accept_valid

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        head = (
            f"{self.file} → {self.table}: {counted(self.source_rows, 'row')} read, "
            f"{self.checked_rows:,} checked, {counted(self.problems.height, 'problem')} in "
            f"{counted(self.rejected_source_rows, 'row')}; {verb} {counted(self.written, 'row')}"
        )
        if self.updated is not None and self.written:  # a re-import is not new data
            head += f" ({self.written - self.updated:,} new"
            head += f"; {self.updated:,} already there, updated)" if self.updated else ")"
        if self.blanked is not None and self.blanked.height:
            columns = ", ".join(self.blanked["column"].unique(maintain_order=True))
            head += (
                f"; {counted(self.blanked.height, 'wrong value')} left empty ({columns}: "
                "blank_invalid; listed in the report)"
            )
        if self.filtered_rows:
            head += (
                f"; {counted(self.filtered_rows, 'row')} left out by the filter (it keeps "
                f"rows where {self.where})"
            )
        if self.duplicates_dropped:
            head += (
                f"; {counted(self.duplicates_dropped, 'duplicate row')} left out (keep-first; "
                "listed in the report)"
            )
        if self.problems.height and not self.accept_valid:
            head += (
                " (nothing written: the import is all or nothing; fix the rows or accept "
                "the valid ones)"
            )
        return head


def run(
    engine: sa.Engine,
    table: str,
    path: Path,
    m: Mapping | None,
    *,
    dry_run: bool = False,
    accept_valid: bool = False,
    report_dir: Path | None = None,
    file_name: str | None = None,
    report_name: str | None = None,
    progress: Progress = _quiet,
) -> Report:
    """Read, map, validate and (unless ``dry_run``, or problems without ``accept_valid``)
    upsert. A report of the problems and the rejected source rows are written to
    ``report_dir`` (default: beside the file) when there are problems, as
    ``FILE.NAME.report.csv`` and ``FILE.NAME.rejected.csv``, NAME being ``report_name``
    (the mapping's name, say) or the table: imports of one file through several mappings
    keep their own reports. Without a mapping, the file's columns named like the table's
    map to themselves."""
    path = Path(path)
    name = file_name or path.name
    if table not in schema.IMPORTABLE:
        raise ImportError_(
            f"{table!r} is not a table files are imported into; use one of "
            + ", ".join(schema.IMPORTABLE)
        )
    if m is not None and m.table != table:
        raise ImportError_(f"the mapping is for {m.table}, not {table}")
    if not dry_run:
        store.require_importable(engine)
    progress(0.05, f"Reading {name}")
    source = read_source(path, m.encoding if m is not None else "utf-8")
    misshapen = shape_problems(source)
    source = source.drop(csv_rows.SHAPE, csv_rows.EXTRA, strict=False)
    given = m if m is not None else Mapping(table)
    m = with_same_names(given, file_columns(source))
    progress(0.25, f"Mapping {counted(source.height, 'row')}")
    check_twice_named(source, m, name)
    check_columns(source, m, name)
    check_required(source, m, name)
    usable = source.filter(~pl.col(ROW).is_in(misshapen["row"].implode()))
    kept = filter_rows(usable, m)
    warnings = unread_warnings(source, given, m) + id_warnings(kept, m)
    mapped = apply_mapping(kept, m, name)
    contract = schema.metadata.tables[table].columns
    check_upgraded(engine, table, [c.name for c in contract if c.name in mapped.columns])
    warnings += ambiguous_date_warnings(mapped, m)
    progress(0.35, "Checking every row")
    result = validate(mapped, m, references(engine, schema.metadata.tables[table]))
    warnings += scale_warnings(result.valid, table, m)
    warnings += placeholder_date_warnings(result.valid, table, m)
    if misshapen.height:
        problems = pl.concat([misshapen, result.problems]).sort("row", "column")
        result = replace(result, problems=problems)
    bad_rows = result.problems["row"].unique()
    report_path = rejected_path = None
    if result.problems.height or result.dropped.height or result.blanked.height:
        folder = Path(report_dir) if report_dir else path.parent
        stem = f"{Path(name).stem}.{report_name or table}"
        report_path = folder / f"{stem}.report.csv"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pl.concat(
                [
                    result.problems.with_columns(pl.lit("rejected").alias("outcome")),
                    result.dropped.with_columns(pl.lit("left out").alias("outcome")),
                    result.blanked.with_columns(pl.lit("left empty").alias("outcome")),
                ]
            ).sort("row", "column").write_csv(report_path)
            if result.problems.height:
                rejected_path = folder / f"{stem}.rejected.csv"
                source.filter(pl.col(ROW).is_in(bad_rows.implode())).rename({ROW: "row"}).write_csv(
                    rejected_path
                )
        except OSError as exc:  # before anything is written to the database
            raise ImportError_(
                f"the import's report cannot be written in {folder} "
                f"({exc.strerror or exc}); nothing was imported. Give a folder you may write "
                "to (--report-dir FOLDER on the command line)"
            ) from exc
    written, updated = 0, None
    if not dry_run and (result.problems.height == 0 or accept_valid):
        progress(0.6, f"Writing {counted(result.valid.height, 'row')}")
        rows = result.valid.drop(ROW)
        done = upsert(engine, table, rows, _audit(table, rows, name))
        written, updated = done.rows, done.updated
        log_import(engine, table, name, source.height, written, bad_rows.len())
        if table == "responses" and "comment" in result.valid.columns and written:
            progress(0.8, "Finding the comments' sentiment and themes")
            warnings.extend(_analyse_comments(engine, result.valid))
    elif dry_run:
        written = result.valid.height if (result.problems.height == 0 or accept_valid) else 0
    progress(1.0, "Done")
    return Report(
        table,
        name,
        source.height,
        result.rows,
        result.problems,
        bad_rows.len(),
        written,
        dry_run,
        accept_valid,
        report_path,
        rejected_path,
        usable.height - kept.height,
        "; ".join(c.describe() for c in m.where),
        result.dropped,
        tuple(warnings),
        updated if written else None,
        result.blanked,
    )


def _analyse_comments(engine: sa.Engine, written: pl.DataFrame) -> list[str]:
    """Analyse the comments just written (new ones, and those whose text changed); a
    failure leaves the import in place and says how to finish the analysis."""
    from cxmetrics.contract import comment_analysis

    ids = written.filter(pl.col("comment").is_not_null())["response_id"].cast(pl.String)
    try:
        comment_analysis.analyse(engine, changed=ids.to_list())
    except Exception as exc:  # the rows are written; the analysis can be run again
        return [
            "the comments were written but not analysed "
            f"({store.describe_error(exc)}); run `python3 -m cxmetrics analyse-comments`"
        ]
    return []


def _audit(table: str, rows: pl.DataFrame, file_name: str) -> tuple[str, pl.DataFrame] | None:
    """Imported actions are changes too: one line each in ``action_changes``."""
    if table != "actions" or rows.height == 0:
        return None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    return (
        schema.action_changes.name,
        rows.select(
            pl.col("action_id"),
            pl.lit(now).alias("changed_at"),
            pl.lit(f"import of {file_name}"[:254]).alias("changed_by"),
            pl.lit("imported (created or replaced from the file)").alias("change"),
        ),
    )


def log_import(
    engine: sa.Engine, table: str, file_name: str, read: int, written: int, rejected: int
) -> None:
    schema.imports.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(
            schema.imports.insert().values(
                table_name=table,
                file_name=file_name[:400],
                imported_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                rows_read=read,
                rows_written=written,
                rows_rejected=rejected,
            )
        )


def _names_present(conn: sa.Connection) -> set[str]:
    """The tables and views of the database (a lake's tables are views)."""
    inspector = sa.inspect(conn)
    names = set(inspector.get_table_names())
    with contextlib.suppress(NotImplementedError):  # a dialect without views
        names |= set(inspector.get_view_names())
    return names


def table_status(engine: sa.Engine) -> pl.DataFrame:
    """Rows per contract table, the dates each covers, and its last import."""
    dates = {
        "customers": "joined_on",
        "responses": "responded_on",
        "contacts": "contacted_on",
        "cases": "opened_on",
        "kpis": "week",
        "actions": "start_on",
    }
    rows = []
    if store.read_only_reason(engine) is None:  # a lake or Spark is not written to
        schema.imports.create(engine, checkfirst=True)
    with engine.connect() as conn:
        present = _names_present(conn)
        last = {}
        if schema.imports.name in present:  # a lake has no import log
            last = {
                r.table_name: r
                for r in conn.execute(
                    sa.select(schema.imports).order_by(schema.imports.c.import_id)
                )
            }
        names = [*schema.TABLE_NAMES, *(n for n in ("actions",) if n in present)]
        for name in names:
            t = schema.metadata.tables[name]
            count = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            first = latest = None
            if name in dates:
                first, latest = conn.execute(
                    sa.select(sa.func.min(t.c[dates[name]]), sa.func.max(t.c[dates[name]]))
                ).one()
            # earlier versions logged the journey's tables together, as "journey"
            logged = [last.get(name), last.get("journey") if name in JOURNEY_TABLES else None]
            imp = max((i for i in logged if i), key=lambda i: i.import_id, default=None)
            rows.append(
                {
                    "table": name,
                    "rows": int(count),
                    "from": str(first) if first else None,
                    "to": str(latest) if latest else None,
                    "last_import": f"{imp.imported_at:%Y-%m-%d %H:%M} UTC · {imp.file_name} · "
                    f"{imp.rows_written:,} written, {imp.rows_rejected:,} rejected"
                    if imp
                    else None,
                }
            )
    return pl.DataFrame(rows)
