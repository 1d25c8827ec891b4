"""Accountability across silos: each department's own scorecard against the customer's
experience of the stages it affects, the false-positive detector, shared stage scorecards,
incentive alignment and a department's own cases.

A department's **silo score** is the share of its own KPI-weeks in the period that met
target. Its scorecard is **green** when it has at least :data:`MIN_KPI_WEEKS` KPI-weeks and
the 95% Wilson interval of that share lies above :data:`GREEN_SILO` (a one-sided score test).
A stage is **below target** only when its NPS interval (allowing for customers who answer
more than once) lies wholly below the target. Its **experience score** weighs the stages it
affects by its role there (lead 1, contributor 0.5): the weighted share of those stages below
target, and the weighted NPS gap to target. A department is a **false positive** when its
scorecard is green while more than half of its weighted stages are below target, tested as
one claim per department (p = the larger of the two parts' p-values, each below 0.05 exactly
when its 95% interval clears the line, the stage part Bonferroni-corrected over the
department's stages) and kept under the false discovery rate over the departments in view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import polars as pl

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import closed_loop, findings
from cxmetrics.findings.findings import Finding
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import wilson
from cxmetrics.views.overview import StageRow

ROLE_WEIGHT = {"lead": 1.0, "contributor": 0.5}
GREEN_SILO = 0.75  # a green scorecard meets target in more than this share of KPI-weeks
MIN_KPI_WEEKS = 13  # a quarter of one weekly KPI: fewer and the scorecard is not judged
RED_EXPOSURE = 0.50  # more than this weighted share of stages below target is red
CX_PAY_BENCHMARK = 0.19  # share of companies that tie rewards to service quality
CX_PAY_BENCHMARK_TEXT = (
    f"Benchmark: only {100 * CX_PAY_BENCHMARK:.0f}% of companies tie rewards to service "
    "quality. That is a share of companies, not a share of pay: it says how rare any CX "
    "incentive is, not how large a department's should be."
)

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
NO_KPIS_AT_STAGE = (
    "No department KPIs have been imported, so no department's own KPIs can be set beside "
    "the customers' NPS of a stage. Import the kpis table (department, KPI, week, value, "
    "target) to see them."
)
NO_RESPONSES = (
    "No responses in this view, so no department is judged: a filter that leaves none "
    "shows nothing to compare a scorecard with."
)
NO_KPIS_IN_PERIOD = (
    "No department in view has KPIs in this period, so none can be judged; choose a longer "
    "period to compare their own scorecards with the experience."
)
NONE_TESTED = (
    "No department in view could be tested: each needs at least {weeks} KPI-weeks in the "
    "period and a stage with enough answers. Choose a longer period to judge them."
)
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
    """Per department and KPI: weeks, weeks on target, share, latest value and target, and
    the KPI's name with its unit (``kpi_label``)."""
    if "unit" not in kpis.columns:
        kpis = kpis.with_columns(pl.lit(None, pl.String).alias("unit"))
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
            pl.col("unit").drop_nulls().last().alias("unit"),
        )
        .with_columns(
            pl.struct("target", "higher_is_better")
            .map_elements(lambda r: goal_text(r["target"], r["higher_is_better"]), pl.String)
            .alias("goal"),
            kpi_label(pl.col("kpi"), pl.col("unit")).alias("kpi_label"),
        )
        .sort("department_id", "kpi")
    )


