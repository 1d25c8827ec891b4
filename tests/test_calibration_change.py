"""Calibration: changes, trend points and below-target claims stay quiet where they cannot be
true, and the planted stories are still found (power).

Null data: the story-free company (``stories=False``) at 20 seeds, with every answer's date
shuffled across rows, so no score can truly differ between periods. For targets, each stage's
target is set to that stage's score over all (shuffled) data, so no period is truly below it.
The standard is the issue's: at most 10% of null datasets with any claim of the kind.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from cxmetrics import dataset, finder, overview, sample
from cxmetrics import metrics as m
from cxmetrics.filters import Filters
from cxmetrics.periods import preset_range

SEEDS = range(101, 121)
CUSTOMERS = 4000
PRESETS = ("30d", "90d", "quarter")


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


def views(ds: dataset.Dataset) -> list[Filters]:
    out = []
    for preset in PRESETS:
        start, end = preset_range(preset, ds.first_day, ds.last_day)
        out.append(Filters(start=start, end=end))
    return out


@pytest.fixture(scope="module")
def null_datasets() -> list[dataset.Dataset]:
    return [targets_at_truth(shuffled_dates(seed)) for seed in SEEDS]


def kinds_claimed(ds: dataset.Dataset) -> set[str]:
    kinds = set()
    for f in views(ds):
        report = finder.find(ds, f)
        for item in report.findings:
            if item.kind == "change" and item.family == "churn":
                continue  # churn is a customer fact; shuffling answer dates does not null it
            kinds.add(item.kind)
    return kinds


def test_null_data_raises_no_change_trend_or_target_claims(null_datasets):
    claimed = [kinds_claimed(ds) for ds in null_datasets]
    for kind in ("change", "trend", "target"):
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
