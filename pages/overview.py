"""Executive overview: where the experience breaks, who owns it, what it costs."""

import streamlit as st

from cxapp import data, sidebar, ui
from cxmetrics import charts, overview
from cxmetrics.registry import METRICS

ds = data.get_dataset()
view = sidebar.filters(ds)
stage_ids = ds.stage_ids(view)

st.title("Customer experience overview")
st.caption(view.describe(ds.journey.labels))

if stage_ids is not None and not stage_ids:
    names = ", ".join(ds.journey.department_name(d) for d in view.departments)
    st.warning(
        f"No stage matches these filters: {names} does not affect the chosen stage(s). "
        "Clear the stage or department filter.",
        icon=":material/filter_alt_off:",
    )
    st.stop()

ov = overview.compute(ds, view)
if ov.empty:
    st.warning(
        f"No responses between {ov.start} and {ov.end} for these filters. The data covers "
        f"{ds.first_day} to {ds.last_day}.",
        icon=":material/search_off:",
    )
    st.stop()

previous = f"{ov.previous.start:%d %b %Y} – {ov.previous.end:%d %b %Y}" if ov.previous else None
cols = st.columns(6)
for col, key in zip(
    cols, ("nps", "csat", "ces", "responses", "churn", "revenue_at_risk"), strict=True
):
    with col:
        ui.tile(ov.tiles[key], ov.min_n, previous)
if previous:
    st.caption(
        f"Changes are against the previous period, {previous}, and are shown only "
        "when significant at 95%."
    )

st.subheader("The journey, stage by stage")
strip = st.columns(max(len(ov.stages), 4))  # one stage keeps a card-sized column
for col, stage in zip(strip, ov.stages, strict=False):
    with col, st.container(border=True):
        st.markdown(f"**{stage.position}. {stage.name}**")
        nps = stage.scores["nps"]
        st.metric("NPS", ui.value_text("nps", nps, ov.min_n), help=METRICS["nps"].help())
        moe = f"± {nps.moe:.1f} · " if nps.shown(ov.min_n) is not None else ""
        st.caption(f"{moe}n = {nps.n:,}")
        csat, ces = stage.scores["csat"], stage.scores["ces"]
        st.markdown(
            f"CSAT **{ui.value_text('csat', csat, ov.min_n)}** · "
            f"CES **{ui.value_text('ces', ces, ov.min_n)}**",
            help=f"{METRICS['csat'].help()}\n\n{METRICS['ces'].help()}",
        )
        st.caption(f"n = {csat.n:,} · {ces.n:,}")
        ui.status_badge(stage.status)
        st.caption(
            "Lead: "
            + stage.owners[0]
            + (" · with " + ", ".join(stage.owners[1:]) if len(stage.owners) > 1 else "")
        )

left, right = st.columns(2)
with left:
    ui.chart(
        charts.fig_stage_nps(ov.stages, ov.min_n),
        f"{METRICS['nps'].definition} Black ticks: each stage's NPS target.",
        key="fig_stage_nps",
    )
with right:
    ui.chart(
        charts.fig_worst_moments(ov.worst_moments),
        "Moments of truth declared in the journey definition, ranked by NPS; only those "
        f"with at least {ov.min_n} answers. Black ticks: the stage's NPS target.",
        key="fig_worst_moments",
    )

st.subheader("What changed")
st.markdown("\n".join(f"- {line}" for line in ov.changes))