def kpi_label(kpi: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """A KPI's name with what its values are counted in: "Average speed of answer (s)";
    the name alone where no unit was imported."""
    unit = unit.str.strip_chars()
    return pl.when(unit != "").then(kpi + " (" + unit + ")").otherwise(kpi)


def goal_text(target: float, higher_is_better: bool) -> str:
    """A KPI's target with the way that is good: "≤ 14", "≥ 99.5", "≥ 1,250,000"."""
    small = abs(target) < 1  # 0.004, not 0
    number = f"{target:z.3g}" if small else f"{target:z,.2f}".rstrip("0").rstrip(".")
    return f"{'≥' if higher_is_better else '≤'} {number}"


# --- the two tests behind a false positive ------------------------------------------------


def green_p(hits: int, weeks: int, threshold: float = GREEN_SILO) -> float | None:
    """p-value that the KPI hit rate exceeds ``threshold``: the one-sided score test, doubled
    so that it is below 0.05 exactly when the 95% Wilson interval of the hit rate lies above
    ``threshold`` (what the page calls a green scorecard). None below :data:`MIN_KPI_WEEKS`."""
    if weeks < MIN_KPI_WEEKS:
        return None
    z = (hits / weeks - threshold) / math.sqrt(threshold * (1 - threshold) / weeks)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def is_green(hits: int, weeks: int, threshold: float = GREEN_SILO) -> bool:
    """Enough KPI-weeks, and the hit rate's 95% Wilson interval lies above ``threshold``."""
    return weeks >= MIN_KPI_WEEKS and wilson(hits, weeks)[0] > threshold


def stage_interval(row: StageRow) -> tuple[float, float] | None:
    """The stage's NPS 95% interval (its Score's margin, which allows for repeated answers
    when the Score was made with the design effect)."""
    score = row.scores["nps"]
    if score.value is None or score.moe is None:
        return None
    return score.value - score.moe, score.value + score.moe


def below_p(row: StageRow) -> float | None:
    """p-value that the stage's NPS is below its target: the one-sided z-test with the
    Score's standard error, doubled so that it is below 0.05 exactly when the 95% interval
    lies below the target (what the detector calls below target)."""
    score, target = row.scores["nps"], row.targets["nps"]
    if score.value is None or target is None:
        return None
    p = m.target_p(score, target)
    if p is None:  # no standard error: the value alone decides
        return 0.0 if score.value < target else 1.0
    return min(1.0, 2 * p)


def is_below(row: StageRow) -> bool:
    """The stage's whole NPS interval lies below its target."""
    interval, target = stage_interval(row), row.targets["nps"]
    return interval is not None and target is not None and interval[1] < target


def red_p(weights: dict[str, float], p_below: dict[str, float]) -> float:
    """p-value that more than :data:`RED_EXPOSURE` of the weighted stages are truly below
    target: the stages with the strongest evidence that together pass the share, the largest
    p-value among them, times the number of stages (if the claim is false, one of those
    stages is not below target, and that stage's own test had to pass)."""
    total = sum(weights.values())
    chosen, weight = [], 0.0
    for s in sorted(weights, key=lambda s: p_below[s]):
        chosen.append(s)
        weight += weights[s]
        if weight > RED_EXPOSURE * total:
            break
    return min(1.0, len(weights) * max(p_below[s] for s in chosen))


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
    silo_lower: float | None = None  # 95% Wilson lower bound of the silo score
    green: bool = False  # enough KPI-weeks and silo_lower above GREEN_SILO
    finding: Finding | None = None  # the tested claim, with its q when judged


@dataclass(frozen=True)
class _Assessment:
    verdict: DepartmentVerdict
    candidate: Finding | None


def _judged(stages: list[StageRow], min_n: int) -> dict[str, StageRow]:
    return {
        s.stage_id: s
        for s in stages
        if s.scores["nps"].value is not None
        and not s.scores["nps"].too_few(min_n)
        and s.targets["nps"] is not None
    }


def _assess(
    journey: Journey, stages: list[StageRow], kpis: pl.DataFrame, min_n: int, departments
) -> list[_Assessment]:
    judged = _judged(stages, min_n)
    silo = {
        r["department_id"]: (int(r["len"]), int(r["on"]))
        for r in kpis.group_by("department_id")
        .agg(pl.len(), pl.col("on_target").sum().alias("on"))
        .iter_rows(named=True)
    }
    shares = dict(journey.incentives.iter_rows())
    out = []
    for dept in journey.departments.iter_rows(named=True):
        did, name = dept["department_id"], dept["name"]
        if departments is not None and did not in departments:
            continue
        roles = {
            r["stage_id"]: r["role"]
            for r in journey.stage_owners.filter(pl.col("department_id") == did).iter_rows(
                named=True
            )
        }
        affected = [s for s in journey.stage_order if s in roles]
        weights = {s: ROLE_WEIGHT[roles[s]] for s in affected if s in judged}
        total = sum(weights.values())
        below = [s for s in weights if is_below(judged[s])]
        exposure = sum(weights[s] for s in below) / total if total else None
        gap = (
            sum(
                weights[s] * (judged[s].scores["nps"].value - judged[s].targets["nps"])
                for s in weights
            )
            / total
            if total
            else None
        )
        weeks, hits = silo.get(did, (0, 0))
        silo_score = hits / weeks if weeks else None
        lower = wilson(hits, weeks)[0] if weeks else None
        green = is_green(hits, weeks)
        leads_broken = [s for s in below if roles[s] == "lead"]
        candidate = None
        p_green = green_p(hits, weeks)
        if p_green is not None and weights:
            p_below = {s: below_p(judged[s]) for s in weights}
            worst = _worst(below or list(weights), roles, judged)
            row = judged[worst]
            interval = stage_interval(row)
            target = row.targets["nps"]
            candidate = Finding(
                "false_positive",
                _sentence(name, silo_score, weeks, [worst], roles, judged, journey, True),
                row.scores["nps"].value - target,
                None if interval is None else (interval[0] - target, interval[1] - target),
                row.scores["nps"].n,
                max(p_green, red_p(weights, p_below)),
                stages=tuple(s for s in affected if s in weights),
                departments=(did,),
                unit="NPS points against target",
                family="false_positive",
            )
        verdict = DepartmentVerdict(
            did,
            name,
            int(weeks),
            silo_score,
            affected,
            exposure,
            gap,
            False,
            _sentence(name, silo_score, weeks, below, roles, judged, journey, False),
            shares.get(did),
            leads_broken,
            lower,
            green,
            candidate,
        )
        out.append(_Assessment(verdict, candidate))
    return out


def detect(
    journey: Journey,
    stages: list[StageRow],
    kpis: pl.DataFrame,
    min_n: int = m.MIN_N,
    departments=None,
) -> list[DepartmentVerdict]:
    """Every department's silo and experience scores and its verdict, worst first.

    ``stages``: the journey strip rows in view (their NPS Score's standard error should
    allow for repeated answers); ``kpis``: :func:`kpis_in_period` rows; ``departments``:
    the departments judged (all when None), which are the family of tests.
    """
    assessed = _assess(journey, stages, kpis, min_n, departments)
    adjusted = iter(findings.adjust([a.candidate for a in assessed if a.candidate]))
    out = []
    for a in assessed:
        v = a.verdict
        if a.candidate is not None:
            found = next(adjusted)
            flagged = found.significant
            v = replace(v, finding=found, false_positive=flagged)
            if flagged:
                v = replace(v, sentence=found.sentence)
        out.append(v)
    return sorted(
        out,
        key=lambda v: (
            not v.false_positive,
            v.experience_gap if v.experience_gap is not None else 0.0,
        ),
    )


def _worst(candidates: list[str], roles, judged) -> str:
    return min(
        candidates,
        key=lambda s: (
            roles[s] != "lead",
            judged[s].scores["nps"].value - judged[s].targets["nps"],
        ),
    )


def _sentence(name, silo_score, weeks, below, roles, judged, journey, flagged) -> str:
    if silo_score is None:
        own = "has no KPIs in this period"
    elif weeks < MIN_KPI_WEEKS:
        own = (
            f"met {100 * silo_score:.0f}% of its own targets, on too few KPI-weeks to judge "
            f"({weeks} of the {MIN_KPI_WEEKS} needed)"
        )
    else:
        own = f"met {100 * silo_score:.0f}% of its own targets ({weeks} KPI-weeks)"
    if not below:
        if not roles:
            return f"{name} {own}; it affects no stage of the journey."
        if not any(s in judged for s in roles):
            return (
                f"{name} {own}; none of the stages it affects has enough NPS answers, with "
                "a target, to judge against."
            )
        return f"{name} {own}; none of the stages it affects is below its NPS target."
    worst = _worst(below, roles, judged)
    row = judged[worst]
    score = row.scores["nps"]
    under = row.targets["nps"] - score.value
    fmt = METRICS["nps"].format
    text = (
        f"{name} {own}; customers rate {journey.stage_name(worst)} at NPS "
        f"{fmt(score.value)} ± {score.moe:.0f} (n = {score.n:,}), {under:.0f} points under "
        "target."
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


def matrix(journey: Journey, stages: list[StageRow], min_n: int = m.MIN_N) -> pl.DataFrame:
    """Stage × department in long form: role (None where it does not affect the stage), the
    stage's NPS (None below ``min_n`` answers, as everywhere a score is shown), its answers,
    target, gap and status."""
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
        nps, target = s.scores["nps"].shown(min_n), s.targets["nps"]
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
                    "n_nps": s.scores["nps"].n,
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
            "n_nps": pl.Int64,
            "target": pl.Float64,
            "gap": pl.Float64,
            "status": pl.String,
        },
    )


