"""Calibration: changes, trend points and below-target claims stay quiet where they cannot be
true, and the planted stories are still found (power).

Null data: the story-free company (``stories=False``) at 20 seeds, with every answer's date
shuffled across rows, so no score can truly differ between periods. For targets, each stage's
target is set to that stage's score over all (shuffled) data, so no period is truly below it.
The story-free company has no channel, segment or influencer effect either, so channel gaps,
at-risk concentrations and influencer differences cannot be true there; touchpoints still
differ in quality, so moments can.
The standard is the issue's: at most 10% of null datasets with any claim of the kind, and at
most 10% with a claim of any kind that cannot be true.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract import sample
from cxmetrics.contract.periods import preset_range
from cxmetrics.findings import findings
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import finder, loyalty, overview

SEEDS = range(101, 121)
CUSTOMERS = 4000
PRESETS = ("30d", "90d", "quarter")
IMPOSSIBLE = {"change", "trend", "target", "channel", "at_risk", "influencer"}


def shuffled_dates(seed: int) -> dataset.Dataset:
    data = sample.generate(CUSTOMERS, seed, stories=False)
    rng = np.random.default_rng(seed)
    dates = data.responses["responded_on"].to_numpy()
    responses = data.responses.with_columns(
        pl.Series("responded_on", dates[rng.permutation(dates.size)])
    )
    return dataset.build(data.journey, data.customers, responses)


def targets_at_truth(ds: dataset.Dataset) -> dataset.Dataset:
    """Every stage's NPS, CSAT and CES target set to its value over all data."""
    totals = m.totals(ds.stats, ["stage_id"], m.CORE_COLUMNS)
    overall = m.totals(ds.stats, None, m.CORE_COLUMNS)
    rows = [
        {"stage_id": str(r["stage_id"]), "metric": k, "target": r[k]}
        for r in totals.iter_rows(named=True)
        for k in ("nps", "csat", "ces")
    ] + [{"stage_id": None, "metric": k, "target": overall[k][0]} for k in ("nps", "csat", "ces")]
    targets = pl.DataFrame(rows, schema=ds.journey.targets.schema)
    return replace(ds, journey=replace(ds.journey, targets=targets))


def view(ds: dataset.Dataset, i: int) -> Filters:
    """The i-th null dataset is judged in one preset view, the presets taken in turn: the
    false discovery rate is stated per view, so each dataset contributes one view."""
    start, end = preset_range(PRESETS[i % len(PRESETS)], ds.first_day, ds.last_day)
    return Filters(start=start, end=end)


@pytest.fixture(scope="module")
def null_datasets() -> list[dataset.Dataset]:
    return [targets_at_truth(shuffled_dates(seed)) for seed in SEEDS]


def kinds_claimed(ds: dataset.Dataset, f: Filters) -> set[str]:
    kinds = set()
    for item in finder.find(ds, f).findings:
        if item.kind == "change" and item.family == "churn":
            continue  # churn is a customer fact; shuffling answer dates does not null it
        kinds.add(item.kind)
    return kinds


def test_null_data_raises_no_claim_that_cannot_be_true(null_datasets):
    claimed = [kinds_claimed(ds, view(ds, i)) & IMPOSSIBLE for i, ds in enumerate(null_datasets)]
    for kind in sorted(IMPOSSIBLE):
        hits = sum(kind in c for c in claimed)
        assert hits <= 0.10 * len(null_datasets), (
            f"{kind}: {hits} of {len(null_datasets)} null datasets raised a claim"
        )
    anything = sum(bool(c) for c in claimed)
    assert anything <= 0.10 * len(null_datasets), (
        f"{anything} of {len(null_datasets)} null datasets raised any claim"
    )


@pytest.mark.parametrize("seed", [42, 7, 2024])
def test_the_claims_decline_is_found(seed):
    """Story 1: File a claim NPS falls over the last two quarters."""
    data = sample.generate(8000, seed)
    ds = dataset.build(data.journey, data.customers, data.responses)
    start, end = preset_range("quarter", ds.first_day, ds.last_day)
    ov = overview.compute(ds, Filters(start=start, end=end))
    found = [
        c
        for c in ov.findings
        if c.kind == "change" and c.stages == ("claim",) and c.family == "nps"
    ]
    assert found and found[0].effect < 0
    assert ov.stages[[s.stage_id for s in ov.stages].index("claim")].statuses["nps"] == (
        m.STATUS_BELOW
    )


@pytest.mark.parametrize("seed", [42, 7, 2024])
def test_unhappy_influencers_at_renewal_are_found(seed):
    """Story 6: top-decile influencers are far less happy at Renew or leave."""
    data = sample.generate(8000, seed)
    ds = dataset.build(data.journey, data.customers, data.responses)
    kept = findings.decide(loyalty.influencer_candidates(ds, Filters()))
    renew = [c for c in kept if c.stages == ("renew",)]
    assert renew and renew[0].ci[1] < 0
