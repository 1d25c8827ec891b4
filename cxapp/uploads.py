"""The Data page's helpers: uploaded files on disk, imports, and fresh caches afterwards."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from cxapp import auth, data
from cxmetrics import importer, journey_import, mapping, store

UPLOAD_DIR = Path(tempfile.gettempdir()) / "cx-dashboard-uploads"


def digest(uploaded) -> str:
    """A short fingerprint of an uploaded file's content ("none" without a file)."""
    if uploaded is None:
        return "none"
    return hashlib.sha256(uploaded.getvalue()).hexdigest()[:16]


def save(uploaded) -> Path:
    """Write an uploaded file to a private temporary folder (never inside the repository);
    the same content always lands at the same path."""
    folder = UPLOAD_DIR / digest(uploaded)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(uploaded.name).name
    if not path.exists():
        path.write_bytes(uploaded.getvalue())
    return path


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
    counts = journey_import.write(data.engine(), journey_import.read(path), path.name)
    data.refresh()
    return counts


def _may_import() -> None:
    """Only analysts write to the database, whatever page or link they came through."""
    user = auth.current_user()
    if not user.can_import:
        raise PermissionError(f"{user.role}s cannot import data; ask an analyst")


def status():
    """Rows and dates per table: the whole database, so not for a department's manager."""
    if auth.current_user().scope is not None:
        raise PermissionError("the Data page covers the whole database")
    return importer.table_status(data.engine())


def safe_url() -> str:
    return store.safe_url(store.database_url())
