"""The closed loop: are cases resolved for the customer, or only closed by the department?

A case is *closed* when it has a closing date. It is *confirmed* when it is closed and the
customer confirmed it resolved. It is a *false closure* when it is closed and either the
customer did not confirm it (said no, or was not asked, or did not answer) or the customer
contacted us again about the same stage within 30 days after the closing date.

``prepare`` does the per-case work once per data version; the page then filters and sums.
"""

from __future__ import annotations

import polars as pl

from cxmetrics import metrics as m
from cxmetrics.filters import Filters
from cxmetrics.journey import Journey

REPEAT_WINDOW_DAYS = 30


def prepare(
    cases: pl.DataFrame,
    contacts: pl.DataFrame,
    customers: pl.DataFrame,
    journey: Journey,
    sources: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Cases with stage, customer code, segment, region, the source of the response that
    opened them, days to close, ``repeat_after_close`` and ``false_closure``.

    ``contacts`` as from :func:`dataset.compact_contacts` (cust, stage_id, contacted_on);
    ``customers`` as from :func:`dataset.prepare_customers`; ``sources`` maps response_id to
    source. Cases of unknown customers or touchpoints are left out.
    """
    stage_type = contacts.schema["stage_id"]
    stage_of = journey.touchpoints.select("touchpoint_id", pl.col("stage_id").cast(stage_type))
    frame = (
        cases.with_columns(pl.col("customer_id").cast(pl.Int32))
        .join(stage_of, on="touchpoint_id", how="inner")
        .join(
            customers.select("customer_id", "cust", "segment", "region"),
            on="customer_id",
            how="inner",
        )
    )
    if sources is not None:
        frame = frame.join(
            sources.select(pl.col("response_id").cast(pl.Int64), pl.col("source").cast(pl.String)),
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
    return (
        frame.join(repeated, on="case_id", how="left")
        .with_columns(
            pl.when(is_closed)
            .then(pl.col("repeat_after_close").fill_null(False))
            .alias("repeat_after_close"),
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
    return prepare(
        cases, contacts, ds.customers, ds.journey, ds.responses.select("response_id", "source")
    )


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


def summarise(cases: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group: opened, closed, confirmed, false closures, median days to close, and the
    rates (percentages): closure and confirmed resolution (of cases opened), their gap in
    points, and false closure (of cases closed)."""
    aggs = [
        pl.len().cast(pl.Int64).alias("opened"),
        pl.col("closed_on").is_not_null().sum().cast(pl.Int64).alias("closed"),
        pl.col("confirmed").sum().cast(pl.Int64).alias("confirmed"),
        pl.col("false_closure").sum().cast(pl.Int64).alias("false_closures"),
        pl.col("repeat_after_close").sum().cast(pl.Int64).alias("repeats"),
        pl.col("days_to_close").median().cast(pl.Float64).alias("median_days"),
    ]
    grouped = cases.group_by(by).agg(aggs) if by else cases.select(aggs)

    def pct(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(100 * pl.col(num) / pl.col(den)).otherwise(None)

    return grouped.with_columns(
        pct("closed", "opened").alias("closure_rate"),
        pct("confirmed", "opened").alias("confirmed_rate"),
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


def headline(per_department: pl.DataFrame, min_n: int = m.MIN_N) -> str | None:
    """One sentence on the department with the largest closed-versus-confirmed gap."""
    shown = per_department.filter(  # without a closed case there are no rates to compare
        (pl.col("opened") >= min_n) & (pl.col("closed") > 0)
    ).sort("gap", descending=True)
    if shown.height == 0:
        return None
    r = shown.row(0, named=True)
    return (
        f"**{r['department']}** closed {r['closure_rate']:.0f}% of the {r['opened']:,} cases "
        f"opened in the period, but customers confirmed only {r['confirmed_rate']:.0f}% "
        f"resolved: a gap of {r['gap']:.0f} points. {r['false_closure_rate']:.0f}% of its "
        f"{r['closed']:,} closures were false (not confirmed, or the customer came back about "
        f"the same stage within {REPEAT_WINDOW_DAYS} days)."
    )
