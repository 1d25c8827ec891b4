"""The smaller defects of partial data, each checked by hand: statuses without answers, the
worst moments' colours and targets, the article of a stage's name, complaints counted from
cases, comparisons that need enough customers on both sides, and verdicts without inputs."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
import shapes

from cxmetrics.charts import chart_style, loyalty_charts, overview_charts
from cxmetrics.contract import store, text
from cxmetrics.contract.journey import TABLES as JOURNEY_TABLES
from cxmetrics.contract.journey import Journey
from cxmetrics.findings import behaviour, closed_loop, findings
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import accountability, overview, wording


def build(shape: shapes.Shape):
    t = shapes.tables(shape)
    journey = Journey(**{k: t[k] for k in JOURNEY_TABLES})
    return t, dataset.build(journey, t["customers"], t["responses"])


BASE = shapes.Shape(
    seed=11, stages=4, channels=2, departments=2, customers=150, responses=2_500, years=1,
    ended_long_ago=False, odd_names=False, empty_stage=False, scores=("nps", "csat", "ces"),
    comments=False, contacts=False, cases=True, cases_closed=True, complaints=False,
    kpis=False, incentives=False, targets=True, owners=True,
)  # fmt: skip


def test_no_answers_is_no_data_not_too_few():
    none, few = m.Score("nps", None, 0), m.Score("nps", 50.0, 5, 10.0)
    assert m.status(none, 10.0) == m.STATUS_NO_DATA
    assert m.status(few, 10.0) == m.STATUS_TOO_FEW
    assert wording.value_text("nps", none, 30) == "No data"
    assert wording.value_text("nps", few, 30) == "Too few responses"
    few_left = m.Score("churn", 10.0, 10, 3.0)  # churn counts customers: said so
    assert wording.value_text("churn", few_left, 30) == "Too few customers"
    assert wording.figure("Too few customers") == wording.NO_FIGURE


def test_a_stage_with_answers_but_no_target_reads_no_target():
    enough = m.Score("nps", 10.0, 100, 5.0)
    row = overview.StageRow(
        "s", "S", 1, {}, {}, {"nps": m.status(enough, None), "csat": m.STATUS_NO_DATA,
                             "ces": m.STATUS_NO_DATA}, []
    )  # fmt: skip
    assert row.status == m.STATUS_NONE


def worst_colours(nps: list[float], targets: list[float | None]) -> list[str]:
    frame = pl.DataFrame(
        {
            "touchpoint": [f"t{i}" for i in range(len(nps))],
            "stage": ["S"] * len(nps),
            "nps": nps,
            "nps_moe": [5.0] * len(nps),
            "n_nps": [100] * len(nps),
            "nps_target": targets,
        },
        schema_overrides={"nps_target": pl.Float64},
    ).with_columns((pl.col("nps") - pl.col("nps_target")).alias("gap"))
    fig = overview_charts.fig_worst_moments(frame)
    return list(fig.data[0].marker.color)[::-1]  # drawn bottom-up


def test_the_worst_moments_title_counts_the_bars_it_draws():
    """ "Five worst moments of truth" above four bars read as one missing."""
    for n, title in [(4, "Four worst moments"), (1, "The worst moment "), (5, "Five worst")]:
        frame = pl.DataFrame(
            {
                "touchpoint": [f"t{i}" for i in range(n)],
                "stage": ["S"] * n,
                "nps": [-10.0] * n,
                "nps_moe": [5.0] * n,
                "n_nps": [100] * n,
                "nps_target": [0.0] * n,
            }
        ).with_columns((pl.col("nps") - pl.col("nps_target")).alias("gap"))
        fig = overview_charts.fig_worst_moments(frame)
        bars = next(t for t in fig.data if t.type == "bar")
        assert len(bars.y) == n and fig.layout.title.text.startswith(title), fig.layout.title


def test_a_moment_far_under_its_target_is_never_green():
    colours = worst_colours([-38.0, -3.0, 2.0, -38.0], [0.0, 0.0, 0.0, None])
    c = chart_style.STATUS_COLORS
    # margins of 5: -3 against 0 is within the margin (near), -38 is below the whole interval
    assert colours == [c[m.STATUS_BELOW], c[m.STATUS_NEAR], c[m.STATUS_ON], c[m.STATUS_NONE]]


def test_worst_moments_use_the_stage_target_else_the_company_one():
    t, ds = build(dataclasses.replace(BASE, seed=12))
    worst = overview.worst_moments(ds, ds.stats, min_n=1, limit=50)
    # shapes: company-wide NPS target 20; stages s1 and s3 have their own target 0
    own = {"s1": 0.0, "s3": 0.0}
    assert worst.height > 0
    for stage, target in worst.select("stage_id", "nps_target").iter_rows():
        assert target == own.get(stage, 20.0)


def test_one_test_is_not_written_as_tests():
    """ "after testing all 1 comparisons together", "(1 comparisons tested)", "1 tests of":
    one test reads as one."""

    assert text.tested_together(1, "comparison", "in view") == "the 1 comparison in view"
    assert text.tested_together(5, "change", "on the chart") == (
        "all 5 changes on the chart together"
    )
    assert "testing the 1 comparison in view (" in overview.changes_note("May", 1)
    # none tested: said, in the briefing as on the page, not "after testing all 0"
    assert overview.changes_note("May", 0).endswith(
        "No change could be tested: each needs enough answers in both periods."
    )
    assert findings.caption(1, "x").startswith("1 test of x;")
    assert findings.caption(2, "x").startswith("2 tests of x;")
    prev = Filters(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    assert overview.change_sentences([], prev, 1) == [
        "No score moved significantly against 1 Jun 2026 – 30 Jun 2026 (1 comparison tested)."
    ]


def test_a_stage_name_takes_a_or_an():
    assert text.with_article("Airport & departure") == "an Airport & departure"
    assert text.with_article("Claims") == "a Claims"
    assert text.with_article("über") == "a über"  # by letter only; no crash on umlauts
    assert text.with_article("") == "a "


def test_cases_count_as_complaints_and_missing_sources_are_left_out():
    t, ds = build(BASE)
    cases = t["cases"]
    assert cases.height > 0 and "complaint" not in set(t["responses"]["source"])
    start, end = ds.first_day, ds.last_day
    f = Filters(start, end)
    no_contacts = dataset.compact_contacts(t["contacts"], ds.journey, ds.customers)
    groups = behaviour.groups(ds, no_contacts, f, 30, cases)
    by_name = {g.moment: g.customers for g in groups}
    answered = set(t["responses"]["customer_id"])
    opened = set(cases.filter(pl.col("opened_on").is_between(start, end))["customer_id"])
    assert by_name["Made a complaint"] == len(answered & opened) > 0
    assert not any(name.startswith("Contacted us") for name in by_name)  # no contacts
    without = behaviour.groups(ds, no_contacts, f, 30, None)
    assert "Made a complaint" not in {g.moment for g in without}  # nothing to count from
    # without contacts a stage's "moment" would be who answered there: none is made
    assert not any(name.startswith("Had ") for name in by_name)
    assert without == []


def test_a_stage_s_moment_is_a_contact_there_or_an_answer_there():
    """With contacts imported, each stage has its moment: its customers are those who
    contacted us about the stage or answered there in the period (counted by hand)."""
    t, ds = build(dataclasses.replace(BASE, contacts=True))
    f = Filters(ds.first_day, ds.last_day)
    contacts = dataset.compact_contacts(t["contacts"], ds.journey, ds.customers)
    assert contacts.height > 0
    groups = {g.moment: g.customers for g in behaviour.groups(ds, contacts, f, 30, None)}
    r = t["responses"].join(
        t["touchpoints"].select("touchpoint_id", "stage_id"), on="touchpoint_id"
    )
    c = t["contacts"].join(t["touchpoints"].select("touchpoint_id", "stage_id"), on="touchpoint_id")
    answered = set(r["customer_id"])
    in_period = pl.col("contacted_on").is_between(ds.first_day, ds.last_day)
    for sid in ds.journey.stage_order:
        who = set(r.filter(pl.col("stage_id") == sid)["customer_id"]) | set(
            c.filter((pl.col("stage_id") == sid) & in_period)["customer_id"]
        )
        name = f"Had {text.with_article(ds.journey.stage_name(sid))} moment"
        assert groups[name] == len(who & answered), name
    # contacts about one stage only: the other stages' "moments" would be survey answers
    first = ds.journey.stage_order[0]
    one_stage = contacts.filter(pl.col("stage_id") == first)
    names = {g.moment for g in behaviour.groups(ds, one_stage, f, 30, None)}
    stage_moments = {n for n in names if n.startswith("Had ")}
    assert stage_moments == {f"Had {text.with_article(ds.journey.stage_name(first))} moment"}


def test_a_behaviours_churn_is_unknown_where_no_churn_is_recorded():
    """With churn dates imported, a moment's churn is a share of its customers; without
    any, it is no value and no test: never 0%."""
    t, ds = build(BASE)
    f = Filters(ds.first_day, ds.last_day)
    no_contacts = dataset.compact_contacts(t["contacts"], ds.journey, ds.customers)
    known = behaviour.groups(ds, no_contacts, f, 30, t["cases"])
    assert ds.facts.churn and any(g.churn.value is not None for g in known)
    arrays = m.CustomerArrays.from_frame(ds.customers, churn_recorded=False)  # the setting
    unknown_ds = dataclasses.replace(ds, customer_arrays=arrays)
    assert not unknown_ds.facts.churn
    groups = behaviour.groups(unknown_ds, no_contacts, f, 30, t["cases"])
    assert [g.customers for g in groups] == [g.customers for g in known]
    assert all(g.churn.value is None and g.others_churn.value is None for g in groups)
    assert all(g.churn_change is None for g in groups)
    table = behaviour.table(groups, 30)
    assert table.select("churn", "others_churn", "churn_difference").null_count().row(0) == (
        (table.height,) * 3
    )
    assert not any("left in the period" in f.sentence for f in behaviour.findings_of(groups))


def test_satisfied_customers_at_risk_count_nobody_as_gone_where_churn_is_not_recorded():
    """With churn dates imported but the settings saying churn is not recorded, the
    at-risk share counted the customers who left while its sentence said who left is not
    recorded: they are not counted, as nothing else counts them."""
    from cxmetrics.views import loyalty

    _t, ds = build(BASE)
    f = Filters(ds.first_day, ds.last_day)
    known = loyalty.customers_in_view(ds, f)
    assert ds.facts.churn and known["left"].sum() > 0
    arrays = m.CustomerArrays.from_frame(ds.customers, churn_recorded=False)  # the setting
    unknown_ds = dataclasses.replace(ds, customer_arrays=arrays)
    unknown = loyalty.customers_in_view(unknown_ds, f)
    assert unknown["left"].sum() == 0
    satisfied = known.filter(pl.col("csat") >= 4)
    by_nps = int(((satisfied["nps"] <= 8).fill_null(False)).sum())  # at risk by NPS alone
    risk = loyalty.satisfied_at_risk(unknown, churn_known=False)
    assert (risk["satisfied"], risk["at_risk"], risk["left"]) == (satisfied.height, by_nps, 0)
    # the findings' tests count the same customers: each segment's share by NPS alone
    counts = {
        r["segment"]: (r["at_risk"], r["satisfied"])
        for r in satisfied.group_by(pl.col("segment").cast(pl.String))
        .agg(
            pl.len().alias("satisfied"),
            (pl.col("nps") <= 8).fill_null(False).sum().alias("at_risk"),
        )
        .iter_rows(named=True)
    }
    found = loyalty.candidates(unknown_ds, f, min_n=1)
    assert len(found) == len(counts) > 1
    for c in found:
        hits, n = counts[c.family]
        rest = sum(h for s, (h, _) in counts.items() if s != c.family)
        rest_n = sum(k for s, (_, k) in counts.items() if s != c.family)
        assert c.effect == pytest.approx(100 * hits / n - 100 * rest / rest_n)


def test_a_score_never_imported_draws_no_empty_heat_map():
    from cxmetrics.charts import journey_charts
    from cxmetrics.findings import channels

    _t, ds = build(dataclasses.replace(BASE, scores=("nps", "csat")))
    cells = m.sums(
        ds.slice_stats(Filters(ds.first_day, ds.last_day)), ["stage_id", "touchpoint_id", "channel"]
    )
    matrix = channels.matrix(cells, ds.journey, "ces", 30)
    assert matrix.height > 0 and matrix["n"].sum() == 0  # touchpoints and channels, no CES
    fig = journey_charts.fig_channel_heatmap(matrix, "CES (1-7)")
    assert [t.type for t in fig.data] == []
    assert [a.text for a in fig.layout.annotations] == ["No CES answers in this view"]
    _t, with_ces = build(BASE)
    cells = m.sums(
        with_ces.slice_stats(Filters(with_ces.first_day, with_ces.last_day)),
        ["stage_id", "touchpoint_id", "channel"],
    )
    drawn = journey_charts.fig_channel_heatmap(
        channels.matrix(cells, with_ces.journey, "ces", 30), "CES (1-7)"
    )
    assert [t.type for t in drawn.data] == ["heatmap"]


def clustered_counts(group_customers: int, answers_each: int, others: int):
    """Group customers answer 10, 10, 10, 0, … (NPS +50); everyone else answers once,
    0, 0, 0, 10, … (NPS -50)."""
    size = group_customers + others
    codes = np.concatenate(
        [np.repeat(np.arange(group_customers), answers_each), np.arange(group_customers, size)]
    )
    group = np.resize([10, 10, 10, 0], group_customers * answers_each)
    rest = np.resize([0, 0, 0, 10], others)
    members = np.zeros(size, dtype=bool)
    members[:group_customers] = True
    seen = np.ones(size, dtype=bool)
    counts = behaviour.AnswerCounts.of(codes, np.concatenate([group, rest]), size)
    return members, counts, seen, np.zeros(size, dtype=bool)


def test_a_difference_needs_enough_customers_on_both_sides():
    # 3 customers giving 60 answers: enough answers, too few people to compare
    members, counts, seen, left = clustered_counts(3, 20, 200)
    few = behaviour.compare_groups(["few"], members[None, :], counts, seen, left, 30)[0]
    assert few.nps.n == 60 and few.customers == 3 and few.nps.value == 50.0
    assert few.change is None
    # answers from 40 customers: a real, significant difference (+50 against -50)
    members, counts, seen, left = clustered_counts(40, 4, 200)
    many = behaviour.judged(
        [behaviour.compare_groups(["many"], members[None, :], counts, seen, left, 30)[0]]
    )[0]
    assert many.change is not None and many.change.significant and many.change.delta == 100
    # and the other side counts too: everyone else is 12 customers
    members, counts, seen, left = clustered_counts(40, 4, 12)
    assert (
        behaviour.compare_groups(["x"], members[None, :], counts, seen, left, 30)[0].change is None
    )


def test_no_kpis_and_no_incentives_judge_nobody(loaded):
    empty_kpis = pl.DataFrame(
        schema={"department_id": pl.String, "kpi": pl.String, "week": pl.Date,
                "value": pl.Float64, "target": pl.Float64, "higher_is_better": pl.Boolean}
    )  # fmt: skip
    f = Filters(loaded.first_day, loaded.last_day)
    av = accountability.compute(loaded, empty_kpis, f)
    assert av.unjudged_reason == accountability.NO_KPIS
    assert not any(v.false_positive for v in av.verdicts)
    no_pay = dataclasses.replace(loaded.journey, incentives=loaded.journey.incentives.clear())
    with_pay = accountability.incentive_callouts(av.verdicts, loaded.journey)
    assert with_pay  # the sample has departments leading red stages without CX pay
    assert accountability.incentive_callouts(av.verdicts, no_pay) == []


def test_the_closed_loop_headline_survives_cases_never_closed(loaded, sample_url):
    engine = store.make_engine(sample_url)
    try:
        cases = store.load_cases(engine).with_columns(
            pl.lit(None, pl.Date).alias("closed_on"),
            pl.lit(None, pl.Boolean).alias("customer_confirmed"),
        )
        contacts = dataset.load_contacts(engine, loaded)
    finally:
        engine.dispose()
    prepared = closed_loop.prepare_for(loaded, cases, contacts)
    per = closed_loop.by_department(prepared, loaded.journey)
    assert per["opened"].max() >= 30 and per["closed"].sum() == 0
    found = findings.decide(closed_loop.candidates(loaded, Filters(), prepared))
    assert closed_loop.headline(found) is None


def test_a_short_bar_s_value_stands_level_beyond_its_margin_and_its_target():
    """Labels never turn on their side nor sit under the margin's line: "−8" was drawn
    turned inside its bar with the margin's line through it, and read as "8"."""
    frame = pl.DataFrame(
        {
            "touchpoint": ["long", "struck", "short"],
            "stage": ["S"] * 3,
            "nps": [-42.0, -19.0, 8.0],
            "nps_moe": [9.0, 13.0, 5.0],
            "n_nps": [500, 600, 900],
            "nps_target": [30.0, 30.0, 15.0],
        }
    ).with_columns((pl.col("nps") - pl.col("nps_target")).alias("gap"))
    fig = overview_charts.fig_worst_moments(frame)
    bars = next(t for t in fig.data if t.type == "bar")
    span = fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0]
    # the axis: every bar with its margin, every target and 0, and 12 points beyond
    assert tuple(fig.layout.xaxis.range) == (-42 - 9 - 12, 30 + 12)
    assert bars.textangle == 0
    # drawn bottom-up: short, struck, long. Inside only where 42 - 9 >= 12% of 96 points
    assert list(bars.text) == ["", "", "-42"]
    (labels,) = [t for t in fig.data if t.type == "scatter" and t.mode == "text"]
    got = dict(zip(labels.text, zip(labels.x, labels.textposition, strict=True), strict=True))
    pad = 0.01 * span
    # -19: its margin reaches -6, past the middle of the bar: beyond its far end, -32
    assert got["-19"] == (pytest.approx(-19 - 13 - pad), "middle left")
    # +8: beyond the margin at 13 the text would cover the target tick at 15: past it
    assert got["+8"] == (pytest.approx(15 + pad), "middle right")
    low, high = fig.layout.xaxis.range
    assert all(low + 0.09 * span <= x <= high - 0.09 * span for x in labels.x)  # room to write


