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

    [dates]                       # strptime formats (ISO 8601 when not given)
    responded_on = "%d/%m/%Y"

    [values.touchpoint_id]        # value maps, applied before parsing ("" = a blank cell)
    "Billing" = "pay_first_bill"

    [rescale.csat]                # linear, then rounded: 1-10 stars onto 1-5
    from = [1, 10]
    to = [1, 5]

    [ids]                         # a stable integer id from text columns (hashed)
    customer_id = ["Reviewer"]

    [unpivot]                     # wide to long: each listed column becomes a row
    key = "touchpoint_id"         # contract column that receives the mapped name
    value = "csat"                # contract column that receives the cell
    columns = { "Comfort" = "lounge_comfort", "Food" = "lounge_food" }
    skip = ["0"]                  # cells that mean "not rated": no row

Names on the right of ``[columns]`` and in ``[ids]`` and ``[unpivot]`` are the file's;
names on the left are the contract's (see ``cxmetrics/schema.py``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from cxmetrics import limits, schema


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


@dataclass(frozen=True)
class Mapping:
    table: str
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    rescale: dict[str, Rescale] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    unpivot: Unpivot | None = None
    encoding: str = "utf-8"
    duplicates: str = "reject"  # or "keep-first": later rows with the same id are skipped

    def source_columns(self) -> set[str]:
        """Every column of the file this mapping reads."""
        used = set(self.columns.values())
        for sources in self.ids.values():
            used |= set(sources)
        if self.unpivot:  # an id may be built from the unpivot's key, which is not the file's
            used = (used - {self.unpivot.key}) | set(self.unpivot.columns)
        return used

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
        for title, items in (
            ("columns", self.columns),
            ("constants", self.constants),
            ("dates", self.dates),
        ):
            if items:
                lines += ["", f"[{title}]", *[f"{k} = {q(v)}" for k, v in items.items()]]
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
    unknown = set(data) - known - {"encoding", "duplicates"}
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
    dates = {str(k): str(v) for k, v in _table(data, "dates").items()}
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
    duplicates = str(data.get("duplicates", "reject"))
    if duplicates not in ("reject", "keep-first"):
        raise MappingError(f"{where}: duplicates must be reject or keep-first, not {duplicates!r}")
    return Mapping(
        name, columns, constants, dates, values, rescale, ids, unpivot, encoding, duplicates
    )


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
    try:
        yaml = suffix in (".yaml", ".yml")
        data = (limits.yaml_load(text) or {}) if yaml else tomllib.loads(text)  # no aliases
    except Exception as exc:  # a syntax error of either format
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MappingError(
            f"{where} is not valid {suffix.lstrip('.').upper() or 'TOML'}: {first}"
        ) from exc
    return parse(data, table, where)


def identity(table: str, source_columns: list[str]) -> Mapping:
    """The file's columns that carry the table's column names, each to itself."""
    contract = {c.name for c in schema.metadata.tables[table].columns}
    return Mapping(table, {c: c for c in source_columns if c in contract})


def _simple(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def guess(table: str, source_columns: list[str], base: Mapping | None = None) -> Mapping:
    """A starting mapping for a file: ``base``'s choices where it has them, else each
    contract column from the source column of the same name (ignoring case, spaces and
    punctuation)."""
    base = base or Mapping(table)
    by_name = {_simple(c): c for c in source_columns}
    columns = dict(base.columns)
    taken = set(base.constants) | set(base.ids) | set(columns)
    if base.unpivot:
        taken |= {base.unpivot.key, base.unpivot.value}
    for column in schema.metadata.tables[table].columns:
        if column.name not in taken and _simple(column.name) in by_name:
            columns[column.name] = by_name[_simple(column.name)]
    return replace(base, table=table, columns=columns)


@dataclass(frozen=True)
class Field:
    """One contract column as a mapping form shows it."""

    name: str
    required: bool
    is_date: bool


def form_fields(m: Mapping) -> list[Field]:
    """The table's columns a form maps by hand: not those the mapping builds itself (ids,
    and the unpivot's key and value)."""
    built = set(m.ids) | ({m.unpivot.key, m.unpivot.value} if m.unpivot else set())
    return [
        Field(
            c.name,
            schema.required(c),
            isinstance(c.type, sa.Date),
        )
        for c in schema.metadata.tables[m.table].columns
        if c.name not in built
    ]
