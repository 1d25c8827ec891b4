"""Plotly figure builders: a frame or value in, a ``go.Figure`` out, one shared look.

Status colours are defined once here; pages and exports use the same ones.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from cxmetrics import metrics as m
from cxmetrics.registry import METRICS

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
    if not any(s.scores["nps"].n for s in stages):
        return _empty(title, "No NPS answers in this view")
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
            + (
                f" ± {score.moe:.1f}"
                if shown is not None
                else " (no data)"
                if score.n == 0
                else " (too few responses)"
            )
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


VERDICT_COLORS = {
    "declared and strong": "#C62828",
    "strong but undeclared": "#6A1B9A",
    "declared, no difference found": "#90A4AE",
    "neither": "#CFD8DC",
    "too few responses": "#ECEFF1",
}


def fig_impact(ranking: pl.DataFrame, top: int = 12) -> go.Figure:
    """Touchpoints ranked by NPS points at stake against the rest of their stage, coloured
    by how they compare with the declared moments of truth."""
    title = "Touchpoints ranked by NPS points at stake"
    ranked = ranking.filter(pl.col("rank").is_not_null()).head(top)
    if ranked.height == 0:
        return _empty(title, "Too few answers to compare touchpoints with their stage")
    frame = ranked.reverse()
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=120 + 34 * frame.height))
    for verdict, color in VERDICT_COLORS.items():
        part = frame.filter(pl.col("verdict") == verdict)
        if part.height == 0:
            continue
        fig.add_bar(
            y=[f"{t} ({s})" for t, s in zip(part["touchpoint"], part["stage"], strict=True)],
            x=part["points"].to_list(),
            orientation="h",
            marker_color=color,
            name=verdict,
            text=[f"{p:.1f}" for p in part["points"]],
            textposition="outside",
            cliponaxis=False,
            hovertext=[
                f"<b>{t}</b> ({s})<br>{p:.2f} NPS points at stake<br>NPS {a:+.0f} "
                f"(n = {na:,}) vs rest of stage {b:+.0f} (n = {nb:,})<br>difference "
                f"{d:+.1f} (95% CI {lo:+.1f} to {hi:+.1f}), q = {q:.3f}"
                for t, s, p, a, na, b, nb, d, lo, hi, q in part.select(
                    "touchpoint",
                    "stage",
                    "points",
                    "nps",
                    "n_nps",
                    "nps_rest",
                    "n_rest",
                    "difference",
                    "ci_low",
                    "ci_high",
                    "q",
                ).iter_rows()
            ],
            hoverinfo="text",
        )
    order = [f"{t} ({s})" for t, s in zip(frame["touchpoint"], frame["stage"], strict=True)]
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    fig.update_xaxes(
        title="NPS points at stake (overall NPS points that go with the touchpoint falling "
        "short of its stage)"
    )
    fig.update_layout(barmode="overlay", bargap=0.3)
    return fig


def fig_channel_heatmap(cells: pl.DataFrame, metric_label: str) -> go.Figure:
    """Touchpoint × channel heat map of a score; blank where too few answers."""
    title = f"{metric_label} by touchpoint and channel"
    if cells.height == 0:
        return _empty(title, "No answers in this view")
    order = cells.select("touchpoint", "stage", "position").unique().sort("position", "touchpoint")
    rows = [f"{t} ({s})" for t, s in zip(order["touchpoint"], order["stage"], strict=True)]
    cols = sorted(cells["channel"].unique().to_list())
    lookup = {
        (f"{t} ({s})", c): (v, n)
        for t, s, c, v, n in cells.select(
            "touchpoint", "stage", "channel", "value", "n"
        ).iter_rows()
    }
    z = [[lookup.get((r, c), (None, 0))[0] for c in cols] for r in rows]
    text = [
        [
            ("" if lookup.get((r, c), (None, 0))[0] is None else f"{lookup[(r, c)][0]:.2f}")
            for c in cols
        ]
        for r in rows
    ]
    hover = [
        [
            f"{r}<br>{c}: "
            + (
                f"{lookup[(r, c)][0]:.2f} (n = {lookup[(r, c)][1]:,})"
                if lookup.get((r, c), (None, 0))[0] is not None
                else f"too few or none (n = {lookup.get((r, c), (0, 0))[1]:,})"
            )
            for c in cols
        ]
        for r in rows
    ]
    fig = labelled_heatmap(
        title,
        140 + 24 * len(rows),
        cols,
        rows,
        z,
        text,
        hover,
        colorscale="RdYlGn",
        zmin=1,
        zmax=7,
        colorbar=dict(title=dict(text=metric_label), thickness=12),
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top")
    fig.update_layout(margin=dict(t=100))
    return fig


def fig_behaviour(groups: list, min_n: int) -> go.Figure:
    """NPS of customers defined by a behaviour against everyone else, with margins."""
    title = "Behavioural moments: NPS of those customers against everyone else"
    usable = [g for g in groups if g.nps.n >= min_n and g.others_nps.n >= min_n]
    if not usable:
        return _empty(title, "Too few answers from customers with these behaviours")
    names = [g.moment for g in usable][::-1]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=120 + 44 * len(usable)))
    fig.add_scatter(
        y=names,
        x=[g.others_nps.value for g in usable][::-1],
        mode="markers",
        name="Everyone else",
        marker=dict(color="#90A4AE", size=12),
        error_x=dict(array=[g.others_nps.moe for g in usable][::-1], color="#90A4AE"),
        hovertemplate="everyone else: NPS %{x:+.0f}<extra></extra>",
    )
    fig.add_scatter(
        y=names,
        x=[g.nps.value for g in usable][::-1],
        mode="markers",
        name="These customers",
        marker=dict(
            size=13,
            color=[
                STATUS_COLORS[m.STATUS_BELOW]
                if g.change and g.change.significant and g.change.delta < 0
                else STATUS_COLORS[m.STATUS_ON]
                if g.change and g.change.significant
                else INK
                for g in usable
            ][::-1],
        ),
        error_x=dict(array=[g.nps.moe for g in usable][::-1], color="#52606D"),
        hovertext=[
            f"{g.moment}: NPS {g.nps.value:+.0f} ± {g.nps.moe:.1f} (n = {g.nps.n:,} "
            f"answers, {g.customers:,} customers)"
            for g in usable
        ][::-1],
        hoverinfo="text",
    )
    fig.update_xaxes(title="NPS (points)")
    return fig


def fig_ownership(cells: pl.DataFrame) -> go.Figure:
    """Stage × department: who affects each stage (lead / contributor), coloured by the
    stage's NPS against its target."""
    title = "Who affects each stage, coloured by the stage's NPS against target"
    if cells.height == 0:
        return _empty(title, "No stage in view")
    if cells.filter(pl.col("role").is_not_null())["gap"].is_null().all():
        return _empty(title, "No stage in view has enough NPS answers against a target")
    stages = cells.select("stage", "position").unique().sort("position")["stage"].to_list()
    depts = sorted(cells["department"].unique().to_list())
    look = {(r["stage"], r["department"]): r for r in cells.iter_rows(named=True)}
    z, text, hover = [], [], []
    for d in depts:
        zr, tr, hr = [], [], []
        for s in stages:
            r = look.get((s, d))
            role = r["role"] if r else None
            zr.append(r["gap"] if role else None)
            tr.append(
                ""
                if not role
                else f"{'Lead' if role == 'lead' else 'Contrib.'}<br>"
                f"{METRICS['nps'].format(r['nps']) if r['nps'] is not None else '–'}"
            )
            hr.append(
                f"{d} · {s}<br>"
                + (
                    f"{role}<br>NPS {METRICS['nps'].format(r['nps'])} vs target "
                    f"{METRICS['nps'].format(r['target'])}"
                    if role and r["nps"] is not None
                    else (role or "does not affect this stage")
                )
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    fig = labelled_heatmap(
        title,
        110 + 44 * len(depts),
        [wrap(s) for s in stages],
        depts,
        z,
        text,
        hover,
        gap=3,
        colorscale="RdYlGn",
        zmid=0,
        zmin=-40,
        zmax=40,
        colorbar=dict(title=dict(text="NPS − target"), thickness=12),
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top")
    fig.update_layout(margin=dict(t=120))
    return fig


def fig_silo_quadrant(verdicts: list) -> go.Figure:
    """Own KPIs on target (x) against the customer's experience of the department's stages
    (y); false positives sit bottom right."""
    from cxmetrics.accountability import GREEN_SILO

    title = "Silo scorecard against the customer's experience"
    usable = [v for v in verdicts if v.silo_score is not None and v.experience_gap is not None]
    if not usable:
        return _empty(title, "No department has KPIs and judged stages in this view")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=460))
    fig.add_shape(
        type="rect",
        x0=100 * GREEN_SILO,
        x1=102,
        y0=-100,
        y1=0,
        line_width=0,
        fillcolor="rgba(198,40,40,0.07)",
        layer="below",
    )
    fig.add_vline(x=100 * GREEN_SILO, line=dict(color="#9AA5B1", dash="dot"))
    fig.add_hline(y=0, line=dict(color="#9AA5B1", dash="dot"))
    fig.add_scatter(
        x=[100 * v.silo_score for v in usable],
        y=[v.experience_gap for v in usable],
        mode="markers+text",
        text=[v.name for v in usable],
        textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(usable))],
        marker=dict(
            size=14,
            color=[
                STATUS_COLORS[m.STATUS_BELOW] if v.false_positive else STATUS_COLORS[m.STATUS_NONE]
                for v in usable
            ],
        ),
        hovertext=[v.sentence for v in usable],
        hoverinfo="text",
        showlegend=False,
    )
    lo = min(v.experience_gap for v in usable)
    hi = max(v.experience_gap for v in usable)
    fig.update_yaxes(
        title="Its stages' NPS − target (pts)",
        range=[min(lo, -10) - 8, max(hi, 10) + 8],
    )
    fig.update_xaxes(
        title="Own KPI-weeks on target (%)",
        range=[min(100 * v.silo_score for v in usable) - 8, 103],
    )
    fig.add_annotation(
        x=101,
        y=min(lo, -10) - 4,
        xanchor="right",
        showarrow=False,
        text="false positives: green scorecard, red experience",
        font=dict(color=STATUS_COLORS[m.STATUS_BELOW], size=12),
    )
    return fig


