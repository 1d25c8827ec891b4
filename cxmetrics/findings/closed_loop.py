"""The closed loop: are cases resolved for the customer, or only closed by the department?

A case is *closed* when it has a closing date. It is *confirmed* when it is closed and the
customer confirmed it resolved. It is a *false closure* when it is closed and either the
customer did not confirm it (said no, or was not asked, or did not answer) or the customer
contacted us again about the same stage within 30 days after the closing date.

Recent cases have not had time to close, to be confirmed or to draw a repeat contact, so the
closed-loop rates count only *mature* cases: opened at least :data:`MATURE_DAYS` days before
the data ends (:data:`CLOSE_WINDOW_DAYS` to close, then :data:`REPEAT_WINDOW_DAYS` for a repeat
contact). Customers who were never asked (or did not answer, ``customer_confirmed`` empty) are
counted apart from those who said no.

``prepare`` does the per-case work once per data version; the page then filters and sums.
A department's gap is a *finding* (kind ``closed_loop``) only when it differs from the other
departments' gap by a two-proportion test kept under the false discovery rate over the
departments in view (:func:`candidates`).
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from cxmetrics.contract.journey import Journey
from cxmetrics.contract.text import day_text, gap_text, part_decimals, period_text
from cxmetrics.findings.findings import Finding
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import Z95, p_two_sided

REPEAT_WINDOW_DAYS = 30
CLOSE_WINDOW_DAYS = 30
MATURE_DAYS = CLOSE_WINDOW_DAYS + REPEAT_WINDOW_DAYS


#: What the pages say where a case's stage has no contact recorded
NO_REPEATS = (
    "No contact is recorded at some stages of these cases, so whether customers came back "
    "after a closure there is unknown: false closures and repeat contacts are not counted "
    "where that is so. Import contacts to count them."
)


def repeats_unknown(cases: pl.DataFrame) -> bool:
    """Whether a closed case among ``cases`` (from :func:`prepare`) is at a stage without
    any contact recorded."""
    closed = cases.filter(pl.col("closed_on").is_not_null())
    return closed["repeat_after_close"].null_count() > 0


def prepare(
    cases: pl.DataFrame,
    contacts: pl.DataFrame,
    customers: pl.DataFrame,
    journey: Journey,
    sources: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Cases with stage, customer code, segment, region, the source of the response that
    opened them, days to close, ``repeat_after_close`` and ``false_closure`` (of closed
    cases; at a stage with no contact recorded, ``repeat_after_close`` is null, unknown, and
    so is ``false_closure`` where the customer confirmed).

    ``contacts`` as from :func:`dataset.compact_contacts` (cust, stage_id, contacted_on);
    ``customers`` as from :func:`dataset.prepare_customers`; ``sources`` maps response_id to
    source. Cases of unknown customers or touchpoints are left out.
    """
    stage_type = contacts.schema["stage_id"]
    stage_of = journey.touchpoints.select("touchpoint_id", pl.col("stage_id").cast(stage_type))
    frame = (
        cases.with_columns(pl.col("customer_id", "response_id").cast(pl.String))
        .join(stage_of, on="touchpoint_id", how="inner")
        .join(
            customers.select("customer_id", "cust", "segment", "region"),
            on="customer_id",
            how="inner",
        )
    )
    if sources is not None:
        frame = frame.join(
            sources.select(pl.col("response_id").cast(pl.String), pl.col("source").cast(pl.String)),
            on="response_id",
            how="left",
        )
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("source"))
    closed = frame.filter(pl.col("closed_on").is_not_null()).select(
        "case_id", "cust", "stage_id", "closed_on"
    )
    repeated = (
        closed.join(
            contacts.select("cust", "stage_id", "contacted_on"),
            on=["cust", "stage_id"],
            how="inner",
        )
        .filter(
            (pl.col("contacted_on") > pl.col("closed_on"))
            & (pl.col("contacted_on") <= pl.col("closed_on") + pl.duration(days=REPEAT_WINDOW_DAYS))
        )
        .select("case_id")
        .unique()
        .with_columns(pl.lit(True).alias("repeat_after_close"))
    )
    is_closed = pl.col("closed_on").is_not_null()
    # at a stage without any contact recorded, whether a customer came back is not known
    # (null), not "no": a false closure is then known only where the customer did not
    # confirm. Per stage, so a manager (whose contacts are their stages') and an executive
    # filtering on the same department count the same
    recorded = contacts["stage_id"].unique().implode()
    came_back = (
        pl.when(pl.col("stage_id").is_in(recorded))
        .then(pl.col("repeat_after_close").fill_null(False))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    )
    return (
        frame.join(repeated, on="case_id", how="left")
        .with_columns(
            pl.when(is_closed).then(came_back).alias("repeat_after_close"),
            (is_closed & pl.col("customer_confirmed").fill_null(False))
            .fill_null(False)
            .alias("confirmed"),
            (pl.col("closed_on") - pl.col("opened_on")).dt.total_days().alias("days_to_close"),
        )
        .with_columns(
            pl.when(is_closed)
            .then(pl.col("repeat_after_close") | ~pl.col("confirmed"))
            .alias("false_closure"),
        )
        .sort("opened_on", "case_id")
    )


