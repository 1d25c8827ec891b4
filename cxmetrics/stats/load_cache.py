"""What a load computed over a lake, kept on disk for the next process that loads it.

A dataset that holds aggregates (``dataset.build_in_database``) asks the engine for the
customers, the daily statistics, each customer's latest answer and the design effects: at
100M responses on DuckDB most of its first overview's two and a half minutes, and again in
every process that starts (a restart, each process behind the proxy). Over a folder of
Parquet files (DuckDB or Spark) these depend only on the files and on this package's code,
so the first process to load them writes them into a cache folder and the next ones read
them there. Each period's customer-level answers a process asks the engine for (a new
period's first view: at 100M responses up to a minute and more) are kept beside them, up to
:data:`ANSWER_DISK_BYTES` per lake.

- **Where:** in the folder ``aggregates`` of ``CX_CACHE_DIR``, else of
  ``$XDG_CACHE_HOME/cx-dashboard``, else of ``~/.cache/cx-dashboard``, made readable by its
  owner alone (it holds customer ids and facts, as the lake does); nothing else in the
  cache folder is changed. ``CX_CACHE_DIR=off`` turns the cache off.
- **When it is used:** an entry is named by a fingerprint of every Parquet file of the lake
  (its path, size and modification time), of the engine, and of the package's source and
  Polars' version: a file written again, added or removed, or an upgraded dashboard, makes a
  new entry, and the lake's earlier entry is removed when the new one is written. At most
  :data:`MAX_LAKES` lakes are kept (the one used longest ago leaves first).
- **Never half-written:** an entry is written into a temporary folder and moved into place
  whole; one that cannot be read is computed again and written anew; a cache folder that
  cannot be written leaves the load as it was, with a warning in the log.
- **Lakes only:** a database server's rows can change in place with no sign a cheap query
  sees (the data version counts rows and imports), so a server's aggregates are computed at
  each start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import store

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
_PACKAGE = Path(__file__).resolve().parent.parent
#: The folder of the cache folder that holds the lakes' entries, one folder per lake
SUBFOLDER = "aggregates"
_SLOT = re.compile("[0-9a-f]{24}")


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
    """The package's source and the libraries that shape what is kept."""
    digest = hashlib.sha256(f"{FORMAT} polars {pl.__version__}".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _lake_files(lake: Path) -> list[tuple[str, int, int]]:
    files = []
    for path in sorted(lake.rglob("*.parquet")):
        stat = path.stat()
        files.append((str(path.relative_to(lake)), stat.st_size, stat.st_mtime_ns))
    return files


def _names(engine: sa.Engine) -> tuple[str, str] | None:
    """(the lake's slot, the entry's name) for a lake's engine; None for any other."""
    lake = store.lake_folder(str(engine.url))
    if lake is None:
        return None
    slot = hashlib.sha256(f"{engine.dialect.name} {lake}".encode()).hexdigest()[:24]
    digest = hashlib.sha256(_code().encode())
    digest.update(repr(_lake_files(lake)).encode())
    return slot, digest.hexdigest()[:32]


def _aggregates_folder() -> Path | None:
    """Where the lakes' entries are: a folder of its own in the cache folder, so that a
    ``CX_CACHE_DIR`` naming a folder with other files in it (a home, /tmp) has nothing of
    them changed nor removed."""
    root = folder()
    return None if root is None else root / SUBFOLDER


def read(engine: sa.Engine) -> Aggregates | None:
    """The aggregates kept for this lake as its files are now, or None (not kept, the cache
    off, not a lake, or an entry that cannot be read)."""
    base, names = _aggregates_folder(), _names(engine)
    if base is None or names is None:
        return None
    entry = base / names[0] / names[1]
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text())
        held = Aggregates(
            customers=pl.read_ipc(entry / "customers.arrow"),
            stats=pl.read_ipc(entry / "stats.arrow"),
            cuts=tuple(meta["cuts"]),
            latest_nps=np.load(entry / "latest_nps.npy", allow_pickle=False),
            design_effect={k: float(v) for k, v in meta["design_effect"].items()},
            sources=tuple(meta["sources"]),
        )
        if held.latest_nps.shape != (held.customers.height,):
            raise ValueError("latest answers and customers differ in number")
    except Exception as exc:  # noqa: BLE001 (any unreadable entry is computed again)
        log.warning("the aggregates kept in %s cannot be read (%s); computing them", entry, exc)
        with contextlib.suppress(OSError):
            shutil.rmtree(entry)
        return None
    with contextlib.suppress(OSError):
        os.utime(entry.parent)  # used now: the lake used longest ago leaves first
    return held