def fig_kpis_against_stage(
    stage_name: str,
    weekly: pl.DataFrame,
    target: float | None,
    kpis: pl.DataFrame,
    department: str,
    min_n: int,
) -> go.Figure:
    """A stage's weekly NPS (top) beside each of a department's own KPIs and targets."""
    names = sorted(kpis["kpi"].unique().to_list())
    title = f"{department}'s own KPIs next to customers' NPS for {stage_name}"
    fig = make_subplots(
        rows=1 + len(names),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[f"{stage_name}: NPS (weeks with n ≥ {min_n})", *names],
    )
    shown = weekly.filter(pl.col("n_nps") >= min_n)
    fig.add_scatter(
        x=shown["week"].to_list(),
        y=shown["nps"].to_list(),
        mode="lines+markers",
        name="NPS",
        line=dict(color=INK),
        row=1,
        col=1,
        customdata=shown["n_nps"].to_list(),
        hovertemplate="%{x}: NPS %{y:+.0f} (n = %{customdata:,})<extra></extra>",
    )
    if target is not None:
        fig.add_hline(y=target, line=dict(color=TARGET_COLOR, dash="dash"), row=1, col=1)
    for i, name in enumerate(names, start=2):
        part = kpis.filter(pl.col("kpi") == name).sort("week")
        colors = [
            STATUS_COLORS[m.STATUS_ON] if ok else STATUS_COLORS[m.STATUS_BELOW]
            for ok in part["on_target"]
        ]
        fig.add_scatter(
            x=part["week"].to_list(),
            y=part["value"].to_list(),
            mode="lines+markers",
            name=name,
            line=dict(color="#90A4AE"),
            marker=dict(color=colors, size=7),
            row=i,
            col=1,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
        if part.height:
            fig.add_hline(
                y=part["target"][-1], line=dict(color=TARGET_COLOR, dash="dash"), row=i, col=1
            )
    fig.update_layout(
        template=TEMPLATE, title=title, height=260 + 170 * len(names), showlegend=False
    )
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


def fig_nps_trend(trend: pl.DataFrame, unit: str) -> go.Figure:
    """NPS per period with its 95% band; significant changes from the previous period marked."""
    title = f"NPS by {unit} with 95% confidence band"
    if trend.filter(pl.col("nps").is_not_null()).height == 0:
        return _empty(title, "Too few answers per period")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=420))
    for i, (group,) in enumerate(trend.select("group").unique(maintain_order=True).iter_rows()):
        part = trend.filter((pl.col("group") == group) & pl.col("nps").is_not_null())
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        x = part["period"].to_list()
        upper = (part["nps"] + part["moe"]).to_list()
        lower = (part["nps"] - part["moe"]).to_list()
        fig.add_scatter(
            x=x + x[::-1],
            y=upper + lower[::-1],
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor=color,
            opacity=0.15,
            hoverinfo="skip",
            showlegend=False,
            legendgroup=str(group),
        )
        fig.add_scatter(
            x=x,
            y=part["nps"].to_list(),
            mode="lines+markers",
            name=str(group),
            line=dict(color=color, width=2),
            legendgroup=str(group),
            customdata=list(zip(part["moe"], part["n_nps"], strict=True)),
            hovertemplate=f"{group} %{{x}}: NPS %{{y:+.1f}} ± %{{customdata[0]:.1f}}"
            " (n = %{customdata[1]:,})<extra></extra>",
        )
        sig = part.filter(pl.col("significant"))
        if sig.height:
            fig.add_scatter(
                x=sig["period"].to_list(),
                y=sig["nps"].to_list(),
                mode="markers",
                marker=dict(
                    symbol=["triangle-up" if c > 0 else "triangle-down" for c in sig["change"]],
                    size=14,
                    color=[
                        STATUS_COLORS[m.STATUS_ON] if c > 0 else STATUS_COLORS[m.STATUS_BELOW]
                        for c in sig["change"]
                    ],
                    line=dict(color="white", width=1),
                ),
                name="significant change",
                legendgroup="sig",
                showlegend=i == 0,
                customdata=sig["change"].to_list(),
                hovertemplate="significant change: %{customdata:+.1f} points<extra></extra>",
            )
    fig.update_yaxes(title="NPS (points)")
    return fig


