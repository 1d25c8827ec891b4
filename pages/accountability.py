"""Accountability across silos: green scorecards, red experiences, and who is paid for CX."""

import streamlit as st

from cxapp import actions_ui, data, router, sidebar, ui
from cxmetrics.charts import accountability_charts
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import action_effect, closed_loop
from cxmetrics.views import accountability, voc_view, wording

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
view = sidebar.filters(ds)
ui.page_start("Accountability across silos", ds, view)
av = data.shared(accountability.compute, data.DATASET, data.KPIS, view)
journey = ds.journey
manager = len(view.departments) == 1
# a manager's own KPIs and cases do not depend on the survey filters: shown even where
# those leave no responses to judge the department on
ui.stop_if_empty(av.empty and not manager, av.start, av.end, ds, view)

# --- manager view ---------------------------------------------------------------------
if manager:
    mine = av.verdicts[0]
    st.subheader(ui.md(f"My accountability: {mine.name}"))
    if av.empty:
        ui.no_responses(av.start, av.end, ds, view)
    else:
        (st.error if mine.false_positive else st.info)(ui.md(mine.sentence))
        ui.stage_strip(
            [s for s in av.stages if s.stage_id in mine.stages],
            av.min_n,
            key="my_stages",
            unmeasured=ds.unmeasured_scores(),
        )
    left, right = ui.wrapping_columns(2, "my_kpis_and_cases")
    with left:
        st.markdown("**My KPIs in the period**")
        ui.table(
            av.kpi_table.filter(av.kpi_table["department_id"] == mine.department_id),
            "my-kpis",
            hide_index=True,
            column_config=ui.kpi_columns(),
            column_order=[
                "kpi_label",
                "weeks",
                "weeks_on_target",
                "on_target_pct",
                "latest",
                "goal",
            ],
        )
    with right:
        cases = data.shared(
            accountability.case_summary,
            data.CLOSED_LOOP,
            journey,
            mine.department_id,
            av.start,
            av.end,
            ds.last_day,
        )
        if not cases["imported"]:  # never imported: not a count of 0
            st.markdown("**My cases**")
            ui.not_recorded(voc_view.NO_CASES)
        else:
            st.markdown(f"**My cases opened in the period: {cases['opened']:,}**")
            c1, c2, c3, c4 = st.columns(4)
            for col, key, score in (
                (c1, "closure_rate", cases["closed"]),
                (c2, "confirmed_rate", cases["confirmed"]),
                (c3, "false_closure_rate", cases["false_closures"]),
            ):
                col.metric(
                    METRICS[key].short,
                    wording.NO_FIGURE if score is None else ui.value_text("churn", score, 1),
                    help=METRICS[key].help(),
                )
            c4.metric(
                "Median days to close",
                "–" if cases["median_days"] is None else f"{cases['median_days']:.0f}",
            )
            c5, c6 = st.columns(2)
            c5.metric(
                "Said no",
                ui.value_text("churn", cases["said_no"], 1),
                help="Closed cases the customer said were not resolved",
            )
            c6.metric(
                "Not asked",
                ui.value_text("churn", cases["not_asked"], 1),
                help="Closed cases with no answer from the customer either way (not asked, or no "
                "answer)",
            )
            unknown = closed_loop.NO_REPEATS + " " if cases["false_closures"] is None else ""
            st.caption(
                f"n = {cases['judged']:,} cases old enough to count · "
                f"{cases['closed_n']:,} of them closed. {cases['window']} {unknown}"
                "The Voice of the customer page compares every department's closed loop."
            )
            ui.table(
                cases["open_cases"],
                "my-open-cases",
                hide_index=True,
                height=220,
                column_config={
                    "case_id": st.column_config.TextColumn("Case"),
                    "opened_on": st.column_config.DateColumn("Opened"),
                    "touchpoint": "Touchpoint",
                    "root_cause": "Root cause",
                },
            )

    ui.stop_if_empty(av.empty, av.start, av.end, ds, view, warn=False)

# --- silo vs experience ----------------------------------------------------------------
st.subheader("Silo scorecards against the customer's experience")
st.caption(f"{accountability.METHOD} {accountability.family_caption(av.verdicts)}")
flagged = [v for v in av.verdicts if v.false_positive]
if len(view.departments) != 1:  # the manager view has said it already
    for v in flagged:
        st.error(ui.md(v.sentence), icon=":material/warning:")
