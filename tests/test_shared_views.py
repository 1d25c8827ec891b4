"""Views shared by every session: computed once per database, data version, scope, filters
and options, in a bounded memo."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import weakref

import polars as pl
import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxapp import data
from cxapp.memo import Memo
from cxmetrics.contract import store
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview, wording


class Counting:
    """A computation that counts its calls and can be held until released."""

    def __init__(self, hold: bool = False):
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.started.set()
        assert self.release.wait(10), "never released"
        return {"args": args, "kwargs": kwargs}


# --- the memo ---------------------------------------------------------------------------
def test_two_callers_at_once_share_one_computation():
    memo, compute = Memo(), Counting(hold=True)
    results = []
    first = threading.Thread(target=lambda: results.append(memo.get("k", compute)))
    first.start()
    assert compute.started.wait(10)  # the first caller is computing
    second = threading.Thread(target=lambda: results.append(memo.get("k", compute)))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # the second waits for the first's result, computing nothing
    compute.release.set()
    first.join(10)
    second.join(10)
    assert compute.calls == 1
    assert len(results) == 2 and results[0] is results[1]
    assert memo.get("k", compute) is results[0] and compute.calls == 1


def test_bounded_least_recently_used_leaves_first():
    memo, compute = Memo(max_entries=3), Counting()
    for key in "abc":
        memo.get(key, compute)
    memo.get("a", compute)  # "a" is now the most recently used; "b" the least
    memo.get("d", compute)
    assert len(memo) == 3 and compute.calls == 4
    memo.get("a", compute)
    memo.get("c", compute)
    memo.get("d", compute)
    assert compute.calls == 4  # still held
    memo.get("b", compute)
    assert compute.calls == 5  # "b" had left
    for i in range(1000):
        memo.get(i, compute)
    assert len(memo) == 3


def test_a_value_older_than_the_ttl_is_computed_again():
    now = [0.0]
    memo, compute = Memo(ttl_seconds=60, clock=lambda: now[0]), Counting()
    first = memo.get("k", compute)
    now[0] = 59.0
    assert memo.get("k", compute) is first
    now[0] = 121.0
    assert memo.get("k", compute) is not first and compute.calls == 2


def test_a_failed_computation_is_not_kept():
    memo, calls = Memo(), []

    def failing():
        calls.append(1)
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            memo.get("k", failing)
    assert len(calls) == 2 and len(memo) == 0
    assert memo.get("k", lambda: 7) == 7


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError, match="max_entries"):
        Memo(max_entries=0)


# --- data.shared: the key -------------------------------------------------------------
@pytest.fixture
def fake_loaders(monkeypatch):
    """data.shared with the scope, version and dataset replaced by plain values."""
    state = {"version": (1,), "departments": None}
    monkeypatch.setattr(data, "_scope", lambda: state["departments"])
    monkeypatch.setattr(data, "_current_version", lambda url: state["version"])
    monkeypatch.setattr(store, "database_url", lambda: "sqlite:///fake.db")
    monkeypatch.setitem(
        data._INPUTS, data.DATASET, lambda url, version, departments: ("ds", version, departments)
    )
    monkeypatch.setattr(data, "VIEWS", Memo(max_entries=8))
    monkeypatch.setattr(data, "PARTS", Memo(max_entries=8))
    return state


def test_shared_view_keys(fake_loaders):
    compute = Counting()
    view = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31))
    first = data.shared(compute, data.DATASET, view, option="week")
    assert first["args"] == (("ds", (1,), None), view)  # the dataset of the key's version
    assert data.shared(compute, data.DATASET, view, option="week") is first
    assert compute.calls == 1

    # an equal filter made anew by another session is the same view
    same = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31))
    assert data.shared(compute, data.DATASET, same, option="week") is first
    assert compute.calls == 1

    data.shared(compute, data.DATASET, view.with_stages(("onboarding",)), option="week")
    assert compute.calls == 2  # another filter
    data.shared(compute, data.DATASET, view, option="month")
    assert compute.calls == 3  # another option

    fake_loaders["version"] = (2,)
    new = data.shared(compute, data.DATASET, view, option="week")
    assert compute.calls == 4 and new["args"][0] == ("ds", (2,), None)  # a new data version

    fake_loaders["departments"] = ("billing",)
    mine = data.shared(compute, data.DATASET, view, option="week")
    assert compute.calls == 5 and mine["args"][0] == ("ds", (2,), ("billing",))  # a scope
    assert len(data.VIEWS) == 5


def test_a_frame_argument_counts_as_that_very_object(fake_loaders):
    compute = Counting()
    frame = pl.DataFrame({"stage_id": ["buy", "claim"], "n": [3, 4]})
    first = data.shared(compute, data.DATASET, frame, "week")
    assert first["args"][1] is frame
    assert data.shared(compute, data.DATASET, frame, "week") is first
    assert compute.calls == 1
    # an equal frame made anew (as a page would on each run) is another object: computed
    data.shared(compute, data.DATASET, frame.clone(), "week")
    assert compute.calls == 2
    data.shared(compute, data.DATASET, [1, 2], "week")  # a list too
    data.shared(compute, data.DATASET, [1, 2], "week")
    assert compute.calls == 4
    # results made from such parts are kept apart from the views they come from
    assert (len(data.VIEWS), len(data.PARTS)) == (0, 4)

    # the key holds its object, so no other object can take its id while the key exists
    held = weakref.ref(frame)
    del frame, first  # (the result holds its arguments too)
    gc.collect()
    assert held() is not None
    data.PARTS.clear()
    gc.collect()
    assert held() is None


# --- two sessions of the real app -------------------------------------------------------
def test_two_sessions_on_the_overview_compute_it_once(monkeypatch, sample_url):
    monkeypatch.setenv(store.URL_ENV, sample_url)
    calls = []
    real = overview.compute

    def counted(ds, view, *args, **kwargs):
        calls.append(view)
        return real(ds, view, *args, **kwargs)

    monkeypatch.setattr(overview, "compute", counted)
    monkeypatch.setattr(data, "VIEWS", Memo())
    sessions, after = [], []
    for _ in range(2):
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
        at.run()
        assert not at.exception, at.exception
        sessions.append(at)
        after.append(len(calls))
    # the first session computed its views (the page's overview, and the first fold's
    # findings on it); the second got them without computing anything again
    assert after[0] >= 1 and after[1] == after[0]
    tiles = [[(m.label, m.value) for m in list(at.metric)[:6]] for at in sessions]
    assert tiles[0] == tiles[1]
    # what both show is what the overview computed directly from the same data shows
    ds = data._dataset(sample_url, data._read_version(sample_url))
    direct = real(ds, calls[0])
    keys = ("nps", "csat", "ces", "responses", "churn", "revenue_at_risk")
    symbol = ds.settings.currency_symbol
    expected = [
        (METRICS[k].short, wording.tile_figure(direct.tiles[k], direct.min_n, symbol)) for k in keys
    ]
    assert tiles[0] == expected

    sessions[1].sidebar.selectbox(key="period").set_value("30d").run()
    assert not sessions[1].exception, sessions[1].exception
    new = calls[after[1] :]  # another period is another view: computed, for it alone
    assert len(new) == after[0] and all(v != calls[0] for v in new)
    assert len(set(new)) == 1 and new[0].start > calls[0].start