def test_a_single_week_s_trend_reads_as_a_date_not_a_time_of_day():
    week = dt.date(2026, 1, 5)
    trend = pl.DataFrame(
        {
            "period": [week],
            "group": ["All"],
            "nps": [12.0],
            "moe": [20.0],
            "n_nps": [40],
            "significant": [False],
            "change": [None],
            "detractors_pct": [30.0],
            "passives_pct": [28.0],
            "promoters_pct": [42.0],
        },
        schema_overrides={"change": pl.Float64},
    )
    for fig in (
        loyalty_charts.fig_nps_trend(trend, "week"),
        loyalty_charts.fig_nps_mix(trend, "week"),
    ):
        assert fig.layout.xaxis.tickformat == "%-d %b %Y"  # "5 Jan 2026", not "00:00:00"
        assert list(fig.layout.xaxis.tickvals) == [week]
    months = loyalty_charts.fig_nps_mix(trend, "month")
    assert months.layout.xaxis.tickformat == "%b %Y"


def test_an_nps_band_or_error_bar_stops_at_the_scale_s_ends():
    """-100 ± 3.4 (every answer a detractor, the Wilson floor) is drawn down to -100, not
    below: NPS has no value there."""
    from cxmetrics.views.overview import StageRow

    weeks = [dt.date(2026, 1, 5), dt.date(2026, 1, 12), dt.date(2026, 1, 19)]
    trend = pl.DataFrame(
        {
            "period": weeks,
            "group": ["All"] * 3,
            "nps": [-100.0, 98.0, 10.0],
            "moe": [3.4, 5.0, 20.0],
            "n_nps": [173, 120, 40],
            "significant": [False] * 3,
        }
    )
    band = loyalty_charts.fig_nps_trend(trend, "week").data[0]
    assert list(band.y) == [-96.6, 100.0, 30.0, -10.0, 93.0, -100.0]  # upper, then lower back
    score = m.Score("nps", -100.0, 173, 3.4 / m.Z95)
    row = StageRow("claim", "Claims", 1, {"nps": score}, {"nps": None}, {"nps": m.STATUS_NONE}, [])
    fig = overview_charts.fig_stage_nps([row], 30)
    bars = fig.data[0]
    assert bars.error_x.arrayminus == (0.0,) and bars.error_x.array[0] == pytest.approx(3.4)
    # the axis and the value's label stop at the drawn margin too: -100 - 12, not -115.4
    assert fig.layout.xaxis.range[0] == pytest.approx(-112.0)


