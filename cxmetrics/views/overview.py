"""The executive overview's numbers: KPI tiles, the journey strip, the worst moments of truth
and what changed. The overview page and ``python -m cxmetrics summary`` both read this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import polars as pl

from cxmetrics.contract.periods import trend_unit
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.contract.text import counted, gap_text, part_decimals, period_text, tested_together
from cxmetrics.findings import findings as fx
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import p_two_sided

SCORE_KEYS = ("nps", "csat", "ces")
_STATUS_RANK = {
    m.STATUS_BELOW: 0,
    m.STATUS_NEAR: 1,
    m.STATUS_ON: 2,
    m.STATUS_TOO_FEW: 3,
    m.STATUS_NONE: 4,
    m.STATUS_NO_DATA: 5,
}


@dataclass(frozen=True)
class Tile:
    key: str
    score: m.Score
    change: m.Change | None = None
    status: str = m.STATUS_NONE
    target: float | None = None
    detail: dict = field(default_factory=dict)
    unknown: str | None = None  # a fact the value needs is not recorded: what to import


@dataclass(frozen=True)
class StageRow:
    stage_id: str
    name: str
    position: int
    scores: dict[str, m.Score]
    targets: dict[str, float | None]
    statuses: dict[str, str]
    owners: list[str]  # department names, lead first

    @property
    def status(self) -> str:
        """The stage's worst status across NPS, CSAT and CES."""
        judged = [
            s for s in self.statuses.values() if s in (m.STATUS_BELOW, m.STATUS_NEAR, m.STATUS_ON)
        ]
        if not judged:
            if all(s == m.STATUS_NO_DATA for s in self.statuses.values()):
                return m.STATUS_NO_DATA
            if m.STATUS_NONE in self.statuses.values():  # enough answers, but no target
                return m.STATUS_NONE
            return m.STATUS_TOO_FEW
        return min(judged, key=_STATUS_RANK.__getitem__)

    @property
    def status_metrics(self) -> list[str]:
        """The metrics (keys, in NPS, CSAT, CES order) whose status is the stage's own: what
        a "Below target" beside the stage's NPS is about (its CES, say)."""
        return [k for k in SCORE_KEYS if self.statuses.get(k) == self.status]

    @property
    def status_against(self) -> str:
        """Each metric the status is about with its score and target ("CES 5.21, target
        5.30"): a card's "Below target" beside a CES that reads as good says which target."""
        return "; ".join(  # below or near target: each of these metrics has a target
            f"{METRICS[k].short} {METRICS[k].format(self.scores[k].value)}, target "
            f"{METRICS[k].format(self.targets[k])}"
            for k in self.status_metrics
        )

    @property
    def status_words(self) -> str:
        """The status with the metrics it is about, where it is a judgement against target
        ("Below target on CES"): a line that shows the stage's NPS must not let a CES
        below target read as the NPS's."""
        if self.status not in (m.STATUS_BELOW, m.STATUS_NEAR):
            return self.status
        return f"{self.status} on " + ", ".join(METRICS[k].short for k in self.status_metrics)


@dataclass(frozen=True)
class Overview:
    filters: Filters
    start: dt.date
    end: dt.date
    previous: Filters | None
    tiles: dict[str, Tile]
    stages: list[StageRow]
    worst_moments: pl.DataFrame
    changes: list[str]
    min_n: int
    findings: list[fx.Finding] = field(default_factory=list)  # kept: change and target
    tested: dict[str, int] = field(default_factory=dict)  # family size per kind
    facts: m.Facts = m.Facts()
    currency: str = "GBP"  # the company's currency (settings), for money figures
    symbol: str = "£"

    @property
    def empty(self) -> bool:
        return self.tiles["responses"].score.n == 0


def compute(ds: Dataset, f: Filters, min_n: int = MIN_N) -> Overview:
    """Everything on the overview for the filtered view ``f``; computed once per dataset,
    view and ``min_n`` (``Dataset.view``), so the page, its findings and the first screen
    read one overview. Read-only."""
    return ds.view("overview", (f, min_n), lambda: _compute(ds, f, min_n))


