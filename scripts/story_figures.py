"""Print the figures behind each story of the sample company (for sample_data/README.md).

python -m scripts.story_figures [--customers N] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt

import polars as pl

from cxmetrics.contract import sample
from cxmetrics.findings import closed_loop
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=sample.DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=sample.DEFAULT_SEED)
    args = parser.parse_args()
    data = sample.generate(args.customers, args.seed)
    ds = dataset.build(data.journey, data.customers, data.responses)
    end = ds.last_day
    print(
        f"{data.customers.height:,} customers, {data.responses.height:,} responses, "
        f"{data.contacts.height:,} contacts, {data.cases.height:,} cases, "
        f"{ds.first_day} to {end}"
    )

    def nps(f: Filters) -> str:
        s = m.scores_of(m.sums(ds.slice_stats(f)).row(0, named=True))["nps"]
        return f"{s.value:+.0f} ± {s.moe:.1f} (n = {s.n:,})"

    q0 = Filters(start=end - dt.timedelta(days=90), end=end, stages=("claim",))
    q3 = Filters(
        start=end - dt.timedelta(days=364), end=end - dt.timedelta(days=274), stages=("claim",)
    )
    on_target = (
        pl.when(pl.col("higher_is_better"))
        .then(pl.col("value") >= pl.col("target"))
        .otherwise(pl.col("value") <= pl.col("target"))
    )
    shares = dict(data.kpis.group_by("department_id").agg(on_target.mean()).iter_rows())
    others = {d: s for d, s in shares.items() if d != "claims"}
    print(
        f"1. Claims KPI-weeks on target: {100 * shares['claims']:.0f}%; File a claim NPS "
        f"{nps(q3)} in the quarter before the last two, {nps(q0)} in the last quarter; "
        f"other departments {100 * min(others.values()):.0f}-{100 * max(others.values()):.0f}% "
        "("
        + ", ".join(
            f"{ds.journey.department_name(d)} {100 * s:.0f}%" for d, s in sorted(others.items())
        )
        + ")"
    )

    start = ds.first_day
    pay_c = data.contacts.join(
        data.journey.touchpoints.select("touchpoint_id", "stage_id"), on="touchpoint_id"
    ).filter(pl.col("stage_id") == "pay")
    weekly = pay_c.group_by(
        ((pl.col("contacted_on") - pl.lit(start)).dt.total_days() // 7).alias("week")
    ).len()
    base = weekly.filter(pl.col("week") < sample.BILLING_CONTACT_WEEKS[0])["len"].mean()
    peak = weekly.filter(pl.col("week").is_between(*sample.BILLING_CONTACT_WEEKS))["len"].mean()
    c0 = start + dt.timedelta(weeks=sample.BILLING_CONTACT_WEEKS[0])
    n0 = start + dt.timedelta(weeks=sample.BILLING_NPS_WEEKS[0])
    n1 = start + dt.timedelta(weeks=sample.BILLING_NPS_WEEKS[1]) - dt.timedelta(days=1)
    before = Filters(
        start=n0 - dt.timedelta(weeks=8), end=n0 - dt.timedelta(days=1), stages=("pay",)
    )
    print(
        f"2. Pay contacts {base:.0f}/week before the episode, {peak:.0f}/week from {c0}; "
        f"Pay NPS {nps(before)} in the 8 weeks before {n0}, "
        f"{nps(Filters(start=n0, end=n1, stages=('pay',)))} from {n0} to {n1}"
    )

    web = m.scores_of(m.sums(ds.slice_stats(Filters(channels=("web",)))).row(0, named=True))
    mob = m.scores_of(m.sums(ds.slice_stats(Filters(channels=("mobile",)))).row(0, named=True))
    print(
        f"3. CES web {web['ces'].value:.2f} (n = {web['ces'].n:,}), "
        f"mobile {mob['ces'].value:.2f} (n = {mob['ces'].n:,})"
    )

    service = data.cases.filter(pl.col("department_id") == "service")
    closed = service.filter(pl.col("closed_on").is_not_null())
    confirmed = closed["customer_confirmed"].fill_null(False).mean()
    print(
        f"4. Customer Service cases {service.height:,}: closed "
        f"{100 * closed.height / service.height:.0f}%, confirmed by the customer "
        f"{100 * confirmed:.0f}% of closures"
    )
    contacts = dataset.compact_contacts(data.contacts, ds.journey, ds.customers)
    cases = closed_loop.mature(closed_loop.prepare_for(ds, data.cases, contacts), end)
    per = closed_loop.by_department(cases, ds.journey)
    svc = per.filter(pl.col("department_id") == "service").row(0, named=True)
    rest = per.filter(pl.col("department_id") != "service")
    rest_gap = 100 * (rest["closed"].sum() - rest["confirmed"].sum()) / rest["opened"].sum()
    print(
        f"4. Cases opened up to {closed_loop.mature_until(end)} (old enough to count): "
        f"Customer Service {svc['opened']:,}, gap {svc['gap']:.0f} points (closed "
        f"{svc['closure_rate']:.0f}%, confirmed {svc['confirmed_rate']:.0f}% of opened; of its "
        f"closures {svc['said_no_rate']:.0f}% said no, {svc['not_asked_rate']:.0f}% not asked); "
        f"other departments' gap {rest_gap:.0f} points"
    )

    for seg in ("Small business", "Personal", "Premier"):
        s = m.scores_of(m.sums(ds.slice_stats(Filters(segments=(seg,)))).row(0, named=True))
        churn = data.customers.filter(pl.col("segment") == seg)["churned_on"].is_not_null().mean()
        print(
            f"5. {seg}: CSAT {s['csat'].value:.1f}% (n = {s['csat'].n:,}), "
            f"churned over two years {100 * churn:.0f}%"
        )

    cut = ds.customers["influence"].quantile(0.9)
    vip = ds.customers.filter(pl.col("influence") >= cut)["cust"]
    renew = ds.responses.filter((pl.col("stage_id") == "renew") & pl.col("nps").is_not_null())
    is_vip = renew["cust"].is_in(vip.implode())
    print(
        f"6. Detractor share at renewal: top-decile influence "
        f"{100 * (renew.filter(is_vip)['nps'] <= 6).mean():.0f}%, everyone else "
        f"{100 * (renew.filter(~is_vip)['nps'] <= 6).mean():.0f}%"
    )
    print(
        "7. CX share of variable pay: "
        + ", ".join(
            f"{ds.journey.department_name(d)} {100 * s:.0f}%"
            for d, s in data.journey.incentives.sort("cx_share", descending=True).iter_rows()
        )
    )


if __name__ == "__main__":
    main()
