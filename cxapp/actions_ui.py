"""Action plans on the pages: the lists beside a stage, the late ones, and the editor.

The rules (who may edit, what a valid action is, the change log) live in
``cxmetrics.contract.actions``; the measured effect in ``cxmetrics.findings.action_effect``. The
editor saves in button callbacks, so the lists drawn after them already show the change."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
import streamlit as st

from cxapp import auth, data, errors, ui
from cxmetrics.contract import actions, store
from cxmetrics.contract.registry import METRICS
from cxmetrics.contract.text import day_text
from cxmetrics.findings import action_effect
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview_links

NEW = "__new__"
#: what an executive reads first on the left (who, where, whether it is late, what it did),
#: the details after: at 1,400 px the first ten columns show without scrolling
ORDER = [
    "action_id",
    "title",
    "department",
    "stage",
    "status",
    "due_on",
    "late",
    "verdict",
    "metric",  # the unit of the effect beside it
    "effect",
    "effect_low",
    "effect_high",
    "target",
    "touchpoint",
    "start_on",
    "n_after",
    "n_needed",
    "effect_note",
]


def columns() -> dict:
    return {
        "action_id": st.column_config.TextColumn("Action"),
        "title": st.column_config.TextColumn("What", width="medium"),
        "department": "Owner",
        "stage": "Stage",
        "touchpoint": "Touchpoint",
        "metric": st.column_config.TextColumn(
            "Metric", help="What the action should move, and the unit of its target and effect"
        ),
        "target": st.column_config.NumberColumn("Target", format="%.1f"),
        "start_on": st.column_config.DateColumn("Start"),
        "due_on": st.column_config.DateColumn("Due"),
        "status": "Status",
        "late": st.column_config.CheckboxColumn("Late", help="Due date passed, not done"),
        "verdict": st.column_config.TextColumn("Measured effect", help=action_effect.METHOD),
        "effect": st.column_config.NumberColumn(
            "Effect", format="%+.2f", help="Difference-in-differences, in the metric's unit"
        ),
        "effect_low": st.column_config.NumberColumn("95% low", format="%+.2f"),
        "effect_high": st.column_config.NumberColumn("95% high", format="%+.2f"),
        "n_after": st.column_config.NumberColumn("n after", format="%,d"),
        "n_needed": st.column_config.NumberColumn(
            "n needed", format="%,d", help="Answers after the start needed for a verdict"
        ),
        "effect_note": st.column_config.TextColumn("How it was judged", width="large"),
    }


def today() -> dt.date:
    return dt.date.today()


def listed(ds: Dataset) -> pl.DataFrame | None:
    """Every action the user may see, with names, lateness and measured effect; measured
    once for every session with the same actions (shared: do not change it). None when
    the action plans cannot be read (``data.get_actions`` says so)."""
    current = data.get_actions(ds)
    if current is None:
        return None
    return data.shared(action_effect.listing, data.DATASET, current, today())


def metric_label(metric: str) -> str:
    """A metric as an action's row names it, with the unit its target and effect are in:
    "NPS (points)", "CSAT (%)", "CES (1-7)"."""
    spec = METRICS.get(metric)
    return f"{spec.short} ({spec.unit})" if spec else metric


def shown_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns a list of actions shows, in their order; the metric with its unit."""
    shown = frame.select([c for c in ORDER if c in frame.columns])
    if "metric" not in shown.columns:
        return shown
    labels = {m: metric_label(m) for m in shown["metric"].unique().drop_nulls().to_list()}
    return shown.with_columns(pl.col("metric").replace(labels))


#: Said where a list of actions would be while they cannot be read
UNREAD = "The action plans cannot be read right now; they show again when the database answers."


def show(frame: pl.DataFrame | None, key: str, empty_text: str) -> None:
    """A list of actions; ``frame``: :func:`listed` or a shared part of it (None: unread)."""
    if frame is None:
        st.caption(UNREAD)
        return
    if frame.height == 0:
        st.caption(empty_text)
        return
    ui.table(
        data.shared(shown_columns, frame),
        key,
        hide_index=True,
        column_config=columns(),
    )


def stage_section(ds: Dataset, stage_id: str, key: str) -> None:
    """The actions on one stage with their measured effect."""
    name = ds.journey.stage_name(stage_id)
    st.markdown(ui.md(f"**Actions on {name}**"))
    every = listed(ds)
    frame = None if every is None else data.shared(actions.on_stage, every, stage_id)
    show(frame, key, f"No action plan on {name}.")
    if frame is not None and frame.height:
        st.caption(action_effect.METHOD)


def late_only(frame: pl.DataFrame, stage_ids: tuple[str, ...] | None = None) -> pl.DataFrame:
    """The late actions of ``frame`` on the stages in view (None: every stage)."""
    late = frame.filter(pl.col("late"))
    return late if stage_ids is None else late.filter(pl.col("stage_id").is_in(stage_ids))