def _compute(ds: Dataset, f: Filters, min_n: int) -> Overview:
    start = f.start or ds.first_day
    end = f.end or ds.last_day
    prev = f.previous_period()
    if prev is not None and prev.start < ds.first_day:
        prev = None  # a previous period partly before the data would compare unlike things
    journey = ds.journey
    stage_ids = ds.stage_ids(f)
    # One pass over the rows in view per period: by touchpoint; the rest is summed from it.
    per_tp = m.sums(ds.cell_sums(f), ["stage_id", "touchpoint_id"], m.CORE_COLUMNS)
    prev_tp = (
        m.sums(ds.cell_sums(prev), ["stage_id", "touchpoint_id"], m.CORE_COLUMNS) if prev else None
    )
    target_stage = stage_ids[0] if stage_ids is not None and len(stage_ids) == 1 else None

    deff = ds.design_effect
    overall = m.scores_of(m.sums(per_tp, None, m.CORE_COLUMNS).row(0, named=True), deff)
    prev_overall = (
        m.scores_of(m.sums(prev_tp, None, m.CORE_COLUMNS).row(0, named=True), deff)
        if prev
        else None
    )
    by_stage = scores_by(m.sums(per_tp, ["stage_id"], m.CORE_COLUMNS), "stage_id", deff)
    prev_by_stage = (
        scores_by(m.sums(prev_tp, ["stage_id"], m.CORE_COLUMNS), "stage_id", deff) if prev else None
    )
    loyalty, churn_before = _loyalty_tiles(ds, f, prev, start, end, min_n)

    # Every change in view is one family of tests; so is every judgement against a target.
    labelled = [] if len(by_stage) == 1 else [("Overall", (), overall, prev_overall)]
    labelled += [
        (ds.journey.stage_name(sid), (sid,), by_stage[sid], scores_or_zero(prev_by_stage, sid))
        for sid in ds.journey.stage_order
        if sid in by_stage
    ]
    change_family = (
        change_candidates(labelled, min_n)
        + _churn_candidates(loyalty["churn"].score, churn_before, min_n)
        if prev_overall is not None
        else []
    )
    kept_changes = fx.decide(change_family)
    moved = {(c.stages, c.family) for c in kept_changes}

    tiles: dict[str, Tile] = {}
    for key in (*SCORE_KEYS, "responses"):
        target = journey.target(key, target_stage) if key in SCORE_KEYS else None
        change = None
        if prev_overall is not None and key in SCORE_KEYS:
            raw = m.compare(overall[key], prev_overall[key], min_n)
            # With one stage in view, "Overall" is that stage: its finding decides.
            scope = tuple(by_stage) if len(by_stage) == 1 else ()
            change = raw and m.Change(raw.delta, raw.z, (scope, key) in moved)
        tiles[key] = Tile(key, overall[key], change, m.STATUS_NONE, target)
    churn = loyalty["churn"]
    if churn.change is not None:
        loyalty["churn"] = Tile(
            "churn",
            churn.score,
            m.Change(churn.change.delta, churn.change.z, ((), "churn") in moved),
            churn.status,
            churn.target,
        )
    tiles.update(loyalty)

    rows, kept_stages, stage_tests = judged_stage_rows(ds, by_stage, stage_ids, min_n)
    tile_family = target_candidates(
        [("Overall", (), k, tiles[k].score, tiles[k].target) for k in SCORE_KEYS], min_n
    )
    kept_tiles = fx.decide(tile_family)
    below = {c.family for c in kept_tiles}
    for key in SCORE_KEYS:
        t = tiles[key]
        status = judged(t.score, t.target, min_n, key in below)
        tiles[key] = Tile(key, t.score, t.change, status, t.target, unknown=ds.unmeasured(key))
    # with one stage in view, the overall tiles repeat it: state the stage's findings once
    kept_targets = (kept_tiles if len(rows) != 1 else []) + kept_stages
    worst = worst_moments(ds, per_tp, min_n)
    changes = change_sentences(kept_changes, prev, len(change_family))
    return Overview(
        f,
        start,
        end,
        prev,
        tiles,
        rows,
        worst,
        changes,
        min_n,
        kept_changes + kept_targets,
        {"change": len(change_family), "target": len(tile_family) + stage_tests},
        ds.facts,
        ds.settings.currency,
        ds.settings.currency_symbol,
    )


