"""The aggregates a load computes over a lake, kept on disk for the next process
(``cxmetrics.stats.load_cache``): read back the same, computed again whenever the lake's
files or the code change, never half-written, and never a reason for a load to fail."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from engines import need
from test_answers import comparable
from test_parts import same_statistics

from cxmetrics.contract import store
from cxmetrics.stats import aggregates, answers, dataset, load_cache
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview


@pytest.fixture(scope="module")
def lake(sample_url, tmp_path_factory):
    need("duckdb")
    folder = tmp_path_factory.mktemp("kept") / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    return folder


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CX_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def engine_asked(monkeypatch):
    """How many times a load asked the engine for each thing it computes."""
    asked = {"customers": 0, "statistics": 0, "latest": 0, "design effects": 0}
    spied = {
        (store, "load_customers"): "customers",
        (store, "load_stats_sql"): "statistics",
        (aggregates, "latest_nps"): "latest",
        (aggregates, "design_effects"): "design effects",
    }
    for (module, name), what in spied.items():
        original = getattr(module, name)

        def spy(*args, _original=original, _what=what, **kwargs):
            asked[_what] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return asked


def _same(a: dataset.Dataset, b: dataset.Dataset) -> None:
    assert a.customers.equals(b.customers) and a.customers.schema == b.customers.schema
    assert same_statistics(a.stats, b.stats)
    assert a.stats.schema == b.stats.schema
    assert np.array_equal(a.latest_nps, b.latest_nps) and a.latest_nps.dtype == b.latest_nps.dtype
    assert a.design_effect == b.design_effect
    assert a.sources == b.sources
    assert a.database.customer_cuts == b.database.customer_cuts
    assert a.database.types == b.database.types


def _kept(folder) -> bool:
    """Whether aggregates of the lake's files as they are now are kept and readable."""
    return load_cache.read(load_cache.entry(store.make_engine(f"duckdb:///{folder}"))) is not None


def _load(folder) -> dataset.Dataset:
    return dataset.load(store.make_engine(f"duckdb:///{folder}"))


def _slots(cache) -> list:
    return sorted(p for p in (cache / "aggregates").iterdir() if p.is_dir())


def _entries(cache) -> list:
    return sorted(p for slot in _slots(cache) for p in slot.iterdir() if p.is_dir())


def test_a_second_start_reads_the_kept_aggregates_and_shows_the_same_numbers(
    lake, cache, engine_asked, loaded, monkeypatch
):
    first = _load(lake)
    assert engine_asked["statistics"] > 0 and engine_asked["latest"] == 1
    assert len(_entries(cache)) == 1
    asked_before = dict(engine_asked)
    second = _load(lake)
    assert engine_asked == asked_before  # nothing asked of the engine: read from the cache
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    computed = _load(lake)
    _same(second, computed)
    _same(first, computed)
    # and the numbers of the rows themselves (a second implementation: the SQLite file
    # read into memory), view by view
    assert same_statistics(second.stats, loaded.stats)
    assert np.array_equal(second.latest_nps, loaded.latest_nps)
    for view in (Filters(), Filters(start=loaded.last_day.replace(day=1), end=loaded.last_day)):
        assert overview.summary_dict(overview.compute(second, view)) == overview.summary_dict(
            overview.compute(loaded, view)
        )


def test_the_cache_is_its_owners_alone(lake, cache):
    _load(lake)
    for made in (cache, cache / "aggregates", *_slots(cache)):
        assert made.stat().st_mode & 0o077 == 0, made


def test_a_cache_folder_shared_with_other_files_keeps_them_and_its_mode(
    lake, sample_url, tmp_path, monkeypatch
):
    shared = tmp_path / "shared"
    (shared / "someone else's").mkdir(parents=True)
    (shared / "notes.txt").write_text("kept")
    for i in range(3):  # folders named like the cache's own, outside its folder
        (shared / f"{i:024x}").mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("CX_CACHE_DIR", str(shared))
    monkeypatch.setattr(load_cache, "MAX_LAKES", 1)
    _load(lake)
    other = tmp_path / "other"
    store.export_parquet(store.make_engine(sample_url), other)
    _load(other)  # one lake too many: the first lake's entry leaves, nothing else
    assert shared.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in shared.iterdir()) == sorted(
        ["aggregates", "someone else's", "notes.txt", *(f"{i:024x}" for i in range(3))]
    )
    assert len(_slots(shared)) == 1


