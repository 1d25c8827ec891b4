"""Accountability across silos: each department's own scorecard against the customer's
experience of the stages it affects, the false-positive detector, shared stage scorecards,
incentive alignment and a department's own cases.

A department's **silo score** is the share of its own KPI-weeks in the period that met
target. Its **experience score** weighs the stages it affects by its role there (lead 1,
contributor 0.5): the weighted share of those stages whose NPS is below target, and the
weighted NPS gap to target. A department is a **false positive** when at least 80% of its
own KPI-weeks are on target while more than half of its weighted stages are below target.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cxmetrics import closed_loop
from cxmetrics import metrics as m
from cxmetrics.filters import Filters
from cxmetrics.journey import Journey
from cxmetrics.overview import StageRow
from cxmetrics.registry import METRICS

ROLE_WEIGHT = {"lead": 1.0, "contributor": 0.5}
GREEN_SILO = 0.80  # own KPI-weeks on target from which a scorecard counts as green
RED_EXPOSURE = 0.50  # more than this weighted share of stages below target is red
CX_PAY_BENCHMARK = 0.19  # share of companies that tie rewards to service quality

METHOD = (
    f"Silo score: {METRICS['silo_score'].definition} False positive: "
    f"{METRICS['false_positive'].definition} Formula: {METRICS['false_positive'].formula}."
)


# What the page and the briefing say when the inputs of a verdict were never imported.
NO_DEPARTMENTS = (
    "No department affects a stage in view. Import the departments and who owns each stage "
    "(the journey definition's departments and stage_owners) to see who is accountable for "
    "the experience."
)
NO_KPIS = (
    "No department KPIs have been imported, so no department can be judged a false "
    "positive. Import the kpis table (department, KPI, week, value, target) to compare each "
    "department's own scorecard with the customer's experience."
)
NO_KPIS_IN_PERIOD = (
    "No department in view has KPIs in this period, so none can be judged; choose a longer "
    "period to compare their own scorecards with the experience."
)
NO_FALSE_POSITIVE = "No department in view with KPIs in this period is a false positive."
NO_INCENTIVES = (
    "No incentives have been imported, so nothing is known of anyone's pay. Import the "
    "incentives table (department, CX share of variable pay) to set each department's CX "
    "incentive against its effect on the experience."
)


def kpis_in_period(kpis: pl.DataFrame, start, end) -> pl.DataFrame:
    """KPI-weeks whose week starts inside [start, end], with ``on_target``."""
    frame = kpis
    if start is not None:
        frame = frame.filter(pl.col("week") >= start)
    if end is not None:
        frame = frame.filter(pl.col("week") <= end)
    return frame.with_columns(
        pl.when(pl.col("higher_is_better"))
        .then(pl.col("value") >= pl.col("target"))
        .otherwise(pl.col("value") <= pl.col("target"))
        .alias("on_target")
    )


def kpi_summary(kpis: pl.DataFrame) -> pl.DataFrame:
    """Per department and KPI: weeks, weeks on target, share, latest value and target."""
    return (
        kpis.sort("week")
        .group_by("department_id", "kpi", maintain_order=True)
        .agg(
            pl.len().alias("weeks"),
            pl.col("on_target").sum().alias("weeks_on_target"),
            (100 * pl.col("on_target").mean()).alias("on_target_pct"),
            pl.col("value").last().alias("latest"),
            pl.col("target").last().alias("target"),
            pl.col("higher_is_better").last(),
        )
        .sort("department_id", "kpi")
    )


@dataclass(frozen=True)
class DepartmentVerdict:
    department_id: str
    name: str
    kpi_weeks: int
    silo_score: float | None  # share of own KPI-weeks on target; None without KPIs
    stages: list[str]  # stages it affects, journey order
    exposure_below: float | None  # weighted share of judged stages below target
    experience_gap: float | None  # weighted NPS gap to target, points
    false_positive: bool
    sentence: str
    cx_share: float | None
    leads_broken: list[str]  # stages it leads that are below target


def detect(
    journey: Journey, stages: list[StageRow], kpis: pl.DataFrame, min_n: int = m.MIN_N
) -> list[DepartmentVerdict]:
    """Every department's silo and experience scores and its verdict, worst first.

    ``stages``: the journey strip rows in view; ``kpis``: :func:`kpis_in_period` rows.
    """
    judged = {
        s.stage_id: s
        for s in stages
        if s.statuses["nps"] in (m.STATUS_ON, m.STATUS_NEAR, m.STATUS_BELOW)
    }
    silo = {
        r["department_id"]: (r["len"], r["on"])
        for r in kpis.group_by("department_id")
        .agg(pl.len(), pl.col("on_target").mean().alias("on"))
        .iter_rows(named=True)
    }
    shares = dict(journey.incentives.iter_rows())
    out = []
    for dept in journey.departments.iter_rows(named=True):
        did, name = dept["department_id"], dept["name"]
        roles = {
            r["stage_id"]: r["role"]
            for r in journey.stage_owners.filter(pl.col("department_id") == did).iter_rows(
                named=True
            )
        }
        affected = [s for s in journey.stage_order if s in roles]
        weights = {s: ROLE_WEIGHT[roles[s]] for s in affected if s in judged}
        total = sum(weights.values())
        below = [s for s in weights if judged[s].statuses["nps"] == m.STATUS_BELOW]
        exposure = sum(weights[s] for s in below) / total if total else None
        gap = (
            sum(
                weights[s] * (judged[s].scores["nps"].value - judged[s].targets["nps"])
                for s in weights
                if judged[s].targets["nps"] is not None
            )
            / total
            if total
            else None
        )
        weeks, silo_score = silo.get(did, (0, None))
        flagged = (
            silo_score is not None
            and silo_score >= GREEN_SILO
            and exposure is not None
            and exposure > RED_EXPOSURE
        )
        leads_broken = [s for s in below if roles[s] == "lead"]
        out.append(
            DepartmentVerdict(
                did,
                name,
                int(weeks),
                silo_score,
                affected,
                exposure,
                gap,
                flagged,
                _sentence(name, silo_score, below, roles, judged, journey, flagged),
                shares.get(did),
                leads_broken,
            )
        )
    return sorted(
        out,
        key=lambda v: (
            not v.false_positive,
            v.experience_gap if v.experience_gap is not None else 0.0,
        ),
    )


def _sentence(name, silo_score, below, roles, judged, journey, flagged) -> str:
    own = (
        "has no KPIs in this period"
        if silo_score is None
        else f"met {100 * silo_score:.0f}% of its own targets"
    )
    if not below:
        return f"{name} {own}; none of the stages it affects is below its NPS target."
    worst = min(
        below,
        key=lambda s: (
            roles[s] != "lead",
            judged[s].scores["nps"].value - judged[s].targets["nps"],
        ),
    )
    row = judged[worst]
    under = row.targets["nps"] - row.scores["nps"].value
    fmt = METRICS["nps"].format
    text = (
        f"{name} {own}; customers rate {journey.stage_name(worst)} at NPS "
        f"{fmt(row.scores['nps'].value)}, {under:.0f} points under target."
    )
    return ("False positive: " + text) if flagged else text


def incentive_callouts(verdicts: list[DepartmentVerdict], journey: Journey) -> list[str]:
    """Departments that lead a stage below target while none of their pay rewards CX.
    Without incentives imported nothing is known about anyone's pay: no call-out."""
    if journey.incentives.height == 0:
        return []
    out = []
    for v in verdicts:
        if v.leads_broken and not v.cx_share:
            names = ", ".join(journey.stage_name(s) for s in v.leads_broken)
            out.append(
                f"{v.name} leads {names}, below its NPS target, and has no CX share in "
                "its variable pay."
            )
    return out