def test_the_nps_mix_leaves_out_periods_with_too_few_answers():
    weeks = [dt.date(2026, 1, 5), dt.date(2026, 1, 12)]
    trend = pl.DataFrame(
        {
            "period": weeks,
            "group": ["All"] * 2,
            "nps": [None, 10.0],  # one answer in the first week: too few, no NPS
            "n_nps": [1, 40],
            "detractors_pct": [100.0, 30.0],
            "passives_pct": [0.0, 30.0],
            "promoters_pct": [0.0, 40.0],
        },
        schema_overrides={"nps": pl.Float64},
    )
    fig = loyalty_charts.fig_nps_mix(trend, "week")
    assert [list(bar.x) for bar in fig.data] == [[weeks[1]]] * 3
    few = loyalty_charts.fig_nps_mix(trend.head(1), "week")
    assert [a.text for a in few.layout.annotations] == ["Too few answers per period"]


def test_a_quadrant_that_loses_money_says_loss():
    grid = pl.DataFrame(
        {
            "value": ["Unprofitable", "Profitable"],
            "group": ["Detractors", "Promoters"],
            "customers": [40, 60],
            "profit": [-186_000.0, 52_000.0],
        }
    )
    fig = loyalty_charts.fig_value_quadrant(grid, "£")
    cells = [t for row in fig.data[0].text for t in row if t]
    assert cells == ["40 customers<br>£186k loss", "60 customers<br>£52k profit"]


