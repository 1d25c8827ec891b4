"""Action plans: what a department does about a stage, who may change them, and their log.

An action belongs to one department (its owner) and one stage, optionally one touchpoint of
that stage; it says which metric it should move (NPS, CSAT or CES) to which target, and when
it starts and is due. Its status is planned, in progress, done or dropped. Every change made
here is written with the action, in the same transaction, to ``action_changes``: who, when
and what changed.

Who may change an action (:func:`can_edit`): analysts and executives any action; a manager
only the actions of the departments they answer for (the users file), and never moves one
to another department. With sign-in off everybody is :data:`access.NOBODY`, an analyst.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import periods, schema, store
from cxmetrics.contract.access import ANALYST, EXECUTIVE, MANAGER, User
from cxmetrics.contract.journey import Journey

STATUSES = schema.ACTION_STATUSES
OPEN_STATUSES = ("planned", "in progress")
CLOSED_STATUSES = ("done", "dropped")
TARGET_RANGES = schema.TARGET_RANGES
FIELDS = (
    "department_id",
    "stage_id",
    "touchpoint_id",
    "title",
    "metric",
    "target",
    "start_on",
    "due_on",
    "status",
    "notes",
)
ID_PREFIX = "A-"


class ActionError(ValueError):
    """An action cannot be saved; the message says which field is wrong, or who may not."""


# --- who may edit -------------------------------------------------------------------------


def can_edit(user: User, department_id: str) -> bool:
    """Whether ``user`` may create, change or close an action owned by ``department_id``."""
    if user.role in (ANALYST, EXECUTIVE):
        return True
    return user.role == MANAGER and department_id in user.departments


def editable_departments(user: User, journey: Journey) -> list[str]:
    """The departments ``user`` may own actions for, in the journey's order of names."""
    ids = journey.departments.sort("name")["department_id"].to_list()
    return [d for d in ids if can_edit(user, d)]


# --- reading ------------------------------------------------------------------------------


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=store.polars_schema(schema.actions))


def load(engine: sa.Engine) -> pl.DataFrame:
    """Every action, ordered by due date; an empty frame when the database has no
    ``actions`` table yet (``init-db`` adds it)."""
    if not sa.inspect(engine).has_table(schema.actions.name):
        return empty()
    frame = store.load_table(engine, schema.actions)
    return frame.sort("due_on", "action_id")


def change_marker(engine: sa.Engine) -> tuple | None:
    """A cheap fingerprint of the action plans, read in one query: it changes with every
    action created, changed or closed here (:func:`save`, :func:`close`) and every import of
    actions, since each writes its line to ``action_changes``. None when the database has
    no action tables yet (``init-db`` or the first save adds them)."""
    a, log = schema.actions, schema.action_changes
    stmt = sa.select(
        sa.select(sa.func.count()).select_from(a).scalar_subquery(),
        sa.select(sa.func.count()).select_from(log).scalar_subquery(),
        sa.select(sa.func.max(log.c.change_id)).scalar_subquery(),
    )
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(stmt).one())
    except sa.exc.SQLAlchemyError:
        return None


def history(engine: sa.Engine, action_id: str) -> pl.DataFrame:
    """The changes made to one action, newest first."""
    c = schema.action_changes
    if not sa.inspect(engine).has_table(c.name):
        return pl.DataFrame(schema=store.polars_schema(c))
    stmt = sa.select(c).where(c.c.action_id == action_id)
    return store.read_select(engine, stmt).sort("change_id", descending=True)


