"""What a load computed over a lake, kept on disk for the next process that loads it.

A dataset that holds aggregates (``dataset.build_in_database``) asks the engine for the
customers, the daily statistics, each customer's latest answer and the design effects: at
100M responses on DuckDB most of its first overview's two and a half minutes, and again in
every process that starts (a restart, each process behind the proxy). Over a folder of
Parquet files (DuckDB or Spark) these depend only on the files and on this package's code,
so the first process to load them writes them into a cache folder and the next ones read
them there. Each period's customer-level answers a process asks the engine for (a new
period's first view: at 100M responses up to a minute and more) are kept beside them, up to
about :data:`ANSWER_DISK_BYTES` per lake.

- **Where:** in the folder ``aggregates`` of ``CX_CACHE_DIR``, else of
  ``$XDG_CACHE_HOME/cx-dashboard``, else of ``~/.cache/cx-dashboard``. The folder
  ``aggregates`` (and the cache folder, where the dashboard makes it) is made readable by
  its owner alone, as it holds customer ids and facts; it is used only while it is a folder
  (not a link) of this user's, closed to others, with the dashboard's ``CACHEDIR.TAG`` in it,
  so a folder someone else made, or one of the user's own, is never read, changed or
  pruned. Nothing else in the cache folder is touched. ``CX_CACHE_DIR=off`` turns it off.
- **When it is used:** an entry is named by a fingerprint of every Parquet file the engine
  reads of the lake (``lake.listing``: in folders of part files, through links; its path,
  size, inode and modification and change times), of the engine, and of the package's
  source and its libraries' versions, taken before the load reads the lake: a file written
  again, added or removed, or an upgraded dashboard, makes a new entry, and the lake's
  earlier entry is removed when the new one is written. A lake whose files changed while
  the load read them is not kept. A dataset reads and keeps its periods' answers in the
  entry of its own load (its customers' codes are that load's). At most :data:`MAX_LAKES`
  lakes are kept (the one used longest ago leaves first).
- **Never half-written, never a failed load:** an entry is written into a temporary folder
  and moved into place whole; one that cannot be read, or whose files are not those it was
  written with (their digests, and its own, are in its ``meta.json``), is computed again and
  written anew; any error of the cache (a folder that cannot be written, a full disk, a file
  gone) leaves the load as it was, with a warning in the log.
- **Computed once for processes that start together:** the process that computes a lake's
  aggregates holds the lake's lock (``flock`` on a file beside its entries) meanwhile; one
  that starts then waits for it (up to :data:`LOCK_WAIT_SECONDS`) and reads what it kept,
  instead of asking the engine for all of it too (at 100M responses, 4.5 GB and two and a
  half minutes each).
- **Lakes only:** a database server's rows can change in place with no sign a cheap query
  sees (the data version counts rows and imports), so a server's aggregates are computed at
  each start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import lake, store

try:
    import fcntl
except ImportError:  # not a POSIX system: each process computes its own
    fcntl = None

log = logging.getLogger(__name__)

CACHE_ENV = "CX_CACHE_DIR"
OFF = ("off", "none", "0", "false", "no")
#: Lakes whose aggregates are kept at once
MAX_LAKES = 8
#: The entry's layout; a change of it makes every earlier entry unused
FORMAT = 1
#: A temporary folder older than this is a writer's that died, and is removed
STALE_WRITE_SECONDS = 3600
#: Bytes of periods' answers kept per lake (their files): past it, a new period's are not
ANSWER_DISK_BYTES = 2 * 2**30
#: How long a start waits for another process computing the same lake's aggregates before
#: it computes them itself
LOCK_WAIT_SECONDS = 3600.0
LOCK = ".lock"
LOCK_POLL_SECONDS = 0.25
_PACKAGE = Path(__file__).resolve().parent.parent
#: The folder of the cache folder that holds the lakes' entries, one folder per lake
SUBFOLDER = "aggregates"
_SLOT = re.compile("[0-9a-f]{24}")
#: The cache directory tag (https://bford.info/cachedir/): backups skip the folder, and
#: the dashboard knows the folder for its own
TAG = "CACHEDIR.TAG"
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# The CX dashboard's aggregates of lakes (cxmetrics.stats.load_cache).\n"
)
_LIBRARIES = ("polars", "numpy", "duckdb", "duckdb-engine", "pyspark")


@dataclass(frozen=True)
class Aggregates:
    """What ``dataset.build_in_database`` asks the engine for."""

    customers: pl.DataFrame  # as dataset.prepare_customers makes them
    stats: pl.DataFrame  # the daily statistics, compacted, before their trend buckets
    cuts: tuple[str, ...]  # store.customer_cuts
    latest_nps: np.ndarray  # aggregates.latest_nps
    design_effect: dict[str, float]
    sources: tuple[str, ...]


def folder() -> Path | None:
    """The cache folder, or None when ``CX_CACHE_DIR`` turns the cache off."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen.lower() in OFF and chosen:
        return None
    if chosen:
        return Path(chosen).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "cx-dashboard"