def prepare_for(ds, cases: pl.DataFrame, contacts: pl.DataFrame) -> pl.DataFrame:
    """:func:`prepare` with everything else taken from a loaded ``Dataset``."""
    return prepare(cases, contacts, ds.customers, ds.journey, ds.case_sources())


def in_view(cases: pl.DataFrame, f: Filters, stage_ids: tuple[str, ...] | None) -> pl.DataFrame:
    """Cases opened in the period on the stages in view, for the segments and regions in
    view. With a department filter, the cases those departments handled are in view too,
    whatever their stage. Cases have no channel: the channel filter does not apply."""
    cond = pl.lit(True)
    if f.start is not None:
        cond &= pl.col("opened_on") >= f.start
    if f.end is not None:
        cond &= pl.col("opened_on") <= f.end
    if stage_ids is not None:
        on_stage = pl.col("stage_id").cast(pl.String).is_in(list(stage_ids))
        if f.departments:
            on_stage |= pl.col("department_id").is_in(list(f.departments))
        cond &= on_stage
    if f.segments:
        cond &= pl.col("segment").cast(pl.String).is_in(list(f.segments))
    if f.regions:
        cond &= pl.col("region").cast(pl.String).is_in(list(f.regions))
    return cases.filter(cond)


def mature_until(as_of: dt.date) -> dt.date:
    """The last opening day of cases old enough to count on data that ends on ``as_of``."""
    return as_of - dt.timedelta(days=MATURE_DAYS)