def test_a_lake_written_again_is_computed_again_and_its_old_entry_removed(
    sample_data, tmp_path, cache, engine_asked, monkeypatch
):
    need("duckdb")
    folder = tmp_path / "lake"
    engine = store.make_engine(f"sqlite:///{tmp_path / 'cx.db'}")
    store.write_tables(str(engine.url), sample_data.tables())
    store.export_parquet(engine, folder)
    before = _load(folder)
    (old,) = _entries(cache)
    # the lake written again with every NPS answer of one day turned to 0
    responses = pl.read_parquet(folder / "responses.parquet")
    day = responses.filter(pl.col("nps").is_not_null())["responded_on"].max()
    changed = responses.with_columns(
        pl.when(pl.col("responded_on") == day).then(0).otherwise(pl.col("nps")).alias("nps")
    )
    changed.write_parquet(folder / "responses.parquet")
    asked = engine_asked["statistics"]
    after = _load(folder)
    assert engine_asked["statistics"] > asked  # computed again
    (new,) = _entries(cache)  # the old entry went
    assert new != old
    last = after.stats.filter(pl.col("responded_on") == day)
    assert int(last["detractors"].sum()) == int(last["n_nps"].sum()) > 0
    assert not same_statistics(before.stats, after.stats)
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    _same(after, _load(folder))


def test_a_new_version_of_the_code_computes_them_again(lake, cache, engine_asked, monkeypatch):
    _load(lake)
    asked = engine_asked["statistics"]
    monkeypatch.setattr(load_cache, "_code", lambda: "another version")
    _load(lake)
    assert engine_asked["statistics"] > asked
    assert len(_entries(cache)) == 1


