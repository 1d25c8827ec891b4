"""Small rendering helpers shared by pages: tiles, status badges, chart captions."""

from __future__ import annotations

import base64
import functools
import html
import re

import streamlit as st

from cxapp import auth, briefing_ui, data
from cxmetrics.charts import chart_style, overview_charts
from cxmetrics.contract.registry import METRICS
from cxmetrics.contract.text import day_text
from cxmetrics.reports import exports
from cxmetrics.stats import metrics as m
from cxmetrics.views import wording
from cxmetrics.views.overview import Tile

BADGE_COLORS = {
    m.STATUS_ON: "green",
    m.STATUS_NEAR: "orange",
    m.STATUS_BELOW: "red",
    m.STATUS_TOO_FEW: "gray",
    m.STATUS_NONE: "gray",
    m.STATUS_NO_DATA: "gray",
}
#: What a table shows in a cell without a value (a comment without an NPS answer, a case
#: not closed), where Streamlit would write "None"
MISSING = wording.NO_FIGURE
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
VIEW_ONLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]}
# Streamlit's own table toolbar offers a CSV download; for those who may not export, it is
# hidden (the data shown is theirs to see either way: the scope is cut in the data layer).
_NO_TABLE_DOWNLOAD = (
    "<style>[data-testid='stElementToolbarButton']:has(button[aria-label*='Download'])"
    "{display:none}</style>"
)