def fig_nps_mix(trend: pl.DataFrame, unit: str) -> go.Figure:
    """Promoter, passive and detractor shares per period (all answers in view)."""
    title = f"Promoters, passives and detractors by {unit}"
    part = trend.filter(pl.col("n_nps") > 0)
    if part.height == 0:
        return _empty(title, "No NPS answers in this view")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=320, barmode="stack"))
    for col, name, color in (
        ("detractors_pct", "Detractors (0-6)", STATUS_COLORS[m.STATUS_BELOW]),
        ("passives_pct", "Passives (7-8)", "#B0BEC5"),
        ("promoters_pct", "Promoters (9-10)", STATUS_COLORS[m.STATUS_ON]),
    ):
        fig.add_bar(
            x=part["period"].to_list(),
            y=part[col].to_list(),
            name=name,
            marker_color=color,
            customdata=part["n_nps"].to_list(),
            hovertemplate=f"{name} %{{x}}: %{{y:.1f}}% of %{{customdata:,}}<extra></extra>",
        )
    fig.update_yaxes(title="% of NPS answers", range=[0, 100])
    return fig


def fig_churn_by(frame: pl.DataFrame, key: str, title: str, label: str) -> go.Figure:
    """Churn in the period per group, with 95% margins; each group's n under its name."""
    if frame.height == 0:
        return _empty(title, "No customers in view")
    labels = [f"{v}<br>n = {n:,}" for v, n in zip(frame[key], frame["customers"], strict=True)]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=340))
    fig.add_bar(
        x=labels,
        y=frame["churn"].to_list(),
        marker_color=INK,
        error_y=dict(type="data", array=frame["moe"].to_list(), color="#9AA5B1"),
        text=[f"{c:.1f}%" if c is not None else "too few" for c in frame["churn"]],
        textposition="inside",
        insidetextanchor="start",
        textfont=dict(color="white"),
        hovertemplate="%{x}: %{y:.1f}% left in the period<extra></extra>",
    )
    fig.update_xaxes(title=label, type="category")
    fig.update_yaxes(title="Churn in the period (%)", rangemode="tozero")
    return fig


