"""The package layout shows how data moves: each layer of cxmetrics imports only the layers
before it.

    contract → stats → findings → views → charts → reports → the command line

contract (the data contract, its stores and imports) imports no other layer; stats imports
the contract; findings the contract and stats; views everything before them; charts draw
views; reports (exports, briefing, alerts) use all of them; cli and __main__ at the
package's root sit on top. Importing a module of one's own layer is fine. Every import
counts, also one made inside a function to break a cycle: it is a dependency all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "cxmetrics"
LAYERS = ("contract", "stats", "findings", "views", "charts", "reports")
ROOT = "root"  # cli, __main__: on top of every layer
RANK = {**{layer: i for i, layer in enumerate(LAYERS)}, ROOT: len(LAYERS)}
ROOT_MODULES = {"__init__", "__main__", "cli"}


def module_name(path: Path) -> str:
    """``stats.dataset`` for cxmetrics/stats/dataset.py, ``cli`` for cxmetrics/cli.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def layer_of(name: str) -> str:
    """The layer of a module name relative to cxmetrics (``views.overview`` → views)."""
    head = name.split(".")[0]
    return head if head in LAYERS else ROOT


def cxmetrics_imports(source: str, importer: str) -> set[str]:
    """The cxmetrics modules (or subpackages) a module's source imports, relative to
    cxmetrics: ``from cxmetrics.stats import dataset`` → ``stats.dataset``."""
    package = importer.split(".")[:-1] if "." in importer else []
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cxmetrics."):
                    found.add(alias.name.removeprefix("cxmetrics."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == "cxmetrics" or (node.module or "").startswith("cxmetrics."):
                module = node.module.removeprefix("cxmetrics").removeprefix(".")
            else:
                continue
            for alias in node.names:  # a name is a module here, or a name in ``module``
                found.add(f"{module}.{alias.name}" if module else alias.name)
    return {name for name in found if name.split(".")[0] in (*LAYERS, *ROOT_MODULES)}


def against_the_flow(importer: str, imported: set[str]) -> set[tuple[str, str]]:
    """(importer, imported module) pairs where a layer imports a later one."""
    out = set()
    for name in imported:
        target = ".".join(name.split(".")[:2]) if layer_of(name) != ROOT else name.split(".")[0]
        if RANK[layer_of(target)] > RANK[layer_of(importer)]:
            out.add((importer, target))
    return out


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def edges() -> set[tuple[str, str]]:
    """Every (importer, imported) pair of cxmetrics modules."""
    out = set()
    for path in modules():
        importer = module_name(path)
        for name in cxmetrics_imports(path.read_text(encoding="utf-8"), importer):
            out.add((importer, name))
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_layer_imports_a_later_one(path):
    importer = module_name(path)
    imported = cxmetrics_imports(path.read_text(encoding="utf-8"), importer)
    wrong = against_the_flow(importer, imported)
    assert not wrong, f"{importer} imports later layers: {sorted(t for _, t in wrong)}"


def test_every_module_sits_in_a_layer():
    """A new module goes in the layer it belongs to; only the command line stays at the
    root, and there are no other folders."""
    loose = [p.name for p in PACKAGE.glob("*.py") if p.stem not in ROOT_MODULES]
    assert not loose, f"modules outside the layers: {loose}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file()
        assert list((PACKAGE / layer).glob("[!_]*.py")), f"{layer} holds no module"


def test_cxmetrics_never_imports_the_app_layer():
    """Neither Streamlit (see test_boundaries.py) nor the app built on cxmetrics."""
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                assert name.split(".")[0] not in {"cxapp", "pages", "dashboard", "streamlit"}, (
                    path,
                    name,
                )


def test_the_check_sees_imports_against_the_flow():
    """The rule catches every form of import (guards against a vacuous walk), and the real
    package has dependencies for it to judge."""
    source = "\n".join(
        [
            "import cxmetrics.reports.briefing",
            "from cxmetrics.views import overview",
            "from cxmetrics.charts.chart_style import TEMPLATE",
            "from cxmetrics import cli",
            "from ..findings import leading",
            "from .aggregates import InDatabase",
            "def lazy():",
            "    from cxmetrics.stats.dataset import Dataset",
        ]
    )
    imported = cxmetrics_imports(source, "contract.store")
    assert imported == {
        "reports.briefing",
        "views.overview",
        "charts.chart_style.TEMPLATE",
        "cli",
        "findings.leading",
        "contract.aggregates.InDatabase",
        "stats.dataset.Dataset",
    }
    assert against_the_flow("contract.store", imported) == {
        ("contract.store", "reports.briefing"),
        ("contract.store", "views.overview"),
        ("contract.store", "charts.chart_style"),
        ("contract.store", "cli"),
        ("contract.store", "findings.leading"),
        ("contract.store", "stats.dataset"),
    }
    assert against_the_flow("reports.briefing", imported - {"cli"}) == set()
    found = edges()
    assert ("views.first_screen", "views.finder") in found
    assert ("cli", "reports.briefing") in found
    assert len({i for i, _ in found}) > 40
