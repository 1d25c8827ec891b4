"""Figures of the accountability page: who affects each stage, the silo scorecard against
the customer's experience, and a department's own KPIs next to a stage's NPS."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from cxmetrics.charts import point_labels
from cxmetrics.charts.chart_style import (
    INK,
    STATUS_COLORS,
    TARGET_COLOR,
    TEMPLATE,
    _empty,
    labelled_heatmap,
    wrap,
)
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import metrics as m
from cxmetrics.views import wording
from cxmetrics.views.accountability import GREEN_SILO, kpi_summary, stage_weekly_nps, untargeted

#: The ownership map's height: its margins (the stages' names on top, 120 px, and the axis
#: below) and a row per department that holds two lines of text ("Contrib." and the NPS)
HEAT_MARGINS, HEAT_ROW = 170, 44
#: A stage's name on the map in lines of about this many characters ("Renew or / leave"):
#: six stages stay level on a half page at 1,024 px
STAGE_WRAP = 8
NEUTRAL = "#E4E7EB"  # a cell of a map without targets: no colour says good or bad


def fig_ownership(cells: pl.DataFrame) -> go.Figure:
    """Stage × department: who affects each stage (lead / contributor), coloured by the
    stage's NPS against its target."""
    title = "Who affects each stage, coloured by NPS against target"
    if cells.height == 0:
        return _empty(title, "No stage in view")
    owned = cells.filter(pl.col("role").is_not_null())
    # without any NPS target, who affects each stage is still the map's news: drawn in one
    # neutral colour with each stage's NPS, not coloured good or bad against nothing
    bare = untargeted(cells)
    if bare:
        title = "Who affects each stage (no NPS target set: not coloured)"
    elif owned["gap"].is_null().all():
        return _empty(title, "No stage in view with an NPS target has enough NPS answers")
    stages = cells.select("stage", "position").unique().sort("position")["stage"].to_list()
    depts = sorted(cells["department"].unique().to_list())
    look = {(r["stage"], r["department"]): r for r in cells.iter_rows(named=True)}
    z, text, hover = [], [], []
    for d in depts:
        zr, tr, hr = [], [], []
        for s in stages:
            r = look.get((s, d))
            role = r["role"] if r else None
            zr.append((0.0 if bare else r["gap"]) if role else None)
            # the number the colour shows: the NPS against target (the NPS alone without one)
            if not role:
                figure = ""
            elif r["gap"] is not None:
                figure = f"{METRICS['nps'].format(r['gap'])} vs target"
            elif r["nps"] is not None:
                figure = f"NPS {METRICS['nps'].format(r['nps'])}"
            else:
                figure = "–"
            tr.append(f"{'Lead' if role == 'lead' else 'Contrib.'}<br>{figure}" if role else "")
            if not role:
                said = "does not affect this stage"
            elif r["nps"] is None:
                said = f"{role}<br>too few NPS answers to show a score (n = {r['n_nps']:,})"
            else:
                aim = (
                    "no target set"
                    if r["target"] is None
                    else f"vs target {METRICS['nps'].format(r['target'])}"
                )
                said = f"{role}<br>NPS {METRICS['nps'].format(r['nps'])} (n = {r['n_nps']:,}) {aim}"
            hr.append(f"{d} · {s}<br>{said}")
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    fig = labelled_heatmap(
        title,
        HEAT_MARGINS + HEAT_ROW * len(depts),
        [wrap(s, STAGE_WRAP) for s in stages],
        depts,
        z,
        text,
        hover,
        gap=3,
        **(
            dict(colorscale=[[0, NEUTRAL], [1, NEUTRAL]], showscale=False)
            if bare
            else dict(
                colorscale="RdYlGn",
                zmid=0,
                zmin=-40,
                zmax=40,
                # below the map, not beside it: beside, it took the width the stages'
                # names needed on a half page, which then stood on end over the title
                colorbar=dict(
                    title=dict(text="NPS − target", side="top"),
                    thickness=12,
                    orientation="h",
                    y=-0.08,
                    yanchor="top",
                    len=0.6,
                ),
            )
        ),
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top", tickangle=0)
    fig.update_layout(margin=dict(t=120, b=90 if not bare else 40))
    return fig


#: The silo chart's plot area in pixels at its narrowest (half a 1400 px page), for placing
#: the departments' names: wider screens only move them further apart.
PLOT_PX = (560.0, 330.0)


def fig_silo_quadrant(verdicts: list) -> go.Figure:
    """Own KPIs on target (x) against the customer's experience of the department's stages
    (y); false positives sit bottom right."""
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
    xs = [100 * v.silo_score for v in usable]
    ys = [v.experience_gap for v in usable]
    lo, hi = min(ys), max(ys)
    y_range = (min(lo, -10) - 8, max(hi, 10) + 8)
    x_range = (min(xs) - 8, 103)
    # a department not tested (too few KPI-weeks, no stage with enough answers) is hollow:
    # where it stands is no verdict, even inside the false positives' corner
    colors = [
        STATUS_COLORS[m.STATUS_BELOW] if v.false_positive else STATUS_COLORS[m.STATUS_NONE]
        for v in usable
    ]
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="markers",
        marker=dict(
            size=14,
            color=colors,
            symbol=["circle" if v.finding is not None else "circle-open" for v in usable],
            line=dict(width=2, color=colors),
        ),
        hovertext=[
            v.sentence if v.finding is not None else f"{v.sentence} Not tested." for v in usable
        ],
        hoverinfo="text",
        showlegend=False,
    )
    fig.update_yaxes(title="Its stages' NPS − target (pts)", range=list(y_range))
    fig.update_xaxes(title="Own KPI-weeks on target (%)", range=list(x_range))
    # names beside their points, none over another (departments often sit close together)
    for label in point_labels.place(
        xs, ys, [v.name for v in usable], x_range, y_range, PLOT_PX[0], PLOT_PX[1]
    ):
        fig.add_annotation(
            x=label.x,
            y=label.y,
            text=label.text,
            showarrow=False,
            xanchor=label.xanchor,
            yanchor=label.yanchor,
            xshift=label.xshift,
            yshift=label.yshift,
            align="left"
            if label.xanchor == "left"
            else "right"
            if label.xanchor == "right"
            else "center",
            font=dict(size=12, color=INK),
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
    named = kpi_summary(kpis)  # each KPI with its unit, titled as the tables name it
    names = named["kpi"].to_list()
    units = dict(zip(names, named["unit"].str.strip_chars().fill_null(""), strict=True))
    title = f"{wording.possessive(department)} own KPIs next to customers' NPS for {stage_name}"
    fig = make_subplots(
        rows=1 + len(names),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[
            f"{stage_name}: NPS (weeks with n ≥ {min_n})",
            *named["kpi_label"],
        ],
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
            hovertemplate=f"%{{x}}: %{{y}} {units[name]}".rstrip() + "<extra></extra>",
        )
        if part.height:
            fig.add_hline(
                y=part["target"][-1], line=dict(color=TARGET_COLOR, dash="dash"), row=i, col=1
            )
    fig.update_layout(
        template=TEMPLATE, title=title, height=260 + 170 * len(names), showlegend=False
    )
    return fig


def fig_department_at_stage(ds, f, av, stage_id: str, department_id: str) -> go.Figure:
    """:func:`fig_kpis_against_stage` of one stage of the accountability view ``av`` (of the
    filters ``f`` on ``ds``) and one department affecting it."""
    row = next(s for s in av.stages if s.stage_id == stage_id)
    return fig_kpis_against_stage(
        row.name,
        stage_weekly_nps(ds, f, stage_id),
        row.targets["nps"],
        av.kpis.filter(av.kpis["department_id"] == department_id),
        ds.journey.department_name(department_id),
        av.min_n,
    )