def judged(score: m.Score, target, min_n: int, kept_below: bool) -> str:
    """The status against target: 'below target' only when the interval lies below it and
    the view's false-discovery control keeps the claim; otherwise 'near target'."""
    status = m.status(score, target, min_n)
    if status == m.STATUS_BELOW and not kept_below:
        return m.STATUS_NEAR
    return status


def judged_stage_rows(
    ds: Dataset, by_stage: dict, stage_ids, min_n: int
) -> tuple[list[StageRow], list[fx.Finding], int]:
    """The journey strip: every stage in view, in customer order, with scores and statuses,
    the kept 'below target' findings and how many were tested. The stages' scores against
    their targets are one family: a stage is below target only when its interval lies below
    and the false-discovery control keeps the claim."""
    journey = ds.journey
    raw = []
    for stage in journey.stages.sort("position").iter_rows(named=True):
        sid = stage["stage_id"]
        if stage_ids is not None and sid not in stage_ids:
            continue
        scores = scores_or_zero(by_stage, sid)
        targets = {k: journey.target(k, sid) for k in SCORE_KEYS}
        owners = [journey.department_name(d) for d in journey.owners_of(sid)]
        raw.append((sid, stage["name"], stage["position"], scores, targets, owners))
    family = target_candidates(
        [(name, (sid,), k, sc[k], tg[k]) for sid, name, _, sc, tg, _ in raw for k in SCORE_KEYS],
        min_n,
    )
    kept = fx.decide(family)
    below = {(c.stages, c.family) for c in kept}
    rows = [
        StageRow(
            sid,
            name,
            position,
            scores,
            targets,
            {k: judged(scores[k], targets[k], min_n, ((sid,), k) in below) for k in SCORE_KEYS},
            owners,
        )
        for sid, name, position, scores, targets, owners in raw
    ]
    return rows, kept, len(family)


def stage_rows(ds: Dataset, by_stage: dict, stage_ids, min_n: int) -> list[StageRow]:
    """The journey strip's rows (see :func:`judged_stage_rows`)."""
    return judged_stage_rows(ds, by_stage, stage_ids, min_n)[0]


_ZERO = dict.fromkeys(m.STAT_COLUMNS, 0)


def scores_by(
    frame: pl.DataFrame | None, key: str, deff: dict[str, float] | None = None
) -> dict[str, dict[str, m.Score]]:
    """Scores per value of ``key`` from a :func:`metrics.sums` frame."""
    if frame is None:
        return {}
    return {str(row[key]): m.scores_of(row, deff) for row in frame.iter_rows(named=True)}


def scores_or_zero(by: dict[str, dict[str, m.Score]], value: str) -> dict[str, m.Score]:
    return (by or {}).get(value) or m.scores_of(_ZERO)


def _loyalty_tiles(ds: Dataset, f: Filters, prev: Filters | None, start, end, min_n):
    """Churn and revenue at risk: customer-level, from the customers in view; and churn in
    the previous period (None without one), for the change tests."""
    arrays = ds.customer_arrays
    now = ds.customer_view(f)
    churn = m.proportion_score("churn", *m.churn_counts(now.in_view, arrays, start, end))
    churn_change = prev_churn = None
    if prev is not None:
        before = ds.customer_view(prev, latest=False).in_view
        prev_churn = m.proportion_score(
            "churn", *m.churn_counts(before, arrays, prev.start, prev.end)
        )
        churn_change = m.compare(churn, prev_churn, min_n)

    no_churn = ds.facts.unknown_text("churn")
    if no_churn:  # nobody's churn date is known: not 0%, unknown
        churn, churn_change, prev_churn = m.Score("churn", None, churn.n), None, None
    risk = m.revenue_at_risk(now.latest_who, now.latest_nps, arrays, ds.detractor_rates(f), end)
    return {
        "churn": Tile("churn", churn, churn_change, m.STATUS_NONE, None, unknown=no_churn),
        "revenue_at_risk": Tile(
            "revenue_at_risk",
            m.Score(
                "revenue_at_risk",
                risk["value"],
                risk["detractors"],
                # value ± 1.96 se, floored at 0
                None if risk["high"] is None else (risk["high"] - risk["value"]) / m.Z95,
            ),
            None,
            m.STATUS_NONE,
            None,
            risk,
            ds.facts.unknown_text("revenue", "churn"),
        ),
    }, prev_churn