def late_section(ds: Dataset, frame: pl.DataFrame | None, view: Filters | None = None) -> None:
    """The overview's list of late actions: due date passed, neither done nor dropped.
    ``frame``: :func:`listed` (None: unread); ``view``: the page's filters, which each
    action's link to the Accountability page keeps (on its stage and owner)."""
    if frame is None:
        st.subheader("Late actions")
        st.caption(UNREAD)
        return
    stage_ids = None if view is None else ds.stage_ids(view)
    late = data.shared(late_only, frame, stage_ids)
    st.subheader(f"Late actions ({late.height})" if late.height else "Late actions")
    if frame.height == 0:
        ui.not_recorded(
            "No action plans recorded yet: import them (the `actions` table) or add one on "
            "the Accountability page, and the late ones show here."
        )
        return
    on = "" if stage_ids is None else " on the stages in view"
    if late.height == 0:
        st.caption(f"No action plan{on} is past its due date.")
        return
    st.caption(f"Due date passed, neither done nor dropped{on}; each with its measured effect.")
    lines = []
    for r in late.iter_rows(named=True):
        where = r["stage"] + (f" · {r['touchpoint']}" if r["touchpoint"] else "")
        days = (today() - r["due_on"]).days
        line = "- :material/schedule: " + ui.md(
            f"**{r['title']}** ({r['action_id']}) — {r['department']}, {where}: due "
            f"{day_text(r['due_on'])}, {days} days late, {r['status']}. "
            f"Measured effect: {r['effect_note'] or '–'}"
        )
        if view is not None:
            url = overview_links.action(
                ui.site_root(), r["stage_id"], r["department_id"], view, ds.journey
            )
            line += " · " + overview_links.markdown("accountability", url)
        lines.append(line)
    st.markdown("\n".join(lines))


# --- the editor -----------------------------------------------------------------------


def _state(key: str, default):
    if key not in st.session_state:
        st.session_state[key] = default
    return key


def _not_written(exc: Exception) -> str:
    """Why the database did not take a change (down, or an account that may only read),
    in one line without secrets: nothing of the change was written."""
    return (
        f"the database did not take it ({store.describe_error(exc)}); nothing was changed. "
        "Try again in a moment; if it keeps failing, tell the dashboard's administrator"
    )


@errors.callback
def _save(ds: Dataset, pick: str) -> None:
    user = auth.current_user()
    ss = st.session_state
    values = {f: ss.get(f"act_{f}_{pick}") for f in actions.FIELDS}
    values["touchpoint_id"] = values["touchpoint_id"] or None
    try:
        saved = actions.save(data.engine(), user, values, ds.journey, None if pick == NEW else pick)
    except actions.ActionError as exc:
        ss["_action_message"] = ("error", f"Not saved: {form_words(str(exc), ds)}.")
        return
    except (sa.exc.SQLAlchemyError, store.StoreError) as exc:
        ss["_action_message"] = ("error", f"Not saved: {_not_written(exc)}.")
        return
    verb = "Created" if pick == NEW else "Saved"
    ss["_action_message"] = ("success", f"{verb} {saved}.")
    if pick == NEW:
        for f in actions.FIELDS:
            ss.pop(f"act_{f}_{NEW}", None)
    ss["act_pick"] = saved


#: The form's names of an action's fields, for messages that name a field by its id
FORM_LABELS = {
    "department_id": "Owner department",
    "stage_id": "Stage",
    "touchpoint_id": "Touchpoint",
    "title": "Title",
    "metric": "Metric",
    "target": "Target",
    "start_on": "Start",
    "due_on": "Due",
    "status": "Status",
    "notes": "Notes",
}


def form_words(message: str, ds: Dataset) -> str:
    """A message of :func:`actions.clean` in the form's words: its field's label for the
    field's id, a touchpoint's name for its id."""
    field, sep, rest = message.partition(": ")
    if not sep or field not in FORM_LABELS:
        return message
    if field == "touchpoint_id":
        for tp in ds.journey.touchpoints["touchpoint_id"]:
            rest = rest.replace(repr(tp), repr(ds.journey.touchpoint_name(tp)))
    return f"{FORM_LABELS[field]}: {rest}"


@errors.callback
def _close(ds: Dataset, pick: str, status: str) -> None:
    note = st.session_state.get(f"act_close_note_{pick}", "")
    try:
        actions.close(data.engine(), auth.current_user(), pick, ds.journey, status, note)
    except actions.ActionError as exc:
        st.session_state["_action_message"] = ("error", f"Not closed: {exc}.")
        return
    except (sa.exc.SQLAlchemyError, store.StoreError) as exc:
        st.session_state["_action_message"] = ("error", f"Not closed: {_not_written(exc)}.")
        return
    st.session_state["_action_message"] = ("success", f"{pick} marked {status}.")
    for f in actions.FIELDS:  # the form shows the action as it now is
        st.session_state.pop(f"act_{f}_{pick}", None)
    # emptied, not dropped: a dropped key leaves the browser's text, sent with the next close
    st.session_state[f"act_close_note_{pick}"] = ""


