"""Loyalty and value: NPS trends with uncertainty, churn by loyalty group, satisfied but at
risk, revenue at risk, customer value and influencers.

Customer-level measures use each customer's latest answer in view (NPS or CSAT) and churn in
the period, the same definitions as the overview's tiles.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from cxmetrics.contract.registry import METRICS
from cxmetrics.findings.findings import Finding, adjust, decide
from cxmetrics.stats import answers
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import FDR, bh_qvalues, p_two_sided
from cxmetrics.views import wording

UNITS = {"week": "week", "month": "month", "quarter": "quarter"}
SPLITS = {"none": None, "segment": "segment", "stage": "stage_id", "channel": "channel"}
GROUPS = ("Promoters", "Passives", "Detractors")
INFLUENCER_QUANTILE = 0.9


def trend(
    stats: pl.DataFrame,
    unit: str,
    split: str | None,
    min_n: int = m.MIN_N,
    deff: dict[str, float] | None = None,
) -> pl.DataFrame:
    """NPS per period (and per split value): n, NPS, 95% band, promoter / passive / detractor
    shares, and the change from the previous period with data (``period_before``, its
    ``n_before``) with its z, p, q and significance flag.

    Periods with fewer than ``min_n`` answers have no NPS and are not compared. Every point
    compared on the chart is one test of one family: a change is marked significant only when
    its Benjamini-Hochberg q-value over that family is at most ``inference.FDR``. ``deff``
    (``Dataset.design_effect``) widens the bands for customers who answer more than once."""
    by = [unit] if split is None else [split, unit]
    group = pl.lit("All") if split is None else pl.col(split).cast(pl.String)
    per = (
        m.totals(stats, by, m.CORE_COLUMNS, deff)
        .with_columns(group.alias("group"))
        .rename({unit: "period"})
    )
    enough = pl.col("n_nps") >= min_n
    per = per.sort("group", "period").with_columns(
        pl.when(enough).then(pl.col("nps")).alias("nps"),
        pl.when(enough).then(pl.col("nps_moe")).alias("moe"),
        *[
            pl.when(pl.col("n_nps") > 0).then(100 * pl.col(c) / pl.col("n_nps")).alias(f"{c}_pct")
            for c in ("promoters", "passives", "detractors")
        ],
    )
    prev_nps = pl.col("nps").shift(1).over("group")
    prev_moe = pl.col("moe").shift(1).over("group")
    se = ((pl.col("moe") / m.Z95) ** 2 + (prev_moe / m.Z95) ** 2).sqrt()
    out = per.with_columns(
        pl.col("period").shift(1).over("group").alias("period_before"),  # the one compared
        pl.col("n_nps").shift(1).over("group").alias("n_before"),
        (pl.col("nps") - prev_nps).alias("change"),
        pl.when(se > 0).then((pl.col("nps") - prev_nps) / se).alias("z"),
    )
    z = out["z"].to_list()
    tested = [i for i, v in enumerate(z) if v is not None and not math.isnan(v)]
    q = bh_qvalues([p_two_sided(z[i]) for i in tested])
    p_col = [None] * out.height
    q_col = [None] * out.height
    for i, qi in zip(tested, q, strict=True):
        p_col[i], q_col[i] = p_two_sided(z[i]), qi
    return (
        out.with_columns(
            pl.Series("p", p_col, dtype=pl.Float64),
            pl.Series("q", q_col, dtype=pl.Float64),
        )
        .with_columns((pl.col("q") <= FDR).fill_null(False).alias("significant"))
        .select(
            "group",
            "period",
            "n_nps",
            "period_before",
            "n_before",
            "nps",
            "moe",
            "promoters_pct",
            "passives_pct",
            "detractors_pct",
            "change",
            "z",
            "p",
            "q",
            "significant",
        )
    )


def trend_in_view(
    ds: Dataset, f: Filters, unit: str, split: str | None, min_n: int = m.MIN_N
) -> pl.DataFrame:
    """``trend`` of the answers in view; bands and tests allow for customers who answer more
    than once (``Dataset.design_effect``)."""
    return trend(ds.slice_stats(f), unit, split, min_n, ds.design_effect)


def undrawn_note(trend: pl.DataFrame, unit: str, min_n: int = m.MIN_N) -> str:
    """What the NPS trend leaves out, in words: the answers of periods with fewer than
    ``min_n``, and that the line breaks there ("" when every period is drawn)."""
    left = trend.filter(pl.col("nps").is_null())
    n = int(left["n_nps"].sum()) if left.height else 0
    if not n:
        return ""
    share = 100 * n / max(int(trend["n_nps"].sum()), 1)
    return (
        f" {n:,} answers ({share:.0f}%) fall in {unit}s with fewer than {min_n} and are not "
        f"drawn; the line breaks at a {unit} without a score."
    )


def with_group_names(trend: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """``trend`` with each group's id replaced by its name (``Journey.labels``)."""
    return trend.with_columns(trend["group"].replace(names))


