"""Executive overview: where the experience breaks, who owns it, what it costs."""

import streamlit as st

from cxapp import actions_ui, data, first_fold, router, sidebar, ui
from cxmetrics.charts import overview_charts
from cxmetrics.contract.registry import METRICS
from cxmetrics.contract.text import day_text, period_text
from cxmetrics.views import first_screen, overview, overview_links

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
view = sidebar.filters(ds)
root = ui.site_root()  # links between pages start where the dashboard is served
ui.page_start("Customer experience overview", ds, view, compact=True)
ov = data.shared(overview.compute, data.DATASET, view)
ui.stop_if_empty(ov.empty, ov.start, ov.end, ds, view)

trends = data.shared(overview.trends, data.DATASET, view)
previous = period_text(ov.previous.start, ov.previous.end) if ov.previous else None
cols = ui.wrapping_columns(6, "tiles", per_row=3)
for col, key in zip(
    cols, ("nps", "csat", "ces", "responses", "churn", "revenue_at_risk"), strict=True
):
    with col:  # each tile's name opens the view that explains it
        ui.tile(
            ov.tiles[key],
            ov.min_n,
            previous,
            ds.settings.currency_symbol,
            trends.scores.get(key),
            trends.bands.get(key),
            trends.unit,
            link=overview_links.tile(root, key, view)[1],
        )

evidence = data.shared(
    first_screen.evidence, data.DATASET, view, data.CONTACTS, data.CLOSED_LOOP, data.KPIS
)
listed = actions_ui.listed(ds)
fs = data.shared(
    first_screen.build,
    data.DATASET,
    view,
    evidence,
    data.KPIS,
    listed,
    actions_ui.today(),
    root,
    actions_read=listed is not None,
)
first_fold.show(fs, ds.money)

trend_words = (
    f"The small lines: each score by {trends.unit} over the last {len(trends.periods)} "
    f"{trends.unit}s up to {day_text(ov.end)}, on the tiles shaded with each {trends.unit}'s "
    f"95% interval (a {trends.unit} with fewer than {ov.min_n} answers is left out)."
)
if previous:
    st.caption(
        overview.changes_note(previous, ov.tested.get("change", 0))
        + " 'Below target' means the whole 95% interval is below it. "
        + trend_words
    )
else:
    st.caption(trend_words)

st.subheader("The journey, stage by stage")
ui.stage_strip(
    ov.stages,
    ov.min_n,
    trends.stages,
    links={s.stage_id: overview_links.stage(root, s.stage_id, view) for s in ov.stages},
    unmeasured=ds.unmeasured_scores(),
)

left, right = ui.wrapping_columns(2, "stage_charts")
with left:
    ui.chart(
        data.figure(overview_charts.fig_stage_nps, ov.stages, ov.min_n),
        f"{METRICS['nps'].definition} {overview.ticks_note(ov.stages)}",
        key="fig_stage_nps",
        link=overview_links.markdown(*overview_links.chart(root, "fig_stage_nps", view)),
    )
with right:
    ui.chart(
        data.figure(overview_charts.fig_worst_moments, ov.worst_moments),
        "Moments of truth declared in the journey definition, ranked by NPS; only those "
        f"with at least {ov.min_n} answers. " + overview.ticks_note(ov.stages, "the stage's"),
        key="fig_worst_moments",
        link=overview_links.markdown(*overview_links.chart(root, "fig_worst_moments", view)),
    )

st.subheader("What changed")
st.markdown(
    "\n".join(
        f"- {ui.md(line)}" + (f" · {overview_links.markdown(page, url)}" if url else "")
        for line, page, url in overview_links.changes(root, ov.changes, ov.findings, view)
    )
)

actions_ui.late_section(ds, listed, view)
