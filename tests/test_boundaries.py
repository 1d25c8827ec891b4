"""The shape of the code: cxmetrics never imports Streamlit; pages only render."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO / "cxmetrics").rglob("*.py")), ids=str)
def test_cxmetrics_never_imports_streamlit(path):
    assert "streamlit" not in imported_modules(path)


@pytest.mark.parametrize("path", sorted((REPO / "pages").glob("*.py")), ids=str)
def test_pages_do_not_compute_or_query(path):
    """A page reads filters, calls cxmetrics and draws: no Polars, SQL or NumPy of its own."""
    assert not imported_modules(path) & {"polars", "sqlalchemy", "numpy", "sqlite3", "pandas"}


def test_the_boundary_check_sees_imports():
    """The check above would catch a real import (guards against a vacuous walk)."""
    probe = REPO / "tests" / "test_boundaries.py"
    assert "ast" in imported_modules(probe)