def test_a_tile_s_range_of_revenue_at_risk_is_short_and_whole():
    """ "£6,243 – £30k" was cut to "£6,243 -" on a tile and read as a point: the tile writes
    both ends short (the briefing keeps them whole)."""
    from cxmetrics.contract.registry import short_money

    cases = [
        (0, "£0"), (950, "£950"), (6_243, "£6.2k"), (30_000, "£30k"), (123_456, "£123k"),
        (1_234_567, "£1.2m"), (15e6, "£15m"), (2.5e9, "£2.5bn"), (-6_243, "−£6.2k"),
        (9_960, "£10k"), (999_600, "£1.0m"),  # rounded before the unit is chosen
    ]  # fmt: skip
    assert [short_money(v, "£") for v, _ in cases] == [text for _, text in cases]
    # value 18,000 with a standard error making the 95% half-width 12,000: a range (> 25%)
    se = 12_000 / m.Z95
    tile = overview.Tile("revenue_at_risk", m.Score("revenue_at_risk", 18_000.0, 1_282, se))
    assert wording.tile_figure(tile, 30, "£") == "£6.0k – £30k"
    assert wording.tile_value(tile, 30, "£") == "£6,000 – £30k"
    point = dataclasses.replace(tile, score=m.Score("revenue_at_risk", 18_000.0, 1_282, 1.0))
    assert wording.tile_figure(point, 30, "£") == "£18k"
    few = overview.Tile("nps", m.Score("nps", 12.0, 5, 3.0))
    assert wording.tile_figure(few, 30, "£") == wording.NO_FIGURE


