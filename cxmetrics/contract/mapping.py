"""Column mappings: how a source file's columns become the data contract's columns.

A mapping is a small TOML or YAML file, reusable for next month's file::

    table = "responses"
    encoding = "utf-8"            # or "latin-1", "cp1252"…
    duplicates = "reject"         # or "keep-first": later rows with an id already seen are
                                  # skipped (e.g. one customer row per reviewer)

    [columns]                     # contract column = source column
    response_id = "ResponseID"
    customer_id = "Customer"
    responded_on = "Date"
    nps = "Likelihood to recommend"

    [constants]                   # contract column = the same value on every row
    channel = "web"
    source = "survey"

    [dates]                       # strptime formats (ISO 8601 when not given); a list is
    responded_on = ["%d/%m/%Y", "%d %B %Y"]   # tried in order, the first that reads wins.
                                  # Ordinal suffixes are dropped first ("1st", "22nd",
                                  # "19th March 2025" reads as "%d %B %Y"). A cell two
                                  # formats read as different days (03/04 as %d/%m and
                                  # %m/%d) is warned about, unless other rows show the
                                  # file writes the first

    [where]                       # keep only the rows that pass every condition; rows
    negativereason = "not empty"  # left out are counted in the report, not rejected.
    airline = ["United", "Delta"] # A file's column = "text" (equal, after trimming),
    channel = { not = "test" }    # ["a", "b"] (one of these), "empty", "not empty",
                                  # { not = "a" } or { not = ["a", "b"] } (none of these;
                                  # blank passes). A list is literal: ["empty"] is the word.
    Date = { from = 2015-06-09, before = 2016-01-01 }   # dates: on or after "from", before
                                  # "before" (either alone); the cell read with the [dates]
                                  # formats of the contract column it fills (else ISO); a
                                  # cell that is not such a date fails it. Two mappings of one
                                  # file with ranges that meet import it in two ways, e.g. a
                                  # rating scale that changed on a date

    [values.touchpoint_id]        # value maps, applied before parsing ("" = a blank cell)
    "Billing" = "pay_first_bill"
    "*" = "other"                 # optional: every value not listed (blank too, unless
                                  # "" is listed); without it, other values pass unchanged

    [rescale.csat]                # linear, then rounded: 1-10 stars onto 1-5; a scale
    from = [1, 10]                # whose 1 is best is turned round with from = [5, 1]
    to = [1, 5]

    [ids]                         # a stable id from text columns (hashed, as digits); a
    customer_id = ["Reviewer"]    # row whose source column is blank is rejected, naming it

    [unpivot]                     # wide to long: each listed column becomes a row
    key = "touchpoint_id"         # contract column that receives the mapped name
    value = "csat"                # contract column that receives the cell
    columns = { "Comfort" = "lounge_comfort", "Food" = "lounge_food" }
    skip = ["0"]                  # cells that mean "not rated": no row

A mapping without ``[columns]`` reads each contract column it does not fill (in
``[constants]``, ``[ids]`` or ``[unpivot]``) from the file's column of the same name, as
without a mapping: it may hold only what differs from the contract, e.g. only a ``[dates]``
section. A mapping with ``[columns]`` reads exactly the columns it names.

Dates: besides the ``[dates]`` formats, a cell written as an ISO date or date and time
("2026-01-10", "2026-01-10 13:45:00") is read as that date, time of day left out: that is
how typed date cells of XLSX and Parquet files arrive.

Names on the right of ``[columns]`` and in ``[ids]`` and ``[unpivot]``, and the names in
``[where]``, are the file's; names on the left are the contract's (see
``cxmetrics/contract/schema.py``).

A source's own sentiment label goes to ``sentiment_label`` on responses (``[columns]``, with
``[values.sentiment_label]`` when the file says it in other words): where a comment has one
(positive, neutral or negative), it is used instead of the lexicon's score.

With ``duplicates = "keep-first"`` the report counts the rows left out and lists them in the
report file. The import warns, naming the column, when ids come from numbers in scientific
notation ("5.70306E+17": digits are lost, different ids collide) or with decimals.

Text scraped from web pages (``&#039;``, ``&amp;``, ``<br/>``) is made plain by naming its
contract columns in ``html = ["comment"]`` (top level): entities decoded, tags removed.
``unquote = ["comment"]`` (top level) takes off one pair of double quotes that encloses a
whole cell (files that store every text as ``"..."`` inside the field).

``blank_invalid = ["csat"]`` (top level; columns that may be empty) leaves a wrong value of
those columns empty instead of rejecting its row: a review whose rating is on another scale
keeps its other answers. Each cell left empty is listed in the report ("left empty") and
counted in the summary.

Syntax errors of either format name their line and column.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from cxmetrics.contract import limits, periods, schema

#: The encodings a form offers, most common first; a mapping may name any other
ENCODINGS = ("utf-8", "cp1252", "latin-1", "utf-16")


def reference() -> str:
    """The mapping file's format, as this module's documentation gives it, and each
    importable table's columns (required ones marked): what ``python3 -m cxmetrics import
    --help`` prints and the Data page shows."""
    text = (__doc__ or "").replace("``", "`").replace("::\n", ":\n").strip()
    tables = [
        f"  {name}: "
        + ", ".join(
            f"{c.name}*" if schema.required(c) else c.name
            for c in schema.metadata.tables[name].columns
        )
        for name in schema.IMPORTABLE
    ]
    return f"{text}\n\nThe contract's columns, per table (* required):\n" + "\n".join(tables)


def offered_encodings(chosen: str | None = None) -> list[str]:
    """:data:`ENCODINGS`, and a saved mapping's own ``chosen`` where it is another."""
    return [*ENCODINGS, *([chosen] if chosen and chosen not in ENCODINGS else [])]


