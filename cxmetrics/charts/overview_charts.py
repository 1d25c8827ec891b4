"""Figures of the overview page: NPS by journey stage and the worst moments of truth."""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go
import polars as pl

from cxmetrics.charts.chart_style import (
    STATUS_COLORS,
    TEMPLATE,
    _empty,
    add_target_ticks,
    clipped,
)
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import metrics as m
from cxmetrics.views.overview import has_nps_target


def fig_stage_nps(stages: list, min_n: int) -> go.Figure:
    """NPS by journey stage in customer order (first at the top), horizontal bars so the
    stage names read as written, with 95% margins and each stage's target.

    ``stages``: ``overview.StageRow`` items. Stages under ``min_n`` answers show no bar.
    """
    title = "NPS by journey stage" + (" against target" if has_nps_target(stages) else "")
    if not stages:
        return _empty(title, "No stage in view")
    if not any(s.scores["nps"].n for s in stages):
        return _empty(title, "No NPS answers in this view")
    names, values, moes, colors, hovers, targets = [], [], [], [], [], []
    for s in reversed(stages):  # Plotly draws the first category at the bottom
        score = s.scores["nps"]
        shown = score.shown(min_n)
        names.append(
            f"<b>{s.position}. {s.name}</b><br><span style='color:#616E7C'>n = {score.n:,}</span>"
        )
        values.append(shown)
        moes.append(score.moe if shown is not None else None)
        colors.append(STATUS_COLORS[s.statuses["nps"]])
        targets.append(s.targets["nps"])
        hovers.append(
            f"<b>{s.name}</b><br>NPS {METRICS['nps'].format(shown)}"
            + (
                f" ± {score.moe:.1f}"
                if shown is not None
                else " (no data)"
                if score.n == 0
                else " (too few responses)"
            )
            + f"<br>n = {score.n:,}<br>{_target_text(s.targets['nps'])}"
            + f"<br>{s.statuses['nps']}"
        )
    low, high = axis_range(values, moes, targets)
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=110 + 52 * len(names)))
    fig.add_bar(
        y=names,
        x=values,
        orientation="h",
        marker_color=colors,
        name="NPS",
        showlegend=False,  # the title says what the bars are
        error_x=dict(type="data", **clipped(values, moes), color="#52606D", thickness=1.2, width=5),
        hovertext=hovers,
        hoverinfo="text",
        text=inside_labels(values, moes, high - low),
        **INSIDE_TEXT,
        cliponaxis=False,
    )
    add_target_ticks(fig, names, targets)
    unknown = ["no data" if s.scores["nps"].n == 0 else "too few answers" for s in stages]
    beyond_labels(fig, names, values, moes, high - low, targets, unknown[::-1])
    fig.update_xaxes(title="NPS (points, −100 to 100)", range=[low, high])
    fig.update_layout(showlegend=True, bargap=0.4)
    return fig


def _target_text(target: float | None) -> str:
    return "no target set" if target is None else f"target {METRICS['nps'].format(target)}"


#: A bar holds its value inside when the part of it its margin's line leaves clear spans this
#: share of the axis at least (a label of three or four characters on half a 1,400 px page);
#: else the value stands beyond the end of the margin (and beyond a target tick there)
INSIDE_SHARE = 0.12
LABEL_SHARE = 0.09  # the room such a label takes beside a bar, as a share of the axis
LABEL_COLOR, TOO_FEW_COLOR = "#1F2933", "#616E7C"


def inside_labels(values: list, moes: list, span: float) -> list[str]:
    """The value each horizontal bar shows inside it: where the part its margin's line
    leaves clear holds the text; else "" (:func:`beyond_labels` writes it). ``span``: the
    axis's range."""
    fmt = METRICS["nps"].format
    return [
        fmt(v) if v is not None and abs(v) - (moe or 0.0) >= INSIDE_SHARE * span else ""
        for v, moe in zip(values, moes, strict=True)
    ]


#: How the bars write :func:`inside_labels`: level, in white, at the bar's base
INSIDE_TEXT = dict(
    textposition="inside",
    insidetextanchor="start",
    textangle=0,
    textfont=dict(color="white", size=15),
)


def axis_range(values: list, moes: list, targets: list) -> tuple[float, float]:
    """An NPS bar chart's axis: 0, every bar with its margin and every target, with room
    beside them for a value written beyond a margin's end (:func:`beyond_labels`)."""
    ends = [0.0, *(t for t in targets if t is not None)]
    bars = clipped(values, moes)  # margins stop at the scale's ends, as they are drawn
    for v, up, down in zip(values, bars["array"], bars["arrayminus"], strict=True):
        if v is not None:
            ends += [v - (down or 0.0), v + (up or 0.0)]
    return min(ends) - 12, max(ends) + 12