def test_the_theme_trend_writes_its_periods_level_on_one_line():
    """Its weeks read "Jul 12" over "2026" on a second line, which ran under the legend."""
    from cxmetrics.charts import voc_charts

    weeks = [dt.date(2026, 7, 6) + dt.timedelta(weeks=i) for i in range(12)]
    trend = pl.DataFrame({"period": weeks, "theme": ["a"] * 12, "comments": list(range(12))})
    fig = voc_charts.fig_theme_trend(trend, ["a"], "week")
    assert fig.layout.xaxis.tickformat == "%-d %b %Y" and fig.layout.xaxis.tickangle == 0


def test_a_trend_s_bucket_is_named_as_a_reader_names_it():
    """ "NPS rose 82 points in the month of 1 Jun 2015": the month is June 2015."""
    from cxmetrics.contract.text import bucket_text

    assert bucket_text(dt.date(2015, 6, 1), "month") == "June 2015"
    assert bucket_text(dt.date(2015, 4, 1), "quarter") == "Q2 2015"
    assert bucket_text(dt.date(2015, 10, 1), "quarter") == "Q4 2015"
    assert bucket_text(dt.date(2015, 6, 8), "week") == "the week of 8 Jun 2015"


def test_a_gap_is_written_as_the_charts_write_it_and_never_as_zero():
    assert text.gap_text(72.46, 56.24, 1) == "16.2"  # as the tile and the charts write it
    assert text.gap_text(56.24, 72.46, 1) == "16.2"
    assert text.gap_text(94.4, 53.6, 0) == "41"  # the closed-loop chart's "gap 41 pts"
    assert text.gap_text(30.2, 29.9, 0) == "0.3"  # rounds to nothing: a decimal more
    assert text.gap_text(30.0, 30.0, 0) == "0"