def visible(
    actions: pl.DataFrame, journey: Journey, scope: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """The actions on the stages of ``journey``; with a manager's ``scope`` (their
    departments, ``Dataset.scope``) only their departments' own actions, as with their
    cases and KPIs."""
    on_stage = actions.filter(pl.col("stage_id").is_in(journey.stage_order))
    if scope is None:
        return on_stage
    return on_stage.filter(pl.col("department_id").is_in(list(scope)))


def on_stage(actions: pl.DataFrame, stage_id: str) -> pl.DataFrame:
    return actions.filter(pl.col("stage_id") == stage_id)


def late(actions: pl.DataFrame, today: dt.date) -> pl.DataFrame:
    """Actions whose due date has passed and that are neither done nor dropped."""
    return actions.filter(
        (pl.col("due_on") < today) & pl.col("status").is_in(OPEN_STATUSES)
    ).with_columns((pl.lit(today) - pl.col("due_on")).dt.total_days().alias("days_late"))


def table(actions: pl.DataFrame, journey: Journey, today: dt.date) -> pl.DataFrame:
    """Actions as a page shows them: names instead of ids, and whether each is late."""
    if actions.height == 0:
        return actions.with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("department", "stage", "touchpoint")
        ).with_columns(pl.lit(None, pl.Boolean).alias("late"))
    departments = dict(
        zip(journey.departments["department_id"], journey.departments["name"], strict=True)
    )
    stages = dict(zip(journey.stages["stage_id"], journey.stages["name"], strict=True))
    return actions.with_columns(
        pl.col("department_id")
        .replace_strict(departments, default=pl.col("department_id"))
        .alias("department"),
        pl.col("stage_id").replace_strict(stages, default=pl.col("stage_id")).alias("stage"),
        pl.col("touchpoint_id")
        .replace_strict(journey.touchpoint_names, default=pl.col("touchpoint_id"))
        .alias("touchpoint"),
        ((pl.col("due_on") < today) & pl.col("status").is_in(OPEN_STATUSES)).alias("late"),
    )


# --- writing ------------------------------------------------------------------------------


def _date(value, field: str) -> dt.date:
    try:
        return periods.as_date(value)
    except ValueError:
        raise ActionError(f"{field} must be a date (YYYY-MM-DD), not {value!r}") from None


def clean(values: Mapping, journey: Journey) -> dict:
    """The fields of an action, checked against the contract and the journey; any problem
    raises :class:`ActionError` naming the field."""
    out = {}
    title = str(values.get("title") or "").strip()
    if not title:
        raise ActionError("title: say what the action is")
    if len(title) > schema.actions.c.title.type.length:
        raise ActionError(f"title: at most {schema.actions.c.title.type.length} characters")
    out["title"] = title
    department = values.get("department_id")
    if department not in set(journey.departments["department_id"]):
        raise ActionError(f"department_id: unknown department {department!r}")
    out["department_id"] = department
    stage = values.get("stage_id")
    if stage not in journey.stage_order:
        raise ActionError(f"stage_id: unknown stage {stage!r}")
    out["stage_id"] = stage
    touchpoint = values.get("touchpoint_id") or None
    if touchpoint is not None:
        tps = journey.touchpoints.filter(pl.col("stage_id") == stage)["touchpoint_id"]
        if touchpoint not in set(tps):
            raise ActionError(
                f"touchpoint_id: {touchpoint!r} is not a touchpoint of {journey.stage_name(stage)}"
            )
    out["touchpoint_id"] = touchpoint
    metric = values.get("metric")
    if metric not in TARGET_RANGES:
        raise ActionError(f"metric: one of {', '.join(TARGET_RANGES)}, not {metric!r}")
    out["metric"] = metric
    try:
        target = float(values.get("target"))
    except (TypeError, ValueError):
        raise ActionError(f"target: a number, not {values.get('target')!r}") from None
    low, high = TARGET_RANGES[metric]
    if not math.isfinite(target) or not low <= target <= high:
        raise ActionError(f"target: {metric.upper()} targets lie from {low:g} to {high:g}")
    out["target"] = target
    out["start_on"] = _date(values.get("start_on"), "start_on")
    out["due_on"] = _date(values.get("due_on"), "due_on")
    if out["due_on"] < out["start_on"]:
        raise ActionError("due_on: the due date is before the start date")
    status = values.get("status") or "planned"
    if status not in STATUSES:
        raise ActionError(f"status: one of {', '.join(STATUSES)}, not {status!r}")
    out["status"] = status
    notes = "" if values.get("notes") is None else str(values.get("notes")).strip()
    out["notes"] = notes or None
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _described(field: str, before, after) -> str:
    def show(v):
        return "–" if v is None or v == "" else str(v)

    if field == "notes" and before and isinstance(after, str) and after.startswith(before + "\n"):
        # a note added on its own line (a close): the log keeps it, not the notes twice over
        return f"notes: added {after[len(before) + 1 :]}"
    return f"{field}: {show(before)} → {show(after)}"


def _next_id(conn: sa.Connection) -> str:
    ids = conn.execute(sa.select(schema.actions.c.action_id)).scalars().all()
    numbers = [int(m.group(1)) for i in ids if (m := re.fullmatch(r"A-(\d+)", str(i)))]
    return f"{ID_PREFIX}{max(numbers, default=0) + 1:04d}"


#: A create that repeats one the same user made this recently is the same form sent twice
RESUBMIT_SECONDS = 60


