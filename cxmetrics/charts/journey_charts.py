"""Figures of the journey page: touchpoints ranked by NPS points at stake, behavioural
moments, and the touchpoint × channel heat map."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cxmetrics.charts.chart_style import (
    INK,
    STATUS_COLORS,
    TEMPLATE,
    _empty,
    clipped,
    labelled_heatmap,
    legend_below,
)
from cxmetrics.findings import behaviour, impact
from cxmetrics.stats import metrics as m

VERDICT_COLORS = {
    impact.VERDICT_CONFIRMED: "#C62828",
    impact.VERDICT_UNDECLARED: "#6A1B9A",
    impact.VERDICT_WEAK: "#90A4AE",
    impact.VERDICT_NONE: "#CFD8DC",
    impact.VERDICT_TOO_FEW: "#ECEFF1",
}


def fig_impact(ranking: pl.DataFrame, top: int = 12, min_n: int = m.MIN_N) -> go.Figure:
    """Touchpoints ranked by NPS points at stake against the rest of their stage, coloured
    by how they compare with the declared moments of truth."""
    title = "Touchpoints ranked by NPS points at stake"
    ranked = ranking.filter(pl.col("rank").is_not_null()).head(top)
    if ranked.height == 0:
        return _empty(title, impact.unranked_reason(ranking, min_n))
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
            text=[f"{p:z.1f}" for p in part["points"]],
            textposition="outside",
            cliponaxis=False,
            hovertext=[
                f"<b>{t}</b> ({s})<br>{p:.2f} NPS points at stake<br>NPS {a:+z.0f} "
                f"(n = {na:,}) vs rest of stage {b:+z.0f} (n = {nb:,})<br>difference "
                f"{d:+z.1f} (95% CI {lo:+z.1f} to {hi:+z.1f}), q = {q:.3f}"
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
    fig.update_xaxes(title="Overall NPS points at stake")
    fig.update_layout(barmode="overlay", bargap=0.3)
    return legend_below(fig)


def fig_channel_heatmap(cells: pl.DataFrame, metric_label: str) -> go.Figure:
    """Touchpoint × channel heat map of a score; blank where too few answers."""
    title = f"{metric_label} by touchpoint and channel"
    if cells.height == 0 or not cells["n"].sum():  # none asked, or the score never imported
        return _empty(title, f"No {metric_label.split(' (')[0]} answers in this view")
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
    title = "Customers with a behavioural moment: NPS against the rest"
    usable = [g for g in groups if g.nps.n >= min_n and g.others_nps.n >= min_n]
    if not usable:
        return _empty(title, "Too few answers from customers with these behaviours")
    names = [behaviour.label(g) for g in usable][::-1]
    fig = go.Figure(layout=dict(template=TEMPLATE, title=title, height=120 + 44 * len(usable)))
    fig.add_scatter(
        y=names,
        x=[g.others_nps.value for g in usable][::-1],
        mode="markers",
        name="Everyone else",
        marker=dict(color="#90A4AE", size=12),
        error_x=dict(
            **clipped(
                [g.others_nps.value for g in usable][::-1],
                [g.others_nps.moe for g in usable][::-1],
            ),
            color="#90A4AE",
        ),
        hovertemplate="everyone else: NPS %{x:+.0f}<extra></extra>",
    )

    # one colour meaning: red lower than everyone else, green higher, black no difference
    # found; one legend entry each, drawn only when some group has it
    def verdict(g) -> str:
        if g.change and g.change.significant:
            return m.STATUS_BELOW if g.change.delta < 0 else m.STATUS_ON
        return m.STATUS_NONE

    meanings = {
        m.STATUS_BELOW: ("Lower than everyone else", STATUS_COLORS[m.STATUS_BELOW]),
        m.STATUS_ON: ("Higher than everyone else", STATUS_COLORS[m.STATUS_ON]),
        m.STATUS_NONE: ("No difference found", INK),
    }
    for status, (label, color) in meanings.items():
        shown = [g for g in usable if verdict(g) == status][::-1]
        if not shown:
            continue
        fig.add_scatter(
            y=[behaviour.label(g) for g in shown],
            x=[g.nps.value for g in shown],
            mode="markers",
            name=label,
            marker=dict(size=13, color=color),
            error_x=dict(
                **clipped([g.nps.value for g in shown], [g.nps.moe for g in shown]),
                color="#52606D",
            ),
            hovertext=[
                f"{g.moment}: NPS {g.nps.value:+z.0f} ± {g.nps.moe:.1f} (n = {g.nps.n:,} "
                f"answers, {g.customers:,} customers)"
                for g in shown
            ],
            hoverinfo="text",
        )
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    legend_below(fig)
    fig.update_xaxes(title="NPS (points)")
    return fig