def customers_in_view(ds: Dataset, f: Filters) -> pl.DataFrame:
    """One row per customer with a response in view: segment, region, annual revenue, cost
    to serve, influence, latest NPS and CSAT answer in view (null if none), and whether they
    left during the period."""
    ids, nps, csat, left = _latest_in_view(ds, f)
    base = ds.customers[ids]
    return base.select(
        pl.Series("cust", ids),
        "customer_id",
        "segment",
        "region",
        "annual_revenue",
        "cost_to_serve",
        "influence",
        pl.Series("nps", nps[ids]).replace(-1, None),
        pl.Series("csat", csat[ids]).replace(-1, None),
        pl.Series("left", left[ids]),
    )


def _latest_in_view(ds: Dataset, f: Filters):
    """The customers in view (codes, ascending) and, over every customer code, the latest
    NPS and CSAT answer in view (-1 for none) and whether they left in the period (nobody,
    where churn is not recorded: ``Facts.churn``)."""
    start, end = f.start or ds.first_day, f.end or ds.last_day
    size = ds.customer_arrays.size
    latest = {}
    for score in answers.SCORES:
        who, values = ds.latest_answers(f, score)
        latest[score] = np.full(size, -1, dtype=np.int16)
        latest[score][who] = values
    left = m.left_in_period(ds.customer_arrays, start, end)
    if not ds.facts.churn:  # churn dates the settings say are not a record of leaving
        left = np.zeros_like(left)
    return ds.customers_in(f), latest["nps"], latest["csat"], left


def nps_group() -> pl.Expr:
    return (
        pl.when(pl.col("nps") >= 9)
        .then(pl.lit("Promoters"))
        .when(pl.col("nps") >= 7)
        .then(pl.lit("Passives"))
        .when(pl.col("nps").is_not_null())
        .then(pl.lit("Detractors"))
    )


def churn_by(
    customers: pl.DataFrame, key: pl.Expr, name: str, min_n: int = m.MIN_N
) -> pl.DataFrame:
    """Churn in the period per value of ``key``: customers (n), left, churn % and its 95%
    margin; churn is null for groups of fewer than ``min_n`` customers."""
    return (
        customers.with_columns(key.alias(name))
        .filter(pl.col(name).is_not_null())
        .group_by(name)
        .agg(pl.len().alias("customers"), pl.col("left").sum().alias("left"))
        .with_columns(
            pl.when(pl.col("customers") >= min_n)
            .then(100 * pl.col("left") / pl.col("customers"))
            .alias("churn")
        )
        .with_columns(
            (
                100
                * m.Z95
                * (
                    (pl.col("churn") / 100) * (1 - pl.col("churn") / 100) / pl.col("customers")
                ).sqrt()
            ).alias("moe")
        )
        .sort(name)
    )


def churn_by_loyalty(customers: pl.DataFrame, min_n: int = m.MIN_N) -> pl.DataFrame:
    out = churn_by(customers, nps_group(), "group", min_n)
    order = {g: i for i, g in enumerate(GROUPS)}
    return out.sort(pl.col("group").replace_strict(order, return_dtype=pl.Int8))


def churn_by_csat(customers: pl.DataFrame, min_n: int = m.MIN_N) -> pl.DataFrame:
    return churn_by(customers, pl.col("csat"), "csat", min_n)


def at_risk_tile(risk: dict, min_n: int = m.MIN_N) -> tuple[str, str]:
    """The "Satisfied customers at risk" tile of :func:`satisfied_at_risk`'s ``risk``: its
    value and its caption. Below ``min_n`` satisfied customers, a dash, and a caption that
    says how many there are and how many a share needs: "0 of 23 satisfied customers"
    beside "Too few" read as a finding, and the words were cut in a third of the page."""
    satisfied = risk["satisfied"]
    text = wording.value_text("satisfied_at_risk", risk["share"], min_n)
    if text not in wording.SCARCE:
        return text, f"{risk['at_risk']:,} of {satisfied:,} satisfied customers"
    if satisfied == 0:
        return wording.NO_FIGURE, "No satisfied customer (latest CSAT 4-5) in view"
    return (
        wording.NO_FIGURE,
        f"Too few satisfied customers for a share: {satisfied:,}, at least {min_n} needed",
    )