class MappingError(ValueError):
    """The mapping file is unreadable or names something that does not exist."""


@dataclass(frozen=True)
class Rescale:
    low: float
    high: float
    to_low: float
    to_high: float


@dataclass(frozen=True)
class Unpivot:
    key: str
    value: str
    columns: dict[str, str]  # source column -> value written to ``key``
    skip: tuple[str, ...] = ()  # cell values that mean "not answered": no row is made


EMPTY, NOT_EMPTY = "empty", "not empty"
OTHERS = "*"  # in a value map: every value not listed


@dataclass(frozen=True)
class Condition:
    """One ``[where]`` condition on a file's column: a blank cell counts as ``""``."""

    column: str
    values: tuple[str, ...] = ()  # the cell is one of these (trimmed)...
    negate: bool = False  # ...or, when set, none of these
    blank: bool | None = None  # "empty" (True) or "not empty" (False) instead of values
    since: dt.date | None = None  # a date on or after this one (with ``before``: instead
    before: dt.date | None = None  # of values), and before this one

    @property
    def dated(self) -> bool:
        return self.since is not None or self.before is not None

    def describe(self) -> str:
        if self.dated:
            bounds = [f"on or after {self.since}"] * (self.since is not None)
            bounds += [f"before {self.before}"] * (self.before is not None)
            return f"{self.column} {' and '.join(bounds)}"
        if self.blank is not None:
            return f"{self.column} is {EMPTY if self.blank else NOT_EMPTY}"
        listed = ", ".join(repr(v) for v in self.values)
        if len(self.values) == 1:
            return f"{self.column} {'is not' if self.negate else 'is'} {listed}"
        return f"{self.column} {'is none of' if self.negate else 'is one of'} {listed}"


