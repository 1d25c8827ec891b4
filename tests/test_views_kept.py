"""What a dataset keeps: a view's results computed once (and forgotten on request), the
weekly sums prepared once per data version, and that what they give is what the raw rows
say."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from cxmetrics.contract import store
from cxmetrics.findings import leading
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview


@pytest.fixture(scope="module")
def contacts(loaded, sample_url):
    engine = store.make_engine(sample_url)
    try:
        return dataset.load_contacts(engine, loaded)
    finally:
        engine.dispose()


def test_a_views_result_is_computed_once_until_forgotten(loaded):
    runs = []

    def compute():
        runs.append(1)
        return len(runs)

    assert loaded.view("test", ("a",), compute) == 1
    assert loaded.view("test", ("a",), compute) == 1  # kept
    assert loaded.view("test", ("b",), compute) == 2  # another key
    loaded.forget_views()
    assert loaded.view("test", ("a",), compute) == 3
    # a dataset made from this one keeps nothing of it
    assert dataclasses.replace(loaded).view("test", ("a",), compute) == 4


def test_the_overview_is_computed_once_per_view(loaded, monkeypatch):
    view = Filters(start=loaded.last_day - dt.timedelta(days=29), end=loaded.last_day)
    runs = []
    real = overview._compute
    monkeypatch.setattr(overview, "_compute", lambda *a: runs.append(a) or real(*a))
    loaded.forget_views()
    first = overview.compute(loaded, view)
    assert overview.compute(loaded, view) is first and len(runs) == 1
    assert overview.compute(loaded, view, min_n=10) is not first and len(runs) == 2
    loaded.forget_views()
    again = overview.compute(loaded, view)
    assert len(runs) == 3 and again.tiles["nps"].score == first.tiles["nps"].score


def test_weekly_contacts_and_answers_of_a_segment_and_region_count_the_raw_rows(
    loaded, contacts, sample_data
):
    ds = loaded
    region, segment = ds.options("region")[0], ds.options("segment")[0]
    f = Filters(end=ds.last_day, regions=(region,), segments=(segment,))
    weekly = leading.weekly(ds, contacts, f)
    mine = sample_data.customers.filter(
        (pl.col("region") == region) & (pl.col("segment") == segment)
    )["customer_id"].implode()
    stage_of = ds.journey.touchpoints.select("touchpoint_id", "stage_id")
    raw_contacts = sample_data.contacts.filter(pl.col("customer_id").is_in(mine)).join(
        stage_of, on="touchpoint_id"
    )
    raw_answers = sample_data.responses.filter(
        pl.col("customer_id").is_in(mine) & pl.col("nps").is_not_null()
    ).join(stage_of, on="touchpoint_id")
    checked = 0
    for row in weekly.filter(pl.col("contacts") > 0).gather_every(37).iter_rows(named=True):
        days = pl.col("contacted_on").is_between(row["week"], row["week"] + dt.timedelta(days=6))
        here = raw_contacts.filter(days & (pl.col("stage_id") == row["stage_id"]))
        assert row["contacts"] == here.height
        answered = raw_answers.filter(
            pl.col("responded_on").is_between(row["week"], row["week"] + dt.timedelta(days=6))
            & (pl.col("stage_id") == row["stage_id"])
        )
        assert row["n_nps"] == answered.height
        if answered.height >= 30:
            nps = 100 * ((answered["nps"] >= 9).sum() - (answered["nps"] <= 6).sum())
            assert row["nps"] == pytest.approx(nps / answered.height)
        checked += 1
    assert checked >= 5


def test_views_that_read_the_same_weeks_share_one_lead_test(loaded, contacts, monkeypatch):
    ds = loaded
    tested = []
    real = leading.signals
    monkeypatch.setattr(
        leading, "signals", lambda frame, *rest: tested.append(1) or real(frame, *rest)
    )
    ds.forget_views()
    end = ds.last_day
    quarter = Filters(start=end - dt.timedelta(days=89), end=end)
    first = leading.candidates(ds, contacts, quarter)
    # another start and another channel: the same weekly series, so the same test
    month = dataclasses.replace(quarter, start=end - dt.timedelta(days=29), channels=("web",))
    assert leading.candidates(ds, contacts, month) == first and len(tested) == 1
    # another region reads other weeks' sums: tested again
    region = dataclasses.replace(quarter, regions=(ds.options("region")[0],))
    leading.candidates(ds, contacts, region)
    assert len(tested) == 2
    # and what is kept is what the test gives
    direct = leading.findings_of(real(leading.weekly(ds, contacts, quarter)), ds.journey)
    assert first == direct
