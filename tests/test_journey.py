"""The journey page's metrics: impact ranking, channel consistency, behavioural moments,
masking — on tiny hand-made data, then on the sample company."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy as np
import polars as pl
import pytest
from test_overview import tiny_journey

from cxmetrics.contract.text import mask_pii
from cxmetrics.findings import behaviour, channels, findings, impact
from cxmetrics.stats import contacts as contacts_module
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import journey_view
from cxmetrics.views.overview import StageRow

D = dt.date


def answers(touchpoint: str, pairs: list[tuple[int, int]], channel: str = "web"):
    """Responses at a touchpoint: (nps, csat) pairs."""
    return [
        {"touchpoint_id": touchpoint, "channel": channel, "nps": n, "csat": c, "ces": None}
        for n, c in pairs
    ]


def stats_of(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={
            "touchpoint_id": pl.String,
            "channel": pl.String,
            "nps": pl.Int8,
            "csat": pl.Int8,
            "ces": pl.Int8,
        },
    )
    return m.response_stats(frame, ["touchpoint_id", "channel"])


def nps_answers(touchpoint: str, promoters: int, passives: int, detractors: int):
    return answers(
        touchpoint, [(10, None)] * promoters + [(7, None)] * passives + [(0, None)] * detractors
    )


def nps_se(p: float, d: float, n: int) -> float:
    """Standard error of an NPS in points, by the textbook formula."""
    return 100 * math.sqrt((p + d - (p - d) ** 2) / n)


def test_moments_compare_a_touchpoint_with_the_rest_of_its_stage_by_hand():
    rows = (
        nps_answers("claim_call", 10, 10, 20)  # NPS (10 - 20) / 40 = -25
        + nps_answers("claim_pay", 36, 12, 12)  # NPS (36 - 12) / 60 = +40
        + nps_answers("buy_web", 30, 10, 10)  # alone in its stage: nothing to compare with
    )
    ranked = impact.ranking(stats_of(rows), tiny_journey(), min_n=30)
    by_tp = {r["touchpoint_id"]: r for r in ranked.iter_rows(named=True)}
    call, pay = by_tp["claim_call"], by_tp["claim_pay"]
    assert call["nps"] == pytest.approx(-25.0) and call["nps_rest"] == pytest.approx(40.0)
    assert call["n_rest"] == 60 and pay["n_rest"] == 40
    se = math.hypot(nps_se(0.25, 0.5, 40), nps_se(0.6, 0.2, 60))
    assert call["difference"] == pytest.approx(-65.0)
    assert call["ci_low"] == pytest.approx(-65.0 - 1.96 * se)
    p = math.erfc(65.0 / se / math.sqrt(2))
    assert call["p"] == pytest.approx(p) and pay["p"] == pytest.approx(p)
    assert call["q"] == pytest.approx(p)  # two equal p-values: BH leaves them as they are
    total = 150  # NPS answers in view
    assert call["points"] == pytest.approx(65.0 * 40 / total)
    assert pay["points"] == pytest.approx(-65.0 * 60 / total)
    assert ranked["touchpoint_id"].to_list()[:2] == ["claim_call", "claim_pay"]
    assert call["verdict"] == impact.VERDICT_CONFIRMED  # declared, kept
    assert pay["verdict"] == impact.VERDICT_UNDECLARED  # not declared, kept
    assert by_tp["buy_web"]["verdict"] == impact.VERDICT_TOO_FEW
    assert by_tp["buy_web"]["rank"] is None and by_tp["buy_web"]["points"] is None
    kept = findings.decide(impact.moments(stats_of(rows), tiny_journey(), min_n=30))
    assert sorted(c.touchpoints[0] for c in kept) == ["claim_call", "claim_pay"]
    assert all(c.kind == "moment" for c in kept)


def test_no_difference_means_no_strong_moment():
    rows = nps_answers("claim_call", 20, 10, 10) + nps_answers("claim_pay", 40, 20, 20)
    ranked = {
        r["touchpoint_id"]: r["verdict"]
        for r in impact.ranking(stats_of(rows), tiny_journey(), min_n=30).iter_rows(named=True)
    }
    assert ranked == {
        "claim_call": impact.VERDICT_WEAK,  # declared, no difference found
        "claim_pay": impact.VERDICT_NONE,
        "buy_web": impact.VERDICT_TOO_FEW,
    }


def test_too_few_answers_leave_a_touchpoint_untested():
    rows = nps_answers("claim_call", 10, 5, 5) + nps_answers("claim_pay", 1, 0, 1)
    ranked = impact.ranking(stats_of(rows), tiny_journey(), min_n=30)
    assert ranked["rank"].null_count() == ranked.height
    assert impact.moments(stats_of(rows), tiny_journey(), min_n=30) == []


def ces_answers(touchpoint: str, channel: str, values: list[int]) -> list[dict]:
    return [
        {"touchpoint_id": touchpoint, "channel": channel, "nps": None, "csat": None, "ces": c}
        for c in values
    ]


def test_channel_gap_is_compared_within_touchpoints_by_hand():
    cells = {
        ("buy_web", "web"): [7, 6],
        ("buy_web", "mobile"): [3, 4, 2],
        ("claim_pay", "web"): [5, 5, 6, 6],
        ("claim_pay", "mobile"): [5, 6],
        ("claim_call", "web"): [1],  # web only: left out of the comparison
    }
    rows = [r for (tp, ch), values in cells.items() for r in ces_answers(tp, ch, values)]
    g = channels.gap(stats_of(rows), "web", "mobile", "ces", min_n=2)
    weights, diffs = [], []
    for tp in ("buy_web", "claim_pay"):
        web, mobile = cells[(tp, "web")], cells[(tp, "mobile")]
        var = statistics.variance(web) / len(web) + statistics.variance(mobile) / len(mobile)
        weights.append(1 / var)
        diffs.append(statistics.mean(web) - statistics.mean(mobile))
    want = sum(w * d for w, d in zip(weights, diffs, strict=True)) / sum(weights)
    se = 1 / math.sqrt(sum(weights))
    assert g["touchpoints"] == 2
    assert g["difference"] == pytest.approx(want)
    assert g["ci"] == pytest.approx((want - 1.96 * se, want + 1.96 * se))
    assert g["p"] == pytest.approx(math.erfc(want / se / math.sqrt(2)))
    assert g["value_better"] == pytest.approx(35 / 6) and g["n_better"] == 6
    assert g["value_worse"] == pytest.approx(20 / 5) and g["n_worse"] == 5
    assert f"Mobile CES is {want:.2f} lower than web on the 2 touchpoints" in (
        channels.describe_gap(g)
    )
    assert channels.gap(stats_of(rows), "web", "mobile", "ces", min_n=5) is None
    # every pair is oriented with the easier channel first
    (pair,) = channels.pairs(stats_of(rows), "ces", min_n=2)
    assert (pair["better"], pair["worse"]) == ("web", "mobile")
    # the gap's stages are those of the touchpoints compared (claim_call, web only, is not):
    # a manager's first screen names their owners, not "every stage's team"
    staged = stats_of(rows).with_columns(
        pl.col("touchpoint_id").str.split("_").list.first().alias("stage_id")
    )
    (pair,) = channels.pairs(staged, "ces", min_n=2)
    assert pair["touchpoint_ids"] == ("buy_web", "claim_pay")
    assert pair["stages"] == ("buy", "claim")
    assert channels.findings_of([pair])[0].stages == ("buy", "claim")


def test_a_worse_phone_channel_is_found():
    rows = (
        ces_answers("buy_web", "web", [6, 7] * 20)
        + ces_answers("buy_web", "mobile", [7, 6] * 20)
        + ces_answers("buy_web", "phone", [3, 4] * 20)
    )
    head = channels.headline(stats_of(rows), "ces", min_n=30)
    assert head["tested"] == 3  # mobile-phone, mobile-web, phone-web
    assert head["gap"]["worse"] == "phone"
    assert head["gap"]["difference"] == pytest.approx(3.0)
    kept = findings.decide(channels.findings_of(channels.pairs(stats_of(rows), "ces", 30)))
    assert len(kept) == 2 and all("Phone CES is 3.00 lower" in c.sentence for c in kept)
    # with the same effort everywhere nothing is kept and the sentence says what was tested
    same = ces_answers("buy_web", "web", [6, 7] * 20) + ces_answers("buy_web", "phone", [7, 6] * 20)
    head = channels.headline(stats_of(same), "ces", min_n=30)
    assert head["gap"] is None
    assert channels.describe_headline(head).startswith("No channel's CES differs clearly")


def test_presence_marks_customers_per_group():
    got = behaviour.presence(np.array([0, 2, 2, 1]), np.array([1, 1, 0, 1]), 2, 3)
    assert got.tolist() == [[False, False, True], [True, True, True]]


def test_repeat_contacts_are_the_third_within_30_days():
    contacts = pl.DataFrame(
        {
            "contact_id": [1, 2, 3, 4, 5, 6, 7],
            "cust": [0, 0, 0, 1, 1, 1, 0],
            "contacted_on": [
                D(2026, 1, 1),
                D(2026, 1, 10),
                D(2026, 1, 30),
                D(2026, 1, 1),
                D(2026, 1, 15),
                D(2026, 2, 1),
                D(2026, 2, 15),
            ],
        }
    )
    flagged = contacts_module.flag_repeat_contacts(contacts)
    got = dict(zip(flagged["contact_id"], flagged["repeat_contact"], strict=True))
    # customer 0: 1 Jan, 10 Jan, 30 Jan -> third inside 30 days (29 days apart);
    # 15 Feb: 10 Jan..15 Feb is 36 days -> not. Customer 1: 1 Jan .. 1 Feb is 31 days -> not.
    assert got == {1: False, 2: False, 3: True, 4: False, 5: False, 6: False, 7: False}
    assert flagged["contacted_on"].is_sorted()


def test_behavioural_group_against_everyone_else_by_hand():
    customers = m.CustomerArrays.from_frame(
        pl.DataFrame(
            {
                "churned_on": [D(2026, 1, 20), None, None, D(2026, 5, 1)],
                "annual_revenue": [1.0] * 4,
            },
            schema={"churned_on": pl.Date, "annual_revenue": pl.Float64},
        )
    )
    members = np.array([True, True, False, False])
    codes = np.array([0, 0, 1, 2, 3, 3])
    nps = np.array([10, 2, 0, 9, 9, -1], dtype=np.int8)
    counts = behaviour.AnswerCounts.of(codes, nps, 4)
    assert counts.answers.tolist() == [2, 1, 1, 1]
    seen = np.array([True, True, True, True])
    left = m.left_in_period(customers, D(2026, 1, 1), D(2026, 3, 31))
    assert left.tolist() == [True, False, False, False]
    result = behaviour.compare_groups(["x"], members[None, :], counts, seen, left, min_n=1)[0]
    assert result.customers == 2
    assert result.nps.value == pytest.approx(100 * (1 - 2) / 3)  # 10, 2, 0
    assert result.others_nps.value == pytest.approx(100.0)  # 9, 9
    assert result.churn.value == pytest.approx(50.0)  # customer 0 left on 20 Jan
    assert result.others_churn.value == pytest.approx(0.0)  # customer 3 leaves in May
    assert result.change.delta == pytest.approx(-100 / 3 - 100.0)
    # churn is described, not tested: a difference without a z
    assert result.churn_change.delta == pytest.approx(50.0) and result.churn_change.z is None
    # below the minimum n on either side there is no difference and no test
    small = behaviour.compare_groups(["x"], members[None, :], counts, seen, left, min_n=3)[0]
    assert small.change is None and small.churn_change is None  # 2 answers / customers
    assert behaviour.findings_of([small]) == []
    tests = behaviour.findings_of([result])
    assert [t.kind for t in tests] == ["behaviour"]  # NPS only
    assert [t.unit for t in tests] == ["points"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Email me at jo.bloggs@example.com today", "Email me at [email] today"),
        ("Call me on 07700 900123.", "Call me on [phone]."),
        ("Ring +44 (0)20 7946 0958 please", "Ring [phone] please"),
        ("Policy 12345 renewed in 2026", "Policy 12345 renewed in 2026"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        (None, None),
    ],
)
def test_personal_details_are_masked(text, expected):
    assert mask_pii(text) == expected


# --- on the sample company ---------------------------------------------------------------


@pytest.fixture(scope="module")
def story_ds(story_data):
    return dataset.build(story_data.journey, story_data.customers, story_data.responses)


@pytest.fixture(scope="module")
def story_contacts(story_data, story_ds):
    return dataset.compact_contacts(story_data.contacts, story_ds.journey, story_ds.customers)


def latest_quarter(ds) -> Filters:
    return Filters(start=D(2026, 7, 1), end=ds.last_day)


def test_the_worst_touchpoints_of_their_stage_are_strong_moments(story_ds):
    ranked = impact.ranking(
        story_ds.slice_stats(latest_quarter(story_ds)),
        story_ds.journey,
        deff=story_ds.design_effect,
    )
    by_tp = {r["touchpoint_id"]: r for r in ranked.iter_rows(named=True)}
    # the generator makes these two the worst of their stages
    for tp in ("help_complaint", "pay_billing_error"):
        assert by_tp[tp]["verdict"] == impact.VERDICT_CONFIRMED
        assert by_tp[tp]["ci_high"] < 0 and by_tp[tp]["q"] <= findings.FDR


def test_the_mobile_effort_gap_is_reported(story_ds, story_contacts):
    view = journey_view.compute(story_ds, story_contacts, latest_quarter(story_ds))
    gap = view.channel_gap["gap"]
    assert gap["worse"] == "mobile"
    assert gap["difference"] >= 0.5 and gap["ci"][0] > 0
    assert channels.describe_headline(view.channel_gap).startswith("Mobile CES is")


def test_a_stage_moment_compares_the_answers_at_the_other_stages(story_ds, story_contacts):
    """ "Had a File a claim moment: NPS 10 points lower" was the claim stage's own low NPS
    counted as its customers': a stage's moment now compares the answers at the other
    stages on both sides (computed here from the rows with plain Polars)."""
    f = latest_quarter(story_ds)
    view = journey_view.compute(story_ds, story_contacts, f)
    claim = next(g for g in view.behaviour if "File a claim" in g.moment)
    answers = story_ds.responses.filter(pl.col("responded_on").is_between(f.start, f.end))
    contacted = story_contacts.filter(
        pl.col("contacted_on").is_between(f.start, f.end)
        & (pl.col("stage_id").cast(pl.String) == "claim")
    )["cust"]
    # who answered anything at the claim stage, or contacted us about it, in the period
    members = set(answers.filter(pl.col("stage_id").cast(pl.String) == "claim")["cust"])
    members |= set(contacted)
    rows = answers.filter(pl.col("nps").is_not_null())
    elsewhere = rows.filter(pl.col("stage_id").cast(pl.String) != "claim")
    mine = elsewhere.filter(pl.col("cust").is_in(list(members)))
    rest = elsewhere.filter(~pl.col("cust").is_in(list(members)))

    def nps(frame: pl.DataFrame) -> float:
        return 100 * ((frame["nps"] >= 9).mean() - (frame["nps"] <= 6).mean())

    assert claim.nps.n == mine.height and claim.others_nps.n == rest.height
    assert claim.nps.value == pytest.approx(nps(mine))
    assert claim.others_nps.value == pytest.approx(nps(rest))
    # the table and chart say so beside the name: +22 there read as the stage's own NPS
    shown = behaviour.table(view.behaviour)
    assert f"{claim.moment} (NPS at the other stages)" in shown["moment"].to_list()
    assert "Made a complaint" in shown["moment"].to_list()  # not a stage's: as it is


def test_trends_cover_the_period_by_week(story_ds, story_contacts):
    view = journey_view.compute(story_ds, story_contacts, latest_quarter(story_ds))
    assert view.trend_unit == "week"
    claim = [v for v in view.trends["claim"] if v is not None]
    assert 12 <= len(view.trends["claim"]) <= 15
    assert np.mean(claim[-4:]) < np.mean(claim[:4])  # File a claim keeps falling


def _stage(stage_id: str, nps: float | None, n: int, target: float | None) -> StageRow:
    score = m.Score("nps", nps, n, 1.0)
    return StageRow(stage_id, stage_id, 1, {"nps": score}, {"nps": target}, {}, [])


def test_the_drill_down_opens_on_a_stage_with_enough_answers_furthest_below_target():
    """A stage with too few answers is never the worst, however high its target; among
    those shown, the gap to target decides; without targets, the lowest NPS; without any
    stage shown, the one with the most answers."""
    stages = [
        _stage("empty", None, 0, 80),  # no answers, the highest target
        _stage("few", -50, 29, 30),  # too few answers to show
        _stage("short", 10, 500, 30),  # 20 below target
        _stage("shorter", 40, 400, 65),  # 25 below target: the worst
        _stage("untargeted", -20, 300, None),
    ]
    assert journey_view.drill_stage(stages, 30) == "shorter"
    untargeted = [_stage("a", 15, 300, None), _stage("b", -5, 200, None), stages[1]]
    assert journey_view.drill_stage(untargeted, 30) == "b"
    sparse = [_stage("a", None, 0, 30), _stage("b", 100, 3, 30), _stage("c", 0, 2, 30)]
    assert journey_view.drill_stage(sparse, 30) == "b"
    assert journey_view.drill_stage([], 30) is None


def test_an_empty_touchpoint_ranking_says_why():
    """With every NPS answer at one touchpoint per stage (real review data) the chart said
    "Too few answers" beside n = 1,224: the reason is that nothing is left to compare with."""
    one_per_stage = pl.DataFrame({"n_nps": [1_224, 0, 0], "n_rest": [0, 1_224, 0]})
    short_rest = (
        "No touchpoint can be compared: where one has 30 NPS answers,<br>the rest of its "
        "stage has fewer than 30"
    )
    assert impact.unranked_reason(one_per_stage, 30) == short_rest
    # the rest of the stage spread thin over a second touchpoint: the same reason, true
    mixed = pl.DataFrame({"n_nps": [1_224, 10], "n_rest": [10, 1_224]})
    assert impact.unranked_reason(mixed, 30) == short_rest
    assert "where one has 50 NPS answers" in impact.unranked_reason(one_per_stage, 50)
    few = pl.DataFrame({"n_nps": [12, 9], "n_rest": [9, 12]})
    assert impact.unranked_reason(few, 30) == (
        "Too few NPS answers at the touchpoints<br>to compare them with their stage"
    )
