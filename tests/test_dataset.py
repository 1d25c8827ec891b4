"""The in-memory dataset: slicing, and the two ways of finding customers in view."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cxmetrics.stats.filters import Filters

D = dt.date


@pytest.mark.parametrize(
    "view",
    [
        Filters(),
        Filters(start=D(2026, 7, 3), end=D(2026, 9, 30)),
        Filters(start=D(2025, 1, 1), end=D(2025, 1, 31)),
        Filters(end=D(2025, 6, 30)),
        Filters(start=D(2026, 9, 30)),
        Filters(start=D(2026, 1, 1), end=D(2026, 3, 31), segments=("Small business",)),
        Filters(regions=("North", "East"), start=D(2025, 10, 1), end=D(2026, 9, 30)),
        Filters(start=D(2026, 4, 1), end=D(2026, 6, 30), stages=("claim", "pay")),
        Filters(channels=("mobile",), segments=("Premier",)),
    ],
)
def test_customers_and_latest_answers_equal_a_group_by_of_the_rows(loaded, view):
    """The customer-level aggregate against a group-by over the rows, written here."""
    rows = loaded.slice_responses(view)
    got = loaded.customer_view(view)
    assert got.in_view.tolist() == sorted(rows["cust"].unique().to_list())
    want = (
        rows.filter(pl.col("nps").is_not_null())
        .group_by("cust", maintain_order=True)
        .agg(pl.col("nps").last())  # rows are in (date, response id) order
    )
    assert dict(zip(got.latest_who.tolist(), got.latest_nps.tolist(), strict=True)) == dict(
        want.iter_rows()
    )


def test_latest_answers_by_plain_polars(loaded):
    """A third way: a group-by on the rows, written here."""
    view = Filters(start=D(2026, 4, 1), end=D(2026, 6, 30))
    rows = loaded.slice_responses(view).filter(pl.col("nps").is_not_null())
    want = rows.group_by("cust").agg(pl.col("nps").last()).sort("cust")  # rows are in date order
    got = loaded.customer_view(view)
    order = np.argsort(got.latest_who)
    assert got.latest_who[order].tolist() == want["cust"].to_list()
    assert got.latest_nps[order].tolist() == want["nps"].to_list()


def test_responses_are_in_date_order_and_stats_sum_to_them(loaded):
    dates = loaded.responses["responded_on"]
    assert dates.is_sorted()
    assert loaded.stats["responses"].sum() == loaded.responses.height
    assert loaded.stats["n_nps"].sum() == loaded.responses["nps"].is_not_null().sum()


def test_slicing_by_date_keeps_exactly_the_days_in_range(loaded):
    view = Filters(start=D(2026, 2, 1), end=D(2026, 2, 28))
    rows = loaded.slice_responses(view)
    assert rows["responded_on"].min() == D(2026, 2, 1)
    assert rows["responded_on"].max() == D(2026, 2, 28)
    assert (
        rows.height
        == loaded.responses.filter(
            pl.col("responded_on").is_between(D(2026, 2, 1), D(2026, 2, 28))
        ).height
    )


@pytest.mark.parametrize("unit", [None, "week", "month"])
@pytest.mark.parametrize(
    "view",
    [
        Filters(),
        Filters(start=D(2026, 7, 3), end=D(2026, 9, 30)),
        Filters(start=D(2025, 3, 5), end=D(2025, 3, 5)),
        Filters(end=D(2025, 6, 30), channels=("web", "agent")),
        Filters(start=D(2026, 4, 1), end=D(2026, 6, 30), stages=("claim", "pay")),
        Filters(start=D(2026, 1, 1), end=D(2026, 3, 31), segments=("Small business",)),
        Filters(start=D(2030, 1, 1)),  # no day in view
    ],
)
def test_cell_sums_equal_a_group_by_of_the_rows(loaded, view, unit):
    """The statistics per stage, touchpoint and channel (and week or month) of a view, read
    from running totals per day, against the response rows counted here."""
    rows = loaded.slice_responses(view)
    keys = ["stage_id", "touchpoint_id", "channel"]
    if unit is not None:
        keys.append(unit)
        rows = rows.with_columns(
            pl.col("responded_on").dt.truncate({"week": "1w", "month": "1mo"}[unit]).alias(unit)
        )
    nps, csat = pl.col("nps"), pl.col("csat")
    want = rows.group_by(keys).agg(
        pl.len().alias("responses"),
        nps.is_not_null().sum().alias("n_nps"),
        (nps >= 9).sum().alias("promoters"),
        (nps <= 6).sum().alias("detractors"),
        (nps.is_not_null() & (csat <= 3)).sum().alias("n_poor"),
        pl.col("ces").cast(pl.Int64).sum().alias("ces_sum"),
    )
    got = loaded.cell_sums(view, unit)
    assert got.height == want.height
    columns = ["responses", "n_nps", "promoters", "detractors", "n_poor", "ces_sum"]

    def table(frame: pl.DataFrame) -> dict:
        return {
            tuple(str(k) for k in r[: len(keys)]): tuple(int(v) for v in r[len(keys) :])
            for r in frame.select(*keys, *columns).iter_rows()
        }

    assert table(got) == table(want)


def test_cell_sums_beyond_the_size_of_running_totals_sum_the_rows(loaded, monkeypatch):
    """Without room for running totals, the same sums come from the rows in view."""
    import dataclasses

    from cxmetrics.stats import dataset

    view = Filters(start=D(2026, 4, 1), end=D(2026, 9, 30), channels=("web",))
    kept = loaded.cell_sums(view, "month")
    monkeypatch.setattr(dataset, "DAILY_SUMS_MAX", 0)
    fresh = dataclasses.replace(loaded)  # nothing prepared yet
    summed = fresh.cell_sums(view, "month")
    assert fresh.prepared("daily_sums", None, lambda: "built") is None
    keys = ["stage_id", "touchpoint_id", "channel", "month"]
    assert summed.sort(keys).equals(kept.sort(keys).select(summed.columns))


def test_rows_put_in_order_a_column_at_a_time_are_those_of_a_sort():
    from cxmetrics.stats import dataset

    frame = pl.DataFrame(
        {"d": [3, 1, 2, 1, 3], "id": ["b", "z", "a", "a", "a"], "v": [1, 2, 3, 4, 5]}
    )
    order = frame.select(pl.arg_sort_by("d", "id", maintain_order=True)).to_series()
    columns = frame.get_columns()
    got = dataset.gathered(columns, order)
    assert columns == []  # each column let go once its copy was made
    assert got.rows() == [(1, "a", 4), (1, "z", 2), (2, "a", 3), (3, "a", 5), (3, "b", 1)]


@pytest.mark.parametrize("dates", [[D(2026, 1, 1), D(2026, 1, 8)], [D(2026, 1, 8), D(2026, 1, 1)]])
def test_statistics_come_out_in_date_order_with_their_buckets(dates):
    from cxmetrics.stats import dataset

    stats = pl.DataFrame({"responded_on": dates, "responses": [1, 2]})
    got = dataset._by_date(stats)
    assert got["responded_on"].to_list() == [D(2026, 1, 1), D(2026, 1, 8)]
    assert got["responses"].to_list() == ([1, 2] if dates[0] < dates[1] else [2, 1])
    # 1 and 8 January 2026 are a Thursday: their weeks start on Monday 29 December and 5 January
    assert got["week"].to_list() == [D(2025, 12, 29), D(2026, 1, 5)]
    assert got["month"].to_list() == [D(2026, 1, 1), D(2026, 1, 1)]


def test_churn_rates_of_many_segment_choices_leave_what_every_view_reads(loaded):
    """The rates are kept per segments and regions, apart from the preparations every view
    shares: twenty choices of segment and region do not push out the daily sums."""
    import dataclasses
    import itertools

    from cxmetrics.stats import metrics

    ds = dataclasses.replace(loaded)  # its own memos, empty
    daily = ds.prepared("daily_sums", None, lambda: object())
    segments, regions = ds.options("segment"), ds.options("region")
    choices = list(itertools.product([None, *segments], [None, *regions]))
    assert len(choices) >= 20
    for segment, region in choices:
        f = Filters(segments=(segment,) if segment else (), regions=(region,) if region else ())
        rates = ds.detractor_rates(f)
        assert rates is ds.detractor_rates(f)  # kept: computed once
        # a second computation, from the dataset's own arrays
        keep = ds.customers.select(
            pl.col("segment").is_in([segment] if segment else segments)
            & pl.col("region").is_in([region] if region else regions)
        ).to_series()
        want = metrics.detractor_churn_rate(
            ds.latest_nps, ds.customer_arrays, keep.to_numpy(), ds.first_day, ds.last_day
        )
        assert rates == want
    assert ds.prepared("daily_sums", None, lambda: None) is daily
