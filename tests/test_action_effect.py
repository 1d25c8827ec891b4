"""The measured effect of the sample's actions: the one that works is found with its sign,
the one with no effect is not called significant, the recent one is too early. Expected
values are computed here from the raw rows with NumPy (windows, means, variances and the
difference-in-differences), not taken from the module."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract import sample
from cxmetrics.findings import action_effect
from cxmetrics.findings.action_effect import IMPROVED, JUDGED, NO_EFFECT, TOO_EARLY
from cxmetrics.stats import dataset
from cxmetrics.stats.inference import FDR


@pytest.fixture(scope="module")
def story(story_data):
    ds = dataset.build(story_data.journey, story_data.customers, story_data.responses)
    effects = {e.action_id: e for e in action_effect.measure(ds, story_data.actions)}
    return story_data, ds, effects


def by_hand(data, ds, action_id):
    """Windows, the touched and comparison answers, the change and the DiD, with NumPy."""
    a = data.actions.filter(pl.col("action_id") == action_id).row(0, named=True)
    rows = data.responses.join(
        data.journey.touchpoints.select("touchpoint_id", "stage_id"), on="touchpoint_id"
    )
    first, last = rows["responded_on"].min(), rows["responded_on"].max()
    start = a["start_on"]
    w = min(120, (last - start).days + 1, (start - first).days)
    lo, hi = start - dt.timedelta(days=w), start + dt.timedelta(days=w - 1)
    same_stage = rows.filter(pl.col("stage_id") == a["stage_id"])
    day = same_stage["responded_on"].to_numpy()
    tp = same_stage["touchpoint_id"].to_numpy()
    raw = same_stage[a["metric"]].to_numpy().astype(float)  # nulls are NaN
    if a["metric"] == "nps":
        y = np.where(raw >= 9, 100.0, np.where(raw <= 6, -100.0, 0.0))
    elif a["metric"] == "csat":
        y = np.where(raw >= 4, 100.0, 0.0)
    else:
        y = raw
    answered = ~np.isnan(raw)
    inside = (day >= np.datetime64(lo)) & (day <= np.datetime64(hi)) & answered
    after = day >= np.datetime64(start)
    touched = tp == a["touchpoint_id"]
    groups = {
        ("t", 0): y[inside & touched & ~after],
        ("t", 1): y[inside & touched & after],
        ("c", 0): y[inside & ~touched & ~after],
        ("c", 1): y[inside & ~touched & after],
    }
    mean = {k: v.mean() for k, v in groups.items()}
    change = mean[("t", 1)] - mean[("t", 0)]
    did = change - (mean[("c", 1)] - mean[("c", 0)])
    deff = ds.design_effect[a["metric"]]
    se = math.sqrt(deff * sum(v.var(ddof=1) / v.size for v in groups.values()))
    t0, c0 = groups[("t", 0)], groups[("c", 0)]
    mde = action_effect.MIN_DETECTABLE[a["metric"]]
    needed = math.ceil(
        2
        * deff
        * (t0.var(ddof=1) + c0.var(ddof=1) * t0.size / c0.size)
        * (1.959964 + 0.841621) ** 2
        / mde**2
    )
    return {
        "w": w,
        "n_after": groups[("t", 1)].size,
        "n_before": t0.size,
        "change": change,
        "did": did,
        "se": se,
        "needed": needed,
    }


def test_the_action_that_works_is_found_with_its_sign(story):
    data, ds, effects = story
    e = effects["A-0001"]
    hand = by_hand(data, ds, "A-0001")
    assert e.status == JUDGED and e.verdict == IMPROVED and e.significant
    assert e.window_days == hand["w"] == 120
    assert (e.n_before, e.n_after) == (hand["n_before"], hand["n_after"])
    assert e.change == pytest.approx(hand["change"], abs=1e-9)
    assert e.did == pytest.approx(hand["did"], abs=1e-9)
    assert e.did_ci == pytest.approx(
        (hand["did"] - 1.96 * hand["se"], hand["did"] + 1.96 * hand["se"])
    )
    assert e.n_needed == pytest.approx(hand["needed"], abs=1)  # the quantiles' last digits
    assert hand["n_after"] >= hand["needed"]
    # the generator added 0.8 before rounding and clipping to 1-7: a clear rise in CES
    assert 0.4 < hand["did"] < 0.9 and e.did_ci[0] > 0
    assert "improved" in e.sentence and "CES at " in e.sentence


def test_the_action_with_no_effect_is_not_called_significant(story):
    data, ds, effects = story
    e = effects["A-0002"]
    hand = by_hand(data, ds, "A-0002")
    assert e.status == JUDGED  # judged: it had the answers it needed
    assert hand["n_after"] >= hand["needed"]
    assert e.did == pytest.approx(hand["did"], abs=1e-9)
    assert e.verdict == NO_EFFECT and not e.significant
    assert e.did_ci[0] < 0 < e.did_ci[1]


def test_the_recent_action_is_too_early_and_says_how_many_answers_it_needs(story):
    data, ds, effects = story
    e = effects["A-0003"]
    hand = by_hand(data, ds, "A-0003")
    assert e.status == e.verdict == TOO_EARLY and e.finding is None and e.did is None
    assert e.window_days == hand["w"] == 15  # the start day and the 14 after it
    assert e.n_after == hand["n_after"] < hand["needed"]
    assert e.sentence == (
        f"too early: n after = {e.n_after:,} of {e.n_needed:,} needed (to find 20 NPS points "
        "with 80% power)."
    )
    assert e.n_needed == pytest.approx(hand["needed"], abs=1)


def test_actions_judged_together_are_one_benjamini_hochberg_family(story):
    _, _, effects = story
    judged = [e for e in effects.values() if e.finding is not None]
    ps = sorted(e.finding.p for e in judged)
    m = len(ps)
    qs = [min(1.0, min(ps[j] * m / (j + 1) for j in range(i, m))) for i in range(m)]
    assert sorted(e.finding.q for e in judged) == pytest.approx(qs)


def test_an_action_not_started_by_the_end_of_the_data_is_not_measured(story):
    data, ds, _ = story
    later = data.actions.head(1).with_columns(
        pl.lit(ds.last_day + dt.timedelta(days=3)).alias("start_on"),
        pl.lit(ds.last_day + dt.timedelta(days=90)).alias("due_on"),
    )
    (e,) = action_effect.measure(ds, later)
    assert e.status == "not started" and e.finding is None


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_the_planted_effect_is_found_at_other_seeds(seed):
    data = sample.generate(seed=seed)
    ds = dataset.build(data.journey, data.customers, data.responses)
    effects = {e.action_id: e for e in action_effect.measure(ds, data.actions)}
    assert effects["A-0001"].verdict == IMPROVED, effects["A-0001"].sentence
    assert effects["A-0003"].status == TOO_EARLY
    assert effects["A-0001"].finding.q <= FDR


def test_the_briefing_lists_the_actions_with_their_effect(story):
    from cxmetrics.reports import briefing

    data, ds, effects = story
    today = ds.last_day + dt.timedelta(days=1)
    slide = briefing.action_slide(ds, data.actions, None, today)
    assert slide.title == "Action plans and their measured effect"
    due = dict(zip(data.actions["action_id"], data.actions["due_on"], strict=True))
    status = dict(zip(data.actions["action_id"], data.actions["status"], strict=True))
    late = [a for a in due if due[a] < today and status[a] in ("planned", "in progress")]
    assert late == ["A-0002"]
    assert slide.lines[0].startswith("A-0002 ") and "(LATE, in progress)" in slide.lines[0]
    for action_id, e in effects.items():
        (line,) = [x for x in slide.lines if x.startswith(action_id + " ")]
        assert line.endswith("Effect: " + e.sentence)
    only_claims = briefing.action_slide(ds, data.actions, ("claim",), today)
    assert [x.split(" ")[0] for x in only_claims.lines] == ["A-0003"]


def test_units_another_action_started_on_are_left_out_of_the_comparison(story):
    data, ds, _ = story
    first = data.actions.filter(pl.col("action_id") == "A-0001")
    other = first.with_columns(
        pl.lit("X-1").alias("action_id"),
        pl.lit("help_call").alias("touchpoint_id"),
        (pl.col("start_on") + pl.duration(days=10)).alias("start_on"),
    )
    effects = {e.action_id: e for e in action_effect.measure(ds, pl.concat([first, other]))}
    assert set(effects["A-0001"].comparison_units) == {"help_chat", "help_complaint"}
    assert set(effects["X-1"].comparison_units) == {"help_chat", "help_complaint"}
    # an action started long before the windows does not count: it touched both alike
    old = other.with_columns(pl.lit(ds.first_day + dt.timedelta(days=5)).alias("start_on"))
    (e, _) = action_effect.measure(ds, pl.concat([first, old]))
    assert set(e.comparison_units) == {"help_call", "help_chat", "help_complaint"}
