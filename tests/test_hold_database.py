"""A dataset that holds only aggregates (the database sums the responses) gives the same
numbers as one that holds the rows, on the same SQLite file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from test_answers import comparable
from test_cli import run
from test_parts import same_statistics

from cxmetrics.contract import store
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import finder, overview

D = dt.date
VIEWS = [
    Filters(),
    Filters(start=D(2026, 7, 3), end=D(2026, 9, 30)),
    Filters(start=D(2026, 4, 1), end=D(2026, 6, 30), stages=("claim",)),
    Filters(start=D(2026, 7, 3), end=D(2026, 9, 30), departments=("service",)),
    Filters(start=D(2026, 1, 1), end=D(2026, 6, 30), channels=("mobile",), regions=("North",)),
]


@pytest.fixture(scope="module")
def held(sample_url) -> dataset.Dataset:
    # the dataset keeps its engine for the queries of later periods
    return dataset.load(store.make_engine(sample_url), hold="database")


def test_it_holds_no_rows(held):
    assert held.responses is None and held.database is not None
    with pytest.raises(ValueError, match="aggregates only"):
        held.slice_responses(Filters())


def test_statistics_and_customer_facts_equal_the_rows(held, loaded):
    assert same_statistics(held.stats, loaded.stats)
    assert np.array_equal(held.latest_nps, loaded.latest_nps)
    assert (
        held.sources
        == loaded.sources
        == tuple(sorted(loaded.responses["source"].cast(pl.String).unique()))
    )
    assert held.design_effect == loaded.design_effect  # summed in the same order
    assert all(value > 1 for value in loaded.design_effect.values())
    assert (held.first_day, held.last_day) == (loaded.first_day, loaded.last_day)
    assert held.n_responses == loaded.responses.height


@pytest.mark.parametrize("view", VIEWS)
def test_every_customer_level_number_equals_the_rows(held, loaded, view):
    assert comparable(held.answers(view.start, view.end)).equals(
        comparable(loaded.answers(view.start, view.end))
    )
    a, b = held.customer_view(view), loaded.customer_view(view)
    assert np.array_equal(a.in_view, b.in_view)
    assert np.array_equal(a.latest_who, b.latest_who)
    assert np.array_equal(a.latest_nps, b.latest_nps)
    got, want = held.complaints(view), loaded.complaints(view)
    assert got.height == want.height
    key = ["response_id"]
    as_text = [pl.col(c).cast(pl.String) for c in want.columns]
    assert got.with_columns(as_text).sort(key).equals(want.with_columns(as_text).sort(key))


def inputs(url: str, ds: dataset.Dataset) -> finder.Inputs:
    engine = store.make_engine(url)
    try:
        return finder.Inputs.read(engine, ds)
    finally:
        engine.dispose()


def same_overview(a: overview.Overview, b: overview.Overview) -> None:
    assert overview.summary_dict(a) == overview.summary_dict(b)
    for part in dataclasses.fields(a):
        x, y = getattr(a, part.name), getattr(b, part.name)
        if isinstance(x, pl.DataFrame):
            assert x.equals(y), part.name
        else:
            assert x == y, part.name


@pytest.mark.parametrize("view", VIEWS)
def test_overview_and_every_finding_equal_the_rows(held, loaded, sample_url, view):
    same_overview(overview.compute(held, view), overview.compute(loaded, view))
    a = finder.find(held, view, inputs(sample_url, held)).as_dict()
    b = finder.find(loaded, view, inputs(sample_url, loaded)).as_dict()
    assert a == b
    assert inputs(sample_url, held).cases.equals(inputs(sample_url, loaded).cases)


def test_a_managers_scope_equals_the_rows(held, loaded):
    a, b = held.scoped(("service",)), loaded.scoped(("service",))
    assert np.array_equal(a.latest_nps, b.latest_nps)
    view = VIEWS[1]
    same_overview(overview.compute(a, view), overview.compute(b, view))
    assert comparable(a.answers(view.start, view.end)).equals(
        comparable(b.answers(view.start, view.end))
    )


def test_summary_and_findings_commands_agree(sample_url):
    for command in (["summary", "--json"], ["findings", "--json"]):
        rows = run(*command, url=sample_url)
        database = run(*command, url=sample_url, env={"CX_HOLD": "database"})
        assert rows.returncode == database.returncode == 0, database.stderr
        assert json.loads(rows.stdout) == json.loads(database.stdout)


def test_an_unknown_hold_is_refused(sample_url):
    out = run("summary", "--json", url=sample_url, env={"CX_HOLD": "everything"})
    assert out.returncode != 0
    assert "CX_HOLD='everything'" in out.stderr and "Traceback" not in out.stderr


def test_the_server_log_says_where_the_responses_are_held(sample_url, monkeypatch, caplog):
    import logging

    from cxapp import data

    logger = logging.getLogger("cxdashboard.data")
    logger.addHandler(caplog.handler)  # the dashboard's log does not propagate to the root
    try:
        for hold in ("rows", "database"):
            monkeypatch.setenv("CX_HOLD", hold)
            data._dataset.clear()
            with caplog.at_level(logging.INFO, logger="cxdashboard.data"):
                data._dataset(sample_url, data._read_version(sample_url))
    finally:
        logger.removeHandler(caplog.handler)
        data._dataset.clear()
    loads = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loaded ")]
    assert len(loads) == 2
    assert loads[0].endswith("their rows are held in this process (CX_HOLD=rows)")
    assert loads[1].endswith(
        "they stay in the database; this process holds aggregates (CX_HOLD=database)"
    )