@functools.lru_cache(maxsize=1)
def _code() -> str:
    """The package's source and the versions of the libraries that shape what is kept."""
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name} {importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name} none".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """Where a lake's aggregates are kept, for its files as they were when a load began."""

    lake: Path
    slot: Path  # the lake's folder in the cache
    path: Path  # this version's entry in it

    def current(self) -> bool:
        """Whether the lake's files are still those the entry is named after."""
        return _name(self.lake) == self.path.name


def _name(folder: Path) -> str:
    """The entry's name: the code's fingerprint and the lake's files, every one the engines
    read (``lake.listing``: through links, in folders of part files)."""
    digest = hashlib.sha256(_code().encode())
    digest.update(repr(lake.listing(folder)).encode())
    return digest.hexdigest()[:32]


def _guarded(what: str, default=None):
    """Run the decorated function; any error is logged as a warning and gives ``default``:
    the cache never fails a load."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (the load goes on without the cache)
                name = type(exc).__name__
                log.warning("%s: %s: %s; the load goes on without it", what, name, exc)
                return default

        return run

    return wrap


@_guarded("the cache of aggregates cannot be used")
def entry(engine: sa.Engine) -> Entry | None:
    """The entry for this lake's files as they are now, or None (the cache off, not a
    lake, or a cache folder that is not the dashboard's own)."""
    folder = store.lake_folder(str(engine.url))
    if folder is None:
        return None
    base = _aggregates_folder()
    if base is None or not _own(base):
        return None
    slot = base / hashlib.sha256(f"{engine.dialect.name} {folder}".encode()).hexdigest()[:24]
    return Entry(folder, slot, slot / _name(folder))


def _aggregates_folder() -> Path | None:
    """Where the lakes' entries are: a folder of its own in the cache folder, so that a
    ``CX_CACHE_DIR`` naming a folder with other files in it (a home, /tmp) has nothing of
    them changed nor removed."""
    root = folder()
    return None if root is None else root / SUBFOLDER


def _own(base: Path) -> bool:
    """Whether ``base`` is the dashboard's folder of aggregates, made now if it is not there
    (and its cache folder with it): a folder, not a link, of this user's, closed to others,
    with the dashboard's tag. Anything else there is left as it is, and not used."""
    for above in (base.parent, *base.parent.parents):  # CX_CACHE_DIR a file, or under one
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                log.warning(
                    "%s is not a folder: no aggregates are kept; set %s to a folder",
                    above,
                    CACHE_ENV,
                )
                return False
            break
    if not base.exists() and not base.is_symlink():
        _make(base)
    why = _not_own(base)
    if why is None:
        return True
    log.warning(
        "%s is not the dashboard's own folder of aggregates (%s): it is left as it is, and "
        "nothing is kept there; set %s to another folder",
        base,
        why,
        CACHE_ENV,
    )
    return False


def _not_own(base: Path) -> str | None:
    """Why ``base`` is not the dashboard's folder of aggregates, or None when it is."""
    st = base.lstat()
    if stat.S_ISLNK(st.st_mode):
        return "it is a link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if st.st_uid != os.getuid():
        return f"it belongs to user {st.st_uid}, not to this process's user {os.getuid()}"
    if st.st_mode & 0o077:
        return f"others may use it (mode {stat.S_IMODE(st.st_mode):o}; 700 keeps them out)"
    tag = base / TAG
    if not tag.is_file() or tag.read_text() != TAG_TEXT:
        return f"its {TAG} is not the dashboard's"
    return None