def site_root() -> str:
    """Where the dashboard's pages start on this server, for the links between its pages:
    "" at the site's root, "/cx" when Streamlit serves it under ``server.baseUrlPath = "cx"``
    (a reverse proxy's sub-path)."""
    path = (st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + path if path else ""


#: A badge's words where a stage card is too narrow for the status's own
_SHORT_STATUS = {m.STATUS_TOO_FEW: "Too few"}


def status_badge(status: str, short: bool = False, metrics: tuple[str, ...] = ()) -> None:
    """A coloured badge: "On target", "Near target", "Below target", "Too few responses".
    ``short``: the words a stage card holds ("Too few"; its n stands beside it);
    ``metrics``: the scores the status is about, named on it ("CES below target"), or
    counted where a card's width would cut their names ("3 below target")."""
    text = _SHORT_STATUS.get(status, status) if short else status
    if len(metrics) == 1:
        text = f"{METRICS[metrics[0]].short} {text}"
    elif metrics:
        text = f"{len(metrics)} {text}"
    st.badge(text[0].upper() + text[1:], color=BADGE_COLORS[status])


value_text = wording.value_text  # one wording of a score, on pages and in briefings
md = wording.inert  # text with names from the data, for Markdown


def delta_text(key: str, change: m.Change | None) -> str | None:
    """A delta for ``st.metric``, only when the change is significant."""
    if change is None or not change.significant:
        return None
    return wording.change_figure(key, change)


# A tile's linked name keeps its tooltip icon beside it, as the metric's own label does.
_LINKED_NAME = (
    "<style>[class*='st-key-tile_'] [data-testid='stMarkdownContainer'] p"
    "{display:flex;align-items:center;gap:0.2rem}"
    "[class*='st-key-tile_'] p label:has([data-testid='stTooltipIcon']){margin:0}"
    "</style>"
)


# A range on a tile ("£6.2k – £30k") in a smaller type than a single figure, on two lines
# where the tile is too narrow for one (it was cut by a character at 1,400 px)
_RANGE_VALUE = (
    "<style>.st-key-tile_{key} [data-testid='stMetricValue']"
    "{{font-size:1.45rem;padding-top:0.55rem;padding-bottom:0.55rem}}"
    ".st-key-tile_{key} [data-testid='stMetricValue'] p{{white-space:normal}}</style>"
)


# A tile's number in a type its tile holds whole: at most the metric's own size (2.25 rem),
# smaller where its characters are wider than the tile (1,286,020 responses were cut to
# "1,286,0" on a 1,400 px screen, and a 7-figure count on any). ``cqi``: a hundredth of the
# tile's width, as the container the number is in is measured
_FITTED_VALUE = (
    "<style>.st-key-tile_{key}{{container-type:inline-size}}"
    ".st-key-tile_{key} [data-testid='stMetricValue']"
    "{{font-size:min(2.25rem, {per_em}cqi)}}</style>"
)

#: The width of a character of a tile's number, in ems of the theme's type (Source Sans,
#: measured in Chromium): figures, signs and currency symbols 0.5, separators 0.25, a space
#: 0.2, "%" and "m" 0.82; small letters up to 0.6, capitals (a currency's code: NOK, CHF)
#: up to 0.68. A margin keeps a number off the edge
_EMS = {**dict.fromkeys(",.'", 0.25), " ": 0.2, "%": 0.82, "m": 0.83, "M": 0.88, "W": 0.9}
_DEFAULT_EM, _LETTER_EM, _CAPITAL_EM, _FIT_MARGIN = 0.5, 0.6, 0.68, 1.04


def _em(c: str) -> float:
    if not c.isalpha():
        return _DEFAULT_EM
    return _CAPITAL_EM if c.isupper() else _LETTER_EM


def fitted_value_style(key: str, figure: str) -> str:
    """The style that sets tile ``key``'s number ``figure`` in the largest type up to the
    metric's own in which its tile holds it whole."""
    ems = sum(_EMS.get(c, _em(c)) for c in figure)
    per_em = round(100 / (max(ems, 1.0) * _FIT_MARGIN), 2)
    return _FITTED_VALUE.format(key=key, per_em=per_em)


def tile(
    t: Tile,
    min_n: int,
    previous_label: str | None,
    symbol: str,
    trend: list | None = None,
    band: list | None = None,
    unit: str = "period",
    link: str | None = None,
) -> None:
    """One KPI tile: value, significant change, n, margin, status against target; "Not
    recorded" and what to import when a fact it needs is missing. ``symbol``: the company's
    currency symbol; ``trend``: the score over the last periods (``unit``: week or month),
    oldest first (None: too few answers in that period), drawn small under the value over a
    light band of each point's 95% interval (``band``, from ``overview.trends``); ``link``:
    the view that explains the tile, which its name then opens."""
    spec = METRICS[t.key]
    color = {True: "normal", False: "inverse", None: "off"}[spec.higher_is_better]
    full = wording.tile_caption(t, min_n, previous_label, symbol)
    help_text = f"{spec.help()}\n\n{full}"
    shown = [v for v in (trend or []) if v is not None]
    title = (
        f"{spec.short} by {unit}, the last {len(shown)} {unit}s shown; shaded: the 95% "
        "interval of each"
    )
    line = overview_charts.sparkline_svg(trend or [], band, _trend_color(t), title)
    value = wording.tile_value(t, min_n, symbol)
    figure = wording.tile_figure(t, min_n, symbol)
    with st.container(border=True, height="stretch"):
        if " – " in figure:  # a range: smaller, so that both ends stay on the tile's line
            st.html(_RANGE_VALUE.format(key=t.key))
        else:
            st.html(fitted_value_style(t.key, figure))
        with st.container(gap=None, key=f"tile_{t.key}"):
            if link:  # a linked name, with its tooltip, in place of the metric's own label
                st.html(_LINKED_NAME)
                st.markdown(f":small[[{spec.short}]({link})]", help=help_text)
            st.metric(
                spec.short,
                figure,
                delta_text(t.key, t.change),
                delta_color=color,
                help=help_text,
                label_visibility="collapsed" if link else "visible",
            )
        if line:  # as an image: the page's HTML sanitiser keeps no inline SVG
            source = base64.b64encode(line.encode()).decode()
            st.html(
                f"<img class='cx-tile-trend' src='data:image/svg+xml;base64,{source}' "
                f"alt='{html.escape(title, quote=True)}' title='{html.escape(title, quote=True)}' "
                "style='display:block;width:100%;height:44px'>"
            )
        caption = wording.tile_caption(t, min_n, previous_label, symbol, short=True)
        if value in wording.SCARCE:  # the tile shows a dash: say why, in place of a badge
            st.caption(f"{value} · {caption}")  # a tile's width cuts
        else:
            st.caption(caption)
            if t.key in ("nps", "csat", "ces") and not t.unknown:
                status_badge(t.status)


#: A tile's trend line: its change's colour when a change is shown, else grey (as the
#: journey strip's lines).
TREND_NEUTRAL = "#808495"


def _trend_color(t: Tile) -> str:
    """Green when the tile shows a change for the better, red for the worse (as the change
    itself is coloured), otherwise grey."""
    if t.change is None or not t.change.significant or not t.change.delta:
        return TREND_NEUTRAL
    better = (t.change.delta > 0) == bool(METRICS[t.key].higher_is_better)
    return chart_style.STATUS_COLORS[m.STATUS_ON if better else m.STATUS_BELOW]


def chart(fig, caption: str, key: str, link: str | None = None) -> None:
    """A chart, its caption, and the export control beside the caption (for analysts).
    ``fig``: best a shared figure (``data.figure``), built once per view; it is not changed
    here (an export draws a copy). ``link``: Markdown of a link to the view that explains
    the chart, after the caption."""
    may_export = auth.current_user().can_export
    config = PLOTLY_CONFIG if may_export else VIEW_ONLY_CONFIG
    if not data.is_shared_figure(fig):  # a shared one is literal already, and read-only
        chart_style.literal(fig)  # names from the data are drawn as written, never as markup
    st.plotly_chart(fig, key=key, config=config, theme=None)  # our template, not Streamlit's
    text = md(caption) + (f" {link}" if link else "")
    if not may_export:
        st.caption(text)
        return
    row = st.container(horizontal=True, wrap=False)  # the caption: all the button leaves
    row.caption(text)
    footnote, view_name = _export_view()
    title = (fig.layout.title.text if fig.layout.title else None) or key
    why_not = _images_unavailable()
    with row.popover("Export", icon=":material/download:"):
        for fmt, label in (
            ("png", "PNG image (high resolution)"),
            ("svg", "SVG image"),
            ("html", "Interactive HTML"),
        ):
            image = fmt != "html"
            st.download_button(
                label,
                data=functools.partial(exports.chart_bytes, fig, fmt, footnote),
                file_name=exports.file_name(title, view_name, fmt),
                mime=exports.MIME[fmt],
                key=f"{key}_export_{fmt}",
                on_click="ignore",
                disabled=image and why_not is not None,
                help=why_not if image else None,
            )


@functools.cache
def _images_unavailable() -> str | None:
    """Why images cannot be exported here (no Chromium), or None; checked once."""
    try:
        exports.chromium_path()
    except exports.ExportError as exc:
        return str(exc)
    return None


def table(frame, name: str, export=None, **kwargs) -> None:
    """``st.dataframe`` with an export control: CSV, XLSX (formulas neutralised), Parquet.
    The export holds the columns shown, in their order; ``export`` replaces the rows (a
    paged table exports every page), either a frame or a function that reads it only when
    a download is asked for."""
    kwargs.setdefault("hide_index", True)  # as Streamlit does for a Polars frame
    kwargs.setdefault("placeholder", MISSING)
    labels, decimals, signed = _shown_as(kwargs.get("column_config"))
    shown = data.table_frame(frame, signed)
    st.dataframe(shown, **kwargs)  # a shared frame is converted once
    if not auth.current_user().can_export:
        return
    order = kwargs.get("column_order")
    source = frame if export is None else export
    _, view_name = _export_view()
    with st.popover("Export table", icon=":material/download:"):
        for fmt, label in (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("parquet", "Parquet")):
            st.download_button(
                label,
                data=functools.partial(_table_bytes, source, order, fmt, labels, decimals),
                file_name=exports.file_name(name, view_name, fmt),
                mime=exports.MIME[fmt],
                key=f"table_{exports.slug(name)}_{fmt}",
                on_click="ignore",
            )


#: A number format of a column's config: "%.1f", "%+.0f" (signed), "%.0f%%", "%d"
_FORMAT = re.compile(r"%(\+?)\.(\d)f(?:%%)?|%d")


def _shown_as(config) -> tuple[dict[str, str], dict[str, int], tuple[tuple[str, int], ...]]:
    """What ``config`` shows of each column: its heading, the decimals of its numbers, and
    the columns shown with a sign with theirs (``%+.1f`` → 1). The table on screen rounds
    the signed ones (never "-0"); CSV and XLSX exports write headings and decimals as on
    screen."""
    labels, decimals, signed = {}, {}, []
    for column, spec in (config or {}).items():
        if isinstance(spec, str):
            labels[column] = spec
            continue
        if not isinstance(spec, dict):
            continue
        if spec.get("label"):
            labels[column] = spec["label"]
        fmt = spec.get("type_config", {}).get("format")
        if fmt and (match := _FORMAT.fullmatch(fmt)):
            decimals[column] = int(match.group(2) or 0)
            if match.group(1):
                signed.append((column, decimals[column]))
    return labels, decimals, tuple(sorted(signed))


def _table_bytes(source, order, fmt: str, labels: dict, decimals: dict) -> bytes:
    frame = source() if callable(source) else source
    shown = frame.select([c for c in order if c in frame.columns]) if order else frame
    return exports.table_bytes(shown, fmt, labels, decimals)


def _export_view() -> tuple[str, str]:
    """The footnote (period and filters) and the short view name of the page's exports."""
    return st.session_state.get("_export_view", ("", "all"))


def _num(
    label: str,
    key: str | None = None,
    fmt: str = "%.1f",
    help_text: str | None = None,
    width: int | None = None,
):
    return st.column_config.NumberColumn(
        label, format=fmt, help=help_text or (METRICS[key].help() if key else None), width=width
    )


def score_columns() -> dict:
    """Column settings for score tables; each score carries its registry definition."""
    n = "Answers behind the score to its left"
    return {
        "touchpoint": st.column_config.TextColumn("Touchpoint"),
        "channel": st.column_config.TextColumn("Channel"),
        "declared": st.column_config.CheckboxColumn(
            "Moment of truth", help="Declared a moment of truth in the journey definition"
        ),
        "nps": _num("NPS", "nps", "%+.0f"),
        "nps_moe": _num("±", None, "%.1f", "95% margin of error of the NPS, in points"),
        "n_nps": _num("n (NPS)", None, "%,d", n),
        "csat": _num("CSAT %", "csat", "%.1f"),
        "n_csat": _num("n (CSAT)", None, "%,d", n),
        "ces": _num("CES", "ces", "%.2f"),
        "n_ces": _num("n (CES)", None, "%,d", n),
    }


NPS_ANSWER_HELP = "0-10; – if not asked or not answered"


def comment_columns() -> dict:
    return {
        "responded_on": st.column_config.DateColumn("Date", format="YYYY-MM-DD"),
        "touchpoint": st.column_config.TextColumn("Touchpoint"),
        "channel": st.column_config.TextColumn("Channel"),
        "source": st.column_config.TextColumn("Source"),
        "nps": _num("NPS answer", None, "%d", NPS_ANSWER_HELP),
        "csat": _num("CSAT answer", None, "%d", "1-5"),
        "ces": _num("CES answer", None, "%d", "1-7"),
        "comment": st.column_config.TextColumn("Comment", width="large"),
    }


def impact_columns() -> dict:
    return {
        "rank": _num("Rank", None, "%d", "By NPS points at stake"),
        "touchpoint": st.column_config.TextColumn("Touchpoint"),
        "stage": st.column_config.TextColumn("Stage"),
        "declared": st.column_config.CheckboxColumn("Declared"),
        "verdict": st.column_config.TextColumn("Data against declaration"),
        "points": _num(
            "Points at stake",
            None,
            "%.2f",
            "Overall NPS points that go with this touchpoint falling short of the rest of "
            "its stage (an association, not a promised gain)",
        ),
        "nps": _num("NPS", None, "%+.0f", "NPS of the answers at this touchpoint"),
        "n_nps": _num("n", None, "%,d"),
        "nps_rest": _num(
            "NPS rest of stage", None, "%+.0f", "NPS of the stage's other touchpoints"
        ),
        "n_rest": _num("n rest", None, "%,d"),
        "difference": _num("Difference", None, "%+.1f", "Touchpoint − rest of stage, points"),
        "ci_low": _num("95% CI from", None, "%+.1f"),
        "ci_high": _num("to", None, "%+.1f"),
        "q": _num("q", None, "%.3f", "Benjamini-Hochberg q-value over the touchpoints tested"),
    }


def behaviour_columns() -> dict:
    kept = "Kept by Benjamini-Hochberg over every NPS test of the table"
    return {
        "moment": st.column_config.TextColumn("Customers who…", width="large"),
        "customers": _num("Customers", None, "%,d", "Customers in view with this behaviour"),
        "nps": _num("Their NPS", "nps", "%+.0f"),
        "n_nps": _num("n", None, "%,d", "Their NPS answers in view"),
        "others_nps": _num("Everyone else", "nps", "%+.0f"),
        "difference": _num("Difference", None, "%+.0f", "Their NPS − everyone else's"),
        "significant": st.column_config.CheckboxColumn("NPS differs", help=kept),
        "churn": _num("Their churn %", "churn", "%.1f"),
        "others_churn": _num("Others' churn %", "churn", "%.1f"),
        "churn_difference": _num(
            "Churn difference",
            None,
            "%+.1f",
            "Their churn − everyone else's, points; shown, not tested: who left early had "
            "less time to do anything, so those who did leave less on any data",
        ),
    }


# Columns that go onto more rows where the page is narrow: six tiles on a 1,024 px laptop
# with the sidebar open were 90 px each ("£13" for £134k, "74.!"). The container's own
# width decides (a container query), not the window's: the sidebar takes its share.
_WRAP = (
    "<style>.st-key-{key}{{container-type:inline-size}}"
    "@container (max-width:{narrow}px){{"
    ".st-key-{key} [data-testid='stHorizontalBlock']{{flex-wrap:wrap}}"
    ".st-key-{key} [data-testid='stColumn']{{min-width:calc({share}% - 1rem)}}}}</style>"
)
#: below this width (px) a row of cards or charts wraps: six tiles (or stage cards) stay on
#: one row at 1,400 px with the sidebar open (about 940 px), three to a row at 1,024 (about
#: 560), and two charts stand one above the other there
NARROW = 800


def wrapping_columns(spec, key: str, per_row: int = 1) -> list:
    """``st.columns(spec)`` in a container keyed ``key`` (unique on the page); where that
    container is narrower than :data:`NARROW`, ``per_row`` columns to a row, in order."""
    st.html(_WRAP.format(key=key, narrow=NARROW, share=round(100 / per_row, 3)))
    return st.container(key=key).columns(spec)


def stage_strip(
    stages: list,
    min_n: int,
    trends: dict | None = None,
    links: dict | None = None,
    key: str = "stage_strip",
    unmeasured: tuple[str, ...] = (),
) -> None:
    """Stages left to right in customer order: NPS (with a trend line when given), CSAT,
    CES, each with n; status; the departments that affect the stage, lead first.
    ``links``: stage id → the view that explains the stage, which its title then opens;
    ``key``: the strip's own, where a page shows two; ``unmeasured``: the scores no
    response ever holds (``Dataset.unmeasured_scores``), said once as not measured instead
    of a "No data" and an n of 0 on every card."""
    # one stage keeps a card-sized column; on a narrow page the cards wrap, in order
    cols = wrapping_columns(max(len(stages), 4), key, per_row=3)
    for col, stage in zip(cols, stages, strict=False):
        with col, st.container(border=True):
            name = md(f"**{stage.position}. {stage.name}**")
            link = (links or {}).get(stage.stage_id)
            st.markdown(f"[{name}]({link})" if link else name)
            nps = stage.scores["nps"]
            trend = [v for v in (trends or {}).get(stage.stage_id, []) if v is not None]
            measured = "nps" not in unmeasured
            st.metric(
                "NPS",
                wording.figure(value_text("nps", nps, min_n)) if measured else "Not measured",
                help=METRICS["nps"].help(),
                chart_data=trend if len(trend) > 1 else None,
                chart_type="line",
            )
            if measured:
                moe = f"± {nps.moe:.1f} · " if nps.shown(min_n) is not None else ""
                target = stage.targets["nps"]
                aim = (
                    "no target set" if target is None else f"target {METRICS['nps'].format(target)}"
                )
                st.caption(f"{moe}n = {nps.n:,} · {aim}")
            others = [k for k in ("csat", "ces") if k not in unmeasured]
            if others:
                st.markdown(
                    " · ".join(
                        f"{METRICS[k].short} "
                        f"**{wording.figure(value_text(k, stage.scores[k], min_n))}**"
                        for k in others
                    ),
                    help="\n\n".join(METRICS[k].help() for k in others),
                )
                # which n is which
                st.caption(
                    "n = " + " · ".join(f"{stage.scores[k].n:,} {METRICS[k].short}" for k in others)
                )
            if unmeasured:
                names = " and ".join(
                    METRICS[k].short for k in ("nps", "csat", "ces") if k in unmeasured
                )
                st.caption(f"{names} not measured")
            # a badge beside the NPS reads as the NPS's: it names the scores it is about
            missed = stage.status in (m.STATUS_BELOW, m.STATUS_NEAR)
            status_badge(stage.status, True, tuple(stage.status_metrics) if missed else ())
            if missed:  # each score with its target
                st.caption("on " + stage.status_against)
            if stage.owners:
                others = f" · with {', '.join(stage.owners[1:])}" if len(stage.owners) > 1 else ""
                st.caption(md(f"Lead: {stage.owners[0]}{others}"))
            else:
                st.caption("No department assigned to this stage")


# The overview keeps its answer above the fold: less space above the title.
_COMPACT_TOP = (
    "<style>[data-testid='stMainBlockContainer']{padding-top:2.2rem}"
    "[data-testid='stMainBlockContainer'] h1{padding-top:0.2rem;padding-bottom:0.2rem}</style>"
)


def page_start(title: str, ds, view, compact: bool = False) -> None:
    """Title, the view in plain words; stop with a message when no stage matches.
    ``compact``: less space above the title (the overview's first fold)."""
    if compact:
        st.html(_COMPACT_TOP)
    st.title(title)
    described = view.describe(ds.journey.labels, scope=ds.scope)
    company = ds.settings.company_name
    st.caption(md(f"{company} · {described}" if company else described))
    st.session_state["_export_view"] = (described, exports.view_slug(view, ds.scope))
    user = auth.current_user()
    if not user.can_export:
        st.html(_NO_TABLE_DOWNLOAD)
    with st.sidebar:
        briefing_ui.button(ds, view)
    auth.sidebar(user, ds.journey.department_name)
    stage_ids = ds.stage_ids(view)
    if stage_ids is not None and not stage_ids:
        names = ", ".join(ds.journey.department_name(d) for d in view.departments)
        st.warning(
            f"No stage matches these filters: {md(names)} does not affect the chosen "
            "stage(s). Clear the stage or department filter.",
            icon=":material/filter_alt_off:",
        )
        st.stop()


def not_recorded(text: str) -> None:
    """In place of a section whose inputs the company has not imported: what is missing and
    what to import (with the way to the Data page for those who may import)."""
    st.info(md(text), icon=":material/database_off:")
    if auth.current_user().can_import:
        st.page_link("pages/data.py", label="Import on the Data page", icon=":material/upload:")


def stop_if_empty(empty: bool, start, end, ds, view, warn: bool = True) -> None:
    """Stop with a message when the view has no responses (``warn=False``: the page has
    said it already, :func:`no_responses`)."""
    if empty:
        if warn:
            no_responses(start, end, ds, view)
        st.stop()


def no_responses(start, end, ds, view) -> None:
    """The message of a view without responses, and the dates the data covers. ``view``:
    the page's filters; where none but the period is chosen, the period itself is empty
    (a gap in the data), and widening a filter would not help."""
    inside = ds.first_day <= start and end <= ds.last_day
    chosen = any((view.stages, view.departments, view.channels, view.segments, view.regions))
    if not inside:
        why = f". The data covers {day_text(ds.first_day)} to {day_text(ds.last_day)}."
    elif chosen:
        why = (
            ", though the data covers the period: widen the stage, department, channel, "
            "segment or region chosen, or the period."
        )
    else:
        whose = "your departments' stages have" if ds.scope is not None else "the data has"
        why = (
            f": {whose} none in this period (the data covers {day_text(ds.first_day)} to "
            f"{day_text(ds.last_day)}). Choose another period."
        )
    st.warning(
        f"No responses between {day_text(start)} and {day_text(end)}"
        + (" for these filters" if chosen else "")
        + why,
        icon=":material/search_off:",
    )


def _pct(label: str, help_text: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%.0f%%", help=help_text)


def kpi_columns() -> dict:
    return {
        "department": st.column_config.TextColumn("Department"),
        "role": st.column_config.TextColumn("Role"),
        "kpi": st.column_config.TextColumn("KPI", width="medium"),
        "kpi_label": st.column_config.TextColumn(
            "KPI", width="medium", help="In brackets: what the latest value and target count in"
        ),
        "weeks": _num("Weeks", None, "%d", "KPI-weeks in the period"),
        "weeks_on_target": _num("On target", None, "%d", "KPI-weeks that met target"),
        "on_target_pct": _pct("Share on target", "KPI-weeks in the period that met target"),
        "latest": _num("Latest", None, "%.2f", "The latest week's value"),
        "target": _num("Target", None, "%.2f"),
        "goal": st.column_config.TextColumn(
            "Target", help="≥: the KPI is on target at or above it; ≤: at or below it"
        ),
    }


def _exposure_column() -> st.column_config.NumberColumn:
    """A department's role-weighted share of its stages below target: not a count."""
    return _pct(
        "Weighted share below NPS target",
        "Share of the stages it affects whose NPS is below target, each stage weighted by the "
        "department's role there (lead 1, contributor 0.5), so not a count of stages",
    )


def verdict_columns() -> dict:
    return {
        "department": st.column_config.TextColumn("Department"),
        "false_positive": st.column_config.CheckboxColumn(
            "False positive",
            help="Green scorecard (at least 13 KPI-weeks, 95% lower bound of the share on "
            "target above 75%) while more than half of its weighted stages have their NPS "
            "interval below target; kept under a 5% false discovery rate over the departments",
        ),
        "silo_pct": _pct("Own KPIs on target", "Share of its KPI-weeks that met target"),
        "silo_lower_pct": _pct(
            "95% lower bound", "Wilson lower bound of the share of KPI-weeks on target"
        ),
        "green": st.column_config.CheckboxColumn(
            "Green scorecard", help="At least 13 KPI-weeks and the 95% lower bound above 75%"
        ),
        "exposure_below_pct": _exposure_column(),
        "experience_gap": _num(
            "NPS vs target",
            None,
            "%+.0f",
            "Role-weighted NPS gap to target of the stages it affects",
        ),
        "kpi_weeks": _num("KPI-weeks", None, "%,d", "n behind the silo score"),
        "q": _num(
            "q",
            None,
            "%.3f",
            "Benjamini-Hochberg q-value of the false-positive test; a false positive is "
            "claimed at 0.05 or less",
        ),
        "sentence": st.column_config.TextColumn("In a sentence", width="large"),
    }


def incentive_columns() -> dict:
    return {
        "department": st.column_config.TextColumn("Department"),
        "cx_share_pct": _pct("CX share of variable pay", "Share of variable pay tied to CX goals"),
        "stages": _num("Stages affected", None, "%d"),
        "leads": st.column_config.TextColumn("Leads"),
        "exposure_below_pct": _exposure_column(),
        "leads_below_target": st.column_config.TextColumn("Leads below target"),
    }


def at_risk_columns(symbol: str) -> dict:
    return {
        "segment": st.column_config.TextColumn("Segment"),
        "satisfied": _num("Satisfied", None, "%,d", "Customers whose latest CSAT is 4-5"),
        "at_risk": _num("At risk", None, "%,d", "…whose latest NPS is 0-8, or who left"),
        "share": _num("Share at risk", None, "%.0f%%"),
        "left": _num("Left", None, "%,d", "Satisfied customers who left in the period"),
        "churn": _num("Churn %", None, "%.1f", "Of the satisfied customers"),
        "revenue": _num(
            "Their annual revenue",
            None,
            f"{symbol}%,.0f",
            "Σ annual revenue of the customers at risk: all of it, not the expected loss "
            "that the section Revenue at risk counts",
        ),
        "q": _num(
            "q",
            None,
            "%.3f",
            "Share against the other segments': Benjamini-Hochberg q-value over the segments",
        ),
        "concentrated": st.column_config.CheckboxColumn(
            "Concentrated here", help="Share above the other segments', test kept"
        ),
    }


def influencer_columns(symbol: str) -> dict:
    return {
        "customer_id": st.column_config.TextColumn(
            "Customer", help="The customer's id as the company records it"
        ),
        "segment": st.column_config.TextColumn("Segment"),
        "region": st.column_config.TextColumn("Region"),
        "influence": _num("Influence", None, "%.1f", "Influence score, 0-100"),
        "nps": _num("Latest NPS", None, "%d", "Their latest answer at this stage"),
        "annual_revenue": _num("Annual revenue", None, f"{symbol}%,.0f"),
    }


CLOSED_LOOP_ORDER = [
    "department",
    "opened",
    "closure_rate",
    "confirmed_rate",
    "gap",
    "said_no_rate",
    "not_asked_rate",
    "false_closure_rate",
    "repeat_rate",
    "median_days",
]


def closed_loop_columns() -> dict:
    return {
        "department": st.column_config.TextColumn("Department"),
        "stage": st.column_config.TextColumn("Stage"),
        "opened": _num("Opened", None, "%,d", "Cases opened in the period (n)"),
        "closure_rate": _num(METRICS["closure_rate"].short, "closure_rate", "%.0f%%"),
        "confirmed_rate": _num(METRICS["confirmed_rate"].short, "confirmed_rate", "%.0f%%"),
        "gap": _num("Gap (pts)", "closure_gap", "%.0f"),
        "said_no_rate": _num(
            "Said no", None, "%.0f%%", "Closed cases the customer said were not resolved"
        ),
        "not_asked_rate": _num(
            "Not asked",
            None,
            "%.0f%%",
            "Closed cases with no answer from the customer either way (not asked, or no "
            "answer): counted apart from said no",
        ),
        "false_closure_rate": _num(
            METRICS["false_closure_rate"].short, "false_closure_rate", "%.0f%%"
        ),
        "repeat_rate": _num(
            "Repeat contact",
            None,
            "%.0f%%",
            "Closed cases followed by a contact on the same stage within 30 days",
        ),
        "median_days": _num("Median days to close", None, "%.0f"),
    }


def signal_columns() -> dict:
    return {
        "stage": st.column_config.TextColumn("Stage"),
        "best_lag": _num("Strongest lag (weeks)", None, "%d", METRICS["contact_lead"].help()),
        "r": _num("r", None, "%+.2f", "Correlation of the pre-whitened weekly series at that lag"),
        "weeks": _num("Weeks", None, "%d", "Pairs of weeks behind r (n)"),
        "p": _num(
            "p", None, "%.3f", "Permutation p-value of the strongest correlation over lags 1-8"
        ),
        "q": _num("q", None, "%.3f", "p adjusted by Benjamini-Hochberg over the stages tested"),
        "significant": st.column_config.CheckboxColumn(
            "Finding", help="q within the 5% false discovery rate over the stages tested"
        ),
        "leads": st.column_config.CheckboxColumn(
            "Contacts lead NPS", help="A finding with a negative r: contacts rise, NPS falls"
        ),
    }


def process_columns(unit: str) -> dict:
    return {
        "stage": st.column_config.TextColumn("Stage"),
        "touchpoint": st.column_config.TextColumn("Process (touchpoint)"),
        "root_cause": st.column_config.TextColumn("Root cause", width="medium"),
        "volume": _num("Volume", None, "%,d", "Cases opened plus complaints without a case (n)"),
        "cases": _num("Cases", None, "%,d"),
        "complaints": _num("Complaints", None, "%,d", "Of the volume, those from a complaint"),
        "confirmed_rate": _num(
            "Confirmed", None, "%.0f%%", "Share of its cases the customer confirmed resolved"
        ),
        "previous": _num("Previous period", None, "%,d"),
        "change": _num("Change (%)", None, "%+.0f", "Volume against the previous period, in %"),
        "departments": st.column_config.TextColumn("Departments", width="medium"),
        "trend": st.column_config.LineChartColumn(f"Per {unit}", y_min=0),
    }


def theme_columns() -> dict:
    return {
        "theme": st.column_config.TextColumn("Theme", help=METRICS["theme"].help()),
        "comments": _num("Comments", None, "%,d"),
        "share": _num("Share", None, "%.1f%%", "Of the comments in view"),
        "nps": _num("NPS", "nps", "%+.0f"),
        "n_nps": _num("n (NPS)", None, "%,d", "NPS answers given with these comments"),
        "sentiment": _num("Mean sentiment", "sentiment", "%+.2f"),
        "negative": _num("Negative", None, "%.0f%%", "Share of the theme's comments"),
    }


def verbatim_columns() -> dict:
    # widths that fit the date through the theme on a 1,400 px screen (about 940 px beside
    # the sidebar); a longer comment or theme is cut, shown whole when its cell is clicked
    return {
        **comment_columns(),
        "responded_on": st.column_config.DateColumn("Date", format="YYYY-MM-DD", width=84),
        "stage": st.column_config.TextColumn("Stage", width=100),
        "touchpoint": st.column_config.TextColumn("Touchpoint", width=160),
        "comment": st.column_config.TextColumn("Comment", width=310),
        "nps": _num("NPS answer", None, "%d", NPS_ANSWER_HELP, width=84),
        "sentiment": _num("Sentiment", "sentiment", "%+.2f", width=76),
        "theme": st.column_config.TextColumn("Theme", width=120),
    }
