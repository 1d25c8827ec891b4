"""A lake: a folder of Parquet files, one per table of the contract, read in place.

``FOLDER/responses.parquet`` or ``FOLDER/responses/*.parquet`` (a folder of part files, as
Spark and most lake tools write them) holds the ``responses`` table, and so on for every
table of ``cxmetrics/contract/schema.py``. DuckDB (``duckdb:///FOLDER``) and Spark
(``spark://local?path=FOLDER``) put one view per table over these files; the dashboard
only reads them. ``python -m cxmetrics export-parquet FOLDER`` writes such a folder from
any database of the contract.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import sqlalchemy as sa

#: Rows per row group of the files :func:`export` writes: a row group is what a reader
#: skips whole, by its statistics (min and max of each column)
ROW_GROUP = 100_000
#: Tables a lake must hold: the journey, the customers and their answers.
REQUIRED = ("stages", "touchpoints", "departments", "stage_owners", "customers", "responses")
#: Tables a company may lack; an absent one is read as an empty table of the contract.
OPTIONAL = (
    "targets",
    "contacts",
    "cases",
    "kpis",
    "incentives",
    "settings",
    "comment_analysis",
    "comment_models",
    "actions",
    "action_changes",
)
TABLES = (*REQUIRED, *OPTIONAL)


class LakeError(ValueError):
    """The folder cannot be read as a lake; the message names the folder and what is wrong."""


def table_files(folder: Path) -> dict[str, Path]:
    """The Parquet file or folder of part files behind each table present in ``folder``."""
    return {name: path for name, (path, _files) in _tables(folder).items()}


def _tables(folder: Path) -> dict[str, tuple[Path, list[str]]]:
    """Each table present in ``folder``: its file or folder, and its files as
    :func:`files` lists them. A ``LakeError`` where a table is both a file and a
    folder (which to read would be a guess)."""
    found = {}
    for name in TABLES:
        file, parts = folder / f"{name}.parquet", folder / name
        if file.exists() and parts.is_dir():
            raise LakeError(
                f"the Parquet folder {folder} holds the table {name} twice, as {file.name} and "
                f"as the folder {parts.name}/: keep one"
            )
        if file.is_file():
            found[name] = (file, [_readable(str(file))])
        elif file.is_dir() or parts.is_dir():  # ``responses.parquet/``: a Spark write's name
            files = _files_under(str(file if file.is_dir() else parts))
            if files:
                found[name] = (file if file.is_dir() else parts, files)
    return found


def files(folder: Path) -> dict[str, list[str]]:
    """The Parquet files of each table present in ``folder``: its file, or every
    ``*.parquet`` under its folder at any depth, through links to folders (each folder once,
    none above the table's own), in order of path, but for those whose name, or a folder's
    on the way, starts with ``_`` or ``.``: what Spark and Hadoop leave hidden
    (``_temporary/`` of a write under way, ``.crc`` files). These lists are what the engines
    read and what the lake's version is taken of (:func:`listing`), so that no file is read
    that a version leaves out. A ``LakeError`` names a folder that cannot be read, or a file
    whose name the engines would take for a pattern."""
    return {name: found for name, (_path, found) in _tables(folder).items()}


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


#: Characters the engines read as a pattern in a path (DuckDB's and Hadoop's globs); a
#: ``:`` in a file's name, which Spark cannot read, is refused too (:func:`_readable`)
PATTERN = frozenset("*?[]{}")


def _readable(path: str) -> str:
    """``path``, or a ``LakeError`` when the engines would not read it as it is named."""
    odd = sorted(set(path) & PATTERN | ({":"} & set(os.path.basename(path))))
    if odd:
        raise LakeError(
            f"the Parquet file {path} cannot be read as it is named: rename it without "
            f"{' '.join(odd)} (DuckDB and Spark read * ? [ ] {{ }} in a path as a pattern, and "
            "Spark cannot read a : in a name)"
        )
    return path


def _files_under(top: str) -> list[str]:
    # the folders above the table's own are seen already: a link up the tree (``loop ->
    # ..``) would read the lake's other tables as this one
    above = Path(os.path.abspath(top)).parents
    files, seen = [], {(st.st_dev, st.st_ino) for st in map(os.stat, above)}

    def unreadable(exc: OSError) -> None:
        raise LakeError(f"the folder {exc.filename} of the lake cannot be read: {exc.strerror}")

    for here, dirs, names in os.walk(top, onerror=unreadable, followlinks=True):
        st = os.stat(here)
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree
            dirs.clear()
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = [d for d in dirs if not _hidden(d)]
        files += [os.path.join(here, n) for n in names if n.endswith(".parquet") and not _hidden(n)]
    return sorted(_readable(f) for f in files if os.path.isfile(f))


def row_group_ranges(paths: list[str], column: str) -> list[tuple]:
    """The least and greatest value of ``column`` in each row group of a table's files
    (:func:`files`), from their footers alone ((None, None) where a footer has no
    statistics)."""
    import pyarrow.parquet as pq  # the footers only; imported where a lake is that large

    out = []
    for file in paths:
        meta = pq.ParquetFile(file).metadata
        where = meta.schema.names.index(column) if column in meta.schema.names else None
        for i in range(meta.num_row_groups):
            stats = None if where is None else meta.row_group(i).column(where).statistics
            has = stats is not None and stats.has_min_max
            out.append((stats.min, stats.max) if has else (None, None))
    return out


def check(folder: Path) -> dict[str, list[str]]:
    """The tables of ``folder`` and their files (:func:`files`); a ``LakeError`` naming the
    required tables it lacks."""
    if not folder.is_dir():
        raise LakeError(f"the Parquet folder {folder} does not exist")
    found = files(folder)
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise LakeError(
            f"the Parquet folder {folder} lacks the table(s) {', '.join(missing)}: each needs "
            f"{folder}/TABLE.parquet or a folder {folder}/TABLE/ of Parquet files (write one "
            "from any database with `python -m cxmetrics export-parquet FOLDER`)"
        )
    return found


def empty_select(table: sa.Table) -> sa.Select:
    """A query for no rows with the table's columns and types: an absent optional table."""
    cols = [sa.cast(sa.null(), c.type).label(c.name) for c in table.columns]
    return sa.select(*cols).where(sa.false())


def listing(folder: Path) -> list[tuple]:
    """Each file the engines read of the lake (:func:`files` of every table it holds): its
    path in the folder, size, inode, and modification and change times, as the file is now
    (through links). A file written again, added or removed changes it."""
    out, start = [], len(str(folder)) + 1
    for table in files(folder).values():
        for file in table:
            st = os.stat(file)
            out.append((file[start:], st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return out


def version(folder: Path) -> str:
    """A fingerprint of the lake's files (:func:`listing`) that changes when any is written
    again, added or removed."""
    return hashlib.sha256(repr(listing(folder)).encode()).hexdigest()


def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` sets it, for every
    thread, while it reads); 0o022 where the system does not say."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def export(
    tables: Iterable[tuple[str, pl.DataFrame]], folder: Path, *, replace: bool = False
) -> list[str]:
    """Write each frame as ``FOLDER/name.parquet``, one at a time (a generator of frames
    holds one table in memory), all or nothing: the files are written into a new folder
    beside ``folder`` and moved into place when every one is written. Returns the names."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise LakeError(
            f"{folder} is a file, not a folder: name a new or empty folder for the Parquet "
            "files (--replace overwrites a folder only)"
        )
    if folder.exists() and any(folder.iterdir()) and not replace:
        raise LakeError(f"{folder} is not empty; pass --replace to overwrite it")
    if folder.parent.exists() and not folder.parent.is_dir():
        raise LakeError(f"{folder.parent} is a file, not a folder")
    if not folder.parent.is_dir():
        raise LakeError(f"the folder {folder.parent} does not exist")
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        # mkdtemp makes it private (0700); the lake gets the mode any new folder gets here
        # (the umask's), so the services that read it (DuckDB, Spark) can, as for its files
        partial.chmod(0o777 & ~_umask())
        written = []
        for name, frame in tables:
            frame.write_parquet(partial / f"{name}.parquet", row_group_size=ROW_GROUP)
            written.append(name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return written