def satisfied_at_risk(
    customers: pl.DataFrame, min_n: int = m.MIN_N, churn_known: bool = True
) -> dict:
    """Customers whose latest CSAT is 4-5 but whose latest NPS is 0-8, or who left: how many,
    their share of the satisfied, their annual revenue, and by segment (share and churn blank
    for a segment with fewer than ``min_n`` satisfied customers). ``churn_known``: whether
    anyone's leaving is recorded (``Facts.churn``), which the sentence then says; where it
    is not, :func:`customers_in_view` marks nobody as gone.

    ``concentrated``: the kept finding (kind ``at_risk``) with the highest share among the
    segments whose share is above the other segments'; ``tested``: the segments tested."""
    satisfied = customers.filter(pl.col("csat") >= 4)
    at_risk_expr = (pl.col("nps") <= 8).fill_null(False) | pl.col("left")
    marked = satisfied.with_columns(at_risk_expr.alias("at_risk"))
    at_risk = marked.filter(pl.col("at_risk"))
    enough = pl.col("satisfied") >= min_n
    counts = (
        marked.group_by("segment")
        .agg(
            pl.len().alias("satisfied"),
            pl.col("at_risk").sum().alias("at_risk"),
            pl.col("left").sum().alias("left"),
            pl.col("annual_revenue").filter(pl.col("at_risk")).sum().alias("revenue"),
        )
        .with_columns(pl.col("segment").cast(pl.String))
    )
    family = at_risk_tests(counts, min_n, churn_known)
    adjusted = {c.family: c for c in adjust(family)}
    kept = concentrated(family)
    by_segment = counts.with_columns(
        pl.when(enough).then(100 * pl.col("at_risk") / pl.col("satisfied")).alias("share"),
        pl.when(enough).then(100 * pl.col("left") / pl.col("satisfied")).alias("churn"),
        pl.col("segment")
        .replace_strict(
            {k: c.q for k, c in adjusted.items()}, default=None, return_dtype=pl.Float64
        )
        .alias("q"),
        pl.col("segment").is_in([c.family for c in kept]).alias("concentrated"),
    ).sort("share", descending=True, nulls_last=True)
    top = max(kept, key=lambda c: c.effect, default=None)
    revenue_known = customers["annual_revenue"].null_count() < customers.height
    return {
        "satisfied": satisfied.height,
        "at_risk": at_risk.height,
        "share": m.proportion_score("churn", at_risk.height, satisfied.height),
        # None: no revenue recorded for the customers in view (unknown, not 0)
        "revenue": float(at_risk["annual_revenue"].sum() or 0.0) if revenue_known else None,
        "left": int(at_risk["left"].sum()),
        "by_segment": by_segment,
        "concentrated": top,
        "tested": len(family),
    }


#: What an at-risk share leaves out where nobody's leaving is recorded
_NOT_GONE = " (NPS 0-8; who left is not recorded)"


def at_risk_tests(
    counts: pl.DataFrame, min_n: int = m.MIN_N, churn_known: bool = True
) -> list[Finding]:
    """One unadjusted test per segment (kind ``at_risk``): the share of its satisfied
    customers at risk against the other segments' together, two-sided two-proportion z-test;
    both sides need ``min_n`` satisfied customers. ``counts``: segment, satisfied, at_risk,
    left. ``family`` holds the segment's name. Each sentence says the share is concentrated
    in its segment: state only :func:`concentrated`'s. ``churn_known``: False where nobody's
    leaving is recorded, when the sentence says so instead of "0.0% left"."""
    total_n, total_hits = int(counts["satisfied"].sum()), int(counts["at_risk"].sum())
    out = []
    for r in counts.iter_rows(named=True):
        n, hits = int(r["satisfied"]), int(r["at_risk"])
        rest_n, rest_hits = total_n - n, total_hits - hits
        if n < min_n or rest_n < min_n:
            continue
        mine = m.proportion_score("churn", hits, n)
        rest = m.proportion_score("churn", rest_hits, rest_n)
        se = math.hypot(mine.se, rest.se)
        diff = mine.value - rest.value
        out.append(
            Finding(
                "at_risk",
                f"Concentrated in {r['segment']}: {mine.value:.0f}% of its {n:,} satisfied "
                f"customers are at risk{'' if churn_known else _NOT_GONE} against "
                f"{rest.value:.0f}% of the other segments' {rest_n:,}"
                + (f", and {100 * r['left'] / n:.1f}% left in the period." if churn_known else "."),
                diff,
                (diff - m.Z95 * se, diff + m.Z95 * se),
                n + rest_n,
                p_two_sided(diff / se),
                unit="%",
                family=str(r["segment"]),
            )
        )
    return out