def untargeted(cells: pl.DataFrame) -> bool:
    """Whether no stage a department affects in :func:`matrix` has an NPS target (the
    ownership map is then not coloured)."""
    owned = cells.filter(pl.col("role").is_not_null())
    return owned.height > 0 and owned["target"].is_null().all()


def matrix_colour_note(cells: pl.DataFrame) -> str:
    """What the ownership map's colour means: the NPS against target, or, where no stage
    in view has an NPS target, that the cells are not coloured."""
    if untargeted(cells):
        return "No NPS target is set for these stages, so the cells are not coloured."
    return "Colour: the stage's NPS minus its target."


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


def case_summary(
    cases: pl.DataFrame, journey: Journey, department_id: str, start, end, as_of=None
) -> dict:
    """A department's cases opened in the period, by the closed-loop definitions.

    ``cases`` as from :func:`closed_loop.prepare`. ``opened`` counts every case opened in
    the period; the rates count only those old enough (opened at least
    :data:`closed_loop.MATURE_DAYS` days before ``as_of``, the data's last day; every case
    when ``as_of`` is None): closed and confirmed are shares of those cases, said no, not
    asked and false closures shares of those closed.
    """
    mine = closed_loop.in_view(
        cases.filter(pl.col("department_id") == department_id), Filters(start=start, end=end), None
    )
    judged = mine if as_of is None else closed_loop.mature(mine, as_of)
    row = closed_loop.summarise(judged, []).row(0, named=True)
    return {
        "imported": cases.height > 0,  # any case at all, of any department or date
        "opened": mine.height,
        "judged": row["opened"],
        "window": "" if as_of is None else closed_loop.window_text(start, as_of),
        "closed": m.proportion_score("churn", row["closed"], row["opened"]),
        "confirmed": m.proportion_score("churn", row["confirmed"], row["opened"]),
        "said_no": m.proportion_score("churn", row["said_no"], row["closed"]),
        "not_asked": m.proportion_score("churn", row["not_asked"], row["closed"]),
        # None when repeat contacts are not recorded (no contacts imported)
        "false_closures": None
        if row["false_closures"] is None
        else m.proportion_score("churn", row["false_closures"], row["closed"]),
        "closed_n": row["closed"],
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
    #: responses in view with every filter (the stage and department ones included): none,
    #: and the page says so as the other pages do, rather than judging departments on
    #: their other stages
    responses: int = 0

    @property
    def empty(self) -> bool:
        return self.responses == 0

    @property
    def judged(self) -> list[DepartmentVerdict]:
        """Departments in view with KPIs in the period: the only ones a verdict can be on."""
        return [v for v in self.verdicts if v.silo_score is not None]

    @property
    def unjudged_reason(self) -> str | None:
        """Why no department can be judged (one of the messages above), or None."""
        if self.empty:  # as the page, which stops with "No responses between …"
            return NO_RESPONSES
        if not self.verdicts:
            return NO_DEPARTMENTS
        if not self.has_kpis:
            return NO_KPIS
        if not self.judged:
            return NO_KPIS_IN_PERIOD
        return None


def _view(ds, kpis: pl.DataFrame, f, min_n: int):
    """The stage rows (scores allowing for repeated answers), the KPI-weeks in the period
    and the departments in view (the family of false-positive tests)."""
    from cxmetrics.views.overview import scores_by, stage_rows  # one definition of the strip

    start, end = f.start or ds.first_day, f.end or ds.last_day
    whole = f.with_stages(()).with_departments(())
    sums = m.sums(ds.cell_sums(whole), ["stage_id"], m.CORE_COLUMNS)
    by_stage = scores_by(sums, "stage_id", ds.design_effect)
    rows = stage_rows(ds, by_stage, None, min_n)
    period = kpis_in_period(kpis, start, end)
    shown_stages = ds.stage_ids(f)
    departments = ds.journey.departments["department_id"].to_list()
    if ds.scope is not None:  # a manager: judged on their own departments only
        departments = [d for d in departments if d in ds.scope]
    if f.departments:
        departments = [d for d in departments if d in f.departments]
    elif shown_stages is not None:
        wanted = set(shown_stages)
        departments = [
            d for d in departments if set(ds.journey.stages_of_departments((d,))) & wanted
        ]
    return start, end, rows, period, departments, shown_stages


def candidates(ds, f, kpis: pl.DataFrame, min_n: int = m.MIN_N) -> list[Finding]:
    """One false-positive test per department in view that has at least
    :data:`MIN_KPI_WEEKS` KPI-weeks and a judged stage (unadjusted: p set, q None)."""
    _, _, rows, period, departments, _ = _view(ds, kpis, f, min_n)
    return [
        a.candidate
        for a in _assess(ds.journey, rows, period, min_n, set(departments))
        if a.candidate is not None
    ]


def compute(ds, kpis: pl.DataFrame, f, min_n: int = m.MIN_N) -> AccountabilityView:
    """Departments are judged on every stage they affect, whatever the stage or department
    filter; those filters choose which departments and stages are shown (and so the family
    of tests). A view with no responses at all (``empty``) judges no department: the page
    says so, and shows a manager only their own KPIs and cases."""
    start, end, rows, period, departments, shown_stages = _view(ds, kpis, f, min_n)
    verdicts = detect(ds.journey, rows, period, min_n, set(departments))
    visible = [r for r in rows if shown_stages is None or r.stage_id in shown_stages]
    return AccountabilityView(
        start,
        end,
        rows,
        verdicts,
        matrix(ds.journey, visible, min_n),
        period,
        kpi_summary(period),
        incentive_callouts(verdicts, ds.journey),
        min_n,
        kpis.height > 0,
        ds.journey.incentives.height > 0,
        int(ds.cell_sums(f)["responses"].sum()),
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


def tested(verdicts: list[DepartmentVerdict]) -> int:
    """How many departments were tested for a false positive (the others had too few
    KPI-weeks, or no stage with enough answers)."""
    return sum(v.finding is not None for v in verdicts)


def clear_words(verdicts: list[DepartmentVerdict]) -> str:
    """What is said where no department is flagged: that none could be tested, or how many
    were tested and how many could not be (no verdict on those)."""
    n = tested(verdicts)
    if not n:
        return NONE_TESTED.format(weeks=MIN_KPI_WEEKS)
    untested = sum(v.silo_score is not None and v.finding is None for v in verdicts)
    more = (
        f"; {untested} more with KPIs could not be, with fewer than {MIN_KPI_WEEKS} KPI-weeks "
        "or no stage with enough answers"
        if untested
        else ""
    )
    return f"No department tested is a false positive: {n} tested{more}."


def family_caption(verdicts: list[DepartmentVerdict]) -> str:
    """What was tested for the false positives in view, and how it was corrected."""
    return findings.caption(
        tested(verdicts),
        f"a false positive (departments with at least {MIN_KPI_WEEKS} KPI-weeks and a stage "
        "with enough answers)",
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
            "silo_lower_pct": [_pct(v.silo_lower) for v in verdicts],
            "green": [v.green for v in verdicts],
            "exposure_below_pct": [_pct(v.exposure_below) for v in verdicts],
            "experience_gap": [v.experience_gap for v in verdicts],
            "kpi_weeks": [v.kpi_weeks for v in verdicts],
            "q": [None if v.finding is None else v.finding.q for v in verdicts],
            "sentence": [v.sentence.removeprefix("False positive: ") for v in verdicts],
        },
        schema_overrides={
            "silo_pct": pl.Float64,
            "silo_lower_pct": pl.Float64,
            "q": pl.Float64,
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
