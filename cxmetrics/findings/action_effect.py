"""The measured effect of each action: the metric before and after its start, against the
touchpoints or stages it did not touch.

For every action that has started by the last day of the data:

- **Windows.** Two windows of equal length on either side of the start date: up to
  :data:`WINDOW_DAYS` days each, shorter when the data do not reach that far on either side
  (the after window ends on the last day of the data).
- **Change.** The metric on the action's touchpoint (or its whole stage) after minus before,
  with its 95% interval. Per answer: NPS is +100 / 0 / −100, CSAT 100 for a 4-5 and 0
  otherwise, CES the answer itself; so the change is in NPS points, CSAT points or CES
  points. Variances are multiplied by the design effect of repeated answers by one customer
  (``Dataset.design_effect``).
- **Difference-in-differences.** The same change on the comparable units the action did not
  touch, subtracted: for a touchpoint, the other touchpoints of its stage; for a stage, the
  other stages in view. Units that another action started on within the two windows are
  left out of the comparison. z-test of the difference, two-sided.
- **Verdict.** Only when the after window holds enough answers to detect
  :data:`MIN_DETECTABLE` (the minimum detectable effect per metric) with
  :data:`POWER` power at the 5% level; else "too early: n after = 212 of 400 needed".
  The actions judged together are one family: Benjamini-Hochberg over them
  (``findings.adjust``); an effect is claimed only when its q-value is at most 5%.

    n needed = 2 · deff · (σ²_touched + σ²_comparison / r) · (z₀.₉₇₅ + z_power)² / MDE²

where σ² are the per-answer variances in the before window and r the number of comparison
answers per touched answer there.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import polars as pl

from cxmetrics.contract import actions as actions_mod
from cxmetrics.contract.registry import MIN_N
from cxmetrics.contract.text import day_text
from cxmetrics.findings import findings
from cxmetrics.findings.findings import Finding
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.inference import Z95, p_two_sided

WINDOW_DAYS = 120
#: The smallest change each metric's test is sized to find (NPS and CSAT in points, CES on
#: its 1-7 scale).
MIN_DETECTABLE = {"nps": 20.0, "csat": 15.0, "ces": 0.3}
POWER = 0.80
Z_POWER = 0.8416  # one-sided normal quantile of POWER
UNITS = {"nps": "NPS points", "csat": "CSAT points", "ces": "CES points"}
LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
DECIMALS = {"nps": 1, "csat": 1, "ces": 2}

NOT_STARTED, TOO_EARLY, TOO_FEW = "not started", "too early", "too few answers"
NO_COMPARISON, JUDGED = "no comparison", "judged"
IMPROVED, WORSENED, NO_EFFECT = "improved", "worsened", "no effect found"

METHOD = (
    f"Each action is measured over two equal windows around its start date (up to "
    f"{WINDOW_DAYS} days each): the change on its touchpoint (or stage) minus the change on "
    "the comparable touchpoints (or stages) it did not touch, a difference-in-differences "
    "with a two-sided z-test whose variances allow for customers answering more than once. "
    "A verdict is given only when the after window holds enough answers to find "
    f"{MIN_DETECTABLE['nps']:g} NPS points, {MIN_DETECTABLE['csat']:g} CSAT points or "
    f"{MIN_DETECTABLE['ces']:g} CES points with {POWER:.0%} power; the actions judged "
    "together are one family (Benjamini-Hochberg, false discovery rate 5%)."
)


@dataclass(frozen=True)
class Side:
    """One window of one group of answers: mean, per-answer variance and n."""

    mean: float | None
    var: float | None
    n: int


@dataclass(frozen=True)
class Effect:
    action_id: str
    metric: str
    status: str  # NOT_STARTED, TOO_EARLY, TOO_FEW, NO_COMPARISON or JUDGED
    verdict: str  # IMPROVED, WORSENED, NO_EFFECT, or the status when there is none
    sentence: str
    window_days: int = 0
    before: tuple[dt.date, dt.date] | None = None
    after: tuple[dt.date, dt.date] | None = None
    touched: tuple[Side, Side] | None = None  # before, after
    comparison: tuple[Side, Side] | None = None
    comparison_units: tuple[str, ...] = ()
    change: float | None = None
    change_ci: tuple[float, float] | None = None
    did: float | None = None
    did_ci: tuple[float, float] | None = None
    n_needed: int | None = None
    finding: Finding | None = None

    @property
    def n_before(self) -> int:
        return self.touched[0].n if self.touched else 0

    @property
    def n_after(self) -> int:
        return self.touched[1].n if self.touched else 0

    @property
    def significant(self) -> bool:
        return self.finding is not None and self.finding.significant


def per_answer_sums(metric: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """From the daily statistics: the number of answers, the sum of the values whose mean is
    the metric (NPS and CSAT in points: +100 a promoter or satisfied answer, -100 a
    detractor), and the sum of their squares."""
    col = pl.col
    if metric == "nps":
        return (
            col("n_nps"),
            100.0 * (col("promoters") - col("detractors")),
            10_000.0 * (col("promoters") + col("detractors")),
        )
    if metric == "csat":
        return col("n_csat"), 100.0 * col("csat_top2"), 10_000.0 * col("csat_top2")
    if metric == "ces":
        return col("n_ces"), col("ces_sum").cast(pl.Float64), col("ces_sq").cast(pl.Float64)
    raise ValueError(f"no per-answer value for {metric!r}")


def _side(n: int, total: float, squares: float) -> Side:
    """Mean and sample variance of ``n`` answers from their sum and sum of squares."""
    if n == 0:
        return Side(None, None, 0)
    mean = total / n
    var = max(squares - n * mean * mean, 0.0) / (n - 1) if n > 1 else None
    return Side(mean, var, n)


def _var_of_mean(s: Side, deff: float) -> float:
    """Variance of a window's mean; never 0 (a window where every answer agrees is given
    the variance of one answer differing)."""
    if s.n == 0 or s.mean is None:
        return math.inf
    var = s.var if s.var else 0.0
    return max(var, 1e-9) * deff / s.n


def _fmt(metric: str, x: float, signed: bool = False) -> str:
    d = DECIMALS[metric]
    return f"{x:+.{d}f}" if signed else f"{x:.{d}f}"


def _units(ds: Dataset, action: dict) -> tuple[str, str, list[str]]:
    """The column the action is measured on, its unit and the comparable units."""
    if action.get("touchpoint_id"):
        tps = ds.journey.touchpoints.filter(pl.col("stage_id") == action["stage_id"])
        others = [t for t in tps["touchpoint_id"].to_list() if t != action["touchpoint_id"]]
        return "touchpoint_id", action["touchpoint_id"], others
    others = [s for s in ds.journey.stage_order if s != action["stage_id"]]
    return "stage_id", action["stage_id"], others


def _touched_by_others(
    action: dict, actions: list[dict], column: str, lo: dt.date, hi: dt.date, ds: Dataset
) -> set[str]:
    """Units (touchpoints or stages) another action started on within [lo, hi]."""
    out = set()
    stage_of = dict(
        zip(
            ds.journey.touchpoints["touchpoint_id"], ds.journey.touchpoints["stage_id"], strict=True
        )
    )
    for other in actions:
        if other["action_id"] == action["action_id"] or not lo < other["start_on"] <= hi:
            continue
        if column == "touchpoint_id":
            if other.get("touchpoint_id"):
                out.add(other["touchpoint_id"])
            else:  # a whole stage: every touchpoint of it
                out |= {t for t, s in stage_of.items() if s == other["stage_id"]}
        else:
            out.add(other["stage_id"])
    return out


def _name(ds: Dataset, column: str, unit: str) -> str:
    if column == "touchpoint_id":
        return ds.journey.touchpoint_name(unit)
    return ds.journey.stage_name(unit)


def measure_one(ds: Dataset, action: dict, actions: list[dict], as_of: dt.date) -> Effect:
    """The unadjusted effect of one action (``finding.q`` unset); see the module's notes."""
    metric, start, aid = action["metric"], action["start_on"], action["action_id"]
    d = DECIMALS[metric]
    if start > as_of:
        return Effect(
            aid,
            metric,
            NOT_STARTED,
            NOT_STARTED,
            f"Starts on {day_text(start)}: nothing to measure yet.",
        )
    first = ds.first_day
    w = min(WINDOW_DAYS, (as_of - start).days + 1, (start - first).days)
    if w < 1:
        return Effect(
            aid,
            metric,
            TOO_EARLY,
            TOO_EARLY,
            "too early: the data hold no answers before the start.",
        )
    before = (start - dt.timedelta(days=w), start - dt.timedelta(days=1))
    after = (start, start + dt.timedelta(days=w - 1))
    column, unit, others = _units(ds, action)
    skip = _touched_by_others(action, actions, column, before[0], after[1], ds)
    comparison = tuple(u for u in others if u not in skip)
    n, total, squares = per_answer_sums(metric)
    days = ds.stats.filter(pl.col("responded_on").is_between(before[0], after[1])).select(
        pl.col(column).cast(pl.String).alias("unit"),
        (pl.col("responded_on") >= start).alias("after"),
        n.cast(pl.Int64).alias("n"),
        total.alias("total"),
        squares.alias("squares"),
    )

    def side(units: list[str], is_after: bool) -> Side:
        part = days.filter(pl.col("unit").is_in(units) & (pl.col("after") == is_after))
        return _side(int(part["n"].sum()), float(part["total"].sum()), float(part["squares"].sum()))

    t_b, t_a = (side([unit], a) for a in (False, True))
    c_b, c_a = (side(list(comparison), a) for a in (False, True))
    deff = max(ds.design_effect.get(metric, 1.0), 1.0)
    base = Effect(
        aid,
        metric,
        TOO_EARLY,
        TOO_EARLY,
        "",
        w,
        before,
        after,
        (t_b, t_a),
        (c_b, c_a),
        comparison,
    )
    where = _name(ds, column, unit)
    if t_b.n < MIN_N:
        return replace(
            base,
            status=TOO_FEW,
            verdict=TOO_FEW,
            sentence=f"too few answers before the start: n before = {t_b.n:,} on {where} "
            f"(at least {MIN_N} are needed to measure anything).",
        )
    if t_a.n < MIN_N:
        return replace(
            base,
            sentence=f"too early: n after = {t_a.n:,} on {where} (at least {MIN_N} are "
            "needed to measure anything).",
        )
    change = t_a.mean - t_b.mean
    se_change = math.sqrt(_var_of_mean(t_b, deff) + _var_of_mean(t_a, deff))
    base = replace(
        base, change=change, change_ci=(change - Z95 * se_change, change + Z95 * se_change)
    )
    if not comparison or c_b.n < MIN_N or c_a.n < MIN_N:
        return replace(
            base,
            status=NO_COMPARISON,
            verdict=NO_COMPARISON,
            sentence=f"{LABELS[metric]} at {where} moved {_fmt(metric, change, True)} "
            f"(95% CI {_fmt(metric, change - Z95 * se_change, True)} to "
            f"{_fmt(metric, change + Z95 * se_change, True)}); no comparable "
            f"{'touchpoint' if column == 'touchpoint_id' else 'stage'} it did not touch, "
            "so no verdict.",
        )
    ratio = c_b.n / t_b.n
    var_t = t_b.var or 0.0
    var_c = c_b.var or 0.0
    mde = MIN_DETECTABLE[metric]
    needed = math.ceil(2 * deff * (var_t + var_c / ratio) * (Z95 + Z_POWER) ** 2 / mde**2)
    base = replace(base, n_needed=needed)
    if t_a.n < needed:
        return replace(
            base,
            sentence=f"too early: n after = {t_a.n:,} of {needed:,} needed (to find "
            f"{mde:g} {UNITS[metric]} with {POWER:.0%} power).",
        )
    control_change = c_a.mean - c_b.mean
    did = change - control_change
    se = math.sqrt(
        _var_of_mean(t_b, deff)
        + _var_of_mean(t_a, deff)
        + _var_of_mean(c_b, deff)
        + _var_of_mean(c_a, deff)
    )
    ci = (did - Z95 * se, did + Z95 * se)
    p = p_two_sided(did / se) if se > 0 else None
    compared = (
        "the other touchpoints of its stage" if column == "touchpoint_id" else ("the other stages")
    )
    sentence = (
        f"{action['title']}: {LABELS[metric]} at {where} changed {_fmt(metric, change, True)} "
        f"against {_fmt(metric, control_change, True)} at {compared}, an effect of "
        f"{did:+.{d}f} {UNITS[metric]} (95% CI {ci[0]:+.{d}f} to {ci[1]:+.{d}f}; n = "
        f"{t_b.n:,} before, {t_a.n:,} after, {w} days each side)"
    )
    finding = Finding(
        "action",
        sentence,
        did,
        ci,
        t_b.n + t_a.n,
        p,
        stages=(action["stage_id"],),
        departments=(action["department_id"],),
        touchpoints=(action["touchpoint_id"],) if action.get("touchpoint_id") else (),
        unit=UNITS[metric],
        family="action",
    )
    return replace(base, status=JUDGED, verdict=NO_EFFECT, did=did, did_ci=ci, finding=finding)