def concentrated(family: list[Finding]) -> list[Finding]:
    """The at-risk tests :func:`decide` keeps whose segment has the larger share: what their
    sentences claim (a segment with a smaller share, kept as well, is not stated)."""
    return [c for c in decide(family) if c.effect > 0]


def candidates(ds: Dataset, f: Filters, min_n: int = m.MIN_N) -> list[Finding]:
    """The family of at-risk tests (one per segment) for the filtered view ``f`` of ``ds``."""
    ids, nps, csat, left = _latest_in_view(ds, f)
    who = ids[csat[ids] >= 4]  # satisfied: latest CSAT in view 4-5
    satisfied = pl.DataFrame(
        {
            "segment": ds.customers["segment"].gather(who),
            "at_risk": ((nps[who] >= 0) & (nps[who] <= 8)) | left[who],
            "left": left[who],
        }
    )
    counts = satisfied.group_by("segment").agg(
        pl.len().alias("satisfied"),
        pl.col("at_risk").sum().alias("at_risk"),
        pl.col("left").sum().alias("left"),
    )
    segments = counts.with_columns(pl.col("segment").cast(pl.String))
    return at_risk_tests(segments, min_n, churn_known=ds.facts.churn)


def latest_by_stage(ds: Dataset, f: Filters) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each customer's latest NPS answer at each stage in view: stage id -> (customer codes,
    answers). Without a channel filter each stage's latest answers are those of the period
    (once per period, :meth:`Dataset.of_period`) cut to the view's stages and customers."""
    if f.channels:
        return answers.latest_per(ds.answers_in_view(f), "stage_id", "nps")
    every = ds.of_period("latest_by_stage", f.start, f.end, answers.latest_per)
    shown = ds.stage_ids(f)
    out = {}
    for sid, (who, values) in every.items():
        if shown is not None and sid not in shown:
            continue
        keep = ds.kept(f, who)
        who, values = who[keep], values[keep]
        if who.size:  # a stage without answers in view is left out
            out[sid] = (who, values)
    return out


def revenue_at_risk_by(
    ds: Dataset, f: Filters, dimension: str, by_stage: dict | None = None
) -> pl.DataFrame:
    """Revenue at risk (the registry's definition) per stage or per segment, with its parts
    and its 95% range (``low``, ``high``); churn rates are annual, in %.

    By stage: each customer's latest answer at that stage in view. By segment: each
    customer's latest answer in view, split by the customer's segment (and the observed
    detractor churn of that segment)."""
    end = f.end or ds.last_day
    arrays = ds.customer_arrays
    # (label, customers, their latest answers, the churn rates that apply to them)
    parts: list[tuple[str, np.ndarray, np.ndarray, m.ChurnRates]] = []
    if dimension == "stage":
        by_stage = by_stage if by_stage is not None else latest_by_stage(ds, f)
        shown = ds.stage_ids(f)
        rates = ds.detractor_rates(f)  # every stage: the customers of the view's segments
        for sid in ds.journey.stage_order:
            if shown is not None and sid not in shown:
                continue
            who_here, latest_here = by_stage.get(sid, (np.zeros(0, np.int64), np.zeros(0, np.int8)))
            parts.append((ds.journey.stage_name(sid), who_here, latest_here, rates))
    else:
        view = ds.customer_view(f)
        segments = ds.customers["segment"]
        codes = segments.to_physical().to_numpy()  # compare integer codes, not strings
        categories = list(segments.dtype.categories)
        for seg in f.segments or tuple(ds.options("segment")):
            mine = codes == categories.index(seg)
            here = mine[view.latest_who]
            rates = m.detractor_churn_rate(ds.latest_nps, arrays, mine, ds.first_day, ds.last_day)
            parts.append((seg, view.latest_who[here], view.latest_nps[here], rates))
    out = []
    for label, who_here, latest_here, rates in parts:
        risk = m.revenue_at_risk(who_here, latest_here, arrays, rates, end)
        out.append(
            {
                dimension: label,
                "value": risk["value"],
                "low": risk["low"],
                "high": risk["high"],
                "detractor_revenue": risk["detractor_revenue"],
                "detractors": risk["detractors"],
                "churn_rate": 100 * rates.attributable,
                "detractor_churn": _pct(rates.detractor_rate),
                "other_churn": _pct(rates.other_rate),
                "history_n": rates.n,
                "others_n": rates.n_others,
            }
        )
    return pl.DataFrame(
        out,
        schema={
            dimension: pl.String,
            "value": pl.Float64,
            "low": pl.Float64,
            "high": pl.Float64,
            "detractor_revenue": pl.Float64,
            "detractors": pl.Int64,
            "churn_rate": pl.Float64,
            "detractor_churn": pl.Float64,
            "other_churn": pl.Float64,
            "history_n": pl.Int64,
            "others_n": pl.Int64,
        },
    )