def _same_action(conn: sa.Connection, fields: Mapping) -> str | None:
    """The id of an action whose every field equals ``fields``, or None."""
    a = schema.actions
    stmt = sa.select(a).where(a.c.title == fields["title"], a.c.stage_id == fields["stage_id"])
    for row in conn.execute(stmt).mappings():
        if all(_as_date(row[f]) == fields[f] for f in FIELDS):
            return row["action_id"]
    return None


def _just_created(conn: sa.Connection, action_id: str, who: str, when: dt.datetime) -> bool:
    """Whether ``who`` created ``action_id`` less than :data:`RESUBMIT_SECONDS` ago."""
    log = schema.action_changes
    stmt = sa.select(log.c.changed_at).where(
        log.c.action_id == action_id,
        log.c.changed_by == who,
        log.c.change.startswith("created:"),
    )
    for at in conn.execute(stmt).scalars():
        at = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
        if abs((when - at).total_seconds()) < RESUBMIT_SECONDS:
            return True
    return False


def _who(user: User) -> str:
    return user.email or "everyone (sign-in off)"


def save(
    engine: sa.Engine,
    user: User,
    values: Mapping,
    journey: Journey,
    action_id: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Create an action (``action_id`` None) or change one, and log the change; returns its
    id. Raises :class:`ActionError` when a field is wrong, ``user`` may not, or the database
    is one the dashboard does not write to (a lake, Spark, a DuckDB file)."""
    try:
        store.require_importable(engine, "action plans")
    except store.StoreError as exc:
        raise ActionError(str(exc)) from exc
    fields = clean(values, journey)
    if not can_edit(user, fields["department_id"]):
        raise ActionError(
            f"{user.label} may not own actions for "
            f"{journey.department_name(fields['department_id'])}: managers edit only the "
            "actions of their own departments"
        )
    when = now or _now()
    schema.create_all(engine)  # a database from before action plans gets the tables
    a, log = schema.actions, schema.action_changes
    with engine.begin() as conn:
        if action_id is None:
            twin = _same_action(conn, fields)
            if twin is not None:
                if _just_created(conn, twin, _who(user), when):
                    return twin  # the same form sent twice (a double click): one action
                raise ActionError(
                    f"{twin} is already this action (the same department, stage, touchpoint, "
                    "title, target, dates, status and notes); change that one instead"
                )
            action_id = _next_id(conn)
            conn.execute(a.insert().values(action_id=action_id, **fields))
            what = f"created: {fields['title']} ({fields['status']}, due {fields['due_on']})"
        else:
            old = conn.execute(sa.select(a).where(a.c.action_id == action_id)).mappings().first()
            if old is None:
                raise ActionError(f"there is no action {action_id!r}")
            if not can_edit(user, old["department_id"]):
                raise ActionError(
                    f"{user.label} may not change {action_id}: it belongs to "
                    f"{journey.department_name(old['department_id'])}"
                )
            changed = [
                _described(f, _as_date(old[f]), fields[f])
                for f in FIELDS
                if _as_date(old[f]) != fields[f]
            ]
            if not changed:
                return action_id
            conn.execute(a.update().where(a.c.action_id == action_id).values(**fields))
            what = "; ".join(changed)
        conn.execute(
            log.insert().values(
                action_id=action_id, changed_at=when, changed_by=_who(user), change=what
            )
        )
    return action_id


def _as_date(value):
    """SQLite hands dates back as text through some drivers."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    return value


def close(
    engine: sa.Engine,
    user: User,
    action_id: str,
    journey: Journey,
    status: str = "done",
    note: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Mark an action done (or dropped), adding ``note`` to its notes; logged like any
    change."""
    if status not in CLOSED_STATUSES:
        raise ActionError(f"status: an action is closed as {' or '.join(CLOSED_STATUSES)}")
    a = schema.actions
    with engine.connect() as conn:
        old = conn.execute(sa.select(a).where(a.c.action_id == action_id)).mappings().first()
    if old is None:
        raise ActionError(f"there is no action {action_id!r}")
    values = {k: _as_date(old[k]) for k in FIELDS}
    values["status"] = status
    added = note.strip()
    lines = (old["notes"] or "").split("\n")
    sent_twice = old["status"] == status and lines[-1] == added  # a close sent twice
    if added and not sent_twice:
        values["notes"] = "\n".join(x for x in (old["notes"], added) if x)
    save(engine, user, values, journey, action_id, now)
