"""The journey page's numbers: the journey map with trends, a stage's drill-down, the impact
ranking of touchpoints, behavioural moments and channel consistency."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from cxmetrics.contract.periods import trend_unit
from cxmetrics.contract.registry import MIN_N
from cxmetrics.findings import behaviour, channels, impact
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views.overview import StageRow, scores_by, stage_rows


@dataclass(frozen=True)
class JourneyView:
    filters: Filters
    start: dt.date
    end: dt.date
    stages: list[StageRow]
    trends: dict[str, list[float | None]]  # stage id -> NPS per week or month (None: too few)
    trend_unit: str  # "week" or "month"
    ranking: pl.DataFrame
    behaviour: list[behaviour.GroupResult]
    channel_cells: pl.DataFrame
    channel_gap: dict  # channels.headline: the widest kept gap (or None) and pairs tested
    cells: pl.DataFrame  # statistics in view by stage × touchpoint × channel (the drill-down)
    min_n: int

    @property
    def empty(self) -> bool:
        return not any(s.scores["responses"].n for s in self.stages)


def compute(
    ds: Dataset,
    contacts: pl.DataFrame,
    f: Filters,
    min_n: int = MIN_N,
    cases: pl.DataFrame | None = None,
) -> JourneyView:
    """``contacts`` from :func:`dataset.load_contacts`; ``cases`` as the store loads them
    (a case opened counts as a complaint; None: no cases imported)."""
    start, end = f.start or ds.first_day, f.end or ds.last_day
    stage_ids = ds.stage_ids(f)
    in_view = ds.slice_stats(f)
    # One roll-up of the rows in view; every table and chart below sums this small frame.
    cells = m.sums(in_view, ["stage_id", "touchpoint_id", "channel"])
    by_stage = scores_by(m.sums(cells, ["stage_id"]), "stage_id", ds.design_effect)
    rows = stage_rows(ds, by_stage, stage_ids, min_n)
    unit = trend_unit(start, end)
    return JourneyView(
        f,
        start,
        end,
        rows,
        stage_trends(in_view, unit, min_n),
        unit,
        impact.ranking(cells, ds.journey, min_n, ds.design_effect),
        behaviour.groups(ds, contacts, f, min_n, cases),
        channels.matrix(cells, ds.journey, "ces", min_n),
        channels.headline(cells, "ces", min_n, ds.design_effect),
        cells,
        min_n,
    )


def drill_stage(stages: list[StageRow], min_n: int = MIN_N) -> str | None:
    """The stage the drill-down opens on: of the stages with a score shown (``min_n`` NPS
    answers), the one furthest below its NPS target (the lowest NPS where none has a
    target); where no stage has enough answers, the one with the most. None: no stage."""
    shown = [s for s in stages if s.scores["nps"].shown(min_n) is not None]
    if not shown:
        most = max(stages, key=lambda s: s.scores["nps"].n, default=None)  # first on a tie
        return most.stage_id if most else None
    pool = [s for s in shown if s.targets["nps"] is not None] or shown
    return min(pool, key=lambda s: s.scores["nps"].value - (s.targets["nps"] or 0)).stage_id


def stage_trends(in_view: pl.DataFrame, unit: str, min_n: int) -> dict[str, list]:
    """NPS per stage per week or month, oldest first; None where too few answers."""
    per = m.totals(in_view.rename({unit: "bucket"}), ["stage_id", "bucket"], m.CORE_COLUMNS).sort(
        "bucket"
    )
    out: dict[str, list] = {}
    for (stage,), part in per.group_by(["stage_id"], maintain_order=True):
        out[str(stage)] = [
            v if n >= min_n else None for v, n in zip(part["nps"], part["n_nps"], strict=True)
        ]
    return out


def touchpoint_table(ds: Dataset, jv: JourneyView, stage_id: str) -> pl.DataFrame:
    """A stage's touchpoints in view: NPS (± margin), CSAT, CES, each with its n; no column
    of a score no response holds (``Dataset.unmeasured_scores``)."""
    stats = jv.cells.filter(pl.col("stage_id") == stage_id)
    tps = ds.journey.touchpoints.filter(pl.col("stage_id") == stage_id).select(
        "touchpoint_id",
        pl.col("name").alias("touchpoint"),
        pl.col("moment_of_truth").alias("declared"),
    )
    per = m.totals(stats, ["touchpoint_id"], deff=ds.design_effect).with_columns(
        pl.col("touchpoint_id").cast(pl.String)
    )
    shown = _shown(tps.join(per, on="touchpoint_id", how="left"), jv.min_n)
    return _measured(shown, ds.unmeasured_scores())


def channel_table(jv: JourneyView, stage_id: str, unmeasured: tuple[str, ...] = ()) -> pl.DataFrame:
    """A stage's scores by channel, each with its n; no column of the scores ``unmeasured``
    (``Dataset.unmeasured_scores``)."""
    stats = jv.cells.filter(pl.col("stage_id") == stage_id)
    per = m.totals(stats, ["channel"]).with_columns(pl.col("channel").cast(pl.String))
    return _measured(_shown(per.sort("channel"), jv.min_n), unmeasured)


def _shown(frame: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """Blank each score whose n is under ``min_n``; keep the n."""
    rules = {"nps": "n_nps", "nps_moe": "n_nps", "csat": "n_csat", "ces": "n_ces"}
    keep = [c for c in frame.columns if c in ("touchpoint_id", "touchpoint", "declared", "channel")]
    return frame.with_columns(pl.col(c).fill_null(0) for c in ("n_nps", "n_csat", "n_ces")).select(
        *keep,
        *[pl.when(pl.col(n) >= min_n).then(pl.col(v)).alias(v) for v, n in rules.items()],
        "n_nps",
        "csat_top1",
        "n_csat",
        "ces_easy",
        "n_ces",
    )


#: A score's columns in a table of :func:`_shown`
SCORE_COLUMNS = {
    "nps": ("nps", "nps_moe", "n_nps"),
    "csat": ("csat", "csat_top1", "n_csat"),
    "ces": ("ces", "ces_easy", "n_ces"),
}


def _measured(frame: pl.DataFrame, unmeasured: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` without the columns of the scores no response holds: a column of "0"
    answers on every row read as a fact of the data, where the score was never asked."""
    return frame.drop(*(c for key in unmeasured for c in SCORE_COLUMNS[key]), strict=False)