@pytest.mark.parametrize(
    "damage",
    [
        ("stats.arrow", "cut"),
        ("latest_nps.npy", "cut"),
        ("meta.json", "cut"),
        ("customers.arrow", "flipped"),
        ("latest_nps.npy", "flipped"),  # the same size, the header whole: scores changed
        ("meta.json", "a digit"),  # still JSON: a design effect changed
    ],
    ids=lambda d: "-".join(d),
)
def test_an_entry_that_cannot_be_read_is_computed_again_and_written_anew(
    lake, cache, engine_asked, caplog, damage, monkeypatch
):
    _load(lake)
    (entry,) = _entries(cache)
    name, how = damage
    path = entry / name
    data = bytearray(path.read_bytes())
    if how == "cut":
        data = data[: len(data) // 2]
    elif how == "a digit":
        meta = json.loads(data)
        effect = next(iter(meta["design_effect"]))
        meta["design_effect"][effect] += 0.25
        data = bytearray(json.dumps(meta).encode())
    else:
        for i in range(len(data) * 3 // 4, len(data) * 3 // 4 + 8):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    asked = engine_asked["statistics"]
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        again = _load(lake)
    assert engine_asked["statistics"] > asked
    assert str(entry) in caplog.text and "computing them" in caplog.text
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    _same(again, _load(lake))
    monkeypatch.setenv("CX_CACHE_DIR", str(cache))
    assert _kept(lake)  # written anew


def test_a_cache_folder_that_cannot_be_written_leaves_the_load_as_it_was(
    lake, tmp_path, monkeypatch, caplog
):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CX_CACHE_DIR", str(blocked / "cache"))
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        got = _load(lake)
    assert f"{blocked} is not a folder: no aggregates are kept" in caplog.text
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    _same(got, _load(lake))


def test_the_commands_say_the_caches_warnings_as_their_own(lake, tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    env = {**os.environ, "CX_CACHE_DIR": str(blocked / "cache")}
    command = [sys.executable, "-m", "cxmetrics", "summary", "--url", f"duckdb:///{lake}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    said = (
        f"warning: {blocked} is not a folder: no aggregates are kept; set CX_CACHE_DIR to a folder"
    )
    assert done.stderr.splitlines() == [said]


def test_a_database_server_or_file_is_never_kept(sample_url, cache):
    dataset.load(store.make_engine(sample_url), hold="database")
    assert not cache.exists()


def test_off_keeps_nothing_and_the_default_folder_is_the_users_cache(lake, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for off in ("off", "OFF", "none"):
        monkeypatch.setenv("CX_CACHE_DIR", off)
        assert load_cache.folder() is None
    _load(lake)
    assert not (tmp_path / "xdg").exists()
    monkeypatch.delenv("CX_CACHE_DIR")
    assert load_cache.folder() == tmp_path / "xdg" / "cx-dashboard"
    _load(lake)
    assert len(_entries(tmp_path / "xdg" / "cx-dashboard")) == 1
    assert (tmp_path / "xdg" / "cx-dashboard").stat().st_mode & 0o077 == 0


def test_at_most_max_lakes_are_kept_the_one_used_longest_ago_leaves_first(
    lake, sample_url, tmp_path, cache, monkeypatch
):
    monkeypatch.setattr(load_cache, "MAX_LAKES", 2)
    others = []
    for name in ("second", "third"):
        folder = tmp_path / name
        store.export_parquet(store.make_engine(sample_url), folder)
        others.append(folder)
    _load(lake)
    _load(others[0])
    _load(lake)  # read: the lake is used again, after the second
    _load(others[1])  # a third lake: the second, used longest ago, leaves
    kept = {_kept(f) for f in [lake]}
    assert kept == {True}
    assert _kept(others[1])
    assert not _kept(others[0])
    assert len(_slots(cache)) == 2


@pytest.fixture
def answers_asked(monkeypatch):
    """The periods whose answers a load asked the engine for."""
    asked = []
    original = answers.load

    def spy(engine, start, end, *args, **kwargs):
        asked.append((start, end))
        return original(engine, start, end, *args, **kwargs)

    monkeypatch.setattr(answers, "load", spy)
    return asked


def test_a_periods_answers_are_asked_of_the_engine_once_for_every_process(
    lake, cache, answers_asked, loaded, monkeypatch
):
    period = (loaded.last_day.replace(day=1), loaded.last_day)
    view = Filters(*period)
    first = _load(lake)
    want = overview.summary_dict(overview.compute(first, view))
    assert period in answers_asked
    (entry,) = _entries(cache)
    assert load_cache._answers_file(entry, *period).is_file()
    answers_asked.clear()
    second = _load(lake)  # another process: a new dataset, nothing held in memory
    assert overview.summary_dict(overview.compute(second, view)) == want
    assert second.answers(None, None) is not None  # all data: not kept yet, asked
    assert answers_asked == [(None, None)]
    assert comparable(second.answers(*period)).equals(comparable(loaded.answers(*period)))
    assert overview.summary_dict(overview.compute(loaded, view)) == want  # and the rows'
    # a manager's scope cuts the kept answers as it cuts the computed ones
    assert comparable(second.scoped(("service",)).answers(*period)).equals(
        comparable(loaded.scoped(("service",)).answers(*period))
    )


def test_answers_past_the_disk_budget_are_not_kept(lake, cache, answers_asked, monkeypatch):
    ds = _load(lake)
    ds.answers(None, None)
    (entry,) = _entries(cache)
    kept = load_cache._answers_file(entry, None, None)
    assert kept.is_file()  # within: kept
    monkeypatch.setattr(load_cache, "ANSWER_DISK_BYTES", kept.stat().st_size + 1_000)
    short = (ds.last_day.replace(day=1), ds.last_day)
    ds.answers(*short)
    assert not load_cache._answers_file(entry, *short).exists()  # one more would pass it
    answers_asked.clear()
    _load(lake).answers(*short)
    assert answers_asked == [short]


def test_kept_answers_that_cannot_be_read_are_computed_again(
    lake, cache, answers_asked, caplog, loaded
):
    period = (loaded.last_day.replace(day=1), loaded.last_day)
    _load(lake).answers(*period)
    (entry,) = _entries(cache)
    path = load_cache._answers_file(entry, *period)
    path.write_bytes(path.read_bytes()[:100])
    answers_asked.clear()
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        got = _load(lake).answers(*period)
    assert answers_asked == [period] and str(path) in caplog.text
    assert comparable(got).equals(comparable(loaded.answers(*period)))
    assert pl.read_ipc(path).height == got.height  # written anew


def _touch(folder) -> None:
    """A lake file written again (the same bytes, a new modification time)."""
    path = folder / "responses.parquet"
    path.write_bytes(path.read_bytes())


def test_a_lake_changed_while_it_is_read_is_not_kept(
    sample_url, tmp_path, cache, monkeypatch, caplog
):
    need("duckdb")
    folder = tmp_path / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    computed = dataset._aggregates

    def changing(*args, **kwargs):
        held = computed(*args, **kwargs)
        _touch(folder)  # an export writes the lake again while the load reads it
        return held

    monkeypatch.setattr(dataset, "_aggregates", changing)
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        changed = _load(folder)
    assert "changed while it was read" in caplog.text
    assert not _entries(cache)  # neither under the old files' name nor the new ones'
    assert changed.database.kept is None  # nor are its periods' answers, nor does it say so
    from cxapp.data import held_where

    assert "kept for the next start" not in held_where(changed)
    monkeypatch.setattr(dataset, "_aggregates", computed)
    _load(folder)
    assert _kept(folder)


def test_the_lake_is_named_before_the_load_reads_any_of_it(
    sample_url, tmp_path, cache, monkeypatch, caplog
):
    """A lake written again after the load read its journey, and before it named the entry,
    would have the old files' numbers kept under the new files' name."""
    need("duckdb")
    folder = tmp_path / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    journey = store.load_journey

    def then_written_again(engine):
        read = journey(engine)
        _touch(folder)
        return read

    monkeypatch.setattr(store, "load_journey", then_written_again)
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        _load(folder)
    assert "changed while it was read" in caplog.text
    assert not _entries(cache) and not _kept(folder)


def _split_responses(lake, folder, *, linked: bool) -> tuple[Path, int]:
    """A copy of ``lake`` whose responses are a folder of part files in a subfolder, the
    first half of the rows only (``linked``: the folder a link to one outside the lake);
    the part file and the number of rows in it."""
    import shutil

    import pyarrow.parquet as pq

    shutil.copytree(lake, folder)
    table = pq.read_table(folder / "responses.parquet")
    (folder / "responses.parquet").unlink()
    parts = (folder.parent / "elsewhere" if linked else folder) / "responses"
    (parts / "a").mkdir(parents=True)
    if linked:
        (folder / "responses").symlink_to(parts, target_is_directory=True)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "a" / "part-0.parquet")
    return parts, half


@pytest.mark.parametrize("linked", [False, True], ids=["part files", "a linked folder"])
def test_every_file_the_engine_reads_names_the_entry(lake, tmp_path, cache, linked):
    """A part file added in a subfolder of a table, or written again in a folder the lake
    links to, is computed again, not read from the entry of the files before."""
    import pyarrow.parquet as pq

    folder = tmp_path / "lake"
    parts, half = _split_responses(lake, folder, linked=linked)
    whole = pq.read_table(lake / "responses.parquet")
    assert _load(folder).n_responses == half
    assert _kept(folder)
    if linked:  # the same file written again with every row
        pq.write_table(whole, parts / "a" / "part-0.parquet")
    else:  # the second half added in another subfolder
        (parts / "b").mkdir()
        pq.write_table(whole.slice(half), parts / "b" / "part-1.parquet")
    assert _load(folder).n_responses == whole.num_rows
    assert _kept(folder)


def test_a_cache_folder_is_never_left_without_its_tag(lake, cache, monkeypatch, caplog):
    """The folder of aggregates is made whole: a tag that could not be written (a full
    disk) leaves no folder behind that later starts would take for someone else's."""
    import errno

    written = load_cache.Path.write_text

    def full(path, *args, **kwargs):
        if path.name == load_cache.TAG:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return written(path, *args, **kwargs)

    monkeypatch.setattr(load_cache.Path, "write_text", full)
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        _load(lake)
    assert "No space left on device" in caplog.text
    assert not (cache / "aggregates").exists()
    assert [p.name for p in cache.iterdir()] == []  # nothing half-made beside it either
    monkeypatch.undo()
    monkeypatch.setenv("CX_CACHE_DIR", str(cache))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        _load(lake)
    assert "not the dashboard's own" not in caplog.text
    assert _kept(lake)


def test_two_first_starts_both_take_the_new_cache_folder_for_their_own(cache, monkeypatch):
    """Two processes making the folder of aggregates at once: neither sees it before its tag
    is in it (and goes on without the cache, or its lock)."""
    import threading

    written, both = load_cache.Path.write_text, threading.Barrier(2, timeout=5)

    def together(path, *args, **kwargs):
        if path.name == load_cache.TAG:
            with contextlib.suppress(threading.BrokenBarrierError):
                both.wait()  # each is about to write its tag
        return written(path, *args, **kwargs)

    monkeypatch.setattr(load_cache.Path, "write_text", together)
    base, own = cache / load_cache.SUBFOLDER, {}
    starts = [
        threading.Thread(target=lambda i=i: own.__setitem__(i, load_cache._own(base)))
        for i in range(2)
    ]
    for start in starts:
        start.start()
    for start in starts:
        start.join(30)
    assert own == {0: True, 1: True}
    assert sorted(p.name for p in cache.iterdir()) == [load_cache.SUBFOLDER]


def test_the_codes_fingerprint_changes_with_any_source_file_and_library(tmp_path, monkeypatch):
    import importlib.metadata
    import shutil

    package = tmp_path / "cxmetrics"
    shutil.copytree(load_cache._PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(load_cache, "_PACKAGE", package)

    def code() -> str:
        load_cache._code.cache_clear()
        return load_cache._code()

    first = code()
    assert code() == first
    views = package / "views" / "overview.py"
    views.write_text(views.read_text() + "\n# a change\n")
    second = code()
    assert second != first
    version = importlib.metadata.version
    monkeypatch.setattr(
        load_cache.importlib.metadata,
        "version",
        lambda name: "0.0" if name == "polars" else version(name),
    )
    assert code() not in (first, second)
    monkeypatch.undo()
    load_cache._code.cache_clear()


def test_a_dataset_keeps_its_answers_only_while_the_lake_is_what_it_read(
    sample_url, tmp_path, cache, answers_asked
):
    need("duckdb")
    folder = tmp_path / "lake"
    store.export_parquet(store.make_engine(sample_url), folder)
    old = _load(folder)
    period = (old.last_day.replace(day=1), old.last_day)
    _touch(folder)
    old.answers(*period)  # the lake changed since this dataset's load: not kept
    assert not [p for e in _entries(cache) for p in e.glob("answers-*")]
    new = _load(folder)  # a new entry, for the files as they are now
    new.answers(*period)
    (entry,) = _entries(cache)
    assert load_cache._answers_file(entry, *period).is_file()
    answers_asked.clear()
    old.forget_views()
    old._answers.clear()
    old.answers(*period)  # the old dataset does not read the new entry's answers
    assert answers_asked == [period]


@pytest.mark.parametrize("case", ["no tag", "open to others", "a link", "another user's"])
def test_a_folder_that_is_not_the_dashboards_own_is_neither_read_nor_changed(
    lake, tmp_path, engine_asked, monkeypatch, caplog, case
):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("CX_CACHE_DIR", str(elsewhere))
    _load(lake)  # a whole, readable entry for this lake, in another cache folder
    planted = elsewhere / "aggregates"
    shared = tmp_path / "shared"
    shared.mkdir()
    if case == "a link":
        (shared / "aggregates").symlink_to(planted)
    else:
        import shutil

        shutil.copytree(planted, shared / "aggregates")
        if case == "no tag":
            (shared / "aggregates" / load_cache.TAG).unlink()
        if case == "open to others":
            (shared / "aggregates").chmod(0o755)
    before = {p: (p.lstat().st_mode, p.lstat().st_uid) for p in shared.rglob("*")}
    if case == "another user's":  # the folder's owner is not the process's user
        uid = os.getuid()
        monkeypatch.setattr(load_cache.os, "getuid", lambda: uid + 1)
    monkeypatch.setenv("CX_CACHE_DIR", str(shared))
    asked = engine_asked["statistics"]
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        _load(lake)
    assert engine_asked["statistics"] > asked  # not read: computed
    why = {
        "no tag": "its CACHEDIR.TAG is not the dashboard's",
        "open to others": "others may use it (mode 755; 700 keeps them out)",
        "a link": "it is a link",
        "another user's": "it belongs to user",
    }[case]
    assert f"{shared / 'aggregates'} is not the dashboard's own folder of aggregates ({why}" in (
        caplog.text
    )
    assert {p: (p.lstat().st_mode, p.lstat().st_uid) for p in shared.rglob("*")} == before


def test_any_error_of_the_cache_leaves_the_load_as_it_was(lake, cache, monkeypatch, caplog):
    def refused(_lake):
        raise PermissionError(13, "Permission denied", str(_lake))

    monkeypatch.setattr(load_cache, "_name", refused)
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        got = _load(lake)
    assert "Permission denied" in caplog.text
    monkeypatch.undo()
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    _same(got, _load(lake))
    # no home folder to find the default cache in
    monkeypatch.delenv("CX_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def homeless():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(load_cache.Path, "home", staticmethod(homeless))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
        _same(got, _load(lake))
    assert "home directory" in caplog.text


def test_the_server_log_says_where_a_lakes_aggregates_are_kept(lake, cache, monkeypatch):
    from cxapp.data import held_where

    said = held_where(_load(lake))
    (entry,) = _entries(cache)
    assert said.endswith(f"(CX_HOLD=database), kept for the next start in {entry}")
    said = held_where(_load(lake))
    assert said.endswith(f"(CX_HOLD=database), read from what an earlier start kept in {entry}")
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    assert held_where(_load(lake)).endswith("(CX_HOLD=database)")


def test_processes_that_start_together_ask_the_engine_once(lake, cache, engine_asked, monkeypatch):
    """The second start waits for the first (the lake's lock: each thread opens it apart, as
    a process does) and reads what it kept, instead of computing everything a second time."""
    import threading

    computed, started, release = dataset._aggregates, threading.Event(), threading.Event()

    def held_back(*args, **kwargs):
        started.set()
        assert release.wait(120)
        return computed(*args, **kwargs)

    monkeypatch.setattr(dataset, "_aggregates", held_back)
    waiting, loads = threading.Event(), {}

    def progress(_fraction, message):
        if message.startswith("Waiting for another process"):
            waiting.set()

    def start(name, told=lambda f, m: None):
        loads[name] = dataset.load(store.make_engine(f"duckdb:///{lake}"), told)

    first = threading.Thread(target=start, args=("first",))
    first.start()
    assert started.wait(120)  # the first is computing, holding the lock
    second = threading.Thread(target=start, args=("second", progress))
    second.start()
    assert waiting.wait(120)  # the second waits for it
    release.set()
    first.join(300)
    second.join(300)
    assert set(loads) == {"first", "second"}
    assert engine_asked["latest"] == 1 and engine_asked["customers"] == 1  # computed once
    _same(loads["first"], loads["second"])


def test_a_start_waits_for_the_lock_only_so_long(lake, cache, engine_asked, monkeypatch, caplog):
    import fcntl

    kept = load_cache.entry(store.make_engine(f"duckdb:///{lake}"))
    kept.slot.mkdir(parents=True, exist_ok=True)
    with open(kept.slot / load_cache.LOCK, "a") as other:  # a process that never finishes
        fcntl.flock(other, fcntl.LOCK_EX)
        monkeypatch.setattr(load_cache, "LOCK_WAIT_SECONDS", 0.5)
        with caplog.at_level(logging.WARNING, logger=load_cache.__name__):
            got = _load(lake)
    assert "computing them here" in caplog.text and engine_asked["latest"] == 1
    monkeypatch.setenv("CX_CACHE_DIR", "off")
    _same(got, _load(lake))