def editor(ds: Dataset) -> None:
    """Create, edit and close actions: a manager only for their departments."""
    user = auth.current_user()
    journey = ds.journey
    mine = data.shared(actions.editable_departments, user, journey)
    message = st.session_state.pop("_action_message", None)
    if message:
        (st.success if message[0] == "success" else st.error)(ui.md(message[1]))
    if not mine:
        st.caption("You may not edit action plans for any department in view.")
        return
    read_only = store.read_only_reason(data.engine())
    if read_only is not None:  # a lake, Spark: say so before a form is filled in for nothing
        st.caption(ui.md(f"Action plans are only read here: {read_only}."))
        return
    current = data.get_actions(ds)
    if current is None:  # unread: a form over what is not known would overwrite it
        st.caption("Action plans cannot be edited while they cannot be read.")
        return
    editable = current.filter(pl.col("department_id").is_in(mine))
    rows = {r["action_id"]: r for r in editable.iter_rows(named=True)}
    options = [NEW, *rows]
    if st.session_state.get("act_pick") not in options:
        st.session_state["act_pick"] = NEW
    pick = st.selectbox(
        "Action to edit",
        options,
        key="act_pick",
        format_func=lambda a: "New action" if a == NEW else f"{a} · {rows[a]['title']}",
    )
    row = rows.get(pick, {})
    stages = journey.stage_order
    tps = journey.touchpoints.sort("stage_id", "touchpoint_id")
    tp_options = ["", *tps["touchpoint_id"].to_list()]
    tp_stage = dict(zip(tps["touchpoint_id"], tps["stage_id"], strict=True))
    now = today()
    with st.form(f"action_form_{pick}"):
        c1, c2, c3 = st.columns(3)
        c1.selectbox(
            "Owner department",
            mine,
            key=_state(f"act_department_id_{pick}", row.get("department_id", mine[0])),
            format_func=journey.department_name,
        )
        c2.selectbox(
            "Stage",
            stages,
            key=_state(f"act_stage_id_{pick}", row.get("stage_id", stages[0])),
            format_func=journey.stage_name,
        )
        c3.selectbox(
            "Touchpoint (optional)",
            tp_options,
            key=_state(f"act_touchpoint_id_{pick}", row.get("touchpoint_id") or ""),
            format_func=lambda t: (
                "The whole stage"
                if not t
                else f"{journey.stage_name(tp_stage[t])} · {journey.touchpoint_name(t)}"
            ),
        )
        st.text_input("Title", key=_state(f"act_title_{pick}", row.get("title", "")))
        # three to a row where the page is narrow: five cut the dates ("2026 / 1") and the
        # status ("plannec") at 1,024 px; keyed by name, not by an action's id, which the
        # row's style would hold (one form to a page)
        c1, c2, c3, c4, c5 = ui.wrapping_columns(5, "act_form_row", per_row=3)
        c1.selectbox(
            "Metric",
            list(actions.TARGET_RANGES),
            key=_state(f"act_metric_{pick}", row.get("metric", "nps")),
            format_func=str.upper,
        )
        c2.number_input(
            "Target", key=_state(f"act_target_{pick}", float(row.get("target", 0.0))), step=1.0
        )
        c3.date_input("Start", key=_state(f"act_start_on_{pick}", row.get("start_on", now)))
        c4.date_input(
            "Due",
            key=_state(f"act_due_on_{pick}", row.get("due_on", now + dt.timedelta(days=90))),
        )
        c5.selectbox(
            "Status",
            actions.STATUSES,
            key=_state(f"act_status_{pick}", row.get("status", "planned")),
        )
        st.text_area("Notes", key=_state(f"act_notes_{pick}", row.get("notes") or ""), height=80)
        st.form_submit_button(
            "Create action" if pick == NEW else "Save changes",
            type="primary",
            on_click=_save,
            args=(ds, pick),
        )
    if pick == NEW:
        return
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.text_input("Closing note (optional)", key=f"act_close_note_{pick}")
    c2.button("Mark done", key=f"act_done_{pick}", on_click=_close, args=(ds, pick, "done"))
    c3.button("Drop", key=f"act_drop_{pick}", on_click=_close, args=(ds, pick, "dropped"))
    with st.expander(f"Changes to {pick}"):
        log = actions.history(data.engine(), pick)
        ui.table(
            log.select("changed_at", "changed_by", "change"),
            f"action-changes-{pick}",
            hide_index=True,
            column_config={
                "changed_at": st.column_config.DatetimeColumn("When (UTC)"),
                "changed_by": "Who",
                "change": st.column_config.TextColumn("What changed", width="large"),
            },
        )