def mature(cases: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Cases opened at least :data:`MATURE_DAYS` days before ``as_of`` (the data's last day):
    time to be closed and confirmed, and 30 days after closing for a repeat contact."""
    return cases.filter(pl.col("opened_on") <= mature_until(as_of))


def window_text(start: dt.date, as_of: dt.date) -> str:
    """The caption's statement of which cases count."""
    until = mature_until(as_of)
    if until < start:
        return (
            f"No case opened in this period is old enough to count: cases count once "
            f"{MATURE_DAYS} days have passed since they were opened ({CLOSE_WINDOW_DAYS} to "
            f"close, then {REPEAT_WINDOW_DAYS} for a repeat contact); the data ends "
            f"{day_text(as_of)}."
        )
    return (
        f"Only cases opened up to {day_text(until)} count: {MATURE_DAYS} days before the data "
        f"ends ({day_text(as_of)}), time to close ({CLOSE_WINDOW_DAYS} days) and to have had "
        f"{REPEAT_WINDOW_DAYS} days for a repeat contact. Not asked (or no answer) is shown "
        "apart from said no."
    )


def summarise(cases: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group: opened, closed, confirmed, said no, not asked (or no answer), false
    closures, median days to close, and the rates (percentages): closure and confirmed
    resolution (of cases opened), their gap in points, and said no, not asked, false closure
    and repeat contact (of cases closed)."""
    is_closed = pl.col("closed_on").is_not_null()
    aggs = [
        pl.len().cast(pl.Int64).alias("opened"),
        is_closed.sum().cast(pl.Int64).alias("closed"),
        pl.col("confirmed").sum().cast(pl.Int64).alias("confirmed"),
        (is_closed & (pl.col("customer_confirmed") == False))  # noqa: E712
        .sum()
        .cast(pl.Int64)
        .alias("said_no"),
        (is_closed & pl.col("customer_confirmed").is_null())
        .sum()
        .cast(pl.Int64)
        .alias("not_asked"),
        pl.col("false_closure").sum().cast(pl.Int64).alias("false_closures"),
        pl.col("repeat_after_close").sum().cast(pl.Int64).alias("repeats"),
        (is_closed & pl.col("repeat_after_close").is_null()).sum().alias("_unknown"),
        pl.col("days_to_close").median().cast(pl.Float64).alias("median_days"),
    ]
    grouped = cases.group_by(by).agg(aggs) if by else cases.select(aggs)
    # repeat contacts not recorded (no contacts imported): neither they nor false closures
    # are counted, rather than shown as 0
    known = pl.col("_unknown") == 0
    grouped = grouped.with_columns(
        pl.when(known).then(pl.col(c)).alias(c) for c in ("false_closures", "repeats")
    ).drop("_unknown")

    def pct(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(100 * pl.col(num) / pl.col(den)).otherwise(None)

    return grouped.with_columns(
        pct("closed", "opened").alias("closure_rate"),
        pct("confirmed", "opened").alias("confirmed_rate"),
        pct("said_no", "closed").alias("said_no_rate"),
        pct("not_asked", "closed").alias("not_asked_rate"),
        pct("false_closures", "closed").alias("false_closure_rate"),
        pct("repeats", "closed").alias("repeat_rate"),
    ).with_columns((pl.col("closure_rate") - pl.col("confirmed_rate")).alias("gap"))


def by_department(cases: pl.DataFrame, journey: Journey) -> pl.DataFrame:
    """One row per department that handled cases in view, largest gap first."""
    out = summarise(cases, ["department_id"]).with_columns(
        pl.col("department_id").replace(journey.labels).alias("department")
    )
    return out.sort(pl.col("gap").fill_null(-1e9), "department", descending=[True, False])


def by_department_stage(cases: pl.DataFrame, journey: Journey) -> pl.DataFrame:
    out = summarise(cases, ["department_id", "stage_id"]).with_columns(
        pl.col("department_id").replace(journey.labels).alias("department"),
        pl.col("stage_id").cast(pl.String).replace(journey.labels).alias("stage"),
        pl.col("stage_id")
        .cast(pl.String)
        .replace({s: str(i) for i, s in enumerate(journey.stage_order)})
        .cast(pl.Int32)
        .alias("position"),
    )
    return out.sort("department", "position")


def department_candidates(
    cases: pl.DataFrame,
    journey: Journey,
    min_n: int = m.MIN_N,
    period: str = "",
    where: str = "",
) -> list[Finding]:
    """One test per department with at least ``min_n`` cases (and at least ``min_n`` for the
    other departments): is its closed-versus-confirmed gap (cases closed without the
    customer's confirmation, as a share of cases opened) larger than the other departments'
    together? Two-proportion z-test with the pooled standard error and a continuity
    correction, two-sided p-value when
    the gap is larger (both directions were looked at) and 1 when it is not, since only a
    larger gap is ever claimed; the interval of the difference uses each share's own
    standard error. ``cases``: mature
    cases in view (see :func:`mature`); ``period`` names them in the sentence, and
    ``where`` the other departments' cases (" on the stages in view" under a filter)."""
    per = summarise(cases, ["department_id"]).sort("department_id")
    total_opened = int(per["opened"].sum()) if per.height else 0
    total_unconfirmed = int((per["closed"] - per["confirmed"]).sum()) if per.height else 0
    out = []
    for r in per.iter_rows(named=True):
        n1 = int(r["opened"])
        x1 = int(r["closed"]) - int(r["confirmed"])
        n2, x2 = total_opened - n1, total_unconfirmed - x1
        if n1 < min_n or n2 < min_n:
            continue
        u1, u2 = x1 / n1, x2 / n2
        pooled = (x1 + x2) / (n1 + n2)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        # continuity correction: the normal tail of a small department's count is too thin
        z = (u1 - u2 - 0.5 * (1 / n1 + 1 / n2)) / se0 if se0 > 0 else 0.0
        p = p_two_sided(z) if z > 0 else 1.0  # only a larger gap is ever claimed
        effect = 100 * (u1 - u2)
        half = Z95 * math.hypot(m._proportion_se(u1, n1), m._proportion_se(u2, n2))
        name = journey.labels.get(r["department_id"], r["department_id"])
        out.append(
            Finding(
                "closed_loop",
                _sentence(name, r, 100 * u2, effect, (effect - half, effect + half), period, where),
                effect,
                (effect - half, effect + half),
                n1,
                p,
                departments=(r["department_id"],),
                unit="points of cases opened",
                family="closed_loop",
            )
        )
    return out


def candidates(ds, f: Filters, cases: pl.DataFrame, min_n: int = m.MIN_N) -> list[Finding]:
    """The closed-loop family for the view ``f``: :func:`department_candidates` on the mature
    cases in view. ``cases`` from :func:`prepare`."""
    shown = mature(in_view(cases, f, ds.stage_ids(f)), ds.last_day)
    return mature_candidates(ds, f, shown, min_n)


def mature_candidates(ds, f: Filters, shown: pl.DataFrame, min_n: int = m.MIN_N) -> list[Finding]:
    """:func:`candidates` on cases already cut to the view and to :func:`mature` ones."""
    start = f.start or ds.first_day
    end = min(f.end or ds.last_day, mature_until(ds.last_day))
    period = period_text(start, end) if end >= start else ""
    where = " on the stages in view" if ds.stage_ids(f) is not None else ""
    return department_candidates(shown, ds.journey, min_n, period, where)


def _sentence(
    name: str, r: dict, rest_gap: float, effect: float, ci, period: str, where: str = ""
) -> str:
    opened, closed = int(r["opened"]), int(r["closed"])
    closure = 100 * closed / opened
    confirmed = 100 * int(r["confirmed"]) / opened
    gap = gap_text(closure, confirmed)  # as the chart and table beside it write it
    d = part_decimals(closure, confirmed)  # the two rates subtract to it as written
    when = f" opened {period}" if period else ""
    diff = f"{effect:+z.0f} points, 95% CI {ci[0]:+z.0f} to {ci[1]:+z.0f}"
    if effect > 0:
        text = (
            f"**{name}** closed {closure:.{d}f}% of the {opened:,} cases{when}, but customers "
            f"confirmed only {confirmed:.{d}f}% resolved: a gap of {gap} points against "
            f"{rest_gap:.0f} for the other departments{where} ({diff})."
        )
    else:
        text = (
            f"**{name}** closed {closure:.{d}f}% of the {opened:,} cases{when} and customers "
            f"confirmed {confirmed:.{d}f}% resolved: a gap of {gap} points, smaller than "
            f"the other departments' {rest_gap:.0f}{where} ({diff})."
        )
    if closed:
        text += (
            f" Of its {closed:,} closures, customers said {100 * int(r['said_no']) / closed:.0f}% "
            f"were not resolved and {100 * int(r['not_asked']) / closed:.0f}% were never "
            f"confirmed either way (not asked, or no answer)"
        )
        if r["false_closures"] is None:  # no contacts recorded: repeat contacts unknown
            text += "."
        else:
            text += (
                f"; {100 * int(r['false_closures']) / closed:.0f}% were false (not confirmed, "
                f"or the customer came back about the same stage within {REPEAT_WINDOW_DAYS} "
                "days)."
            )
    return text


def headline(found: list[Finding]) -> str | None:
    """The kept closed-loop finding whose department's gap runs furthest beyond the other
    departments' (None when no department's gap is significantly larger). ``found``: as
    from :func:`findings.decide` over :func:`candidates`."""
    worse = [f for f in found if f.kind == "closed_loop" and f.effect is not None and f.effect > 0]
    if not worse:
        return None
    return max(worse, key=lambda f: f.effect).sentence
