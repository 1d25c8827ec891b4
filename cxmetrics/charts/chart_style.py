"""The shared look of every page's figures: the template, status and series colours, the
empty figure, label wrapping, the labelled heat map, and ``literal`` (data drawn as written).

Status colours are defined once here; pages and exports use the same ones. Each page's figures
live in its own module: ``overview_charts``, ``journey_charts``, ``loyalty_charts``,
``accountability_charts`` and ``voc_charts``.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go

from cxmetrics.stats import metrics as m

STATUS_COLORS = {
    m.STATUS_ON: "#2E7D32",
    m.STATUS_NEAR: "#C77700",
    m.STATUS_BELOW: "#C62828",
    m.STATUS_TOO_FEW: "#9E9E9E",
    m.STATUS_NONE: "#546E7A",
    m.STATUS_NO_DATA: "#9E9E9E",
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


# Plotly draws a few HTML tags in any text; ours are these. Any other "<" came from the
# data (a name, a root cause, a theme) and is drawn as the character itself.
_OUR_TAGS = re.compile(r"<(?!(?:/?(?:b|i|br|sup|sub|extra)|span style='[^'<>]*'|/span)>)")
_TEXT_ATTRIBUTES = (
    "x",
    "y",
    "z",
    "text",
    "hovertext",
    "labels",
    "customdata",
    "ids",
    "name",
    "hovertemplate",
    "texttemplate",
)


def _literal(value):
    if isinstance(value, str):
        return _OUR_TAGS.sub("&lt;", value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OUS":
            return np.vectorize(_literal, otypes=[object])(value) if value.size else value
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_literal(v) for v in value)
    return value


def literal(fig: go.Figure) -> go.Figure:
    """Make every text of a figure that came from the data show as written: a name holding
    ``<a href=…>`` or ``<img …>`` is drawn as those characters, never as a link. In place;
    returns the figure."""
    for trace in fig.data:
        for attr in _TEXT_ATTRIBUTES:
            if attr in trace and trace[attr] is not None:
                trace[attr] = _literal(trace[attr])
    layout = fig.layout
    for ann in layout.annotations or ():
        if ann.text:
            ann.text = _literal(ann.text)
    if layout.title and layout.title.text:
        layout.title.text = _literal(layout.title.text)
    fig.for_each_xaxis(_literal_axis)
    fig.for_each_yaxis(_literal_axis)
    return fig


def _literal_axis(ax) -> None:
    if ax.ticktext is not None:
        ax.ticktext = _literal(ax.ticktext)
    if ax.title and ax.title.text:
        ax.title.text = _literal(ax.title.text)


def add_target_ticks(fig: go.Figure, categories: list, targets: list, name: str = "Target"):
    """Targets on a horizontal bar chart, drawn the same way on every chart: a short dark
    vertical tick across each bar at its target (over time, a target is a dashed line).
    Without any target, nothing is drawn: no legend entry for ticks that are not there."""
    if all(t is None for t in targets):
        return fig
    fig.add_scatter(
        y=categories,
        x=targets,
        mode="markers",
        name=name,
        marker=dict(
            symbol="line-ns-open",
            size=26,
            color=TARGET_COLOR,
            line=dict(width=3, color=TARGET_COLOR),
        ),
        hovertemplate=f"{name.lower()} %{{x:+.0f}}<extra></extra>",
    )
    return fig


def legend_below(fig: go.Figure, space: int = 50) -> go.Figure:
    """The legend under the chart from the figure's left edge, the figure ``space`` pixels
    taller for it: above the plot it starts after long category names and runs into the
    title."""
    fig.update_layout(
        height=(fig.layout.height or 450) + space,
        margin=dict(b=40 + space),
        legend=dict(xref="container", x=0, yref="container", y=0, yanchor="bottom"),
    )
    return fig


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


def labelled_heatmap(
    title: str, height: int, x, y, z, text, hover=None, *, gap: int = 2, **colour
) -> go.Figure:
    """A heat map whose cells show their own text (and ``hover`` on hover, else the text);
    ``colour`` holds the colour scale settings."""
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=height))
    fig.add_heatmap(
        z=z,
        x=x,
        y=y,
        text=text,
        texttemplate="%{text}",
        hoverinfo="text",
        xgap=gap,
        ygap=gap,
        **({} if hover is None else {"hovertext": hover}),
        **colour,
    )
    return fig


#: How a trend's periods read on its axis: a week by the day it starts, a month by its name
PERIOD_FORMATS = {"week": "%-d %b %Y", "month": "%b %Y"}  # "6 Jul 2026", as every date


def period_axis(fig: go.Figure, periods: list, unit: str) -> go.Figure:
    """Dates on the x axis as periods, never as times of day ("00:00:00 Jan 5, 2026", which
    Plotly writes for a single week); with few periods, a tick at each one only."""
    fig.update_xaxes(tickformat=PERIOD_FORMATS.get(unit, PERIOD_FORMATS["week"]))
    distinct = sorted(set(periods))
    if len(distinct) <= 3:
        fig.update_xaxes(tickvals=distinct)
    return fig


#: The ends of the NPS scale: a 95% band or error bar is cut there (a symmetric margin
#: around -100 would reach below it)
NPS_SCALE = (-100.0, 100.0)


def clipped(values: list, moes: list, scale: tuple[float, float] = NPS_SCALE) -> dict:
    """Error-bar arrays of ``values`` ± ``moes`` that stop at the scale's ends, as Plotly's
    ``array`` (up) and ``arrayminus`` (down); None where a value or margin is."""
    low, high = scale
    up, down = [], []
    for v, moe in zip(values, moes, strict=True):
        known = v is not None and moe is not None
        up.append(min(moe, high - v) if known else None)
        down.append(min(moe, v - low) if known else None)
    return {"array": up, "arrayminus": down}


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=240))
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#616E7C"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


SERIES_COLORS = [
    "#1F4E79",
    "#C77700",
    "#2E7D32",
    "#6A1B9A",
    "#C62828",
    "#00838F",
    "#5D4037",
    "#546E7A",
]