def test_the_parts_beside_a_gap_subtract_to_it_as_written():
    """ "closed 94% … confirmed only 54% resolved: a gap of 41 points" read as an error."""
    assert text.part_decimals(94.4, 53.6, 0) == 1  # 94 - 54 = 40, not 41: 94.4 - 53.6
    assert text.part_decimals(94.6, 53.8, 0) == 0  # 95 - 54 = 41, as 40.8 rounds: as written
    assert text.part_decimals(72.46, 56.24, 1) == 2  # 72.5 - 56.2 = 16.3, not 16.2
    assert text.part_decimals(19.2, 15.1, 0) == 0
    for a, b, d in [(94.4, 53.6, 0), (72.46, 56.24, 1), (87.3, 40.4, 0), (-3.46, 8.51, 0)]:
        k = text.part_decimals(a, b, d)
        shown = abs(float(f"{a:.{k}f}") - float(f"{b:.{k}f}"))
        assert f"{shown:.{d}f}" == text.gap_text(a, b, d), (a, b, d)


def test_a_journey_without_nps_targets_is_drawn_without_target_ticks_nor_words():
    """Targets the company never set are neither drawn (a "Target" legend above no tick)
    nor named in titles, hovers and captions; one target set brings them all back."""
    from cxmetrics.views.overview import StageRow, ticks_note

    def row(sid: str, target: float | None) -> StageRow:
        score = m.Score("nps", -10.0, 200, 3.0)
        status = m.status(score, target)
        return StageRow(sid, sid.upper(), 1, {"nps": score}, {"nps": target}, {"nps": status}, [])

    bare = overview_charts.fig_stage_nps([row("a", None), row("b", None)], 30)
    assert bare.layout.title.text == "NPS by journey stage"
    assert [t.name for t in bare.data if t.type == "scatter" and t.mode == "markers"] == []
    assert all("no target set" in h and "target -" not in h for h in bare.data[0].hovertext)
    assert ticks_note([row("a", None)]).startswith("No NPS target is set for these stages")
    one = overview_charts.fig_stage_nps([row("a", None), row("b", 20.0)], 30)
    assert one.layout.title.text == "NPS by journey stage against target"
    [ticks] = [t for t in one.data if t.type == "scatter" and t.mode == "markers"]
    assert ticks.name == "Target" and list(ticks.x) == [20.0, None]  # drawn bottom-up
    assert ticks_note([row("a", None), row("b", 20.0)]) == "Black ticks: each stage's NPS target."
    frame = pl.DataFrame(
        {
            "touchpoint": ["t0", "t1"],
            "stage": ["S", "S"],
            "nps": [-10.0, 5.0],
            "nps_moe": [5.0, 5.0],
            "n_nps": [100, 100],
            "nps_target": [None, None],
        },
        schema_overrides={"nps_target": pl.Float64},
    ).with_columns((pl.col("nps") - pl.col("nps_target")).alias("gap"))
    worst = overview_charts.fig_worst_moments(frame)
    assert [t for t in worst.data if t.type == "scatter" and t.mode == "markers"] == []
    assert all(h.endswith("stage no target set") for h in worst.data[0].hovertext)