def _make(base: Path) -> None:
    """Make the folder of aggregates whole, tag and all: made and tagged under a temporary
    name beside it, then moved into place, so that no process (another starting, one that
    failed halfway) ever sees it without its tag."""
    base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=f".{base.name}-", dir=base.parent))  # 0700
    try:
        (staging / TAG).write_text(TAG_TEXT)
        with contextlib.suppress(OSError):  # another process made it first
            os.rename(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@_guarded("the aggregates kept cannot be read")
def read(kept: Entry | None) -> Aggregates | None:
    """The aggregates kept in this entry, or None (none kept, or an entry that cannot be
    read, which is removed)."""
    if kept is None or not (kept.path / "meta.json").is_file():
        return None
    try:
        meta = json.loads((kept.path / "meta.json").read_text())
        if meta.pop("meta_sha256", None) != _meta_digest(meta):  # its own numbers, unchanged
            raise ValueError("meta.json is not the file that was kept")
        for name in _FILES:  # a file damaged on disk is not read
            if _digest(kept.path / name) != meta["sha256"][name]:
                raise ValueError(f"{name} is not the file that was kept")
        held = Aggregates(
            customers=pl.read_ipc(kept.path / "customers.arrow"),
            stats=pl.read_ipc(kept.path / "stats.arrow"),
            cuts=tuple(meta["cuts"]),
            latest_nps=np.load(kept.path / "latest_nps.npy", allow_pickle=False),
            design_effect={k: float(v) for k, v in meta["design_effect"].items()},
            sources=tuple(meta["sources"]),
        )
        if held.latest_nps.shape != (held.customers.height,):
            raise ValueError("latest answers and customers differ in number")
    except Exception as exc:  # noqa: BLE001 (any unreadable entry is computed again)
        log.warning("the aggregates kept in %s cannot be read (%s); computing them", kept.path, exc)
        shutil.rmtree(kept.path, ignore_errors=True)
        return None
    with contextlib.suppress(OSError):
        os.utime(kept.slot)  # used now: the lake used longest ago leaves first
    return held


@_guarded("the aggregates could not be kept")
def write(kept: Entry | None, held: Aggregates) -> Path | None:
    """Keep ``held`` in the entry a load began with; the entry's folder, or None when
    nothing was written (the cache off, not a lake, or the lake's files changed meanwhile:
    what was read may mix the old files and the new)."""
    if kept is None:
        return None
    if not kept.current():
        log.warning("%s changed while it was read: its aggregates are not kept", kept.lake)
        return None
    kept.slot.mkdir(exist_ok=True, mode=0o700)
    if (kept.path / "meta.json").is_file():  # another process kept them meanwhile
        return kept.path
    staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=kept.slot))
    try:
        held.customers.write_ipc(staging / "customers.arrow", compression="lz4")
        held.stats.write_ipc(staging / "stats.arrow", compression="lz4")
        np.save(staging / "latest_nps.npy", held.latest_nps, allow_pickle=False)
        meta = {
            "sha256": {name: _digest(staging / name) for name in _FILES},
            "cuts": list(held.cuts),
            "design_effect": held.design_effect,
            "sources": list(held.sources),
            "lake": str(kept.lake),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        meta["meta_sha256"] = _meta_digest(meta)
        (staging / "meta.json").write_text(json.dumps(meta))  # last: the entry is whole
        if kept.path.is_dir() and not (kept.path / "meta.json").is_file():
            shutil.rmtree(kept.path, ignore_errors=True)  # the remains of a damaged entry
        with contextlib.suppress(OSError):  # another process's entry got there first
            os.rename(staging, kept.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (kept.path / "meta.json").is_file():
        log.warning("the aggregates of %s could not be moved into %s", kept.lake, kept.path)
        return None
    _sweep(kept.slot, keep=(kept.path.name, LOCK))
    _prune(kept.slot.parent)
    return kept.path


#: The files of an entry beside its meta.json, whose digests it holds
_FILES = ("customers.arrow", "stats.arrow", "latest_nps.npy")


def _meta_digest(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@contextlib.contextmanager
def computing(kept: Entry | None, waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold the lake's lock while its aggregates are computed. A process that holds it
    already makes this one wait (``waiting()`` is called once, when it starts to), up to
    :data:`LOCK_WAIT_SECONDS`; then, or where no lock can be had, this one goes on without
    it. The lock goes with the process that holds it, however that process ends."""
    handle = _locked(kept, waiting)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()


@_guarded("the lock of the aggregates kept cannot be taken")
def _locked(kept: Entry | None, waiting: Callable[[], None]):
    if kept is None or fcntl is None:
        return None
    kept.slot.mkdir(exist_ok=True, mode=0o700)
    os.utime(kept.slot)  # used now: not the lake used longest ago, which a write prunes
    handle = open(kept.slot / LOCK, "a")  # noqa: SIM115 (held until computing() ends)
    deadline, told = time.monotonic() + LOCK_WAIT_SECONDS, False
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if not told:
                told = True
                log.info("waiting for another process computing the aggregates of %s", kept.lake)
                waiting()
            if time.monotonic() > deadline:
                log.warning(
                    "waited %.0f s for another process computing the aggregates of %s: "
                    "computing them here",
                    LOCK_WAIT_SECONDS,
                    kept.lake,
                )
                handle.close()
                return None
            time.sleep(LOCK_POLL_SECONDS)
    except BaseException:
        handle.close()
        raise


def _sweep(folder: Path, keep: tuple[str, ...]) -> None:
    """Remove what ``folder`` holds but ``keep``: the lake's earlier entries, and the files
    of writers that died (those still being written, of the last hour, stay)."""
    for old in folder.iterdir():
        if old.name in keep:
            continue
        writing = old.name.startswith(".writing-")
        with contextlib.suppress(OSError):
            if not writing or time.time() - old.lstat().st_mtime > STALE_WRITE_SECONDS:
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink()


def _prune(base: Path) -> None:
    """Keep the :data:`MAX_LAKES` lakes used most recently."""
    slots = sorted(
        (p for p in base.iterdir() if _SLOT.fullmatch(p.name) and p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for gone in slots[MAX_LAKES:]:
        shutil.rmtree(gone, ignore_errors=True)


def _answers_file(entry: Path, start: dt.date | None, end: dt.date | None) -> Path:
    first, last = (d.isoformat() if d is not None else "open" for d in (start, end))
    return entry / f"answers-{first}-{last}.arrow"


@_guarded("the answers kept cannot be read")
def read_answers(
    kept: Entry | None, start: dt.date | None, end: dt.date | None
) -> pl.DataFrame | None:
    """A period's customer-level answers (``answers.load``) kept in the entry of the
    dataset's own load, or None."""
    if kept is None or not (kept.path / "meta.json").is_file():
        return None
    path = _answers_file(kept.path, start, end)
    if not path.is_file():
        return None
    try:
        return pl.read_ipc(path)
    except Exception as exc:  # noqa: BLE001 (an unreadable file is computed again)
        log.warning("the answers kept in %s cannot be read (%s); computing them", path, exc)
        with contextlib.suppress(OSError):
            path.unlink()
        return None


@_guarded("the answers could not be kept")
def write_answers(
    kept: Entry | None, start: dt.date | None, end: dt.date | None, frame: pl.DataFrame
) -> Path | None:
    """Keep a period's answers in the entry of the dataset's own load (when its aggregates
    are kept there and the lake's files are still those it read), within
    :data:`ANSWER_DISK_BYTES`; the file, or None when nothing was written."""
    if kept is None or not (kept.path / "meta.json").is_file() or not kept.current():
        return None
    path = _answers_file(kept.path, start, end)
    _sweep_writes(kept.path)
    held = sum(p.stat().st_size for p in kept.path.glob("answers-*.arrow"))
    if held + frame.estimated_size() > ANSWER_DISK_BYTES:
        return None
    handle, staging = tempfile.mkstemp(prefix=".writing-", dir=kept.path)
    os.close(handle)
    try:
        frame.write_ipc(staging, compression="lz4")
        os.replace(staging, path)  # whole, or not there
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staging)
    return path


def _sweep_writes(entry: Path) -> None:
    """Remove the answers files of writers that died (an hour old and still temporary)."""
    for old in entry.glob(".writing-*"):
        with contextlib.suppress(OSError):
            if time.time() - old.lstat().st_mtime > STALE_WRITE_SECONDS:
                old.unlink()
