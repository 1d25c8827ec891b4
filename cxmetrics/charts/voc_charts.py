"""Figures of the voice-of-the-customer page, in the shared look of ``chart_style``."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from cxmetrics.charts.chart_style import (
    INK,
    SERIES_COLORS,
    STATUS_COLORS,
    TEMPLATE,
    _empty,
    labelled_heatmap,
    period_axis,
    wrap,
)
from cxmetrics.findings.leading import Signal
from cxmetrics.stats import metrics as m

CLOSED_COLOR = "#546E7A"
CONFIRMED_COLOR = STATUS_COLORS[m.STATUS_ON]
SENTIMENT_COLORS = {
    "negative": STATUS_COLORS[m.STATUS_BELOW],
    "neutral": "#B0BEC5",
    "positive": STATUS_COLORS[m.STATUS_ON],
}


def fig_closed_vs_confirmed(per_department: pl.DataFrame, min_n: int) -> go.Figure:
    """Per department: closure rate and customer-confirmed rate joined by the gap."""
    title = "Closed by the department against confirmed by the customer"
    shown = per_department.filter(pl.col("opened") >= min_n).sort("gap")
    if shown.height == 0:
        return _empty(title, f"No department has {min_n}+ cases in view")
    names = [f"{d} (n = {n:,})" for d, n in zip(shown["department"], shown["opened"], strict=True)]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=140 + 52 * shown.height))
    for name, closed, confirmed in zip(
        names, shown["closure_rate"], shown["confirmed_rate"], strict=True
    ):
        fig.add_scatter(
            x=[confirmed, closed],
            y=[name, name],
            mode="lines",
            line=dict(color="#CFD8DC", width=8),
            hoverinfo="skip",
            showlegend=False,
        )
    false = [
        "false closures not counted (no contacts)"
        if f is None
        else f"false closures {f:.0f}% of closed"
        for f in shown["false_closure_rate"]
    ]
    custom = list(zip(shown["gap"], false, strict=True))
    fig.add_scatter(
        x=shown["confirmed_rate"].to_list(),
        y=names,
        mode="markers",
        name="Confirmed by the customer (% of opened)",
        marker=dict(color=CONFIRMED_COLOR, size=14),
        customdata=custom,
        hovertemplate="%{y}<br>confirmed %{x:.0f}% · gap %{customdata[0]:.0f} pts"
        "<br>%{customdata[1]}<extra></extra>",
    )
    fig.add_scatter(
        x=shown["closure_rate"].to_list(),
        y=names,
        mode="markers+text",
        name="Closed (% of opened)",
        marker=dict(color=CLOSED_COLOR, size=14),
        text=[f"gap {g:.0f} pts" for g in shown["gap"]],
        textposition="middle right",
        customdata=custom,
        hovertemplate="%{y}<br>closed %{x:.0f}% · gap %{customdata[0]:.0f} pts<extra></extra>",
    )
    fig.update_xaxes(title="% of cases opened in the period", range=[0, 112])
    return fig


def fig_sentiment_by_stage(shares: pl.DataFrame) -> go.Figure:
    """Stacked shares of negative, neutral and positive comments per stage."""
    title = "Sentiment of comments by stage"
    if shares.height == 0:
        return _empty(title, "No comments in this view")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=360, barmode="stack"))
    stages = shares.select("stage", "comments").unique(maintain_order=True)
    labels = {
        s: f"{wrap(s)}<br>n = {n:,}"
        for s, n in zip(stages["stage"], stages["comments"], strict=True)
    }
    for band, color in SENTIMENT_COLORS.items():
        part = shares.filter(pl.col("sentiment_band") == band)
        fig.add_bar(
            x=[labels[s] for s in part["stage"]],
            y=part["share"].to_list(),
            name=band.capitalize(),
            marker_color=color,
            hovertemplate=f"{band} %{{y:.0f}}% of comments<extra></extra>",
        )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(labels.values()))
    fig.update_yaxes(title="% of comments", range=[0, 100])
    return fig


def fig_theme_stage(cells: pl.DataFrame, themes: list[str], stages: list[str]) -> go.Figure:
    """Comments per theme × stage (colour), with the NPS of those responses on hover."""
    title = "Themes by stage: comments, and the NPS of those responses"
    if cells.height == 0:
        return _empty(title, "No comments in this view")
    lookup = {(r["theme"], r["stage"]): r for r in cells.iter_rows(named=True)}
    z, text, hover = [], [], []
    for theme in themes:
        row_z, row_t, row_h = [], [], []
        for stage in stages:
            r = lookup.get((theme, stage))
            count = r["comments"] if r else 0
            row_z.append(count or None)
            row_t.append(f"{count:,}" if count else "")
            nps = r["nps"] if r else None
            nps_text = (
                f"NPS {nps:+z.0f} (n = {r['n_nps']:,})"
                if r and nps is not None and r["n_nps"] >= m.MIN_N
                else "NPS: too few answers"
            )
            row_h.append(f"{theme} at {stage}<br>{count:,} comments<br>{nps_text}")
        z.append(row_z)
        text.append(row_t)
        hover.append(row_h)
    fig = labelled_heatmap(
        title,
        160 + 34 * len(themes),
        [wrap(s) for s in stages],
        themes,
        z,
        text,
        hover,
        colorscale=[[0, "#EEF2F7"], [1, "#1F4E79"]],
        colorbar=dict(title="Comments"),
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def fig_theme_trend(trend: pl.DataFrame, themes: list[str], unit: str) -> go.Figure:
    """Comments per period for the given themes."""
    title = f"Comments by {unit} for the largest themes"
    part = trend.filter(pl.col("theme").is_in(themes))
    if part.height == 0:
        return _empty(title, "No comments in this view")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=380))
    for i, theme in enumerate(themes):
        series = part.filter(pl.col("theme") == theme).sort("period")
        fig.add_scatter(
            x=series["period"].to_list(),
            y=series["comments"].to_list(),
            mode="lines+markers",
            name=theme,
            line=dict(color=SERIES_COLORS[i % len(SERIES_COLORS)], width=2),
            hovertemplate=f"{theme} %{{x}}: %{{y:,}} comments<extra></extra>",
        )
    fig.update_yaxes(title=f"Comments per {unit}", rangemode="tozero")
    # the periods level on one line ("1 Jul 2026"): a year on a second line ran under the
    # legend below them
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    period_axis(fig, part["period"].to_list(), unit)
    return fig.update_xaxes(tickangle=0, nticks=5)


def fig_rising(
    rising: pl.DataFrame, top: int = 8, empty: str = "No previous period to compare with"
) -> go.Figure:
    """Change in each theme's share of comments against the previous period; ``empty``
    says why no theme is drawn (``VocView.rising_empty``)."""
    title = "Themes rising fastest (change in share of comments)"
    shown = rising.head(top).sort("change")
    if shown.height == 0:
        return _empty(title, empty)
    colors = [
        (STATUS_COLORS[m.STATUS_BELOW] if c > 0 else STATUS_COLORS[m.STATUS_ON])
        if sig
        else "#9AA5B1"
        for c, sig in zip(shown["change"], shown["significant"], strict=True)
    ]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=140 + 40 * shown.height))
    fig.add_bar(
        y=shown["theme"].to_list(),
        x=shown["change"].to_list(),
        orientation="h",
        marker_color=colors,
        customdata=list(
            zip(
                shown["share_before"],
                shown["share_now"],
                shown["before"],
                shown["now"],
                strict=True,
            )
        ),
        hovertemplate="%{y}: %{x:+.1f} pts<br>share %{customdata[0]:.1f}% → "
        "%{customdata[1]:.1f}%<br>comments %{customdata[2]:,} → %{customdata[3]:,}"
        "<extra></extra>",
    )
    fig.update_xaxes(title="Change (points)")  # the title says of what; long, it was cut
    return fig


def fig_broken_processes(table: pl.DataFrame, top: int = 10) -> go.Figure:
    """The processes and root causes with the most cases and complaints."""
    title = "Broken processes: cases and complaints by touchpoint and root cause"
    shown = table.head(top).reverse()
    if shown.height == 0:
        return _empty(title, "No cases or complaints in this view")
    labels = [f"{t} — {c}" for t, c in zip(shown["touchpoint"], shown["root_cause"], strict=True)]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=140 + 36 * shown.height))
    fig.add_bar(
        y=labels,
        x=shown["volume"].to_list(),
        orientation="h",
        marker_color=INK,
        text=[f"{v:,}" for v in shown["volume"]],
        textposition="outside",
        customdata=list(zip(shown["complaints"], shown["departments"], strict=True)),
        hovertemplate="%{y}<br>%{x:,} cases and complaints (%{customdata[0]:,} complaints)"
        "<br>handled by %{customdata[1]}<extra></extra>",
    )
    fig.update_xaxes(title="Cases and uncased complaints in the period", rangemode="tozero")
    return fig


def fig_leading(weeks: pl.DataFrame, stage_name: str, signal: Signal | None) -> go.Figure:
    """A stage's contacts per week (repeat contacts darker) above its NPS per week."""
    title = f"{stage_name}: contacts per week against NPS per week"
    if weeks.height == 0:
        return _empty(title, "No full weeks in this view")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
    )
    x = weeks["week"].to_list()
    first = weeks["contacts"] - weeks["repeat_contacts"]
    fig.add_bar(
        x=x,
        y=first.to_list(),
        name="Contacts",
        marker_color="#90A4AE",
        hovertemplate="week of %{x}: %{y:,} other contacts<extra></extra>",
        row=1,
        col=1,
    )
    fig.add_bar(
        x=x,
        y=weeks["repeat_contacts"].to_list(),
        name="Repeat contacts (3rd+ in 30 days)",
        marker_color=INK,
        customdata=weeks["repeat_rate"].to_list(),
        hovertemplate="week of %{x}: %{y:,} repeat contacts (%{customdata:.0f}%)<extra></extra>",
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=x,
        y=weeks["nps"].to_list(),
        mode="lines+markers",
        name="NPS",
        line=dict(color=STATUS_COLORS[m.STATUS_BELOW], width=2),
        customdata=weeks["n_nps"].to_list(),
        hovertemplate="week of %{x}: NPS %{y:+.0f} (n = %{customdata:,})<extra></extra>",
        connectgaps=False,
        row=2,
        col=1,
    )
    if signal is not None and signal.leads:
        fig.add_annotation(
            text=f"contacts lead NPS by {signal.best_lag} weeks (r = {signal.best_r:+z.2f})",
            xref="paper",
            yref="paper",
            x=1,
            y=1.06,
            xanchor="right",
            showarrow=False,
            font=dict(color=STATUS_COLORS[m.STATUS_BELOW]),
        )
    fig.update_layout(template=TEMPLATE, title=title, height=520, barmode="stack")
    fig.update_yaxes(title="Contacts", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="NPS (points)", row=2, col=1)
    return fig