def matrix(journey: Journey, stages: list[StageRow]) -> pl.DataFrame:
    """Stage × department in long form: role (None where it does not affect the stage), the
    stage's NPS, target, gap and status."""
    rows = []
    by_stage = {s.stage_id: s for s in stages}
    roles = {
        (r["stage_id"], r["department_id"]): r["role"]
        for r in journey.stage_owners.iter_rows(named=True)
    }
    for sid in journey.stage_order:
        if sid not in by_stage:
            continue
        s = by_stage[sid]
        nps, target = s.scores["nps"].value, s.targets["nps"]
        for dept in journey.departments.iter_rows(named=True):
            role = roles.get((sid, dept["department_id"]))
            rows.append(
                {
                    "stage_id": sid,
                    "stage": s.name,
                    "position": s.position,
                    "department_id": dept["department_id"],
                    "department": dept["name"],
                    "role": role,
                    "nps": nps if role else None,
                    "target": target,
                    "gap": (nps - target)
                    if role and nps is not None and target is not None
                    else None,
                    "status": s.statuses["nps"] if role else None,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "stage_id": pl.String,
            "stage": pl.String,
            "position": pl.Int64,
            "department_id": pl.String,
            "department": pl.String,
            "role": pl.String,
            "nps": pl.Float64,
            "target": pl.Float64,
            "gap": pl.Float64,
            "status": pl.String,
        },
    )


