"""Limits on what an import accepts, so one file cannot hold the server: the length of free
text, the rows, columns and unpacked size of a data file, and YAML without aliases.

A value beyond a limit is reported with its row and column, never silently cut; a file
beyond a limit is refused before it is read, with a message that says which limit and how
to raise it. The file limits can be changed by environment variables (whole numbers):

- ``CX_IMPORT_MAX_ROWS`` (default 5,000,000 rows),
- ``CX_IMPORT_MAX_COLUMNS`` (default 500),
- ``CX_IMPORT_MAX_UNPACKED_MB`` (default 1,024: the data an XLSX or Parquet file unpacks
  to; a CSV file is its own size).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from pathlib import Path

# Free-text columns the contract stores as unbounded text, with the longest value an import
# accepts. A comment of 5,000 characters is about two pages; longer ones are refused.
TEXT = {
    ("responses", "comment"): 5_000,
    ("stages", "description"): 2_000,
    ("touchpoints", "description"): 2_000,
}

DEFAULTS = {
    "CX_IMPORT_MAX_ROWS": 5_000_000,
    "CX_IMPORT_MAX_COLUMNS": 500,
    "CX_IMPORT_MAX_UNPACKED_MB": 1_024,
}
YAML_MAX_BYTES = 1_000_000  # a mapping or a journey: a few kilobytes in practice


class TooLarge(ValueError):
    """A file beyond an import limit; the message names the limit."""


def text_length(table: str, column: str, declared: int | None) -> int | None:
    """The longest text an import accepts in ``table.column``: the column's declared length,
    else the limit above (None: no limit)."""
    return declared or TEXT.get((table, column))


def limit(name: str, environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return DEFAULTS[name]
    if not raw.isdigit() or int(raw) == 0:
        raise TooLarge(f"{name} must be a positive whole number, not {env[name]!r}")
    return int(raw)


def _over(what: str, found: int, name: str, unit: str = "") -> TooLarge:
    return TooLarge(
        f"{what} {found:,}{unit}, more than an import takes ({limit(name):,}{unit}; "
        f"set {name} to change it)"
    )


def check_source(path: Path) -> None:
    """Refuse a CSV (or TSV), XLSX or Parquet file beyond the row, column or unpacked-size limits,
    reading only what is needed to tell (line ends, the zip directory, Parquet metadata)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        _check_csv(path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".xlsx":
        _check_xlsx(path)
    elif suffix == ".parquet":
        _check_parquet(path)


def _check_csv(path: Path, delimiter: str = ",") -> None:
    size = path.stat().st_size
    if size > limit("CX_IMPORT_MAX_UNPACKED_MB") * 2**20:
        raise _over("it holds", size // 2**20, "CX_IMPORT_MAX_UNPACKED_MB", " MB")
    lines, header = 0, b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            if lines == 0 and b"\n" not in header:
                header += block.split(b"\n", 1)[0]
            lines += block.count(b"\n")
    wide = header.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    header_text = header.decode("utf-16" if wide else "utf-8", errors="replace").rstrip("\r")
    try:
        columns = len(next(csv.reader(io.StringIO(header_text), delimiter=delimiter), []))
    except csv.Error:  # a NUL byte, a stray line end: the reader names it; a bound here
        columns = header_text.count(delimiter) + 1
    if columns > limit("CX_IMPORT_MAX_COLUMNS"):
        raise _over("its header names", columns, "CX_IMPORT_MAX_COLUMNS", " columns")
    if lines - 1 > limit("CX_IMPORT_MAX_ROWS"):  # a quoted line break counts too: a bound
        raise _over("it has", lines - 1, "CX_IMPORT_MAX_ROWS", " rows")


def _check_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        return  # not a workbook: the reader names the problem
    if unpacked > limit("CX_IMPORT_MAX_UNPACKED_MB") * 2**20:
        raise _over("it unpacks to", unpacked // 2**20, "CX_IMPORT_MAX_UNPACKED_MB", " MB")


def _check_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # not Parquet: the reader names the problem
        return
    if meta.num_columns > limit("CX_IMPORT_MAX_COLUMNS"):
        raise _over("it has", meta.num_columns, "CX_IMPORT_MAX_COLUMNS", " columns")
    if meta.num_rows > limit("CX_IMPORT_MAX_ROWS"):
        raise _over("it has", meta.num_rows, "CX_IMPORT_MAX_ROWS", " rows")
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > limit("CX_IMPORT_MAX_UNPACKED_MB") * 2**20:
        raise _over("it unpacks to", unpacked // 2**20, "CX_IMPORT_MAX_UNPACKED_MB", " MB")


def check_frame(rows: int, columns: int) -> None:
    """Refuse a frame read from a file (an XLSX sheet) beyond the row or column limits."""
    if columns > limit("CX_IMPORT_MAX_COLUMNS"):
        raise _over("it has", columns, "CX_IMPORT_MAX_COLUMNS", " columns")
    if rows > limit("CX_IMPORT_MAX_ROWS"):
        raise _over("it has", rows, "CX_IMPORT_MAX_ROWS", " rows")


def yaml_load(text: str):
    """``yaml.safe_load`` that refuses aliases (``*name``): a few hundred bytes of nested
    aliases can unfold into gigabytes. Mappings and journeys never need them."""
    import yaml

    if len(text.encode("utf-8")) > YAML_MAX_BYTES:
        raise yaml.YAMLError(f"longer than {YAML_MAX_BYTES:,} bytes")
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise yaml.YAMLError(
                f"line {mark.line + 1}: an alias (*{event.anchor}); write the values out "
                "instead, aliases are not accepted"
            )
    return yaml.safe_load(text)
