"""The journey definition: stages, touchpoints, departments, ownership, targets, incentives.

Read from the readable CSV files of a folder such as ``sample_data/``; the dashboard reads
the same shapes back from the database (``store.load_journey``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from cxmetrics.contract.csv_rows import separator

SAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "sample_data"

_FILES = {
    "stages": {
        "stage_id": pl.String,
        "name": pl.String,
        "position": pl.Int32,
        "description": pl.String,
    },
    "touchpoints": {
        "touchpoint_id": pl.String,
        "stage_id": pl.String,
        "name": pl.String,
        "moment_of_truth": pl.Boolean,
        "description": pl.String,
    },
    "departments": {"department_id": pl.String, "name": pl.String},
    "stage_owners": {"stage_id": pl.String, "department_id": pl.String, "role": pl.String},
    "targets": {"metric": pl.String, "stage_id": pl.String, "target": pl.Float64},
    "incentives": {"department_id": pl.String, "cx_share": pl.Float64},
}

#: The contract's tables a journey definition fills
TABLES = tuple(_FILES)


class JourneyError(ValueError):
    """A journey definition file is missing or malformed."""


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_ACCEPTED = {
    pl.Boolean: "true, false, 1 or 0",
    pl.Int32: f"a whole number from {-(2**31):,} to {2**31 - 1:,}",
    pl.Float64: "a number",
    pl.String: "text",
}
_INVALID = object()


def coerce(value, dtype):
    """A journey cell as its column's type (None stays None), or ``_INVALID``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else value
    if dtype == pl.Boolean:
        if isinstance(text, bool):
            return text
        return _BOOLEANS.get(str(text).lower(), _INVALID)
    if isinstance(text, dict | list):
        return _INVALID
    if dtype == pl.String:
        return str(text).lower() if isinstance(text, bool) else str(text)
    if isinstance(text, bool):
        return _INVALID
    try:
        number = float(text)
    except (TypeError, ValueError):
        return _INVALID
    if not math.isfinite(number):  # "nan", "inf": not a position, a target or a share
        return _INVALID
    if dtype == pl.Int32:
        fits = number.is_integer() and -(2**31) <= number < 2**31
        return int(number) if fits else _INVALID
    return number


def typed_rows(rows: list[dict], dtypes: dict, where: str, first: int = 1) -> list[dict]:
    """``rows`` with each cell as its column's type; a ``JourneyError`` naming the row
    (numbered from ``first``), its id, the field, the value and the accepted values of
    every cell that is not."""
    out, wrong = [], []
    key = next(iter(dtypes))
    for number, row in enumerate(rows, start=first):
        typed = {}
        for column, dtype in dtypes.items():
            value = coerce(row.get(column), dtype)
            if value is _INVALID:
                wrong.append(
                    f"row {number} ({key} {row.get(key)!r}): {column} = {row.get(column)!r} "
                    f"is not {_ACCEPTED[dtype]}"
                )
            typed[column] = value
        out.append(typed)
    if wrong:
        more = f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""
        raise JourneyError(f"{where}: {'; '.join(wrong[:5])}{more}")
    return out