if av.unjudged_reason == accountability.NO_KPIS_IN_PERIOD:
    st.info(av.unjudged_reason, icon=":material/info:")
elif av.unjudged_reason:
    ui.not_recorded(av.unjudged_reason)
elif not accountability.tested(av.verdicts):  # no verdict where nothing was tested
    st.info(accountability.clear_words(av.verdicts), icon=":material/info:")
elif not flagged:
    st.success(accountability.clear_words(av.verdicts), icon=":material/check_circle:")
if av.has_kpis:
    ui.chart(
        data.figure(accountability_charts.fig_silo_quadrant, av.verdicts),
        "Each dot is a department. Right: its own KPIs are mostly on target. Below the line: "
        "customers rate the stages it affects under target. Hollow: not tested (too few "
        f"KPI-weeks, fewer than {accountability.MIN_KPI_WEEKS}, or no stage with enough "
        "answers), wherever it stands.",
        key="fig_silo_quadrant",
    )
    ui.table(
        data.shared(accountability.verdict_table, av.verdicts),
        "silo-verdicts",
        hide_index=True,
        column_config=ui.verdict_columns(),
    )

# --- stage x department ------------------------------------------------------------------
st.subheader("Every stage has a cross-functional team")
ui.chart(
    data.figure(accountability_charts.fig_ownership, av.matrix),
    f"{METRICS['nps'].definition} {accountability.matrix_colour_note(av.matrix)}",
    key="fig_ownership",
)
owned = set(av.matrix.drop_nulls("role")["stage_id"])
stage_options = [s.stage_id for s in av.stages if s.stage_id in owned]
if not stage_options:
    ui.not_recorded(
        "No stage in view has a department assigned. Import the journey definition's "
        "departments and stage_owners to see each stage's cross-functional team and its "
        "shared scorecard."
    )
else:
    c1, c2 = st.columns(2)
    worst = accountability.worst_stage(av.stages, stage_options)
    stage = c1.selectbox(
        "Stage",
        stage_options,
        index=stage_options.index(worst),
        key="acc_stage",
        format_func=journey.stage_name,
        bind="query-params",
    )
    owners = journey.owners_of(stage)
    dept = c2.selectbox(
        "Department", owners, key="acc_department", format_func=journey.department_name
    )
    row = next(s for s in av.stages if s.stage_id == stage)
    if not av.has_kpis:  # no department's own KPIs to set beside the stage's NPS
        ui.not_recorded(accountability.NO_KPIS_AT_STAGE)
    else:
        ui.chart(
            data.figure(
                accountability_charts.fig_department_at_stage, data.DATASET, view, av, stage, dept
            ),
            "Dashed lines: targets. KPI points are green on target, red off target.",
            key="fig_kpis_against_stage",
        )

    # --- shared stage scorecard ----------------------------------------------------------------
    st.subheader(ui.md(f"Shared scorecard: {row.name}"))
    ui.stage_strip([row], av.min_n, key="scorecard_stage", unmeasured=ds.unmeasured_scores())
    ui.table(
        data.shared(accountability.scorecard, journey, stage, av.kpi_table),
        "stage-scorecard",
        hide_index=True,
        column_config=ui.kpi_columns(),
        column_order=[
            "department",
            "role",
            "kpi_label",
            "on_target_pct",
            "latest",
            "goal",
            "weeks",
        ],
    )
    actions_ui.stage_section(ds, stage, "stage-actions")

# --- action plans ---------------------------------------------------------------------
st.subheader("Action plans and their measured effect")
actions_ui.show(
    actions_ui.listed(ds), "action-plans", "No action plan yet: create one below or import them."
)
st.caption(action_effect.METHOD)
st.markdown("**Create, edit or close an action**")
actions_ui.editor(ds)

# --- incentives ----------------------------------------------------------------------
st.subheader("Incentives: is the experience anyone's job?")
for line in av.callouts:
    st.warning(ui.md(line), icon=":material/payments:")
if av.has_incentives:
    st.info(accountability.CX_PAY_BENCHMARK_TEXT, icon=":material/info:")
    ui.table(
        data.shared(accountability.incentive_table, av.verdicts, journey),
        "incentives",
        hide_index=True,
        column_config=ui.incentive_columns(),
    )
    st.caption(
        "Each department's share of its own variable pay tied to CX goals, beside the stages "
        "it affects and leads. The benchmark above counts companies, not pay, and is not a "
        "column of this table."
    )
else:
    ui.not_recorded(accountability.NO_INCENTIVES)