def _pct(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate


def value_summary(customers: pl.DataFrame) -> dict:
    """Profit (annual revenue − cost to serve): unprofitable share and a value × NPS grid.
    Only customers with both facts recorded count (``customers`` is their number); the
    others are ``unknown``."""
    profit = customers.with_columns(
        (pl.col("annual_revenue") - pl.col("cost_to_serve")).alias("profit")
    )
    unknown = profit["profit"].null_count()
    profit = profit.filter(pl.col("profit").is_not_null())
    unprofitable = profit.filter(pl.col("profit") < 0).height
    grid = (
        profit.filter(pl.col("nps").is_not_null())
        .with_columns(
            pl.when(pl.col("profit") >= 0)
            .then(pl.lit("Profitable"))
            .otherwise(pl.lit("Unprofitable"))
            .alias("value"),
            nps_group().alias("group"),
        )
        .group_by("value", "group")
        .agg(pl.len().alias("customers"), pl.col("profit").sum().alias("profit"))
        .sort("value", "group")
    )
    return {
        "profit": profit.select("profit", "nps"),
        "customers": profit.height,
        "unknown": unknown,
        "unprofitable": m.proportion_score("churn", unprofitable, profit.height),
        "grid": grid,
    }


def influencer_cut(ds: Dataset) -> float | None:
    """The influence score of the top decile; None when no influence is recorded."""
    if not ds.facts.influence:
        return None
    return ds.prepared(
        "influencer_cut",
        None,
        lambda: float(ds.customers["influence"].quantile(INFLUENCER_QUANTILE)),
    )


def _influencers(ds: Dataset, cut: float) -> np.ndarray:
    """A mask over customer codes: the top-decile influencers (once per data version)."""
    return ds.prepared(
        "influencers",
        None,
        lambda: (ds.customers["influence"] >= cut).fill_null(False).to_numpy(),
    )


INFLUENCER_STAGE_SCHEMA = {
    "stage_id": pl.String,
    "influencer": pl.Boolean,
    "nps": pl.Float64,
    "moe": pl.Float64,
    "n_nps": pl.Int64,
    "position": pl.Int64,
}


def influencer_nps_by_stage(ds: Dataset, f: Filters, min_n: int = m.MIN_N) -> pl.DataFrame:
    """NPS of answers from top-decile influencers against everyone else's, per stage: one
    counting pass over (stage, influencer, NPS class). Empty when no influence is recorded;
    customers whose influence is unknown count as everyone else."""
    cut = influencer_cut(ds)
    if cut is None:
        return pl.DataFrame(schema=INFLUENCER_STAGE_SCHEMA)
    influencer = _influencers(ds, cut)

    def summed(frame: pl.DataFrame) -> dict[tuple[str, bool], dict]:
        return _sums_by_stage_and(frame, influencer[frame["cust"].to_numpy()])

    if f.channels or ds.customer_mask(f) is not None:
        counts = summed(ds.answers_in_view(f))
    else:  # the period's sums (once per period), of the stages in view
        shown = ds.stage_ids(f)
        counts = {
            key: sums
            for key, sums in ds.of_period("influencer_sums", f.start, f.end, summed).items()
            if shown is None or key[0] in shown
        }
    out = []
    for position, sid in enumerate(ds.journey.stage_order):
        for is_influencer in (False, True):
            here = counts.get((sid, is_influencer), {"n_nps": 0, "promoters": 0, "detractors": 0})
            pro, det = here["promoters"], here["detractors"]
            pas = here["n_nps"] - pro - det
            row = dict.fromkeys(m.CORE_COLUMNS, 0)
            row.update(n_nps=int(det + pas + pro), promoters=int(pro), detractors=int(det))
            score = m.scores_of(row, ds.design_effect)["nps"]
            if score.n == 0:
                continue
            shown = score.shown(min_n)
            out.append(
                {
                    "stage_id": sid,
                    "influencer": is_influencer,
                    "nps": shown,
                    "moe": score.moe if shown is not None else None,
                    "n_nps": score.n,
                    "position": position,
                }
            )
    return pl.DataFrame(out, schema=INFLUENCER_STAGE_SCHEMA)


def _sums_by_stage_and(frame: pl.DataFrame, flag: np.ndarray) -> dict[tuple[str, bool], dict]:
    """NPS answers, promoters and detractors of ``frame`` (customer-level answers) per stage
    and value of ``flag`` (one per row): one counting pass."""
    stage = frame["stage_id"]
    if isinstance(stage.dtype, pl.Enum):
        names = stage.dtype.categories.to_list()
        codes = stage.to_physical().to_numpy().astype(np.int64)
    else:
        names, codes = np.unique(stage.cast(pl.String).to_numpy(), return_inverse=True)
    key = codes * 2 + flag.astype(np.int64)
    size = 2 * len(names)
    sums = {
        c: np.bincount(key, frame[c].to_numpy().astype(np.float64), size).astype(np.int64)
        for c in ("n_nps", "promoters", "detractors")
    }
    present = np.bincount(key, minlength=size) > 0
    return {
        (str(names[k // 2]), bool(k % 2)): {c: int(sums[c][k]) for c in sums}
        for k in np.flatnonzero(present)
    }


def influencer_candidates(ds: Dataset, f: Filters, min_n: int = m.MIN_N) -> list[Finding]:
    """One test per stage: influencers' NPS against everyone else's (z-test with margins
    that allow for repeated answers; both sides need ``min_n`` answers)."""
    per = influencer_nps_by_stage(ds, f, min_n).filter(pl.col("nps").is_not_null())
    by_stage: dict[str, dict[bool, dict]] = {}
    for r in per.to_dicts():  # each stage's rows, in their order
        by_stage.setdefault(r["stage_id"], {})[r["influencer"]] = r
    out = []
    for sid in ds.journey.stage_order:
        part = by_stage.get(sid, {})
        if True not in part or False not in part:
            continue
        inf, rest = part[True], part[False]
        delta = inf["nps"] - rest["nps"]
        se = math.hypot(inf["moe"] / m.Z95, rest["moe"] / m.Z95)
        if se == 0:
            continue
        name = ds.journey.stage_name(sid)
        word = "below" if delta < 0 else "above"
        out.append(
            Finding(
                "influencer",
                f"{name}: influencers' NPS is {abs(delta):.0f} points {word} everyone else's "
                f"({METRICS['nps'].format(inf['nps'])}, n = {inf['n_nps']:,}, against "
                f"{METRICS['nps'].format(rest['nps'])}, n = {rest['n_nps']:,}).",
                delta,
                (delta - m.Z95 * se, delta + m.Z95 * se),
                inf["n_nps"] + rest["n_nps"],
                p_two_sided(delta / se),
                stages=(sid,),
                unit="points",
                family="influencer",
            )
        )
    return out


def influencer_detractors(
    ds: Dataset, f: Filters, stage_id: str, by_stage: dict | None = None
) -> pl.DataFrame:
    """Top-decile influencers whose latest answer at ``stage_id`` in view is 0-6 and who are
    still customers: a list an account manager can act on, highest influence first, with
    each customer's own id as the company records it. Empty when no influence is recorded."""
    cut = influencer_cut(ds)
    by_stage = by_stage if by_stage is not None else latest_by_stage(ds, f)
    who, latest = by_stage.get(stage_id, (np.zeros(0, np.int64), np.zeros(0, np.int8)))
    end = f.end or ds.last_day
    keep = (latest <= 6) & (ds.customer_arrays.churned_day[who] > m.day_number(end))
    frame = ds.customers[who[keep]].with_columns(pl.Series("nps", latest[keep], dtype=pl.Int16))
    if cut is None:
        frame = frame.clear()
    return (
        frame.filter(pl.col("influence") >= (cut if cut is not None else 0.0))
        .select(
            "customer_id",
            pl.col("segment").cast(pl.String),
            pl.col("region").cast(pl.String),
            "influence",
            "nps",
            "annual_revenue",
        )
        .sort("influence", descending=True)
    )
