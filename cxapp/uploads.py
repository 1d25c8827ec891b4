"""The Data page's helpers: uploaded files on disk, imports, and fresh caches afterwards."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

import streamlit as st

from cxapp import auth, data
from cxmetrics.contract import importer, journey_import, mapping, migrate, store

_folder: Path | None = None
_folder_lock = threading.Lock()


def upload_dir() -> Path:
    """This server's own folder for uploaded files: made on first use with a name nobody
    can guess, readable by this server's user alone (0700), removed when the server stops.
    Another user of the machine can neither read the files nor plant links in it."""
    global _folder
    with _folder_lock:
        if _folder is None or not _folder.is_dir():
            _folder = Path(tempfile.mkdtemp(prefix="cx-dashboard-uploads-"))
            atexit.register(shutil.rmtree, _folder, ignore_errors=True)
        return _folder


def digest(uploaded) -> str:
    """A short fingerprint of an uploaded file's content ("none" without a file)."""
    if uploaded is None:
        return "none"
    return hashlib.sha256(uploaded.getvalue()).hexdigest()[:16]


def _private_dir(path: Path) -> None:
    """Make ``path`` (inside :func:`upload_dir`) a directory of ours, never a link."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a folder of this server's; refusing to use it")
    os.chmod(path, 0o700)


def save(uploaded) -> Path:
    """Write an uploaded file to this server's private folder (never inside the
    repository), readable by this server alone; the same content always lands at the same
    path. An existing link there is never followed."""
    folder = upload_dir() / digest(uploaded)
    _private_dir(folder)
    path = folder / (Path(uploaded.name).name or "upload")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
        return path
    if info is not None:
        path.unlink()  # a link or anything else planted there: removed, not followed
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(uploaded.getvalue())
    return path


def discard(path: Path) -> None:
    """Remove an uploaded file and what its import wrote beside it (its report)."""
    folder = Path(path).parent
    if folder.parent == upload_dir():
        shutil.rmtree(folder, ignore_errors=True)


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def read(path: str, encoding: str):
    return importer.read_source(Path(path), encoding)


def mapping_from(uploaded, table: str) -> mapping.Mapping | None:
    if uploaded is None:
        return None
    suffix = Path(uploaded.name).suffix.lower()
    return mapping.loads(uploaded.getvalue().decode("utf-8"), suffix, table, uploaded.name)


def run(table: str, path: Path, m: mapping.Mapping, *, dry_run: bool, accept_valid: bool, bar):
    """Run an import with a progress bar; after a write, every page reads the new data."""
    _may_import()
    report = importer.run(
        data.engine(),
        table,
        path,
        m,
        dry_run=dry_run,
        accept_valid=accept_valid,
        report_dir=path.parent / "report",
        progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg),
    )
    if report.written and not dry_run:
        data.refresh()
    return report


def import_journey(path: Path) -> dict[str, int]:
    _may_import()
    try:
        counts = journey_import.write(data.engine(), journey_import.read(path), path.name)
    finally:
        discard(path)
    data.refresh()
    return counts


def _may_import() -> None:
    """Only analysts write to the database, whatever page or link they came through."""
    user = auth.current_user()
    if not user.can_import:
        raise PermissionError(f"{user.role}s cannot import data; ask an analyst")


def setup_needed() -> str | None:
    """What the database lacks before files can be imported into it (``store.setup_needed``),
    or None; also None when it cannot be reached (:func:`status` says why)."""
    try:
        return store.setup_needed(data.engine())
    except Exception:  # noqa: BLE001 (unreachable: the page's status read reports it)
        return None


def create_tables() -> list[str]:
    """Create (or bring up to date) the contract's tables, as ``init-db`` does: the tables
    made, by name. Analysts only."""
    _may_import()
    engine = data.engine()
    store.require_writable(engine, "the tables")
    changes = migrate.upgrade(engine)
    data.refresh()
    return [c.table for c in changes if c.what == "new table"]


def status():
    """Rows and dates per table: the whole database, so not for a department's manager."""
    if auth.current_user().scope is not None:
        raise PermissionError("the Data page covers the whole database")
    return importer.table_status(data.engine())


def safe_url() -> str:
    return store.safe_url(store.database_url())


def import_refusal() -> str | None:
    """Why files cannot be imported into this database (a lake, Spark, a DuckDB file), as a
    sentence without its stop, or None."""
    refusal = store.import_refusal(data.engine(), "files")
    return None if refusal is None else refusal[:1].upper() + refusal[1:]