def test_the_ownership_map_without_targets_shows_who_affects_each_stage_uncoloured():
    """No NPS target set: the map still says who affects each stage, with each stage's NPS,
    in one neutral colour (nothing to be good or bad against); with a target but too few
    answers, it says so."""
    from test_accountability import journey_of, stage

    from cxmetrics.charts import accountability_charts
    from cxmetrics.views import accountability as acc

    journey = journey_of([("a", "x", "lead"), ("b", "x", "lead")], {"x": 0.5})

    def figure(*stages):
        return accountability_charts.fig_ownership(acc.matrix(journey, list(stages)))

    bare = figure(stage("a", -30, None, n=600), stage("b", 10, None, n=600))
    (heat,) = [t for t in bare.data if t.type == "heatmap"]
    assert bare.layout.title.text == "Who affects each stage (no NPS target set: not coloured)"
    assert heat.showscale is False and {c for _, c in heat.colorscale} == {"#E4E7EB"}
    row = list(heat.y).index("X")
    assert [heat.text[row][list(heat.x).index(s)] for s in ("A", "B")] == [
        "Lead<br>NPS -30",
        "Lead<br>NPS +10",
    ]
    assert "no target set" in heat.hovertext[row][0] and "vs target" not in heat.hovertext[row][0]
    cells = acc.matrix(journey, [stage("a", -30, None, n=600), stage("b", 10, None, n=600)])
    assert acc.matrix_colour_note(cells).startswith("No NPS target is set for these stages")
    targeted = acc.matrix(journey, [stage("a", -30, 30, n=600), stage("b", 10, None, n=600)])
    assert acc.matrix_colour_note(targeted) == "Colour: the stage's NPS minus its target."
    too_few = figure(stage("a", -30, 30, n=29), stage("b", 10, None, n=600))
    assert too_few.layout.annotations[0].text == (
        "No stage in view with an NPS target has enough NPS answers"
    )


