"""Plotly figure builders: a frame or value in, a ``go.Figure`` out, one shared look.

Status colours are defined once here; pages and exports use the same ones.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cxmetrics import metrics as m
from cxmetrics.registry import METRICS

STATUS_COLORS = {
    m.STATUS_ON: "#2E7D32",
    m.STATUS_NEAR: "#C77700",
    m.STATUS_BELOW: "#C62828",
    m.STATUS_TOO_FEW: "#9E9E9E",
    m.STATUS_NONE: "#546E7A",
}
INK = "#1F2933"
GRID = "#E4E7EB"
TARGET_COLOR = "#1F2933"
FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT, size=14, color=INK),
        title=dict(font=dict(size=17), x=0, xanchor="left"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=10, r=20, t=56, b=40),
        xaxis=dict(gridcolor=GRID, zerolinecolor="#9AA5B1", linecolor=GRID, automargin=True),
        yaxis=dict(gridcolor=GRID, zerolinecolor="#9AA5B1", linecolor=GRID, automargin=True),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
)


def wrap(label: str, width: int = 12) -> str:
    """Break a label into lines of about ``width`` characters for axis ticks."""
    lines, current = [], ""
    for word in label.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return "<br>".join(lines)


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=240))
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#616E7C"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def fig_stage_nps(stages: list, min_n: int) -> go.Figure:
    """NPS by journey stage in customer order, with 95% margins and each stage's target.

    ``stages``: ``overview.StageRow`` items. Stages under ``min_n`` answers show no bar.
    """
    title = "NPS by journey stage against target"
    if not stages:
        return _empty(title, "No stage in view")
    names, values, moes, colors, hovers, targets = [], [], [], [], [], []
    for s in stages:
        score = s.scores["nps"]
        shown = score.shown(min_n)
        names.append(wrap(s.name))
        values.append(shown)
        moes.append(score.moe if shown is not None else None)
        colors.append(STATUS_COLORS[s.statuses["nps"]])
        targets.append(s.targets["nps"])
        hovers.append(
            f"<b>{s.name}</b><br>NPS {METRICS['nps'].format(shown)}"
            + (f" ± {score.moe:.1f}" if shown is not None else " (too few responses)")
            + f"<br>n = {score.n:,}<br>target {METRICS['nps'].format(s.targets['nps'])}"
            + f"<br>{s.statuses['nps']}"
        )
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=380))
    fig.add_bar(
        x=names,
        y=values,
        marker_color=colors,
        name="NPS",
        error_y=dict(type="data", array=moes, color="#52606D", thickness=1.2, width=6),
        hovertext=hovers,
        hoverinfo="text",
        text=[METRICS["nps"].format(v) if v is not None else "too few" for v in values],
        textposition="inside",
        insidetextanchor="middle",
        textfont=dict(color="white", size=15),
        cliponaxis=False,
    )
    fig.add_scatter(
        x=names,
        y=targets,
        mode="markers",
        name="Target",
        marker=dict(
            symbol="line-ew-open",
            size=34,
            color=TARGET_COLOR,
            line=dict(width=3, color=TARGET_COLOR),
        ),
        hovertemplate="target %{y:+.0f}<extra></extra>",
    )
    fig.update_yaxes(title="NPS (points, −100 to 100)", ticksuffix="")
    fig.update_layout(showlegend=True, bargap=0.35)
    return fig


def fig_worst_moments(worst: pl.DataFrame) -> go.Figure:
    """The moments of truth with the lowest NPS, worst at the top, with margins and targets."""
    title = "Five worst moments of truth by NPS"
    if worst.height == 0:
        return _empty(title, "No moment of truth has enough responses in this view")
    frame = worst.reverse()  # Plotly draws the first category at the bottom
    labels = [
        f"<b>{t}</b><br><span style='color:#616E7C'>{s} · n = {n:,}</span>"
        for t, s, n in frame.select("touchpoint", "stage", "n_nps").iter_rows()
    ]
    colors = [
        STATUS_COLORS[m.STATUS_BELOW]
        if (gap is not None and gap < -5)
        else STATUS_COLORS[m.STATUS_NEAR]
        if (gap is not None and gap < 0)
        else STATUS_COLORS[m.STATUS_ON]
        for gap in frame["gap"]
    ]
    hovers = [
        f"<b>{t}</b> ({s})<br>NPS {METRICS['nps'].format(v)} ± {e:.1f}<br>n = {n:,}"
        f"<br>stage target {METRICS['nps'].format(tg)}"
        for t, s, v, e, n, tg in frame.select(
            "touchpoint", "stage", "nps", "nps_moe", "n_nps", "nps_target"
        ).iter_rows()
    ]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=110 + 52 * frame.height))
    fig.add_bar(
        y=labels,
        x=frame["nps"].to_list(),
        orientation="h",
        marker_color=colors,
        error_x=dict(
            type="data", array=frame["nps_moe"].to_list(), color="#52606D", thickness=1.2, width=5
        ),
        hovertext=hovers,
        hoverinfo="text",
        name="NPS",
        text=[METRICS["nps"].format(v) for v in frame["nps"]],
        textposition="inside",
        insidetextanchor="middle",
        textfont=dict(color="white", size=15),
        cliponaxis=False,
    )
    fig.add_scatter(
        y=labels,
        x=frame["nps_target"].to_list(),
        mode="markers",
        name="Stage target",
        marker=dict(
            symbol="line-ns-open",
            size=22,
            color=TARGET_COLOR,
            line=dict(width=3, color=TARGET_COLOR),
        ),
        hovertemplate="stage target %{x:+.0f}<extra></extra>",
    )
    lo = min([*frame["nps"].to_list(), *frame["nps_target"].drop_nulls().to_list(), 0]) - 12
    hi = max([*frame["nps"].to_list(), *frame["nps_target"].drop_nulls().to_list(), 0]) + 12
    fig.update_xaxes(title="NPS (points)", range=[lo, hi])
    fig.update_layout(showlegend=True, bargap=0.4)
    return fig