def _rate(pct: float | None) -> str:
    return "unknown" if pct is None else f"{pct:.1f}%"


def fig_revenue_at_risk(frame: pl.DataFrame, key: str, symbol: str) -> go.Figure:
    """Revenue at risk per stage or segment; the calculation in the hover. ``symbol``: the
    company's currency symbol."""
    title = f"Revenue at risk by {key}"
    if frame.height == 0:
        return _empty(title, "Nothing in view")
    ordered = frame.sort("value")

    def fmt(value: float | None) -> str:
        return METRICS["revenue_at_risk"].format(value, symbol)

    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=120 + 40 * ordered.height))
    fig.add_bar(
        y=ordered[key].to_list(),
        x=ordered["value"].to_list(),
        orientation="h",
        marker_color=STATUS_COLORS[m.STATUS_BELOW],
        error_x=dict(
            type="data",
            symmetric=False,
            array=(ordered["high"] - ordered["value"]).to_list(),
            arrayminus=(ordered["value"] - ordered["low"]).to_list(),
            color="#52606D",
        ),
        text=[
            f"{fmt(lo)} – {fmt(hi)}" if m.revenue_range_only(row) else fmt(v)
            for row, v, lo, hi in zip(
                ordered.iter_rows(named=True),
                ordered["value"],
                ordered["low"],
                ordered["high"],
                strict=True,
            )
        ],
        textposition="outside",
        cliponaxis=False,
        hovertext=[
            f"{r[key]}: {fmt(r['value'])} (95% range {fmt(r['low'])} – {fmt(r['high'])}) = "
            f"{fmt(r['detractor_revenue'])} annual revenue of {r['detractors']:,} active "
            f"detractors × {r['churn_rate']:.1f}% a year attributable churn<br>"
            f"= detractors' annual churn {_rate(r['detractor_churn'])} (n = {r['history_n']:,}) "
            f"− everyone else's {_rate(r['other_churn'])} (n = {r['others_n']:,}), "
            "floored at 0"
            for r in ordered.iter_rows(named=True)
        ],
        hoverinfo="text",
    )
    fig.update_xaxes(title=f"Revenue at risk ({symbol.strip()} a year)", tickprefix=symbol)
    return fig