@dataclass(frozen=True)
class Mapping:
    table: str
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    dates: dict[str, tuple[str, ...]] = field(default_factory=dict)  # formats, tried in order
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    rescale: dict[str, Rescale] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    unpivot: Unpivot | None = None
    encoding: str = "utf-8"
    duplicates: str = "reject"  # or "keep-first": later rows with the same id are skipped
    where: tuple[Condition, ...] = ()  # rows that fail one are left out before mapping
    html: tuple[str, ...] = ()  # contract text columns made plain (entities, tags)
    unquote: tuple[str, ...] = ()  # contract text columns whose enclosing quotes go
    #: optional contract columns whose wrong values are left empty, not their rows rejected
    blank_invalid: tuple[str, ...] = ()

    def reads(self) -> list[tuple[str, str]]:
        """Every column of the file this mapping reads, as (where the mapping names it, the
        column): a contract column ("nps"), an id built from it ("response_id (id)"), a
        condition ("where") or a rating turned into rows ("unpivot")."""
        named = list(self.columns.items())
        for target, sources in self.ids.items():
            named += [(f"{target} (id)", col) for col in sources]
        named += [("where", c.column) for c in self.where]
        if self.unpivot:  # an id may be built from the unpivot's key, which is not the file's
            named = [(w, c) for w, c in named if c != self.unpivot.key]
            named += [("unpivot", col) for col in self.unpivot.columns]
        return named

    def source_columns(self) -> set[str]:
        """Every column of the file this mapping reads."""
        return {col for _, col in self.reads()}

    def absent_from(self, file_columns: list[str]) -> list[tuple[str, str]]:
        """What this mapping reads (:meth:`reads`) from a column the file does not have."""
        have = set(file_columns)
        return [(where, col) for where, col in self.reads() if col not in have]

    def to_toml(self) -> str:
        """The mapping as a TOML file (what the Data page saves)."""

        def q(value) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int | float):
                return repr(value)
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            return f'"{text}"'

        lines = [f"table = {q(self.table)}", f"encoding = {q(self.encoding)}"]
        if self.duplicates != "reject":
            lines.append(f"duplicates = {q(self.duplicates)}")
        for key, names in (
            ("html", self.html),
            ("unquote", self.unquote),
            ("blank_invalid", self.blank_invalid),
        ):
            if names:
                lines.append(f"{key} = [{', '.join(q(c) for c in names)}]")
        for title, items in (("columns", self.columns), ("constants", self.constants)):
            if items:
                lines += ["", f"[{title}]", *[f"{k} = {q(v)}" for k, v in items.items()]]
        if self.dates:
            lines += ["", "[dates]"]
            for k, formats in self.dates.items():
                one = q(formats[0]) if len(formats) == 1 else None
                lines.append(f"{k} = {one or '[' + ', '.join(q(f) for f in formats) + ']'}")
        if self.where:
            lines += ["", "[where]"]
            for c in self.where:
                if c.dated:
                    bounds = [f"from = {c.since}"] * (c.since is not None)
                    bounds += [f"before = {c.before}"] * (c.before is not None)
                    rule = "{ " + ", ".join(bounds) + " }"
                elif c.blank is not None:
                    rule = q(EMPTY if c.blank else NOT_EMPTY)
                else:
                    rule = "[" + ", ".join(q(v) for v in c.values) + "]"
                    rule = f"{{ not = {rule} }}" if c.negate else rule
                lines.append(f"{q(c.column)} = {rule}")
        for column, table in self.values.items():
            lines += ["", f"[values.{column}]", *[f"{q(k)} = {q(v)}" for k, v in table.items()]]
        for column, r in self.rescale.items():
            lines += [
                "",
                f"[rescale.{column}]",
                f"from = [{r.low!r}, {r.high!r}]",
                f"to = [{r.to_low!r}, {r.to_high!r}]",
            ]
        if self.ids:
            lines += ["", "[ids]"]
            lines += [f"{k} = [{', '.join(q(s) for s in v)}]" for k, v in self.ids.items()]
        if self.unpivot:
            u = self.unpivot
            pairs = ", ".join(f"{q(k)} = {q(v)}" for k, v in u.columns.items())
            lines += ["", "[unpivot]", f"key = {q(u.key)}", f"value = {q(u.value)}"]
            lines += [f"columns = {{ {pairs} }}"]
            if u.skip:
                lines += [f"skip = [{', '.join(q(v) for v in u.skip)}]"]
        return "\n".join(lines) + "\n"


