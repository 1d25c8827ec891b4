"""Import a journey definition: stages, touchpoints, departments, ownership, targets and
incentives, from a folder of CSV files like ``sample_data/`` or from one YAML file.

The YAML file holds one list of rows per table::

    stages:
      - {stage_id: lounge, name: Airport lounge, position: 1}
    touchpoints:
      - {touchpoint_id: lounge_comfort, stage_id: lounge, name: Comfort, moment_of_truth: true}
    departments: [...]
    stage_owners: [...]
    targets: [...]        # metric, stage_id (empty: company-wide), target
    incentives: [...]

Everything is checked before anything is written, then written in one transaction: rows are
upserted by id; the targets, and the owners of each stage in the file, are replaced by the
file's.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cxmetrics.contract import importer, limits, schema, store
from cxmetrics.contract.journey import (
    _FILES,
    Journey,
    JourneyError,
    read_journey_dir,
    typed_rows,
)
from cxmetrics.contract.text import counted


def read(path: Path) -> Journey:
    """A journey from a folder of CSV files or a ``.yaml``/``.yml`` file."""
    path = Path(path)
    if path.is_dir():
        return read_journey_dir(path)[0]
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise JourneyError(f"{path}: give a folder of journey CSV files or a YAML file")
    import yaml

    try:
        data = limits.yaml_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise JourneyError(f"{path} cannot be read as YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise JourneyError(f"{path}: expected one list of rows per table")
    frames = {}
    for name, dtypes in _FILES.items():
        rows = data.get(name, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise JourneyError(f"{path}: {name} must be a list of rows")
        unknown = sorted({k for r in rows for k in r} - set(dtypes) - {"channels"})
        if unknown:
            raise JourneyError(f"{path}: {name} has unknown column(s) {', '.join(unknown)}")
        typed = typed_rows(rows, dtypes, f"{path}: {name}")
        frames[name] = pl.DataFrame(typed, schema=dtypes, orient="row")
    return Journey(**frames)


def problems(j: Journey) -> list[str]:
    """Everything wrong with a journey, in words; empty when it can be written."""
    out = []
    stages = set(j.stages["stage_id"].to_list())
    departments = set(j.departments["department_id"].to_list())
    if not stages:
        out.append("no stages")
    for name, frame, key in (
        ("stages", j.stages, ["stage_id"]),
        ("touchpoints", j.touchpoints, ["touchpoint_id"]),
        ("departments", j.departments, ["department_id"]),
        ("stage_owners", j.stage_owners, ["stage_id", "department_id"]),
        ("incentives", j.incentives, ["department_id"]),
    ):
        for c in frame.columns:
            column = schema.metadata.tables[name].c[c]
            if not column.nullable and frame[c].null_count():
                out.append(f"{name}: {c} is empty in {frame[c].null_count()} row(s)")
        dup = frame.filter(pl.struct(key).is_duplicated())
        if dup.height:
            out.append(f"{name}: duplicate {'+'.join(key)} {dup.row(0)[0]!r}")
    if j.stages["position"].is_duplicated().any():
        out.append("stages: two stages share a position")
    for both in sorted(stages & departments):  # the pages name both from one table of labels
        out.append(
            f"departments: {both!r} is also a stage id; give the department another id "
            "(e.g. a prefix) so a stage and a department are never taken for each other"
        )
    for name, frame, column, known, what in (
        ("touchpoints", j.touchpoints, "stage_id", stages, "stage"),
        ("stage_owners", j.stage_owners, "stage_id", stages, "stage"),
        ("stage_owners", j.stage_owners, "department_id", departments, "department"),
        ("incentives", j.incentives, "department_id", departments, "department"),
        ("targets", j.targets.drop_nulls("stage_id"), "stage_id", stages, "stage"),
    ):
        unknown = sorted(set(frame[column].drop_nulls().to_list()) - known)
        if unknown:
            out.append(f"{name}: unknown {what} {', '.join(map(repr, unknown))}")
    roles = set(j.stage_owners["role"].drop_nulls().to_list()) - set(schema.OWNER_ROLES)
    if roles:
        out.append(
            f"stage_owners: role must be lead or contributor, not {', '.join(sorted(roles))}"
        )
    leads = j.stage_owners.filter(pl.col("role") == "lead").group_by("stage_id").len()
    for r in leads.filter(pl.col("len") > 1).iter_rows(named=True):
        out.append(f"stage_owners: stage {r['stage_id']!r} has {r['len']} leads; one only")
    metrics = set(j.targets["metric"].drop_nulls().to_list()) - set(schema.TARGET_METRICS)
    if metrics:
        out.append(f"targets: unknown metric(s) {', '.join(sorted(metrics))}")
    for r in j.targets.drop_nulls(["metric", "target"]).iter_rows(named=True):
        low, high = schema.TARGET_RANGES.get(r["metric"], (None, None))
        if low is not None and not low <= r["target"] <= high:
            where = f"stage {r['stage_id']!r}" if r["stage_id"] else "the company"
            out.append(
                f"targets: the {r['metric']} target of {where} is {r['target']:g}, "
                f"outside {low:g} to {high:g}"
            )
    share = j.incentives.filter(~pl.col("cx_share").is_between(0, 1))
    if share.height:
        out.append("incentives: cx_share must be between 0 and 1")
    return out


def _insert(dialect: str):
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def described(counts: dict[str, int]) -> str:
    """What :func:`write` wrote, in words: "1 stage, 4 touchpoints, 2 stage owners"."""
    return ", ".join(
        counted(n, name[:-1].replace("_", " "), name.replace("_", " "))
        for name, n in counts.items()
    )


def write(engine: sa.Engine, j: Journey, source: str = "journey definition") -> dict[str, int]:
    """Upsert the journey's rows in one transaction (targets are replaced); rows per table.
    The import is logged (so caches keyed on the data version see the change)."""
    wrong = problems(j)
    if wrong:
        raise JourneyError("the journey cannot be imported: " + "; ".join(wrong))
    store.require_importable(engine, "the journey")
    schema.create_all(engine)
    with engine.connect() as conn:
        others = conn.execute(
            sa.select(schema.stages.c.stage_id, schema.stages.c.position).where(
                schema.stages.c.stage_id.not_in(j.stages["stage_id"].to_list())
            )
        ).all()
    taken = {position: stage for stage, position in others}
    clash = [
        f"position {p} of stage {s!r} is taken by stage {taken[p]!r} already in the database"
        for s, p in j.stages.select("stage_id", "position").iter_rows()
        if p in taken
    ]
    if clash:
        raise JourneyError("the journey cannot be imported: " + "; ".join(clash))
    frames = {
        "stages": j.stages,
        "touchpoints": j.touchpoints,
        "departments": j.departments,
        "stage_owners": j.stage_owners,
        "incentives": j.incentives,
    }
    stage_ids = j.stages["stage_id"].to_list()
    counts = {}
    try:
        with engine.begin() as conn:
            insert = _insert(conn.dialect.name)
            # a stage's owners are the file's: those it no longer lists are removed
            conn.execute(
                schema.stage_owners.delete().where(schema.stage_owners.c.stage_id.in_(stage_ids))
            )
            for name, frame in frames.items():
                table = schema.metadata.tables[name]
                cols = [c for c in frame.columns if c in table.c]
                rows = frame.select(cols).to_dicts()
                if rows:
                    stmt = insert(table)
                    keys = [c.name for c in table.primary_key.columns]
                    updates = {c: stmt.excluded[c] for c in cols if c not in keys}
                    stmt = (
                        stmt.on_conflict_do_update(index_elements=keys, set_=updates)
                        if updates
                        else stmt.on_conflict_do_nothing(index_elements=keys)
                    )
                    conn.execute(stmt, rows)
                counts[name] = len(rows)
            conn.execute(schema.targets.delete())
            targets = j.targets.select("metric", "stage_id", "target").to_dicts()
            if targets:
                conn.execute(schema.targets.insert(), targets)
            counts["targets"] = len(targets)
    except sa.exc.SQLAlchemyError as exc:
        raise store.StoreError(
            f"cannot write the journey to {store.safe_url(str(engine.url))}: "
            f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
        ) from exc
    for name, written in counts.items():  # each table's own rows (the Data page's "Last import")
        importer.log_import(engine, name, source, written, written, 0)
    return counts
