"""Loyalty and value: trends we can trust, loyalty in money, and the customers who matter."""

import streamlit as st

from cxapp import data, router, sidebar, ui
from cxmetrics.charts import loyalty_charts
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.contract.text import tested_together
from cxmetrics.findings import findings
from cxmetrics.views import loyalty

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
view = sidebar.filters(ds)
ui.page_start("Loyalty and value", ds, view)
customers = data.shared(loyalty.customers_in_view, data.DATASET, view)
start, end = view.start or ds.first_day, view.end or ds.last_day
ui.stop_if_empty(customers.height == 0, start, end, ds, view)
journey = ds.journey
facts, symbol = ds.facts, ds.settings.currency_symbol

# --- NPS trend ----------------------------------------------------------------------
st.subheader("NPS over time")
c1, c2 = st.columns(2)
unit = (
    c1.segmented_control(
        "By", list(loyalty.UNITS), default="week", key="trend_unit", bind="query-params"
    )
    or "week"
)
split = (
    c2.segmented_control(
        "Split by", list(loyalty.SPLITS), default="none", key="trend_split", bind="query-params"
    )
    or "none"
)
trend = data.shared(loyalty.trend_in_view, data.DATASET, view, unit, loyalty.SPLITS[split], MIN_N)
if split == "stage":
    trend = data.shared(loyalty.with_group_names, trend, journey.labels)
tested = int(trend["z"].is_not_null().sum())
marks = (
    f"Triangles: a change from the previous {unit} that holds after testing "
    f"{tested_together(tested, 'change', 'on the chart')} (Benjamini-Hochberg, false "
    "discovery rate 5%)"
    if tested
    else f"No change could be tested: that needs two {unit}s in a row with enough answers each"
)
ui.chart(
    data.figure(loyalty_charts.fig_nps_trend, trend, unit),
    f"{METRICS['nps'].definition} {marks}; bands and tests allow for customers who answer "
    "more than once." + loyalty.undrawn_note(trend, unit, MIN_N),
    key="fig_nps_trend",
)
ui.chart(
    data.figure(
        loyalty_charts.fig_nps_mix,
        data.shared(loyalty.trend_in_view, data.DATASET, view, unit, None, MIN_N),
        unit,
    ),
    f"Share of NPS answers in each group; hover for n. A {unit} with fewer than {MIN_N} "
    "answers has no bar.",
    key="fig_nps_mix",
)

# --- churn by loyalty ------------------------------------------------------------------
st.subheader("Does loyalty predict who leaves?")
st.caption(f"{METRICS['churn'].definition} Customers are grouped by their latest answer in view.")
if not facts.churn:
    ui.not_recorded(facts.unknown_text("churn"))
else:
    left, right = ui.wrapping_columns(2, "churn_charts")
    with left:
        ui.chart(
            data.figure(
                loyalty_charts.fig_churn_by,
                data.shared(loyalty.churn_by_loyalty, customers),
                "group",
                "Churn by NPS group",
                "Latest NPS answer",
            ),
            "Bars: 95% margins.",
            key="fig_churn_nps",
        )
    with right:
        ui.chart(
            data.figure(
                loyalty_charts.fig_churn_by,
                data.shared(loyalty.churn_by_csat, customers),
                "csat",
                "Churn by satisfaction",
                "Latest CSAT answer (1-5)",
            ),
            "Bars: 95% margins.",
            key="fig_churn_csat",
        )

# --- satisfied but at risk --------------------------------------------------------------
st.subheader("Satisfied but at risk")
risk = data.shared(loyalty.satisfied_at_risk, customers, MIN_N, facts.churn)
c1, c2, c3 = st.columns(3)
at_risk_value, at_risk_caption = loyalty.at_risk_tile(risk, MIN_N)
c1.metric(
    "Satisfied customers at risk",
    at_risk_value,
    help=METRICS["satisfied_at_risk"].help(),
    border=True,
)
c1.caption(at_risk_caption)
c2.metric(
    "Their annual revenue",
    "Not recorded" if risk["revenue"] is None else ds.money(risk["revenue"]),
    help="Σ annual revenue of the satisfied customers at risk.",
    border=True,
)
c3.metric(
    "Already left",
    f"{risk['left']:,}" if facts.churn else "Not recorded",
    border=True,
    help="Satisfied customers who left during the period.",
)
if risk["concentrated"] is not None:
    st.markdown(ui.md(risk["concentrated"].sentence))