def measure(ds: Dataset, actions: pl.DataFrame, as_of: dt.date | None = None) -> list[Effect]:
    """The effect of every action in ``actions`` (those on stages of ``ds``), judged
    together: Benjamini-Hochberg over the actions with a test. ``as_of`` defaults to the
    last day of the data."""
    as_of = as_of or ds.last_day
    rows = [r for r in actions.iter_rows(named=True) if r["stage_id"] in ds.journey.stage_order]
    effects = [measure_one(ds, r, rows, as_of) for r in rows]
    tested = [i for i, e in enumerate(effects) if e.finding is not None]
    adjusted = findings.adjust([effects[i].finding for i in tested])
    for i, f in zip(tested, adjusted, strict=True):
        e = effects[i]
        if f.significant:
            verdict = IMPROVED if f.effect > 0 else WORSENED
            sentence = f"{f.sentence}: {verdict} (q = {f.q:.3f})."
        else:
            verdict = NO_EFFECT
            sentence = f"{f.sentence}: no effect found (q = {f.q:.2f})."
        effects[i] = replace(
            e, finding=replace(f, sentence=sentence), verdict=verdict, sentence=sentence
        )
    return effects


def table(effects: list[Effect]) -> pl.DataFrame:
    """One row per action: its verdict, change and effect, for a page or an export."""
    schema = {
        "action_id": pl.String,
        "verdict": pl.String,
        "change": pl.Float64,
        "effect": pl.Float64,
        "effect_low": pl.Float64,
        "effect_high": pl.Float64,
        "n_before": pl.Int64,
        "n_after": pl.Int64,
        "n_needed": pl.Int64,
        "q": pl.Float64,
        "effect_note": pl.String,
    }
    rows = [
        {
            "action_id": e.action_id,
            "verdict": e.verdict,
            "change": e.change,
            "effect": e.did,
            "effect_low": e.did_ci[0] if e.did_ci else None,
            "effect_high": e.did_ci[1] if e.did_ci else None,
            "n_before": e.n_before,
            "n_after": e.n_after,
            "n_needed": e.n_needed,
            "q": e.finding.q if e.finding else None,
            "effect_note": e.sentence,
        }
        for e in effects
    ]
    return pl.DataFrame(rows, schema=schema)


def listing(ds: Dataset, actions_frame: pl.DataFrame, today: dt.date) -> pl.DataFrame:
    """The actions with names, whether each is late (on ``today``) and its measured effect
    (judged over all of them together), as the pages and the briefing list them."""
    named = actions_mod.table(actions_frame, ds.journey, today)
    return named.join(table(measure(ds, actions_frame)), on="action_id", how="left")
