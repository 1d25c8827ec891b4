"""Journey: stages in customer order, moments of truth ranked by their effect on loyalty."""

import streamlit as st

from cxapp import actions_ui, data, router, sidebar, ui
from cxmetrics.charts import journey_charts
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import behaviour, channels, findings, impact
from cxmetrics.views import journey_view

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
view = sidebar.filters(ds)
ui.page_start("Customer journey", ds, view)
jv = data.shared(journey_view.compute, data.DATASET, data.CONTACTS, view, cases=data.CASES)
ui.stop_if_empty(jv.empty, jv.start, jv.end, ds, view)

# --- the journey map --------------------------------------------------------------------
st.subheader("The journey map")
st.caption(
    f"NPS with its {jv.trend_unit}ly trend in the period (a line where two {jv.trend_unit}s "
    f"or more have {jv.min_n}+ answers); CSAT and CES; the departments that affect each "
    "stage, lead first."
)
ui.stage_strip(jv.stages, jv.min_n, jv.trends, unmeasured=ds.unmeasured_scores())

# --- drill-down -------------------------------------------------------------------------
st.subheader("Drill into a stage")
options = [s.stage_id for s in jv.stages]
chosen = st.selectbox(
    "Stage",
    options,
    index=options.index(journey_view.drill_stage(jv.stages, jv.min_n)),
    key="drill",
    format_func=ds.journey.stage_name,
    bind="query-params",
)
# one under the other, full width: side by side, each would scroll sideways
st.markdown("**Touchpoints**")
touchpoints = data.shared(journey_view.touchpoint_table, data.DATASET, jv, chosen)
order = ["touchpoint", "declared", "nps", "nps_moe", "n_nps", "csat", "n_csat", "ces", "n_ces"]
ui.table(
    touchpoints,
    "touchpoints",
    hide_index=True,
    column_order=[c for c in order if c in touchpoints.columns],  # a score never asked: none
    column_config=ui.score_columns(),
)
st.markdown("**Channels**")
by_channel = data.shared(journey_view.channel_table, jv, chosen, ds.unmeasured_scores())
order = ["channel", "nps", "n_nps", "csat", "n_csat", "ces", "n_ces"]
ui.table(
    by_channel,
    "channels",
    hide_index=True,
    column_order=[c for c in order if c in by_channel.columns],
    column_config=ui.score_columns(),
)
actions_ui.stage_section(ds, chosen, "drill-actions")
st.markdown(
    ui.md(
        f"**What customers said about {ds.journey.stage_name(chosen)}** (newest 200; "
        "e-mail addresses and phone numbers masked)"
    )
)
said = data.comments(view.with_stages((chosen,)), (chosen,))
if said is not None:
    if said.height == 0:
        st.info("No comments in this view.")
    else:
        ui.table(
            said,
            "comments",
            hide_index=True,
            # the comment and its answers first: at 1400 px the channel and source are
            # the columns past the edge, not the comment
            column_order=[
                "responded_on",
                "touchpoint",
                "comment",
                "nps",
                "csat",
                "ces",
                "channel",
                "source",
            ],
            column_config=ui.comment_columns(),
        )

# --- moments of truth by impact --------------------------------------------------------
st.subheader("Moments of truth: touchpoints against the rest of their stage")
st.caption(impact.METHOD)
ranking = jv.ranking
tested = int(ranking["p"].is_not_null().sum())
ui.chart(
    data.figure(journey_charts.fig_impact, ranking, min_n=jv.min_n),
    "Colour compares the data with the moments of truth declared in the journey "
    "definition; a touchpoint is strong only where its test is kept. "
    + findings.caption(tested, "a touchpoint's NPS against the rest of its stage")
    + " Hover a bar for both NPS and n.",
    key="fig_impact",
)
weak = ranking.filter(ranking["verdict"] == impact.VERDICT_WEAK)["touchpoint"].to_list()
strong = ranking.filter(ranking["verdict"] == impact.VERDICT_UNDECLARED)["touchpoint"].to_list()
c1, c2 = st.columns(2)
c1.markdown("**Strong but undeclared:** " + ui.md(", ".join(strong) or "none"))
c2.markdown("**Declared, no difference found:** " + ui.md(", ".join(weak) or "none"))
with st.expander("The full ranking"):
    ui.table(
        ranking,
        "moments-ranking",
        hide_index=True,
        column_order=[
            "rank",
            "touchpoint",
            "stage",
            "declared",
            "verdict",
            "points",
            "nps",
            "n_nps",
            "nps_rest",
            "n_rest",
            "difference",
            "ci_low",
            "ci_high",
            "q",
        ],
        column_config=ui.impact_columns(),
    )

# --- behavioural moments --------------------------------------------------------------
st.subheader("Moments of truth from behaviour")
if not jv.behaviour:
    ui.not_recorded(behaviour.NOTHING_IMPORTED)
else:
    ui.chart(
        data.figure(journey_charts.fig_behaviour, jv.behaviour, jv.min_n),
        "NPS of all answers in view from customers who did this in the period, against "
        "everyone else's (for a stage's moment, the answers at the other stages on both "
        "sides); bars are 95% margins. Green: higher; red: lower; black: no difference "
        "found. Cases opened to follow up a survey answer are not complaints. "
        + findings.caption(
            len(behaviour.findings_of(jv.behaviour)),
            "NPS of each group against everyone else "
            f"(each side at least {jv.min_n} answers and customers)",
        ),
        key="fig_behaviour",
    )
    ui.table(
        data.shared(behaviour.table, jv.behaviour, jv.min_n),
        "behavioural-moments",
        hide_index=True,
        column_config=ui.behaviour_columns(),
    )

# --- channel consistency -------------------------------------------------------------
st.subheader("Channel consistency")
st.markdown(ui.md(channels.describe_headline(jv.channel_gap)))
st.caption(
    findings.caption(
        jv.channel_gap["tested"],
        "CES between two channels, compared within each touchpoint offered on both "
        f"(at least {jv.min_n} answers each side)",
    )
)
ui.chart(
    data.figure(journey_charts.fig_channel_heatmap, jv.channel_cells, "CES (1-7)"),
    f"{METRICS['ces'].definition} Blank: fewer than {jv.min_n} answers.",
    key="fig_channels",
)