def scorecard(journey: Journey, stage_id: str, kpi_table: pl.DataFrame) -> pl.DataFrame:
    """The shared scorecard of a stage: every department affecting it (lead first) with each
    of its KPIs side by side. ``kpi_table`` from :func:`kpi_summary`."""
    owners = (
        journey.stage_owners.filter(pl.col("stage_id") == stage_id)
        .join(journey.departments, on="department_id")
        .select("department_id", pl.col("name").alias("department"), "role")
    )
    return owners.join(kpi_table, on="department_id", how="left").sort(
        pl.col("role") != "lead", "department", "kpi"
    )


def case_summary(cases: pl.DataFrame, journey: Journey, department_id: str, start, end) -> dict:
    """A department's cases opened in the period, by the closed-loop definitions.

    ``cases`` as from :func:`closed_loop.prepare`. Closed and confirmed are shares of the
    cases opened; false closures a share of those closed.
    """
    mine = closed_loop.in_view(
        cases.filter(pl.col("department_id") == department_id), Filters(start=start, end=end), None
    )
    row = closed_loop.summarise(mine, []).row(0, named=True)
    return {
        "opened": row["opened"],
        "closed": m.proportion_score("churn", row["closed"], row["opened"]),
        "confirmed": m.proportion_score("churn", row["confirmed"], row["opened"]),
        "false_closures": m.proportion_score("churn", row["false_closures"], row["closed"]),
        "median_days": row["median_days"],
        "open_cases": mine.filter(pl.col("closed_on").is_null())
        .join(
            journey.touchpoints.select("touchpoint_id", pl.col("name").alias("touchpoint")),
            on="touchpoint_id",
            how="left",
        )
        .sort("opened_on", descending=True)
        .select("case_id", "opened_on", "touchpoint", "root_cause")
        .head(50),
    }


@dataclass(frozen=True)
class AccountabilityView:
    start: object
    end: object
    stages: list[StageRow]  # every stage, judged with the period/channel/segment/region view
    verdicts: list[DepartmentVerdict]  # the departments in view, worst first
    matrix: pl.DataFrame
    kpis: pl.DataFrame  # KPI-weeks in the period, with on_target
    kpi_table: pl.DataFrame
    callouts: list[str]
    min_n: int
    has_kpis: bool = True  # any KPI imported at all (in any period)
    has_incentives: bool = True  # any department's CX share of pay imported

    @property
    def judged(self) -> list[DepartmentVerdict]:
        """Departments in view with KPIs in the period: the only ones a verdict can be on."""
        return [v for v in self.verdicts if v.silo_score is not None]

    @property
    def unjudged_reason(self) -> str | None:
        """Why no department can be judged (one of the messages above), or None."""
        if not self.verdicts:
            return NO_DEPARTMENTS
        if not self.has_kpis:
            return NO_KPIS
        if not self.judged:
            return NO_KPIS_IN_PERIOD
        return None