def worst_moments(ds: Dataset, stats: pl.DataFrame, min_n: int, limit: int = 5):
    """The moments of truth with the lowest NPS (at least ``min_n`` answers), worst first.
    ``stats``: statistics in view at any grain that has touchpoint_id."""
    by_tp = m.with_scores(
        m.sums(stats, ["touchpoint_id"], m.CORE_COLUMNS), ds.design_effect
    ).with_columns(pl.col("touchpoint_id").cast(pl.String))
    return (
        by_tp.join(ds.prepared("moments_of_truth", None, lambda: _moments(ds)), on="touchpoint_id")
        .filter(pl.col("n_nps") >= min_n)
        .sort("nps")
        .head(limit)
        .select(
            "touchpoint_id",
            "touchpoint",
            "stage_id",
            "stage",
            "nps",
            "nps_moe",
            "n_nps",
            "nps_target",
            (pl.col("nps") - pl.col("nps_target")).alias("gap"),
            "csat",
            "n_csat",
            "ces",
            "n_ces",
        )
    )


def _moments(ds: Dataset) -> pl.DataFrame:
    """The declared moments of truth with their touchpoint's and stage's names and the
    stage's NPS target: each stage's own, else the company-wide one (as the journey strip
    reads them); once per dataset."""
    tp = ds.journey.touchpoints.filter(pl.col("moment_of_truth"))
    targets = pl.DataFrame(
        {
            "stage_id": ds.journey.stage_order,
            "nps_target": [ds.journey.target("nps", s) for s in ds.journey.stage_order],
        },
        schema={"stage_id": pl.String, "nps_target": pl.Float64},
    )
    return (
        tp.select("touchpoint_id", "stage_id", pl.col("name").alias("touchpoint"))
        .join(ds.journey.stages.select("stage_id", pl.col("name").alias("stage")), on="stage_id")
        .join(targets, on="stage_id", how="left")
    )


def change_candidates(labelled, min_n: int) -> list[fx.Finding]:
    """One test per label (overall, each stage) and score: this period against the previous
    one of the same length. ``labelled``: (label, stage ids, scores now, scores before)."""
    out = []
    for label, stages, cur, old in labelled:
        for key in SCORE_KEYS:
            change = m.compare(cur[key], old[key], min_n)
            if change is None or change.z is None:
                continue
            spec = METRICS[key]
            unit = " points" if key in ("nps", "csat") else ""
            verb = "rose" if change.delta > 0 else "fell"
            half = m.Z95 * ((cur[key].se or 0.0) ** 2 + (old[key].se or 0.0) ** 2) ** 0.5
            now, was = cur[key].value, old[key].value
            d = part_decimals(now, was, spec.decimals)  # "to +15 (was +19)" gives the 4
            out.append(
                fx.Finding(
                    "change",
                    f"{label} {spec.short} {verb} {gap_text(now, was, spec.decimals)}{unit} "
                    f"to {spec.format(now, decimals=d)} (n = {cur[key].n:,}; was "
                    f"{spec.format(was, decimals=d)}, n = {old[key].n:,}).",
                    change.delta,
                    (change.delta - half, change.delta + half),
                    cur[key].n + old[key].n,
                    p_two_sided(change.z),
                    stages=stages,
                    unit=unit.strip() or spec.unit,
                    family=key,
                )
            )
    return out