@dataclass(frozen=True)
class Journey:
    """Small frames that describe the company's journey and who owns each stage."""

    stages: pl.DataFrame
    touchpoints: pl.DataFrame
    departments: pl.DataFrame
    stage_owners: pl.DataFrame
    targets: pl.DataFrame
    incentives: pl.DataFrame

    @cached_property
    def stage_order(self) -> list[str]:
        return self.stages.sort("position")["stage_id"].to_list()

    @cached_property
    def _stage_names(self) -> dict[str, str]:
        return dict(zip(self.stages["stage_id"], self.stages["name"], strict=True))

    @cached_property
    def _department_names(self) -> dict[str, str]:
        return dict(zip(self.departments["department_id"], self.departments["name"], strict=True))

    @cached_property
    def _targets(self) -> dict[tuple[str, str | None], float]:
        return {
            (r["metric"], r["stage_id"]): float(r["target"])
            for r in self.targets.iter_rows(named=True)
        }

    @cached_property
    def _owners(self) -> dict[str, list[str]]:
        rows = self.stage_owners.join(self.departments, on="department_id", how="left").sort(
            [pl.col("role") != "lead", "name"]
        )
        out: dict[str, list[str]] = {}
        for r in rows.iter_rows(named=True):
            out.setdefault(r["stage_id"], []).append(r["department_id"])
        return out

    @cached_property
    def labels(self) -> dict[str, str]:
        """Display names of stages and departments, keyed by id."""
        return {**self._stage_names, **self._department_names}

    @cached_property
    def touchpoint_names(self) -> dict[str, str]:
        return dict(zip(self.touchpoints["touchpoint_id"], self.touchpoints["name"], strict=True))

    def touchpoint_name(self, touchpoint_id: str) -> str:
        return self.touchpoint_names.get(touchpoint_id, touchpoint_id)

    def stage_name(self, stage_id: str) -> str:
        return self._stage_names.get(stage_id, stage_id)

    def department_name(self, department_id: str) -> str:
        return self._department_names.get(department_id, department_id)

    def stages_of_departments(self, department_ids: tuple[str, ...]) -> list[str]:
        """Every stage that at least one of the departments affects (lead or contributor)."""
        wanted = {s for s, owners in self._owners.items() if set(owners) & set(department_ids)}
        return [s for s in self.stage_order if s in wanted]

    def stages_led_by(self, department_id: str) -> list[str]:
        return [s for s in self.stage_order if self.lead_department(s) == department_id]

    @cached_property
    def _leads(self) -> dict[str, str]:
        rows = self.stage_owners.filter(pl.col("role") == "lead")
        return dict(zip(rows["stage_id"], rows["department_id"], strict=True))

    def lead_department(self, stage_id: str) -> str | None:
        return self._leads.get(stage_id)

    def owners_of(self, stage_id: str) -> list[str]:
        """Departments affecting a stage, lead first, then contributors by name."""
        return list(self._owners.get(stage_id, []))

    def scoped(self, department_ids: tuple[str, ...]) -> Journey:
        """The journey a manager of these departments sees: the stages they affect, those
        stages' touchpoints and targets, and who shares them (the other departments on those
        stages are named, as the stage's team); incentives are only theirs."""
        stages = self.stages_of_departments(department_ids)
        depts = pl.col("department_id").is_in(list(department_ids))
        on_stage = pl.col("stage_id").is_in(stages)
        owners = self.stage_owners.filter(on_stage)
        return Journey(
            stages=self.stages.filter(on_stage),
            touchpoints=self.touchpoints.filter(on_stage),
            departments=self.departments.filter(
                pl.col("department_id").is_in(owners["department_id"].unique().implode())
            ),
            stage_owners=owners,
            targets=self.targets.filter(on_stage | pl.col("stage_id").is_null()),
            incentives=self.incentives.filter(depts),
        )

    def target(self, metric: str, stage_id: str | None = None) -> float | None:
        """The stage's target for a metric, else the company-wide one, else None."""
        if stage_id is not None and (metric, stage_id) in self._targets:
            return self._targets[(metric, stage_id)]
        return self._targets.get((metric, None))


def _read_csv(path: Path) -> pl.DataFrame:
    """One journey file, every cell as text: UTF-8 (a byte-order mark is dropped), split on
    the separator its header uses (``csv_rows.separator``: a comma, or Excel's ";")."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise JourneyError(
            f"{path}: line {line} is not UTF-8 text (byte {exc.start + 1}); save the file "
            "as CSV UTF-8"
        ) from exc
    sep = separator(text)
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, separator=sep)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JourneyError(f"{path}: cannot be read as CSV ({first})") from exc
    if sep != ";":
        return frame
    # Excel writes ";" where the decimal mark is a comma: "0,05" is 0.05 there
    decimal = r"^\s*-?\d+,\d+\s*$"
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(decimal))
        .then(pl.col(c).str.replace(",", ".", literal=True))
        .otherwise(pl.col(c))
        .alias(c)
        for c in frame.columns
    )


def read_journey_dir(folder: Path = SAMPLE_DIR) -> tuple[Journey, pl.DataFrame]:
    """Read a journey folder; return the journey and the touchpoints' allowed channels."""
    frames: dict[str, pl.DataFrame] = {}
    channels = None
    for name, dtypes in _FILES.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            raise JourneyError(f"journey file missing: {path}")
        raw = _read_csv(path)
        absent = [c for c in dtypes if c not in raw.columns]
        if absent:
            raise JourneyError(f"{path}: missing column(s) {', '.join(absent)}")
        rows = typed_rows(raw.select(list(dtypes)).to_dicts(), dtypes, str(path), first=2)
        frames[name] = pl.DataFrame(rows, schema=dtypes, orient="row")
        if name == "touchpoints" and "channels" in raw.columns:
            channels = raw.select(
                "touchpoint_id", pl.col("channels").str.split("|").alias("channels")
            )
    return Journey(**frames), channels


def read_kpi_definitions(folder: Path = SAMPLE_DIR) -> pl.DataFrame:
    return pl.read_csv(
        folder / "kpi_definitions.csv",
        schema_overrides={"target": pl.Float64, "higher_is_better": pl.Boolean},
    )
