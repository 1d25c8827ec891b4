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


def test_a_periods_result_is_computed_once_and_leaves_with_its_answers(loaded, monkeypatch):
    ds = dataclasses.replace(loaded, _answers={})
    end = ds.last_day
    month = (end - dt.timedelta(days=29), end)
    runs = []

    def compute(frame):
        runs.append(frame)
        return len(runs)

    assert ds.of_period("test", *month, compute) == 1
    assert runs[0] is ds.answers(*month)  # computed of the period's answers
    ds.forget_views()
    assert ds.of_period("test", *month, compute) == 1  # kept as the answers are
    assert ds.of_period("test", None, None, compute) == 2  # another period
    monkeypatch.setattr(dataset, "ANSWER_PERIODS", 2)
    ds.answers(end - dt.timedelta(days=6), end)  # the month's answers leave, and with them…
    assert ("test", *month) not in ds._period_parts
    assert ds.of_period("test", *month, compute) == 3  # …what was computed of them


def test_answers_kept_fit_their_memory_and_make_room_before_a_new_period(loaded, monkeypatch):
    ds = dataclasses.replace(loaded, _answers={})
    end = ds.last_day
    month, week = (end - dt.timedelta(days=29), end), (end - dt.timedelta(days=6), end)
    held_when_computed = []
    from_rows = dataset.answers.from_rows

    def recording(rows):
        held_when_computed.append(list(ds._answers))
        return from_rows(rows)

    monkeypatch.setattr(dataset.answers, "from_rows", recording)
    monkeypatch.setenv("CX_ANSWERS_MB", "1000")
    ds.answers(*month), ds.answers(*week)
    assert list(ds._answers) == [month, week]  # both fit
    both = sum(f.estimated_size() for f in ds._answers.values())
    # less room than the week alone takes: a new period makes the others leave…
    monkeypatch.setenv("CX_ANSWERS_MB", str(ds._answers[week].estimated_size() / 2 / 2**20))
    ten = (end - dt.timedelta(days=9), end)
    ds.answers(*ten)
    assert held_when_computed[-1] == []  # …before its answers are computed
    assert list(ds._answers) == [ten]  # kept alone, larger than the room
    # …but for the period just before it, which a view of it reads too (its changes): each
    # keeps the other, whatever the room
    before = (end - dt.timedelta(days=19), end - dt.timedelta(days=10))
    assert dataset.partners(*ten)[0] == before and dataset.partners(*before)[1] == ten
    monkeypatch.setenv("CX_ANSWERS_MB", "0")
    ds.answers(*before)
    assert held_when_computed[-1] == [ten] and list(ds._answers) == [ten, before]
    computed = len(held_when_computed)
    for _ in range(3):  # a view and the one before it, asked in turn: read once each
        ds.answers(*ten), ds.answers(*before)
    assert len(held_when_computed) == computed
    ds.answers(*week)  # another period: they leave (the week's partners are neither)
    assert list(ds._answers) == [week]
    assert both > ds._answers[week].estimated_size() > 0
    assert dataset.partners(None, end) == ()  # all data: no period before it
    monkeypatch.setenv("CX_ANSWERS_MB", "lots")
    with pytest.raises(store.StoreError, match="CX_ANSWERS_MB='lots'"):
        ds.answers(None, None)


def _latest_by_hand(rows: pl.DataFrame, score: str, by: list[str]) -> dict:
    """Each ``by`` group's last answered ``score`` by (date, response id), from raw rows."""
    last = (
        rows.filter(pl.col(score).is_not_null())
        .sort("responded_on", "response_id")
        .group_by(by)
        .agg(pl.col(score).last())
    )
    return {tuple(r[:-1]): r[-1] for r in last.rows()}


@pytest.mark.parametrize(
    "cut",
    [{}, {"regions": 0}, {"segments": 0, "regions": 1}, {"stages": ("claim", "pay")}],
)
def test_latest_answers_and_customers_of_a_view_are_those_of_its_raw_rows(loaded, cut):
    """The view's latest answers, customers, each stage's latest NPS and the influencers'
    sums, read from its period's (segment, region and stage cuts) against the raw rows."""
    from cxmetrics.views import loyalty

    ds = loaded
    end = ds.last_day
    chosen = {k: (v if k == "stages" else (ds.options(k[:-1])[v],)) for k, v in cut.items()}
    f = Filters(start=end - dt.timedelta(days=89), end=end, **chosen)
    ds.forget_views()
    rows = ds.responses.filter(pl.col("responded_on").is_between(f.start, f.end))
    for column in ("segments", "regions", "stages"):
        if column in chosen:
            name = "stage_id" if column == "stages" else column[:-1]
            rows = rows.filter(pl.col(name).cast(pl.String).is_in(list(chosen[column])))
    assert ds.customers_in(f).tolist() == sorted(rows["cust"].unique().to_list())
    for score in ("nps", "csat"):
        who, values = ds.latest_answers(f, score)
        assert dict(zip([(c,) for c in who.tolist()], values.tolist(), strict=True)) == (
            _latest_by_hand(rows, score, ["cust"])
        )
    got = {
        (sid, c): v
        for sid, (who, values) in loyalty.latest_by_stage(ds, f).items()
        for c, v in zip(who.tolist(), values.tolist(), strict=True)
    }
    by_hand = _latest_by_hand(
        rows.with_columns(pl.col("stage_id").cast(pl.String)), "nps", ["stage_id", "cust"]
    )
    assert got == by_hand and got
    cut_at = ds.customers["influence"].quantile(loyalty.INFLUENCER_QUANTILE)
    per = loyalty.influencer_nps_by_stage(ds, f, min_n=1)
    counted = (
        rows.filter(pl.col("nps").is_not_null())
        .with_columns(
            (pl.col("stage_id").cast(pl.String)),
            (
                ds.customers["influence"].gather(rows.filter(pl.col("nps").is_not_null())["cust"])
                >= cut_at
            )
            .fill_null(False)
            .alias("influencer"),
        )
        .group_by("stage_id", "influencer")
        .len()
    )
    assert sorted(per.select("stage_id", "influencer", "n_nps").rows()) == sorted(counted.rows())
