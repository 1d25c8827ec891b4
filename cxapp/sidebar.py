"""The shared sidebar filters: the same keyed widgets on every page, bound to the URL.

Every page calls :func:`filters` itself, so it works under ``st.navigation`` and in
``AppTest`` alike. Each widget keeps its value for the whole session (it survives page
switches), and every run writes the filters into the address (:func:`_show_in_url`), so the
view in the address bar is the one on screen and can be shared and reopened; an address
is read once, when a session opens on it (:func:`_open_link`).

The widgets are not bound to the URL by Streamlit (``bind="query-params"``): a value the
session starts with from the address, or one set by the code (a link, Reset), did not
reach the address of the next page, so a view passed on from there opened unfiltered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import streamlit as st

from cxapp import data, errors
from cxmetrics.contract.periods import PRESETS, preset_range
from cxmetrics.contract.text import period_text
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import links
from cxmetrics.views.wording import inert

KEYS = ("period", "dates", "stage", "department", "channel", "segment", "region")
_WIDGET = dict(persist_state="session")


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the filters offer on one dataset: worked out once per data version and scope
    for every session (``data.shared``), not on every run."""

    default: str  # the period preset a view opens on
    why: str  # and why
    first_day: dt.date
    last_day: dt.date
    department_ids: tuple[str, ...]  # by name; a manager's own only
    channels: tuple[str, ...]
    segments: tuple[str, ...]
    regions: tuple[str, ...]


def choices(ds: Dataset) -> Choices:
    default, why = ds.default_period()  # a few sums over the daily statistics
    department_ids = ds.journey.departments.sort("name")["department_id"].to_list()
    if ds.scope is not None:  # a manager filters among their own departments
        department_ids = [d for d in department_ids if d in ds.scope]
    return Choices(
        default,
        why,
        ds.first_day,
        ds.last_day,
        tuple(department_ids),
        *(tuple(ds.options(c)) for c in ("channel", "segment", "region")),
    )


def filters(ds: Dataset) -> Filters:
    """Draw the sidebar filters and return the view they describe."""
    journey = ds.journey
    offered = data.shared(choices, data.DATASET)
    _open_link(ds)
    for key in KEYS:  # keep a value the code set (a link, Reset) when the page changes
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    sb = st.sidebar
    sb.header("Filters")
    default, why = offered.default, offered.why
    first_day, last_day = offered.first_day, offered.last_day
    # the default through the session's state, not index=: a widget given both warns
    st.session_state.setdefault("period", default)
    period = sb.selectbox(
        "Period",
        list(PRESETS),
        key="period",
        format_func=PRESETS.get,
        help="Quarters and years end on the latest day with data.",
        **_WIDGET,
    )
    if period == "custom":
        st.session_state.setdefault("dates", (last_day - dt.timedelta(days=89), last_day))
        picked = sb.date_input(
            "Dates",
            key="dates",
            min_value=first_day,
            max_value=last_day,
            format="YYYY-MM-DD",
            **_WIDGET,
        )
        start, end = _date_pair(picked, first_day, last_day)
    else:
        start, end = preset_range(period, first_day, last_day)
    sb.caption(f"{period_text(start, end)} · data covers {period_text(first_day, last_day)}")
    if period == default:
        sb.caption(why)

    stages = sb.multiselect(
        "Journey stage",
        journey.stage_order,
        key="stage",
        format_func=journey.stage_name,
        placeholder="All stages",
        **_WIDGET,
    )
    departments = sb.multiselect(
        "Department",
        list(offered.department_ids),
        key="department",
        format_func=journey.department_name,
        # a manager sees their own departments only: "All departments" read as the company's
        placeholder="All departments" if ds.scope is None else "All your departments",
        help="Keeps the stages these departments affect, as lead or contributor.",
        **_WIDGET,
    )
    if departments:
        affected = journey.stages_of_departments(tuple(departments))
        sb.caption("Affects: " + inert(", ".join(journey.stage_name(s) for s in affected)))
    channels = sb.multiselect(
        "Channel", list(offered.channels), key="channel", placeholder="All channels", **_WIDGET
    )
    segments = sb.multiselect(
        "Segment", list(offered.segments), key="segment", placeholder="All segments", **_WIDGET
    )
    regions = sb.multiselect(
        "Region", list(offered.regions), key="region", placeholder="All regions", **_WIDGET
    )
    sb.button("Reset filters", on_click=_reset, args=(default,), icon=":material/restart_alt:")
    view = Filters(
        start=start,
        end=end,
        stages=tuple(stages),
        departments=tuple(departments),
        channels=tuple(channels),
        segments=tuple(segments),
        regions=tuple(regions),
    )
    _show_in_url(ds, period, view)
    return view


def link_choices(ds: Dataset) -> links.Choices:
    """What a link may name in this session's data (a manager's: their own departments)."""
    journey = ds.journey
    departments = journey.departments["department_id"].to_list()
    if ds.scope is not None:
        departments = [d for d in departments if d in ds.scope]
    values = {
        "stage": {s: journey.stage_name(s) for s in journey.stage_order},
        "department": {d: journey.department_name(d) for d in departments},
        **{p: {v: v for v in ds.options(p)} for p in ("channel", "segment", "region")},
    }
    return links.Choices(ds.first_day, ds.last_day, values)


def _open_link(ds: Dataset) -> None:
    """Once per session: the filters its address carries become the initial filters, in
    either form: a link's (``links.view_url``: ids, start and end) or the address bar's
    (names, period, dates). A parameter that cannot be used is named in a warning and left
    out."""
    if st.session_state.get("_link_opened"):
        return
    st.session_state["_link_opened"] = True
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    if not any(k in params for k in ("start", "end", *KEYS)):
        return
    view = links.parse_query(params, link_choices(ds))
    for problem in view.problems:
        st.warning(f"This link's {inert(problem)}: that part of it was left out.", icon="⚠️")
    if view.start or view.end:
        st.session_state["period"] = "custom"
        st.session_state["dates"] = (view.start or ds.first_day, view.end or ds.last_day)
    elif view.period and view.period != "custom":  # custom without its dates: the default
        st.session_state["period"] = view.period
    for param, ids in view.lists.items():
        st.session_state[param] = list(ids)


def _show_in_url(ds: Dataset, period: str, view: Filters) -> None:
    """The filters on screen as the address's parameters (names, as people read them; the
    period always, a list filter when it is set), so the address can be passed on."""
    journey = ds.journey
    want: dict[str, list[str]] = {}
    want["period"] = [PRESETS[period]]  # the default too: it depends on the data and scope
    if period == "custom":
        want["dates"] = [view.start.isoformat(), view.end.isoformat()]
    names = {"stage": journey.stage_name, "department": journey.department_name}
    for param, attr in links.LISTS.items():
        name = names.get(param, str)
        if getattr(view, attr):
            want[param] = [name(v) for v in getattr(view, attr)]
    for key in ("start", "end", *KEYS):
        if key in want and st.query_params.get_all(key) != want[key]:
            st.query_params[key] = want[key]
        elif key not in want and key in st.query_params:
            del st.query_params[key]


@errors.callback
def _reset(default_period: str) -> None:
    """Every filter back to the view a page opens on (the address follows)."""
    st.session_state["period"] = default_period
    for key in KEYS[2:]:
        st.session_state[key] = []
    st.session_state.pop("dates", None)


def _date_pair(picked, first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """A custom range; while the user has picked only one day, that day alone."""
    if isinstance(picked, (tuple, list)):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return first_day, last_day
    return picked, picked
