"""Charts and tables out of the dashboard: PNG, SVG, HTML; CSV, XLSX, Parquet.

Images are drawn by Kaleido in the system's Chromium. One Kaleido server is started on first
use and kept alive for the process, so every export after the first is quick. Exported
images carry the chart's title and, in a footnote, the filters and the date range.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are neutralised in CSV and XLSX with a leading
apostrophe, as OWASP advises against CSV injection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import shutil
import threading
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from cxmetrics.charts import chart_style

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
IMAGE_FORMATS = ("png", "svg")
TABLE_FORMATS = ("csv", "xlsx", "parquet")
PNG_SCALE = 2  # high resolution: twice the on-screen size
DEFAULT_SIZE = (1200, 650)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MIME = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


class ExportError(RuntimeError):
    """An export cannot be made (for example, no Chromium to draw images)."""


# --- file names ----------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "export"


def file_name(what: str, view: str, ext: str, day: dt.date | None = None) -> str:
    """``<what>_<view>_<date>.<ext>``: the view and the date travel with the file."""
    day = day or dt.date.today()
    view = re.sub(r"[^a-z0-9_-]+", "-", view.lower()).strip("-")[:120] or "all"
    return f"{slug(what)}_{view}_{day:%Y-%m-%d}.{ext}"


def id_slug(identifier: str) -> str:
    """A department's or stage's id as it goes into a file name. Ids are unique where names
    are not ("Claims (UK)" and "Claims UK" read the same as a file name, "営業" and "経理"
    both as nothing), so the name comes from the id; an id that does not survive as a file
    name as it is gets a short hash of itself, so two ids never meet."""
    if re.fullmatch(r"[a-z0-9_-]{1,40}", identifier):
        return identifier
    digest = hashlib.blake2b(identifier.encode("utf-8"), digest_size=4).hexdigest()
    return f"{slug(identifier)[:40]}-{digest}".removeprefix("export-")


def view_slug(view, scope: tuple[str, ...] | None = None) -> str:
    """A short name of a filtered view for file names: the ids of its departments and
    stages and its channels, segments and regions, or "all" (with none chosen, a manager's
    departments, ``scope``: a file forwarded from a manager's view must not read as the
    whole company's), then its dates: two exports of different views on one day differ."""
    departments = view.departments or scope or ()
    chosen = "-".join(
        [
            *(id_slug(x) for x in (*departments, *view.stages)),
            # values, as ids: a name that does not survive as it is gets a hash of itself
            *(id_slug(x.lower()) for x in (*view.channels, *view.segments, *view.regions)),
        ]
    )
    if len(chosen) > VIEW_CHARS:  # cut, with a hash of the whole: two views never meet
        digest = hashlib.blake2b(chosen.encode("utf-8"), digest_size=4).hexdigest()
        chosen = f"{chosen[: VIEW_CHARS - 9]}-{digest}"
    chosen = chosen or "all"
    if view.start is not None and view.end is not None:
        return f"{chosen}_{view.start:%Y%m%d}-{view.end:%Y%m%d}"
    return chosen


#: The longest a view's filters take in a file name
VIEW_CHARS = 80


# --- tables ----------------------------------------------------------------------------


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would treat as a formula get a leading apostrophe."""
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(r"^[=+\-@\t\r]"))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists (sparklines) become text; enums and categoricals become plain text."""
    return frame.with_columns(
        pl.col(pl.List(pl.Int64), pl.List(pl.Float64), pl.List(pl.Int32), pl.List(pl.String))
        .cast(pl.List(pl.String))
        .list.join(" "),
        pl.col(pl.Enum, pl.Categorical).cast(pl.String),
    )


def table_bytes(
    frame: pl.DataFrame,
    fmt: str,
    labels: dict[str, str] | None = None,
    decimals: dict[str, int] | None = None,
) -> bytes:
    """A table as CSV, XLSX or Parquet (CSV and XLSX neutralised against formulas). CSV
    and XLSX are for people: columns headed by their ``labels`` and numbers rounded to
    the ``decimals`` shown on screen (a board pack got "share 51.351351351351354"); Parquet,
    for programs, keeps the names and every digit."""
    if fmt not in TABLE_FORMATS:
        raise ExportError(f"unknown table format {fmt!r}; use {', '.join(TABLE_FORMATS)}")
    buffer = io.BytesIO()
    if fmt == "parquet":
        frame.write_parquet(buffer)
        return buffer.getvalue()
    rounded = [  # -0.3 shown as 0 is written 0, never "-0.0"
        pl.when(pl.col(c).round(d) == 0).then(0.0).otherwise(pl.col(c).round(d)).alias(c)
        for c, d in (decimals or {}).items()
        if c in frame.columns and frame.schema[c].is_float()
    ]
    if rounded:
        frame = frame.with_columns(rounded)
    named = {c: label for c, label in (labels or {}).items() if c in frame.columns}
    if named and len(set(named.values()) | (set(frame.columns) - set(named))) == frame.width:
        frame = frame.rename(named)  # unless two columns would share a heading
    flat = neutralise(_flat(frame))
    if fmt == "csv":
        flat.write_csv(buffer)
    else:
        # strings are written as strings: xlsxwriter must turn neither "=…" into a formula
        # nor "http…", "mailto:…" or "external:\\host\share" into a link
        import xlsxwriter

        options = {"strings_to_urls": False, "strings_to_formulas": False, "in_memory": True}
        with xlsxwriter.Workbook(buffer, options) as book:
            flat.write_excel(book, worksheet="data", autofit=True, include_header=True)
    return buffer.getvalue()


# --- charts ----------------------------------------------------------------------------


#: Pixels at the bottom of an exported chart for its footnote, under a legend drawn there
FOOTNOTE_STRIP = 34


def with_footnote(fig: go.Figure, footnote: str, height: int | None = None) -> go.Figure:
    """A copy of the figure with its footnote (filters and period) under the plot. The
    footnote names things from the data, so Plotly's tags in it are drawn as text. A legend
    at the figure's bottom edge (``chart_style.legend_below``) is lifted by
    :data:`FOOTNOTE_STRIP` pixels of the ``height`` the figure is drawn at, and the footnote
    goes under it: it was printed over the legend."""
    out = go.Figure(fig)
    legend = out.layout.legend
    total = height or out.layout.height or 450
    at_bottom = legend.yref == "container" and (legend.y or 0) * total < FOOTNOTE_STRIP
    if at_bottom:
        bottom = (out.layout.margin.b or 0) + FOOTNOTE_STRIP
        out.update_layout(margin=dict(b=bottom), legend=dict(y=FOOTNOTE_STRIP / total))
        shift = -bottom + 8
    else:
        bottom = max(out.layout.margin.b or 0, 90)
        out.update_layout(margin=dict(b=bottom))
        shift = -bottom + 12
    out.add_annotation(
        text=footnote.replace("&", "&amp;").replace("<", "&lt;"),
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        yshift=shift,
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        align="left",
        font=dict(size=11, color="#616E7C"),
    )
    return out


def chromium_path() -> str:
    """The system's Chromium (``CX_CHROMIUM`` or ``BROWSER_PATH`` win), or ExportError."""
    for candidate in (os.environ.get("CX_CHROMIUM"), os.environ.get("BROWSER_PATH")):
        if candidate and Path(candidate).exists():
            return candidate
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise ExportError(
        "images need Chromium, which is not installed here; install Debian's `chromium` "
        "package (HTML and table exports work without it)"
    )


_server_lock = threading.Lock()
_server_started = False


def _kaleido():
    """Kaleido with one server started on first use and kept for the process."""
    global _server_started
    os.environ["BROWSER_PATH"] = chromium_path()
    import kaleido

    with _server_lock:
        if not _server_started:
            kaleido.start_sync_server(silence_warnings=True)
            _server_started = True
    return kaleido


def image_bytes(
    fig: go.Figure, fmt: str, footnote: str = "", size: tuple[int, int] = DEFAULT_SIZE
) -> bytes:
    """The figure as PNG (at twice the size given) or SVG, with its footnote."""
    if fmt not in IMAGE_FORMATS:
        raise ExportError(f"unknown image format {fmt!r}; use {', '.join(IMAGE_FORMATS)}")
    height = int(fig.layout.height or size[1]) + (60 if footnote else 0)
    figure = with_footnote(fig, footnote, height) if footnote else fig
    scale = PNG_SCALE if fmt == "png" else 1  # a vector image keeps its nominal size
    opts = {"format": fmt, "width": size[0], "height": height, "scale": scale}
    kaleido = _kaleido()
    with _server_lock:  # one image at a time through the one browser
        try:
            return kaleido.calc_fig_sync(figure, opts=opts)
        except Exception as exc:  # Kaleido's own errors come in several types
            raise ExportError(f"the chart could not be drawn: {exc}") from exc


def html_bytes(fig: go.Figure, footnote: str = "") -> bytes:
    """A standalone interactive page: plotly.js is inside the file, it works offline."""
    figure = with_footnote(fig, footnote) if footnote else fig
    return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def chart_bytes(fig: go.Figure, fmt: str, footnote: str = "") -> bytes:
    # names from the data drawn as written, in files too; on a copy: the figure shown on the
    # page may be shared by every session
    fig = chart_style.literal(go.Figure(fig))
    # the page pads a chart; a file does not: its title would touch the image's left edge
    fig.update_layout(title_pad_l=EXPORT_TITLE_PAD)
    return html_bytes(fig, footnote) if fmt == "html" else image_bytes(fig, fmt, footnote)


#: Pixels between an exported chart's left edge and its title
EXPORT_TITLE_PAD = 16