st.caption(
    findings.caption(
        risk["tested"],
        "each segment's at-risk share against the other segments' "
        f"(two-proportion test, at least {MIN_N} satisfied customers each side)",
    )
)
by_segment = risk["by_segment"]
if not facts.churn:
    by_segment = by_segment.drop("left", "churn")
if risk["revenue"] is None:
    by_segment = by_segment.drop("revenue")
ui.table(by_segment, "satisfied-at-risk", hide_index=True, column_config=ui.at_risk_columns(symbol))

# --- revenue at risk ---------------------------------------------------------------------
st.subheader("Revenue at risk")
st.caption(
    METRICS["revenue_at_risk"].definition
    + " A customer can count at several stages. Each segment is costed at its own "
    "detractors' extra churn, so the segments need not add up to the company's figure."
)
if facts.missing("revenue", "churn"):
    ui.not_recorded(facts.unknown_text("revenue", "churn"))
else:
    left, right = ui.wrapping_columns(2, "risk_charts")
    with left:
        ui.chart(
            data.figure(
                loyalty_charts.fig_revenue_at_risk,
                data.shared(loyalty.revenue_at_risk_by, data.DATASET, view, "stage"),
                "stage",
                symbol,
            ),
            "Hover a bar for its calculation.",
            key="fig_rar_stage",
        )
    with right:
        ui.chart(
            data.figure(
                loyalty_charts.fig_revenue_at_risk,
                data.shared(loyalty.revenue_at_risk_by, data.DATASET, view, "segment"),
                "segment",
                symbol,
            ),
            "Hover a bar for its calculation.",
            key="fig_rar_segment",
        )

# --- customer value ----------------------------------------------------------------------
st.subheader("Customer value")
if facts.missing("revenue", "cost"):
    ui.not_recorded(facts.unknown_text("revenue", "cost"))
else:
    value = data.shared(loyalty.value_summary, customers)
    unknown = (
        f" ({value['unknown']:,} more have no revenue or cost recorded)" if value["unknown"] else ""
    )
    st.markdown(
        f"**{ui.value_text('churn', value['unprofitable'], MIN_N)}** of the "
        f"{value['customers']:,} customers in view cost more to serve than they pay{unknown}."
    )
    left, right = ui.wrapping_columns(2, "value_charts")
    with left:
        ui.chart(
            data.figure(loyalty_charts.fig_profit, value["profit"], symbol),
            "Profit: annual revenue − cost to serve. Red line: break-even.",
            key="fig_profit",
        )
    with right:
        ui.chart(
            data.figure(loyalty_charts.fig_value_quadrant, value["grid"], symbol),
            "Customers with an NPS answer in view, by their latest answer.",
            key="fig_value_quadrant",
        )

# --- influencers ------------------------------------------------------------------------
st.subheader("Influencers: the new VIPs")
if not facts.influence:
    ui.not_recorded(facts.unknown_text("influence"))
else:
    ui.chart(
        data.figure(
            loyalty_charts.fig_influencers,
            data.shared(loyalty.influencer_nps_by_stage, data.DATASET, view, MIN_N),
            journey.labels,
        ),
        f"Influencers: customers in the top 10% by influence score (≥ "
        f"{data.shared(loyalty.influencer_cut, data.DATASET):.1f}). Bars: 95% margins.",
        key="fig_influencers",
    )
    influencer_tests = data.shared(loyalty.influencer_candidates, data.DATASET, view, MIN_N)
    for found in findings.decide(influencer_tests):
        st.markdown(f"- {ui.md(found.sentence)}")
    st.caption(
        findings.caption(len(influencer_tests), "influencers against everyone else by stage")
    )
    stage_options = journey.stage_order
    focus = st.selectbox(
        "Influencer detractors at",
        stage_options,
        index=len(stage_options) - 1,
        key="influencer_stage",
        format_func=journey.stage_name,
        bind="query-params",
    )
    who = data.shared(loyalty.influencer_detractors, data.DATASET, view, focus)
    if not facts.revenue:
        who = who.drop("annual_revenue")
    st.markdown(
        f"**{who.height:,} influencers** whose latest answer at "
        f"{ui.md(journey.stage_name(focus))} is a detractor and who are still customers — "
        "highest influence first:"
    )
    ui.table(
        who,
        "influencer-detractors",
        hide_index=True,
        column_config=ui.influencer_columns(symbol),
        height=320,
    )