def _table(data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MappingError(f"[{name}] must be a table of name = value pairs")
    return value


def parse(data: dict, table: str | None = None, where: str = "the mapping") -> Mapping:
    """Check a mapping read from TOML or YAML against the contract."""
    if not isinstance(data, dict):
        raise MappingError(f"{where} must be a table of settings")
    name = table or data.get("table")
    if name is None:
        raise MappingError(f"{where} does not say which table it fills (table = …)")
    if data.get("table") not in (None, name):
        raise MappingError(f"{where} is for table {data['table']!r}, not {name!r}")
    if name not in schema.IMPORTABLE:
        raise MappingError(
            f"{where}: {name!r} cannot be imported; importable tables: "
            f"{', '.join(schema.IMPORTABLE)}"
        )
    contract = {c.name for c in schema.metadata.tables[name].columns}
    known = {"table", "columns", "constants", "dates", "values", "rescale", "ids", "unpivot"}
    known |= {"where"}
    unknown = set(data) - known - {"encoding", "duplicates", "html", "unquote", "blank_invalid"}
    if unknown:
        raise MappingError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")

    def check(section: str, names) -> None:
        wrong = sorted(set(names) - contract)
        if wrong:
            raise MappingError(
                f"{where}: [{section}] names {', '.join(wrong)}, not column(s) of {name} "
                f"(its columns: {', '.join(sorted(contract))})"
            )

    columns = {str(k): str(v) for k, v in _table(data, "columns").items()}
    constants = dict(_table(data, "constants"))
    dates = {}
    for column, formats in _table(data, "dates").items():
        formats = [formats] if isinstance(formats, str) else formats
        if (
            not isinstance(formats, list)
            or not formats
            or not all(isinstance(f, str) and f.strip() for f in formats)
        ):
            raise MappingError(
                f"{where}: [dates] {column} must be a format or a list of formats, "
                f'e.g. ["%d/%m/%Y", "%d %B %Y"]'
            )
        dates[str(column)] = tuple(formats)
    conditions = tuple(_condition(str(k), v, where) for k, v in _table(data, "where").items())
    values = {
        str(k): {str(a): str(b) for a, b in v.items()}
        for k, v in _table(data, "values").items()
        if isinstance(v, dict)
    }
    rescale = {}
    for column, spec in _table(data, "rescale").items():
        try:
            (low, high), (to_low, to_high) = spec["from"], spec["to"]
            rescale[column] = Rescale(float(low), float(high), float(to_low), float(to_high))
        except (KeyError, TypeError, ValueError) as exc:
            raise MappingError(
                f"{where}: [rescale.{column}] needs from = [low, high] and to = [low, high]"
            ) from exc
        if low == high:
            raise MappingError(f"{where}: [rescale.{column}] from = [{low}, {high}] is empty")
    ids = {}
    for column, sources in _table(data, "ids").items():
        sources = [sources] if isinstance(sources, str) else list(sources)
        if not sources:
            raise MappingError(f"{where}: [ids] {column} lists no source column")
        ids[str(column)] = [str(s) for s in sources]
    unpivot = None
    if "unpivot" in data:
        u = _table(data, "unpivot")
        try:
            unpivot = Unpivot(
                str(u["key"]),
                str(u["value"]),
                {str(k): str(v) for k, v in u["columns"].items()},
                tuple(str(v) for v in u.get("skip", [])),
            )
        except (KeyError, AttributeError) as exc:
            raise MappingError(f"{where}: [unpivot] needs key, value and columns") from exc
        check("unpivot", [unpivot.key, unpivot.value])
    for section, names in (
        ("columns", columns),
        ("constants", constants),
        ("dates", dates),
        ("values", values),
        ("rescale", rescale),
        ("ids", ids),
    ):
        check(section, names)
    encoding = str(data.get("encoding", "utf-8"))
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise MappingError(f"{where}: unknown encoding {encoding!r}") from exc
    text_rules = {}
    for key in ("html", "unquote", "blank_invalid"):
        names = data.get(key, [])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise MappingError(
                f'{where}: {key} must be a list of columns, e.g. {key} = ["comment"]'
            )
        check(key, names)
        text_rules[key] = tuple(names)
    table = schema.metadata.tables[name]
    required = sorted(
        c for c in text_rules["blank_invalid"] if not table.c[c].nullable or table.c[c].primary_key
    )
    if required:
        raise MappingError(
            f"{where}: blank_invalid names {', '.join(required)}, which every row of {name} "
            "must have: a wrong value there rejects its row"
        )
    duplicates = str(data.get("duplicates", "reject"))
    if duplicates not in ("reject", "keep-first"):
        raise MappingError(f"{where}: duplicates must be reject or keep-first, not {duplicates!r}")
    return Mapping(
        name,
        columns,
        constants,
        dates,
        values,
        rescale,
        ids,
        unpivot,
        encoding,
        duplicates,
        conditions,
        text_rules["html"],
        text_rules["unquote"],
        text_rules["blank_invalid"],
    )


def _condition(column: str, rule, where: str) -> Condition:
    """A ``[where]`` rule: "text", ["a", "b"], "empty", "not empty" or {not = …}."""

    def texts(value) -> tuple[str, ...] | None:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return (str(value).strip(),)
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
        ):
            return tuple(str(v).strip() for v in value)
        return None

    if isinstance(rule, str) and rule.strip().lower() in (EMPTY, NOT_EMPTY):
        return Condition(column, blank=rule.strip().lower() == EMPTY)
    if isinstance(rule, dict) and rule and set(rule) <= {"from", "before"}:
        bounds = {key: _bound(column, key, value, where) for key, value in rule.items()}
        since, before = bounds.get("from"), bounds.get("before")
        if since is not None and before is not None and since >= before:
            raise MappingError(
                f"{where}: [where] {column} keeps no date: from = {since} is not before "
                f"before = {before}"
            )
        return Condition(column, since=since, before=before)
    if isinstance(rule, dict) and set(rule) == {"not"} and texts(rule["not"]):
        return Condition(column, texts(rule["not"]), negate=True)
    if texts(rule):
        return Condition(column, texts(rule))
    raise MappingError(
        f'{where}: [where] {column} = {rule!r} is not a condition; use "text", '
        '["a", "b"], "empty", "not empty", { not = "text" } or, for dates, '
        "{ from = 2015-06-09, before = 2016-01-01 }"
    )