def write(engine: sa.Engine, held: Aggregates) -> Path | None:
    """Keep ``held`` for this lake as its files are now; the entry's folder, or None when
    nothing was written (the cache off, not a lake, or the folder not writable)."""
    base, names = _aggregates_folder(), _names(engine)
    if base is None or names is None:
        return None
    slot, name = base / names[0], names[1]
    try:
        base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # made here: its owner's
        for made in (base, slot):
            made.mkdir(exist_ok=True, mode=0o700)
            made.chmod(0o700)
        if (slot / name / "meta.json").is_file():  # another process kept them meanwhile
            return slot / name
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=slot))
        try:
            held.customers.write_ipc(staging / "customers.arrow", compression="lz4")
            held.stats.write_ipc(staging / "stats.arrow", compression="lz4")
            np.save(staging / "latest_nps.npy", held.latest_nps, allow_pickle=False)
            meta = {
                "cuts": list(held.cuts),
                "design_effect": held.design_effect,
                "sources": list(held.sources),
                "lake": str(store.lake_folder(str(engine.url))),
                "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (staging / "meta.json").write_text(json.dumps(meta))  # last: the entry is whole
            for old in slot.iterdir():  # the lake's earlier files, and writers that died
                writing = old.name.startswith(".writing-")
                stale = not writing or time.time() - old.stat().st_mtime > STALE_WRITE_SECONDS
                if stale and old != staging:
                    shutil.rmtree(old, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process's entry got there first
                os.rename(staging, slot / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune(base)
    except OSError as exc:
        log.warning("the aggregates of %s could not be kept in %s: %s", engine.url, base, exc)
        return None
    return slot / name


def _prune(base: Path) -> None:
    """Keep the :data:`MAX_LAKES` lakes used most recently."""
    slots = sorted(
        (p for p in base.iterdir() if p.is_dir() and _SLOT.fullmatch(p.name)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for gone in slots[MAX_LAKES:]:
        shutil.rmtree(gone, ignore_errors=True)


def _entry(engine: sa.Engine) -> Path | None:
    """The lake's whole entry as its files are now, or None."""
    base, names = _aggregates_folder(), _names(engine)
    if base is None or names is None:
        return None
    entry = base / names[0] / names[1]
    return entry if (entry / "meta.json").is_file() else None


def _answers_file(entry: Path, start: dt.date | None, end: dt.date | None) -> Path:
    first, last = (d.isoformat() if d is not None else "open" for d in (start, end))
    return entry / f"answers-{first}-{last}.arrow"


def read_answers(
    engine: sa.Engine, start: dt.date | None, end: dt.date | None
) -> pl.DataFrame | None:
    """A period's customer-level answers (``answers.load``) as a process kept them for
    this lake's files, or None."""
    entry = _entry(engine)
    if entry is None:
        return None
    path = _answers_file(entry, start, end)
    if not path.is_file():
        return None
    try:
        return pl.read_ipc(path)
    except Exception as exc:  # noqa: BLE001 (an unreadable file is computed again)
        log.warning("the answers kept in %s cannot be read (%s); computing them", path, exc)
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def write_answers(
    engine: sa.Engine, start: dt.date | None, end: dt.date | None, frame: pl.DataFrame
) -> Path | None:
    """Keep a period's answers beside the lake's aggregates (when they are kept), within
    :data:`ANSWER_DISK_BYTES`; the file, or None when nothing was written."""
    entry = _entry(engine)
    if entry is None:
        return None
    path = _answers_file(entry, start, end)
    try:
        held = sum(p.stat().st_size for p in entry.glob("answers-*.arrow"))
        if held + frame.estimated_size() > ANSWER_DISK_BYTES:
            return None
        handle, staging = tempfile.mkstemp(prefix=".writing-", dir=entry)
        os.close(handle)
        try:
            frame.write_ipc(staging, compression="lz4")
            os.replace(staging, path)  # whole, or not there
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staging)
    except OSError as exc:
        log.warning("the answers of %s could not be kept in %s: %s", engine.url, entry, exc)
        return None
    return path