def _churn_candidates(now: m.Score, before: m.Score | None, min_n: int) -> list[fx.Finding]:
    change = None if before is None else m.compare(now, before, min_n)
    if change is None or change.z is None:
        return []
    half = m.Z95 * ((now.se or 0.0) ** 2 + (before.se or 0.0) ** 2) ** 0.5
    verb = "rose" if change.delta > 0 else "fell"
    d = part_decimals(now.value, before.value, 1)
    return [
        fx.Finding(
            "change",
            f"Churn {verb} {gap_text(now.value, before.value, 1)} points to "
            f"{now.value:.{d}f}% "
            f"(n = {now.n:,} customers; was {before.value:.{d}f}%, n = {before.n:,}).",
            change.delta,
            (change.delta - half, change.delta + half),
            now.n + before.n,
            p_two_sided(change.z),
            unit="points",
            family="churn",
        )
    ]


def target_candidates(items, min_n: int) -> list[fx.Finding]:
    """One-sided tests of 'worse than target' for every score below its target in view.
    ``items``: (label, stage ids, metric, score, target)."""
    out = []
    for label, stages, key, score, target in items:
        if target is None or score.value is None or score.too_few(min_n):
            continue
        p = m.target_p(score, target)
        if p is None or p > 0.5:  # meets or beats the target: nothing to claim
            continue
        spec = METRICS[key]
        gap = score.value - target
        out.append(
            fx.Finding(
                "target",
                f"{label} {spec.short} is below its target: {spec.format(score.value)} "
                f"± {score.moe:.{spec.decimals}f} against {spec.format(target)} "
                f"(n = {score.n:,}).",
                gap,
                (gap - (score.moe or 0.0), gap + (score.moe or 0.0)),
                score.n,
                p,
                stages=stages,
                unit=spec.unit,
                family=key,
            )
        )
    return out


def has_nps_target(stages: list[StageRow]) -> bool:
    """Whether any stage in view has an NPS target (else charts draw no target ticks)."""
    return any(s.targets["nps"] is not None for s in stages)


def ticks_note(stages: list[StageRow], whose: str = "each stage's") -> str:
    """What an NPS bar chart's black ticks are, or, where no stage in view has an NPS
    target, that none is set (the chart then draws none)."""
    if has_nps_target(stages):
        return f"Black ticks: {whose} NPS target."
    return "No NPS target is set for these stages (targets come with the journey definition)."


def changes_note(previous: str | None, tested: int) -> str:
    """Under "What changed", on the overview and in the briefing: against what, and how a
    change is tested, or that none could be ("" without a previous period)."""
    if previous is None:
        return ""
    how = (
        "A change is shown only when it holds after testing "
        f"{tested_together(tested, 'comparison', 'in view')} (Benjamini-Hochberg, false "
        "discovery rate 5%), with margins that allow for customers who answer more than once."
        if tested
        else "No change could be tested: each needs enough answers in both periods."
    )
    return f"Changes are against the previous period, {previous}. {how}"


def change_sentences(kept: list[fx.Finding], prev: Filters | None, tested: int) -> list[str]:
    """What changed, in plain sentences: the kept change findings, strongest first."""
    if prev is None:
        return [
            "No previous period to compare with: the period of the same length before this "
            "one is not wholly inside the data. Choose a later or shorter period."
        ]
    if not tested:  # nothing was compared: "no score moved" would claim what was not seen
        return [
            f"No score could be compared with {period_text(prev.start, prev.end)}: each "
            "comparison needs enough answers in both periods."
        ]
    if not kept:
        return [
            f"No score moved significantly against {period_text(prev.start, prev.end)} "
            f"({counted(tested, 'comparison')} tested)."
        ]
    return [c.sentence for c in kept[:6]]