def compute(ds, kpis: pl.DataFrame, f, min_n: int = m.MIN_N) -> AccountabilityView:
    """Departments are judged on every stage they affect, whatever the stage or department
    filter; those filters choose which departments and stages are shown."""
    from cxmetrics.overview import scores_by, stage_rows  # one definition of the strip

    start, end = f.start or ds.first_day, f.end or ds.last_day
    whole = f.with_stages(()).with_departments(())
    sums = m.sums(ds.slice_stats(whole), ["stage_id"], m.CORE_COLUMNS)
    rows = stage_rows(ds, scores_by(sums, "stage_id"), None, min_n)
    period = kpis_in_period(kpis, start, end)
    verdicts = detect(ds.journey, rows, period, min_n)
    if ds.scope is not None:  # a manager: judged on their own departments only
        verdicts = [v for v in verdicts if v.department_id in ds.scope]
    shown_stages = ds.stage_ids(f)
    if f.departments:
        verdicts = [v for v in verdicts if v.department_id in f.departments]
    elif shown_stages is not None:
        verdicts = [v for v in verdicts if set(v.stages) & set(shown_stages)]
    visible = [r for r in rows if shown_stages is None or r.stage_id in shown_stages]
    return AccountabilityView(
        start,
        end,
        rows,
        verdicts,
        matrix(ds.journey, visible),
        period,
        kpi_summary(period),
        incentive_callouts(verdicts, ds.journey),
        min_n,
        kpis.height > 0,
        ds.journey.incentives.height > 0,
    )


def worst_stage(stages: list[StageRow], among: list[str]) -> str:
    """The stage furthest under its NPS target (stages with too few answers last)."""

    def gap(row: StageRow) -> float:
        nps, target = row.scores["nps"].value, row.targets["nps"]
        return float("inf") if nps is None or target is None else nps - target

    return min((s for s in stages if s.stage_id in among), key=gap).stage_id


def stage_weekly_nps(ds, f, stage_id: str) -> pl.DataFrame:
    """A stage's NPS per week in the view: week, nps, n_nps."""
    stats = ds.slice_stats(f.with_stages(()).with_departments(())).filter(
        pl.col("stage_id") == stage_id
    )
    return (
        m.totals(stats.rename({"week": "bucket"}), ["bucket"], m.CORE_COLUMNS)
        .sort("bucket")
        .select(pl.col("bucket").alias("week"), "nps", "n_nps")
    )


def _pct(share: float | None) -> float | None:
    return None if share is None else 100 * share


def verdict_table(verdicts: list[DepartmentVerdict]) -> pl.DataFrame:
    """The ranked list: false positives first, then by the experience of their stages."""
    return pl.DataFrame(
        {
            "department": [v.name for v in verdicts],
            "false_positive": [v.false_positive for v in verdicts],
            "silo_pct": [_pct(v.silo_score) for v in verdicts],
            "exposure_below_pct": [_pct(v.exposure_below) for v in verdicts],
            "experience_gap": [v.experience_gap for v in verdicts],
            "kpi_weeks": [v.kpi_weeks for v in verdicts],
            "sentence": [v.sentence.removeprefix("False positive: ") for v in verdicts],
        },
        schema_overrides={
            "silo_pct": pl.Float64,
            "exposure_below_pct": pl.Float64,
            "experience_gap": pl.Float64,
        },
    )


def incentive_table(verdicts: list[DepartmentVerdict], journey: Journey) -> pl.DataFrame:
    """CX share of variable pay beside how much of the experience each department affects."""
    return pl.DataFrame(
        {
            "department": [v.name for v in verdicts],
            "cx_share_pct": [_pct(v.cx_share) for v in verdicts],
            "benchmark_pct": [_pct(CX_PAY_BENCHMARK)] * len(verdicts),
            "stages": [len(v.stages) for v in verdicts],
            "leads": [
                ", ".join(journey.stage_name(s) for s in journey.stages_led_by(v.department_id))
                for v in verdicts
            ],
            "exposure_below_pct": [_pct(v.exposure_below) for v in verdicts],
            "leads_below_target": [
                ", ".join(journey.stage_name(s) for s in v.leads_broken) for v in verdicts
            ],
        },
        schema_overrides={"cx_share_pct": pl.Float64, "exposure_below_pct": pl.Float64},
    ).sort("cx_share_pct", nulls_last=True)
