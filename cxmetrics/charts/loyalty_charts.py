"""Figures of the loyalty page: NPS over time and its mix, churn by group, revenue at risk,
customer profit, value × loyalty, and influencers."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from cxmetrics.charts.chart_style import (
    INK,
    SERIES_COLORS,
    STATUS_COLORS,
    TEMPLATE,
    _empty,
    clipped,
    labelled_heatmap,
    period_axis,
    wrap,
)
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import metrics as m


def runs(periods: list, unit: str) -> list[list[int]]:
    """The places of ``periods`` (ascending starts of weeks or months) in runs of periods
    that follow one another, a new run after each period missing."""
    out: list[list[int]] = []
    for i, period in enumerate(periods):
        if out and _next_period(periods[i - 1], unit) == period:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _next_period(period, unit: str):
    months = {"month": 1, "quarter": 3}.get(unit)
    if months is None:
        return period + dt.timedelta(days=7)
    index = period.year * 12 + period.month - 1 + months
    return period.replace(year=index // 12, month=index % 12 + 1)


def fig_nps_trend(trend: pl.DataFrame, unit: str) -> go.Figure:
    """NPS per period with its 95% band; significant changes from the previous period marked."""
    title = f"NPS by {unit} with 95% confidence band"
    if trend.filter(pl.col("nps").is_not_null()).height == 0:
        return _empty(title, "Too few answers per period")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=420))
    for i, (group,) in enumerate(trend.select("group").unique(maintain_order=True).iter_rows()):
        part = trend.filter((pl.col("group") == group) & pl.col("nps").is_not_null())
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        # a period without a score (too few answers, or none) breaks the line and its band:
        # a line straight across a year without data would read as a trend through it
        for j, run in enumerate(runs(part["period"].to_list(), unit)):
            piece = part[run[0] : run[-1] + 1]
            x = piece["period"].to_list()
            nps = piece["nps"].to_list()
            band = clipped(nps, piece["moe"].to_list())  # it stops at the scale's ends
            upper = [v + up for v, up in zip(nps, band["array"], strict=True)]
            lower = [v - down for v, down in zip(nps, band["arrayminus"], strict=True)]
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
            # a period alone between gaps has no band to draw: its margin as an error bar
            alone = (
                dict(error_y=dict(type="data", **band, color=color, thickness=1.2, width=4))
                if len(run) == 1
                else {}
            )
            fig.add_scatter(
                x=x,
                y=nps,
                mode="lines+markers",
                name=str(group),
                **alone,
                showlegend=j == 0,
                line=dict(color=color, width=2),
                legendgroup=str(group),
                customdata=list(zip(piece["moe"], piece["n_nps"], strict=True)),
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
    return period_axis(fig, trend.filter(pl.col("nps").is_not_null())["period"].to_list(), unit)


def fig_nps_mix(trend: pl.DataFrame, unit: str) -> go.Figure:
    """Promoter, passive and detractor shares per period (all answers in view), for the
    periods whose NPS is shown (``nps`` null: too few answers, as on the NPS line): a bar
    of 100% detractors from one answer is no share."""
    title = f"Promoters, passives and detractors by {unit}"
    if trend.filter(pl.col("n_nps") > 0).height == 0:
        return _empty(title, "No NPS answers in this view")
    part = trend.filter(pl.col("nps").is_not_null())
    if part.height == 0:
        return _empty(title, "Too few answers per period")
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
    return period_axis(fig, part["period"].to_list(), unit)


def fig_churn_by(frame: pl.DataFrame, key: str, title: str, label: str) -> go.Figure:
    """Churn in the period per group, with 95% margins; each group's n under its name. The
    value stands above the end of its margin's line, which would strike it through inside a
    short bar; a group with too few customers says so at the axis."""
    if frame.height == 0:
        return _empty(title, "No customers in view")
    labels = [f"{v}<br>n = {n:,}" for v, n in zip(frame[key], frame["customers"], strict=True)]
    churn, moe = frame["churn"].to_list(), frame["moe"].to_list()
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=340, showlegend=False))
    fig.add_bar(
        x=labels,
        y=churn,
        marker_color=INK,
        error_y=dict(type="data", **clipped(churn, moe, (0.0, 100.0)), color="#9AA5B1"),
        hovertemplate="%{x}: %{y:.1f}% left in the period<extra></extra>",
    )
    tops = churn_label_heights(churn, moe)
    fig.add_scatter(
        x=labels,
        y=tops,
        mode="text",
        text=[f"{c:.1f}%" if c is not None else "too few" for c in churn],
        textposition="top center",
        textfont=dict(color=INK),
        hoverinfo="skip",
    )
    fig.update_xaxes(title=label, type="category")
    fig.update_yaxes(title="Churn in the period (%)", range=[0, 1.18 * max(tops) or 1.0])
    return fig


def churn_label_heights(churn: list, moe: list) -> list[float]:
    """Where each churn bar's value is written: the top of its margin's line (the bar's top
    without a margin; 0 for a group without a value)."""
    return [0.0 if c is None else c + (m or 0.0) for c, m in zip(churn, moe, strict=True)]


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
        showlegend=False,  # the title says what the bars are
        error_x=dict(
            type="data",
            symmetric=False,
            array=(ordered["high"] - ordered["value"]).to_list(),
            arrayminus=(ordered["value"] - ordered["low"]).to_list(),
            color="#52606D",
        ),
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
    # each figure written past the end of its range, where no error bar crosses it
    labels = [
        f"{fmt(lo)} – {fmt(hi)}" if m.revenue_range_only(row) else fmt(v)
        for row, v, lo, hi in zip(
            ordered.iter_rows(named=True),
            ordered["value"],
            ordered["low"],
            ordered["high"],
            strict=True,
        )
    ]
    ends = [max(v or 0, h or 0) for v, h in zip(ordered["value"], ordered["high"], strict=True)]
    fig.add_scatter(
        y=ordered[key].to_list(),
        x=ends,
        mode="text",
        text=["  " + t for t in labels],  # clear of the error bar's cap
        textposition="middle right",
        cliponaxis=False,
        hoverinfo="skip",
        showlegend=False,
    )
    widest = max(len(t) for t in labels)
    room = 1 + 0.035 * widest  # the longest label fits right of the longest range, half width
    fig.update_xaxes(
        title=f"Revenue at risk ({symbol.strip()} a year)",
        tickprefix=symbol,
        range=[0, max(ends + [1]) * room],
    )
    return fig


def fig_profit(profit: pl.DataFrame, symbol: str) -> go.Figure:
    """Distribution of customer profit (annual revenue − cost to serve), in ``symbol``."""
    title = "Profit per customer a year"
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


def _profit_text(cell: dict, symbol: str) -> str:
    """A quadrant's profit, or its loss as a loss (not "−£186k profit")."""
    amount = cell["profit"]
    if amount is not None and amount < 0:
        return f"{METRICS['revenue_at_risk'].format(-amount, symbol)} loss"
    return f"{METRICS['revenue_at_risk'].format(amount, symbol)} profit"


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
            f"{look[(v, g)]['customers']:,} customers<br>{_profit_text(look[(v, g)], symbol)}"
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
    title = "Top-10% influencers against everyone else, by stage"
    shown = frame.filter(pl.col("nps").is_not_null())
    if shown.height == 0:
        return _empty(title, "Too few answers")
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=360))
    for flag, name, color in (
        (False, "Everyone else", "#90A4AE"),
        (True, "Influencers", SERIES_COLORS[0]),  # not red: red means below target
    ):
        part = shown.filter(pl.col("influencer") == flag)
        fig.add_scatter(
            x=[wrap(stage_names.get(s, s)) for s in part["stage_id"]],
            y=part["nps"].to_list(),
            mode="markers",
            name=name,
            marker=dict(size=13, color=color),
            error_y=dict(
                type="data", **clipped(part["nps"].to_list(), part["moe"].to_list()), color=color
            ),
            customdata=part["n_nps"].to_list(),
            hovertemplate=f"{name}: NPS %{{y:+.0f}} (n = %{{customdata:,}})<extra></extra>",
        )
    fig.update_yaxes(title="NPS (points)")
    return fig