def _bound(column: str, key: str, value, where: str) -> dt.date:
    """A date bound of a ``[where]`` condition: a TOML date or an ISO date as text."""
    try:
        return periods.as_date(value)
    except ValueError:
        raise MappingError(
            f"{where}: [where] {column} {key} = {value!r} is not a date; write it as "
            "YYYY-MM-DD, e.g. 2015-06-09"
        ) from None


def load(path: Path, table: str | None = None) -> Mapping:
    """Read a ``.toml``, ``.yaml`` or ``.yml`` mapping file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read the mapping {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(f"the mapping {path} is not UTF-8 text") from exc
    return loads(text, path.suffix.lower(), table, str(path))


def loads(text: str, suffix: str, table: str | None = None, where: str = "the mapping") -> Mapping:
    yaml_file = suffix in (".yaml", ".yml")
    try:
        data = (limits.yaml_load(text) or {}) if yaml_file else tomllib.loads(text)  # no aliases
    except Exception as exc:  # a syntax error of either format
        raise MappingError(
            f"{where} is not valid {'YAML' if yaml_file else 'TOML'}: {syntax_error(exc)}"
        ) from exc
    return parse(data, table, where)


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def syntax_error(exc: Exception) -> str:
    """A TOML or YAML syntax error as "line L, column C: what is wrong" (1-based)."""
    text = str(exc).strip()
    at = _TOML_AT.search(text)
    if at:  # tomllib: "Expected ']' … (at line 3, column 9)"
        return f"line {at[1]}, column {at[2]}: {text[: at.start()]}"
    mark = getattr(exc, "problem_mark", None)  # PyYAML's MarkedYAMLError
    if mark is not None:
        what = getattr(exc, "problem", None) or type(exc).__name__
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            what += f" ({context} from line {start.line + 1}, column {start.column + 1})"
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    return text.splitlines()[0] if text else type(exc).__name__


def identity(table: str, source_columns: list[str]) -> Mapping:
    """The file's columns that carry the table's column names, each to itself."""
    return with_same_names(Mapping(table), source_columns)


def filled(m: Mapping) -> set[str]:
    """The contract columns a mapping gives a value: mapped, constant, built or unpivoted."""
    out = set(m.columns) | set(m.constants) | set(m.ids)
    if m.unpivot:
        out |= {m.unpivot.key, m.unpivot.value}
    return out


def with_same_names(m: Mapping, source_columns: list[str]) -> Mapping:
    """``m`` with each contract column it does not fill read from the file's column of the
    same name, or else of the one column named like it but for case, spaces and punctuation
    ("NPS", "Customer ID"), as the Data page guesses (:func:`guess`); the unpivot's source
    columns excepted. ``m`` as it is when it has ``[columns]``, which names every column
    read, so a column left out of it (the Data page's "not in file") stays out."""
    if m.columns:
        return m
    extra = _read_by_name(m, source_columns)
    return replace(m, columns=extra) if extra else m


def _read_by_name(m: Mapping, source_columns: list[str]) -> dict[str, str]:
    """Each contract column ``m`` does not fill, from the file's column of its name
    (:func:`by_name`) among those the mapping does not read otherwise (the unpivot's)."""
    given = filled(m)
    unpivoted = set(m.unpivot.columns) if m.unpivot else set()
    free = [c for c in source_columns if c not in given and c not in unpivoted]
    out = {}
    for column in schema.metadata.tables[m.table].columns:
        found = None if column.name in given else by_name(column.name, free)
        if found is not None:
            out[column.name] = found
    return out


def by_name(name: str, source_columns: list[str]) -> str | None:
    """The file's column a contract column ``name`` is read from by its name: the column of
    that very name, else the one named like it but for case, spaces and punctuation ("NPS",
    "Customer ID"); None where there is none, or where two are named like it (which of them
    holds it cannot be told)."""
    if name in source_columns:
        return name
    alike = [c for c in source_columns if same_name(c, name)]
    return alike[0] if len(alike) == 1 else None


def same_name(column: str, name: str) -> bool:
    """Whether a file's ``column`` is named like ``name`` but for case, spaces and
    punctuation."""
    return _simple(column) == _simple(name)


def missing_required(m: Mapping) -> list[str]:
    """The table's required columns the mapping gives no value, in the table's order."""
    given = filled(m)
    table = schema.metadata.tables[m.table]
    return [c.name for c in table.columns if schema.required(c) and c.name not in given]


def look_alike(name: str, source_columns: list[str]) -> str | None:
    """The file's column named like a contract column but for case, spaces and punctuation
    ("Customer ID" for customer_id)."""
    return next((c for c in source_columns if _simple(c) == _simple(name)), None)


def _simple(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def guess(table: str, source_columns: list[str], base: Mapping | None = None) -> Mapping:
    """A starting mapping for a file: ``base``'s choices where it has them, else each
    contract column from the source column of its name (:func:`by_name`), as an import
    without ``[columns]`` reads them (:func:`with_same_names`)."""
    base = replace(base or Mapping(table), table=table)
    return replace(base, columns={**base.columns, **_read_by_name(base, source_columns)})


@dataclass(frozen=True)
class Field:
    """One contract column as a mapping form shows it."""

    name: str
    required: bool
    is_date: bool
    #: the contract's scale of a rating (NPS 0-10, CSAT 1-5, CES 1-7): a file's own scale
    #: is rescaled onto it (:func:`scale_of`); None for other columns
    scale: tuple[float, float] | None = None
    #: an id a form may build from the file's columns (``[ids]``): the table's own id, and
    #: the customer's (hashed from the same column in the customers' file, it matches)
    builds_id: bool = False


def scale_text(m: Mapping, f: Field) -> str:
    """A rating field's scale in the file as a form shows it: the mapping's rescale, else
    the contract's ("1-10", "0-10")."""
    r = m.rescale.get(f.name)
    low, high = (r.low, r.high) if r else f.scale
    return f"{low:g}-{high:g}"


def scale_of(f: Field, text: str) -> Rescale | None:
    """The rescale a form's "scale in the file" asks for ("1-10": 1 to 10 onto the
    contract's scale), None when it is the contract's own; a :class:`MappingError` naming
    the field when the text is not two numbers, lowest first."""
    found = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(-?\d+(?:\.\d+)?)\s*", text)
    if not found or float(found[1]) >= float(found[2]):
        raise MappingError(
            f"{f.name}: the scale in the file is written lowest-highest, as 1-10; not {text!r}"
        )
    low, high = float(found[1]), float(found[2])
    if (low, high) == tuple(map(float, f.scale)):
        return None
    return Rescale(low, high, float(f.scale[0]), float(f.scale[1]))


#: The ratings a form may rescale
SCORES = ("nps", "csat", "ces")


def form_fields(m: Mapping) -> list[Field]:
    """The table's columns a form maps by hand: not those the mapping builds itself (ids,
    and the unpivot's key and value)."""
    built = set(m.ids) | ({m.unpivot.key, m.unpivot.value} if m.unpivot else set())
    return [
        Field(
            c.name,
            schema.required(c),
            isinstance(c.type, sa.Date),
            schema.RANGES.get(m.table, {}).get(c.name) if c.name in SCORES else None,
            c.primary_key or c.name == "customer_id",
        )
        for c in schema.metadata.tables[m.table].columns
        if c.name not in built
    ]