def beyond_labels(
    fig: go.Figure,
    names: list,
    values: list,
    moes: list,
    span: float,
    targets: list,
    unknown: list | None = None,
) -> go.Figure:
    """The values :func:`inside_labels` left out, level, in dark text beyond the end of the
    bar's margin (and beyond its target tick when that stands where the text would), so
    that a short bar's label is neither turned on its side nor struck through by the
    margin's line ("−8" read as "8"); where a bar has no value, its ``unknown`` text ("no
    data", "too few answers"; the latter without it)."""
    fmt = METRICS["nps"].format
    pad, room = 0.01 * span, LABEL_SHARE * span
    ys, xs, texts, places, colors = [], [], [], [], []
    inside = inside_labels(values, moes, span)
    unknown = unknown or ["too few answers"] * len(values)
    drawn = clipped(values, moes)  # the margins as drawn, stopped at the scale's ends
    reaches = zip(drawn["array"], drawn["arrayminus"], strict=True)
    rows = zip(names, values, reaches, targets, inside, unknown, strict=True)
    for name, v, (up, down), target, shown, none_text in rows:
        if shown:
            continue
        side = 1.0 if v is None or v >= 0 else -1.0
        reach = (up if side > 0 else down) or 0.0
        x = 0.0 if v is None else v + side * (reach + pad)
        if target is not None and v is not None and 0 <= side * (target - x) <= room:
            x = target + side * pad  # the text would cover the target's tick: past it
        ys.append(name)
        xs.append(x)
        texts.append(none_text if v is None else fmt(v))
        places.append("middle right" if side > 0 else "middle left")
        colors.append(TOO_FEW_COLOR if v is None else LABEL_COLOR)
    if xs:
        fig.add_scatter(
            y=ys,
            x=xs,
            text=texts,
            textposition=places,
            textfont=dict(color=colors, size=15),
            mode="text",
            showlegend=False,
            hoverinfo="skip",
            cliponaxis=False,
        )
    return fig


def fig_worst_moments(worst: pl.DataFrame) -> go.Figure:
    """The moments of truth with the lowest NPS, worst at the top, with margins and targets."""
    # as many as there are: "Five worst" above four bars read as one missing
    count = {1: "The", 2: "Two", 3: "Three", 4: "Four"}.get(worst.height, "Five")
    title = f"{count} worst moment{'s' if worst.height != 1 else ''} of truth by NPS"
    if worst.height == 0:
        title = "Worst moments of truth by NPS"
        return _empty(title, "No moment of truth has enough responses in this view")
    frame = worst.reverse()  # Plotly draws the first category at the bottom
    labels = [
        f"<b>{t}</b><br><span style='color:#616E7C'>{s} · n = {n:,}</span>"
        for t, s, n in frame.select("touchpoint", "stage", "n_nps").iter_rows()
    ]
    colors = [  # judged as a stage's status is: below only when the whole interval is below
        STATUS_COLORS[m.STATUS_NONE]
        if gap is None
        else STATUS_COLORS[m.STATUS_ON]
        if gap >= 0
        else STATUS_COLORS[m.STATUS_NEAR]
        if -gap <= (moe or 0.0)
        else STATUS_COLORS[m.STATUS_BELOW]
        for gap, moe in zip(frame["gap"], frame["nps_moe"], strict=True)
    ]
    hovers = [
        f"<b>{t}</b> ({s})<br>NPS {METRICS['nps'].format(v)} ± {e:.1f}<br>n = {n:,}"
        f"<br>stage {_target_text(tg)}"
        for t, s, v, e, n, tg in frame.select(
            "touchpoint", "stage", "nps", "nps_moe", "n_nps", "nps_target"
        ).iter_rows()
    ]
    values, moes, targets = (frame[c].to_list() for c in ("nps", "nps_moe", "nps_target"))
    lo, hi = axis_range(values, moes, targets)
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=110 + 52 * frame.height))
    fig.add_bar(
        y=labels,
        x=values,
        orientation="h",
        marker_color=colors,
        error_x=dict(type="data", **clipped(values, moes), color="#52606D", thickness=1.2, width=5),
        hovertext=hovers,
        hoverinfo="text",
        name="NPS",
        showlegend=False,  # the title says what the bars are
        text=inside_labels(values, moes, hi - lo),
        **INSIDE_TEXT,
        cliponaxis=False,
    )
    add_target_ticks(fig, labels, targets, "Stage target")
    beyond_labels(fig, labels, values, moes, hi - lo, targets)
    fig.update_xaxes(title="NPS (points)", range=[lo, hi])
    fig.update_layout(showlegend=True, bargap=0.4)
    return fig


def sparkline_svg(
    values: list[float | None],
    bands: list[tuple[float, float] | None] | None,
    color: str,
    title: str,
    height: int = 44,
) -> str | None:
    """A tile's small trend as inline SVG: the line of its points (a period without one is
    skipped, as the line joins its neighbours) over a light band of their 95% intervals in
    the line's colour; no axes, no legend. Stretches to the width it is given. None with
    fewer than two points."""
    points = [(i, v, bands[i] if bands else None) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    highs = [b[1] if b else v for _, v, b in points]
    lows = [b[0] if b else v for _, v, b in points]
    top, bottom = max(highs), min(lows)
    span = (top - bottom) or 1.0
    width, pad = 100.0, 3.0  # x in 0-100 (stretched); y keeps a stroke's room top and bottom

    def x(i: int) -> float:
        return width * i / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (top - v) / span

    line = " ".join(f"{x(i):.2f},{y(v):.2f}" for i, v, _ in points)
    band = ""
    if bands and all(b is not None for _, _, b in points):
        upper = [f"{x(i):.2f},{y(b[1]):.2f}" for i, _, b in points]
        lower = [f"{x(i):.2f},{y(b[0]):.2f}" for i, _, b in reversed(points)]
        band = (
            f'<polygon points="{" ".join(upper + lower)}" fill="{color}" fill-opacity="0.16" '
            'stroke="none"/>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="{escape(title)}" viewBox="0 0 {width:g} {height}" '
        f'preserveAspectRatio="none" width="100%" height="{height}" '
        'style="display:block;overflow:visible">'
        f"<title>{escape(title)}</title>{band}"
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2" '
        'stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke"/>'
        "</svg>"
    )
