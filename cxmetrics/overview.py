"""The executive overview's numbers: KPI tiles, the journey strip, the worst moments of truth
and what changed. The overview page and ``python -m cxmetrics summary`` both read this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from cxmetrics import metrics as m
from cxmetrics.dataset import Dataset
from cxmetrics.filters import Filters
from cxmetrics.registry import METRICS, MIN_N

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

    @property
    def empty(self) -> bool:
        return self.tiles["responses"].score.n == 0


def compute(ds: Dataset, f: Filters, min_n: int = MIN_N) -> Overview:
    """Everything on the overview for the filtered view ``f``."""
    start = f.start or ds.first_day
    end = f.end or ds.last_day
    prev = f.previous_period()
    if prev is not None and prev.end < ds.first_day:
        prev = None
    journey = ds.journey
    stage_ids = ds.stage_ids(f)
    # One pass over the rows in view per period: by touchpoint; the rest is summed from it.
    per_tp = m.sums(ds.slice_stats(f), ["stage_id", "touchpoint_id"], m.CORE_COLUMNS)
    prev_tp = (
        m.sums(ds.slice_stats(prev), ["stage_id", "touchpoint_id"], m.CORE_COLUMNS)
        if prev
        else None
    )
    target_stage = stage_ids[0] if stage_ids is not None and len(stage_ids) == 1 else None

    overall = m.scores_of(m.sums(per_tp, None, m.CORE_COLUMNS).row(0, named=True))
    prev_overall = (
        m.scores_of(m.sums(prev_tp, None, m.CORE_COLUMNS).row(0, named=True)) if prev else None
    )

    tiles: dict[str, Tile] = {}
    for key in (*SCORE_KEYS, "responses"):
        target = journey.target(key, target_stage) if key in SCORE_KEYS else None
        change = m.compare(overall[key], prev_overall[key], min_n) if prev_overall else None
        tiles[key] = Tile(
            key,
            overall[key],
            change,
            m.status(overall[key], target, min_n) if key in SCORE_KEYS else m.STATUS_NONE,
            target,
        )
    tiles.update(_loyalty_tiles(ds, f, prev, start, end, min_n))

    by_stage = scores_by(m.sums(per_tp, ["stage_id"], m.CORE_COLUMNS), "stage_id")
    prev_by_stage = (
        scores_by(m.sums(prev_tp, ["stage_id"], m.CORE_COLUMNS), "stage_id") if prev else None
    )
    rows = stage_rows(ds, by_stage, stage_ids, min_n)
    worst = worst_moments(ds, per_tp, min_n)
    changes = what_changed(ds, overall, prev_overall, by_stage, prev_by_stage, prev, min_n)
    return Overview(f, start, end, prev, tiles, rows, worst, changes, min_n)


def stage_rows(ds: Dataset, by_stage: dict, stage_ids, min_n: int) -> list[StageRow]:
    """The journey strip: every stage in view, in customer order, with scores and status."""
    journey = ds.journey
    rows = []
    for stage in journey.stages.sort("position").iter_rows(named=True):
        sid = stage["stage_id"]
        if stage_ids is not None and sid not in stage_ids:
            continue
        scores = scores_or_zero(by_stage, sid)
        targets = {k: journey.target(k, sid) for k in SCORE_KEYS}
        rows.append(
            StageRow(
                sid,
                stage["name"],
                stage["position"],
                scores,
                targets,
                {k: m.status(scores[k], targets[k], min_n) for k in SCORE_KEYS},
                [journey.department_name(d) for d in journey.owners_of(sid)],
            )
        )
    return rows


_ZERO = dict.fromkeys(m.STAT_COLUMNS, 0)


def scores_by(frame: pl.DataFrame | None, key: str) -> dict[str, dict[str, m.Score]]:
    """Scores per value of ``key`` from a :func:`metrics.sums` frame."""
    if frame is None:
        return {}
    return {str(row[key]): m.scores_of(row) for row in frame.iter_rows(named=True)}


def scores_or_zero(by: dict[str, dict[str, m.Score]], value: str) -> dict[str, m.Score]:
    return by.get(value) or m.scores_of(_ZERO)


def _loyalty_tiles(ds: Dataset, f: Filters, prev: Filters | None, start, end, min_n):
    """Churn and revenue at risk: customer-level, from the customers in view."""
    arrays = ds.customer_arrays
    now = ds.customer_view(f)
    churn = m.proportion_score("churn", *m.churn_counts(now.in_view, arrays, start, end))
    churn_change = None
    if prev is not None:
        before = ds.customer_view(prev, latest=False).in_view
        prev_churn = m.proportion_score(
            "churn", *m.churn_counts(before, arrays, prev.start, prev.end)
        )
        churn_change = m.compare(churn, prev_churn, min_n)

    rate, history_n = m.detractor_churn_rate(ds.latest_nps, arrays, ds.customer_mask(f))
    risk = m.revenue_at_risk(now.latest_who, now.latest_nps, arrays, rate, end)
    risk["history_n"] = history_n
    return {
        "churn": Tile("churn", churn, churn_change, m.STATUS_NONE, None),
        "revenue_at_risk": Tile(
            "revenue_at_risk",
            m.Score("revenue_at_risk", risk["value"], risk["detractors"]),
            None,
            m.STATUS_NONE,
            None,
            risk,
        ),
    }


def worst_moments(ds: Dataset, stats: pl.DataFrame, min_n: int, limit: int = 5):
    """The moments of truth with the lowest NPS (at least ``min_n`` answers), worst first.
    ``stats``: statistics in view at any grain that has touchpoint_id."""
    tp = ds.journey.touchpoints.filter(pl.col("moment_of_truth"))
    by_tp = m.with_scores(m.sums(stats, ["touchpoint_id"], m.CORE_COLUMNS)).with_columns(
        pl.col("touchpoint_id").cast(pl.String)
    )
    # Each stage's own NPS target, else the company-wide one (as the journey strip reads them).
    targets = pl.DataFrame(
        {
            "stage_id": ds.journey.stage_order,
            "nps_target": [ds.journey.target("nps", s) for s in ds.journey.stage_order],
        },
        schema={"stage_id": pl.String, "nps_target": pl.Float64},
    )
    return (
        by_tp.join(
            tp.select("touchpoint_id", "stage_id", pl.col("name").alias("touchpoint")),
            on="touchpoint_id",
        )
        .join(ds.journey.stages.select("stage_id", pl.col("name").alias("stage")), on="stage_id")
        .join(targets, on="stage_id", how="left")
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


def what_changed(ds, overall, prev_overall, by_stage, prev_by_stage, prev, min_n) -> list[str]:
    """Plain sentences for the significant changes against the previous period."""
    if prev_overall is None:
        return ["No previous period to compare with: choose a date range with data before it."]
    found: list[tuple[float, str]] = []

    def consider(label: str, cur: dict, old: dict) -> None:
        for key in SCORE_KEYS:
            change = m.compare(cur[key], old[key], min_n)
            if change is None or not change.significant:
                continue
            spec = METRICS[key]
            unit = " points" if key in ("nps", "csat") else ""
            verb = "rose" if change.delta > 0 else "fell"
            size = f"{abs(change.delta):.{spec.decimals}f}{unit}"
            found.append(
                (
                    abs(change.z),
                    (
                        f"{label} {spec.short} {verb} {size} to "
                        f"{spec.format(cur[key].value)} (n = {cur[key].n:,}; was "
                        f"{spec.format(old[key].value)}, n = {old[key].n:,})."
                    ),
                )
            )

    if len(by_stage) != 1:  # with one stage in view, "overall" would repeat it
        consider("Overall", overall, prev_overall)
    for sid in ds.journey.stage_order:
        if sid in by_stage:
            consider(ds.journey.stage_name(sid), by_stage[sid], scores_or_zero(prev_by_stage, sid))
    if not found:
        return [f"No score moved significantly against {prev.start} to {prev.end}."]
    return [text for _, text in sorted(found, key=lambda item: -item[0])[:6]]


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
            "revenue_at_risk": round(t["revenue_at_risk"].score.value or 0.0, 2),
        },
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