def test_what_changed_claims_no_stillness_where_nothing_was_compared():
    from cxmetrics.stats.filters import Filters
    from cxmetrics.views.overview import change_sentences

    before = Filters(start=dt.date(2012, 5, 2), end=dt.date(2012, 8, 31))
    [none] = change_sentences([], before, 0)
    assert none.startswith("No score could be compared with 2 May 2012 – 31 Aug 2012")
    assert "moved" not in none
    [still] = change_sentences([], before, 3)
    assert still == (
        "No score moved significantly against 2 May 2012 – 31 Aug 2012 (3 comparisons tested)."
    )


def test_the_nps_trend_breaks_where_a_period_has_no_score_and_says_what_it_left_out():
    """Real review data has years without reviews and months below the minimum n: the line
    stopped nowhere and ran straight across them, and the caption never said that 42% of
    the answers were not drawn."""
    from cxmetrics.views import loyalty

    months = [dt.date(2011, 10, 1), dt.date(2011, 11, 1), dt.date(2011, 12, 1)]
    months += [dt.date(2013, 1, 1), dt.date(2013, 2, 1)]
    trend = pl.DataFrame(
        {
            "period": months,
            "group": ["All"] * 5,
            "nps": [-20.0, -25.0, None, 10.0, 12.0],  # December: 12 answers, too few
            "moe": [9.0, 9.0, None, 9.0, 9.0],
            "n_nps": [40, 45, 12, 50, 53],
            "significant": [False] * 5,
        },
        schema_overrides={"nps": pl.Float64, "moe": pl.Float64},
    )
    fig = loyalty_charts.fig_nps_trend(trend, "month")
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [list(t.x) for t in lines] == [months[:2], months[3:]]
    assert [t.showlegend for t in lines] == [True, False]
    alone = loyalty_charts.fig_nps_trend(trend.filter(pl.col("period") != months[1]), "month")
    first = next(t for t in alone.data if t.mode == "lines+markers")
    assert list(first.x) == months[:1]  # a month alone: its margin as an error bar
    assert (first.error_y.array, first.error_y.arrayminus) == ((9.0,), (9.0,))
    assert all(t.error_y.array is None for t in lines)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [list(t.x) for t in bands] == [months[:2] + months[1::-1], months[3:] + months[:2:-1]]
    assert loyalty.undrawn_note(trend, "month", 30) == (
        " 12 answers (6%) fall in months with fewer than 30 and are not drawn; the line "
        "breaks at a month without a score."
    )
    assert loyalty.undrawn_note(trend.filter(pl.col("nps").is_not_null()), "month", 30) == ""
    assert loyalty_charts.runs([dt.date(2026, 1, 5), dt.date(2026, 1, 12)], "week") == [[0, 1]]
    quarters = [dt.date(2025, 10, 1), dt.date(2026, 1, 1), dt.date(2026, 7, 1)]
    assert loyalty_charts.runs(quarters, "quarter") == [[0, 1], [2]]