def fig_lags(signal: Signal, stage_name: str) -> go.Figure:
    """Correlation between weekly changes in contacts and in NPS, per lag."""
    title = f"{stage_name}: does a change in contacts foretell a change in NPS?"
    lags = [(lag, r) for lag, r, _ in signal.correlations if r is not None]
    if not lags:
        return _empty(title, "Too few weeks with enough NPS answers")
    colors = [
        STATUS_COLORS[m.STATUS_BELOW] if lag == signal.best_lag and signal.leads else "#90A4AE"
        for lag, _ in lags
    ]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=320))
    fig.add_bar(
        x=[f"{lag} wk" for lag, _ in lags],
        y=[r for _, r in lags],
        marker_color=colors,
        hovertemplate="NPS %{x} later: r = %{y:+.2f}<extra></extra>",
    )
    fig.update_xaxes(title="NPS this many weeks after the contacts", type="category")
    fig.update_yaxes(title="Correlation r", range=[-1, 1])
    return fig


def fig_leading_at(
    weekly: pl.DataFrame, stage_id: str, stage_name: str, signal: Signal | None
) -> go.Figure:
    """:func:`fig_leading` of one stage, from the weekly series of every stage."""
    return fig_leading(weekly.filter(pl.col("stage_id") == stage_id), stage_name, signal)


def fig_themes_by_stage(cells: pl.DataFrame, themes: pl.DataFrame, journey) -> go.Figure:
    """:func:`fig_theme_stage` of the themes in ``themes`` (theme, …), the stages in the
    journey's order."""
    present = set(cells["stage_id"].to_list())
    stages = [journey.stage_name(s) for s in journey.stage_order if s in present]
    return fig_theme_stage(cells, themes["theme"].to_list(), stages)