def fig_profit(profit: pl.DataFrame, symbol: str) -> go.Figure:
    """Distribution of customer profit (annual revenue − cost to serve), in ``symbol``."""
    title = "Customer profitability (annual revenue − cost to serve)"
    if profit.height == 0:
        return _empty(title, "No customers in view")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=320))
    values = profit["profit"]
    lo, hi = values.quantile(0.01), values.quantile(0.99)
    fig.add_histogram(
        x=values.clip(lo, hi).to_list(),
        nbinsx=60,
        marker_color="#546E7A",
        hovertemplate=symbol + "%{x}: %{y:,} customers<extra></extra>",
    )
    fig.add_vline(x=0, line=dict(color=STATUS_COLORS[m.STATUS_BELOW], dash="dash"))
    fig.update_xaxes(title=f"{symbol.strip()} a year (1st to 99th percentile)", tickprefix=symbol)
    fig.update_yaxes(title="customers")
    return fig


def fig_value_quadrant(grid: pl.DataFrame, symbol: str) -> go.Figure:
    """Customers by value (profitable or not) and loyalty group; profit in ``symbol``."""
    title = "Value × loyalty: customers in each quadrant"
    if grid.height == 0:
        return _empty(title, "No NPS answers in view")
    groups = ["Detractors", "Passives", "Promoters"]
    values = ["Unprofitable", "Profitable"]
    look = {(r["value"], r["group"]): r for r in grid.iter_rows(named=True)}
    z = [[look.get((v, g), {}).get("customers", 0) for g in groups] for v in values]
    text = [
        [
            f"{look[(v, g)]['customers']:,} customers<br>"
            f"{METRICS['revenue_at_risk'].format(look[(v, g)]['profit'], symbol)} profit"
            if (v, g) in look
            else ""
            for g in groups
        ]
        for v in values
    ]
    return labelled_heatmap(
        title, 300, groups, values, z, text, gap=3, colorscale="Blues", showscale=False
    )


def fig_influencers(frame: pl.DataFrame, stage_names: dict[str, str]) -> go.Figure:
    """NPS of top-decile influencers against everyone else, stage by stage."""
    title = "Influencers (top 10% by influence) against everyone else, by stage"
    shown = frame.filter(pl.col("nps").is_not_null())
    if shown.height == 0:
        return _empty(title, "Too few answers")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=360))
    for flag, name, color in (
        (False, "Everyone else", "#90A4AE"),
        (True, "Influencers", STATUS_COLORS[m.STATUS_BELOW]),
    ):
        part = shown.filter(pl.col("influencer") == flag)
        fig.add_scatter(
            x=[wrap(stage_names.get(s, s)) for s in part["stage_id"]],
            y=part["nps"].to_list(),
            mode="markers",
            name=name,
            marker=dict(size=13, color=color),
            error_y=dict(type="data", array=part["moe"].to_list(), color=color),
            customdata=part["n_nps"].to_list(),
            hovertemplate=f"{name}: NPS %{{y:+.0f}} (n = %{{customdata:,}})<extra></extra>",
        )
    fig.update_yaxes(title="NPS (points)")
    return fig