def summary_dict(ov: Overview) -> dict:
    """The overview as plain data (the CLI's ``--json``)."""

    def score(s: m.Score, with_moe: bool = False) -> dict:
        shown = s.shown(ov.min_n)
        out = {"value": None if shown is None else round(shown, 4), "n": s.n}
        if with_moe:
            out["moe"] = None if shown is None or s.moe is None else round(s.moe, 4)
        return out

    t = ov.tiles
    return {
        "period": {"start": ov.start.isoformat(), "end": ov.end.isoformat()},
        "min_n": ov.min_n,
        "overall": {
            "nps": score(t["nps"].score, True),
            "csat": score(t["csat"].score),
            "ces": score(t["ces"].score),
            "responses": t["responses"].score.n,
            "churn": score(t["churn"].score),
            "revenue_at_risk": None
            if t["revenue_at_risk"].score.value is None
            else round(t["revenue_at_risk"].score.value, 2),
        },
        # scores no response holds an answer for, on any date: their figures are null
        "not_measured": [k for k in SCORE_KEYS if t[k].unknown],
        # optional facts the company does not record: their figures above are null
        "not_recorded": [
            m.FACT_COLUMNS[name]
            for name in ("revenue", "cost", "influence", "churn")
            if not getattr(ov.facts, name)
        ],
        "currency": ov.currency,
        "stages": [
            {
                "stage_id": s.stage_id,
                "name": s.name,
                "position": s.position,
                "nps": score(s.scores["nps"], True),
                "csat": score(s.scores["csat"]),
                "ces": score(s.scores["ces"]),
                "status": s.status,
                "statuses": s.statuses,
            }
            for s in ov.stages
        ],
        "changes": ov.changes,
    }


TREND_PERIODS = 12  # the small trend on each tile and stage: the last 12 weeks or months


@dataclass(frozen=True)
class Trends:
    """The last :data:`TREND_PERIODS` weeks (views shorter than
    :data:`periods.WEEKLY_UP_TO_DAYS`) or months up to the view's end, with the view's other
    filters: NPS, CSAT and CES overall and each stage's NPS; None where too few answers."""

    unit: str
    periods: list[dt.date]
    scores: dict[str, list[float | None]]  # "nps", "csat", "ces"
    stages: dict[str, list[float | None]]  # stage id -> NPS
    #: "nps", "csat", "ces": each point's 95% interval (low, high), the point ± the margin
    #: its tile would show for that period (design effect included); None where no point
    bands: dict[str, list[tuple[float, float] | None]] = field(default_factory=dict)


def trends(ds: Dataset, f: Filters, min_n: int = MIN_N, periods: int = TREND_PERIODS) -> Trends:
    end = f.end or ds.last_day
    unit = trend_unit(f.start or ds.first_day, end)
    back = dt.timedelta(days=(7 if unit == "week" else 31) * periods)
    view = replace(f, start=max(end - back, ds.first_day), end=end)
    stats = ds.cell_sums(view, unit).rename({unit: "bucket"})
    counts = m.sums(stats, ["bucket"], m.CORE_COLUMNS).sort("bucket").tail(periods)
    per = m.with_scores(counts)
    scores = {
        key: [v if n >= min_n else None for v, n in zip(per[key], per[f"n_{key}"], strict=True)]
        for key in ("nps", "csat", "ces")
    }
    margins = [m.scores_of(row, ds.design_effect) for row in counts.iter_rows(named=True)]
    bands = {
        key: [
            None if v is None else (v - score[key].moe, v + score[key].moe)
            for v, score in zip(values, margins, strict=True)
        ]
        for key, values in scores.items()
    }
    shown = set(per["bucket"].to_list())
    by_stage = m.totals(stats, ["stage_id", "bucket"], m.CORE_COLUMNS).sort("bucket")
    stages: dict[str, list[float | None]] = {}
    for stage, bucket, v, n in by_stage.select("stage_id", "bucket", "nps", "n_nps").iter_rows():
        points = stages.setdefault(str(stage), [])  # stages in the order they first come
        if bucket in shown:
            points.append(v if n >= min_n else None)
    return Trends(unit, per["bucket"].to_list(), scores, stages, bands)
