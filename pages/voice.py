"""Voice of the customer: the closed loop, leading indicators, broken processes, themes
and sentiment, and every comment, searchable."""

import streamlit as st

from cxapp import data, router, sidebar, ui
from cxmetrics.charts import voc_charts
from cxmetrics.contract.registry import METRICS
from cxmetrics.contract.text import day_text, period_text
from cxmetrics.findings import closed_loop, leading
from cxmetrics.stats import comment_queries, complaints, voc
from cxmetrics.views import voc_view

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
view = sidebar.filters(ds)
ui.page_start("Voice of the customer", ds, view)
TABS = ("Closed loop", "Leading indicators", "Broken processes", "Themes & sentiment", "Verbatims")
journey = ds.journey
vv = data.shared(
    voc_view.compute, data.DATASET, data.COMMENTS, data.CLOSED_LOOP, data.CONTACTS, view
)
ui.stop_if_empty(vv.empty, vv.start, vv.end, ds, view)

# --- headlines ------------------------------------------------------------------------
if vv.headline:
    st.error(ui.md(vv.headline), icon=":material/assignment_late:")
for lead in vv.lead_warnings:  # only leads the findings engine kept
    st.warning(
        ui.md(f"{lead.sentence}: when contacts rise, NPS falls later."),
        icon=":material/trending_up:",
    )

# Only the open tab runs (the tab is kept in the URL, so a link opens the same tab).
loop_tab, lead_tab, process_tab, theme_tab, verbatim_tab = st.tabs(
    list(TABS), key="voc_tab", bind="query-params"
)

# --- closed loop ------------------------------------------------------------------------
if loop_tab.open is not False:
    with loop_tab:
        if vv.all_cases.height == 0:  # no window of cases to explain: what to import
            ui.not_recorded(voc_view.NO_CASES)
        else:
            st.caption(
                f"Cases opened {period_text(vv.start, vv.end)} on the stages in "
                "view, by the department that handled them (cases have no channel; the "
                f"channel filter does not apply). {vv.loop_window} "
                f"{METRICS['false_closure_rate'].definition} {vv.loop_caption}"
            )
            if vv.all_cases["closed_on"].null_count() == vv.all_cases.height:
                st.info(
                    "None of the imported cases has a closing date (closed_on), so closure, "
                    "confirmation and false-closure rates cannot be computed yet.",
                    icon=":material/info:",
                )
            if closed_loop.repeats_unknown(vv.loop_cases):  # unknown: not shown as 0%
                ui.not_recorded(closed_loop.NO_REPEATS)
            ui.chart(
                data.figure(voc_charts.fig_closed_vs_confirmed, vv.per_department, vv.min_n),
                f"Grey: {METRICS['closure_rate'].definition} Green: "
                f"{METRICS['confirmed_rate'].definition} Departments with fewer than {vv.min_n} "
                "cases are left out of the chart.",
                key="fig_closed_loop",
            )
            ui.table(
                vv.per_department,
                "closed-loop",
                hide_index=True,
                column_order=ui.CLOSED_LOOP_ORDER,
                column_config=ui.closed_loop_columns(),
            )
            with st.expander("By department and stage"):
                ui.table(
                    vv.per_department_stage,
                    "closed-loop-by-stage",
                    hide_index=True,
                    column_order=["department", "stage", *ui.CLOSED_LOOP_ORDER[1:]],
                    column_config=ui.closed_loop_columns(),
                )

# --- leading indicators ------------------------------------------------------------------
if lead_tab.open is not False:
    with lead_tab:
        st.caption(
            f"{METRICS['contact_lead'].definition} Full weeks up to {day_text(vv.end)}, at most "
            f"{leading.HISTORY_WEEKS} of them, whatever the period's start: a correlation needs "
            "many weeks. Segment and region filters apply; the channel filter does not. "
            + vv.lead_caption
        )
        if vv.contacts.height == 0:
            ui.not_recorded(
                "No contacts have been imported. Import the contacts table (customer, "
                "touchpoint, channel, date) to see whether contact volume foretells NPS."
            )
        elif not vv.signals:
            st.info("No full weeks of contacts in this view.")
        else:
            ui.table(
                data.shared(leading.table, vv.signals, journey),
                "leading-indicators",
                hide_index=True,
                column_config=ui.signal_columns(),
            )
            options = [s.stage_id for s in vv.signals]
            strongest = max(vv.signals, key=lambda s: (s.leads, abs(s.best_r or 0)))
            chosen = st.selectbox(
                "Stage",
                options,
                index=options.index(strongest.stage_id),
                format_func=journey.stage_name,
                key="voc_lead_stage",
            )
            signal = next(s for s in vv.signals if s.stage_id == chosen)
            ui.chart(
                data.figure(
                    voc_charts.fig_leading_at,
                    vv.weekly,
                    chosen,
                    journey.stage_name(chosen),
                    signal,
                ),
                f"Weekly NPS is blank where a week has fewer than {vv.min_n} answers. Repeat "
                "contacts: a customer's third or later contact within 30 days.",
                key="fig_leading",
            )
            ui.chart(
                data.figure(voc_charts.fig_lags, signal, journey.stage_name(chosen)),
                "Correlation between contacts and NPS that many weeks later, each weekly series "
                "pre-whitened (its own autoregression and trend taken out); lags of 1-"
                f"{leading.MAX_LAG_WEEKS} weeks are tested, lag 0 is shown for reference. Red "
                "marks a lead the test kept. "
                + leading.describe(signal, journey.stage_name(chosen)),
                key="fig_lags",
            )

# --- broken processes --------------------------------------------------------------------
if process_tab.open is not False:
    with process_tab:
        st.caption(
            "A complaint is a broken process, not an incident: cases opened in the period and "
            "complaints with no case, grouped by touchpoint and root cause. "
            f"“{complaints.NO_CASE}”: "
            "complaints nobody opened a case for. Change is against the previous period of the "
            "same length."
        )
        if vv.all_cases.height == 0 and "complaint" not in ds.options("source"):
            ui.not_recorded(
                "No cases and no complaints have been imported. Import the cases table, or "
                "responses with the source complaint, to see which processes break."
            )
        else:
            ui.chart(
                data.figure(voc_charts.fig_broken_processes, vv.processes),
                "Hover a bar for its complaints and the departments that handled it.",
                key="fig_processes",
            )
            ui.table(
                vv.processes,
                "broken-processes",
                hide_index=True,
                column_config=ui.process_columns(vv.trend_unit),
            )


def comments_ready() -> bool:
    """Whether the comments can be shown; if not, say what to import or run. Comments not
    analysed yet are named (they are left out until ``analyse-comments`` runs)."""
    status = vv.comment_status
    if status.comments == 0:
        ui.not_recorded(
            "No comments have been imported. Import responses with their comment text to "
            "see sentiment and themes."
        )
        return False
    if status.message:
        st.warning(ui.md(status.message), icon=":material/pending_actions:")
        return False
    if status.pending:
        st.warning(
            ui.md(
                f"{status.pending:,} of {status.comments:,} comments have not been analysed "
                "yet and are left out here. Run `python3 -m cxmetrics analyse-comments`."
            ),
            icon=":material/pending_actions:",
        )
    return True


# --- themes and sentiment -----------------------------------------------------------------
if theme_tab.open is not False:
    with theme_tab:
        if comments_ready():
            st.caption(
                f"{METRICS['theme'].definition} {METRICS['sentiment'].definition} "
                f"{vv.comment_count:,} comments in view."
            )
            ui.chart(
                data.figure(voc_charts.fig_sentiment_by_stage, vv.sentiment),
                "Each bar is 100% of the stage's comments in view; n under the stage.",
                key="fig_sentiment",
            )
            ui.chart(
                data.figure(voc_charts.fig_themes_by_stage, vv.theme_stage, vv.themes, journey),
                "Colour: comments. Hover a cell for the NPS of the responses behind them.",
                key="fig_theme_stage",
            )
            left, right = ui.wrapping_columns(2, "theme_charts")
            with left:
                ui.chart(
                    data.figure(
                        voc_charts.fig_theme_trend, vv.theme_trend, vv.top_themes, vv.trend_unit
                    ),
                    f"The {len(vv.top_themes)} largest themes in view.",
                    key="fig_theme_trend",
                )
            with right:
                ui.chart(
                    data.figure(voc_charts.fig_rising, vv.rising, 8, vv.rising_empty),
                    "Share of comments now against the previous period of the same length (themes "
                    "only, not unclassified comments). Red: more, green: less, each kept by "
                    "Benjamini-Hochberg over the themes compared (false discovery rate 5%); "
                    "grey: no change kept.",
                    key="fig_rising",
                )
            ui.table(vv.themes_shown, "themes", hide_index=True, column_config=ui.theme_columns())


# --- verbatims ---------------------------------------------------------------------------
def verbatims() -> None:
    """Every comment in view, searchable, one page read from the database at a time."""
    example = voc.search_example(vv.all_themes)
    text = st.text_input(
        "Search comments",
        key="voc_search",
        placeholder="words or a phrase" + (f", e.g. {example}" if example else ""),
    )
    touchpoint_options, source_options = vv.options
    c1, c2, c3 = st.columns(3)
    touchpoints = c1.multiselect(
        "Touchpoint",
        touchpoint_options,
        format_func=journey.touchpoint_name,
        key="voc_touchpoints",
    )
    bands = c2.multiselect("NPS", list(voc.SCORE_BANDS), key="voc_bands")
    sentiments = c3.multiselect(
        "Sentiment", list(voc.text_analytics.SENTIMENT_BANDS), key="voc_sentiments"
    )
    c4, c5, c6 = st.columns(3)
    themes = c4.multiselect("Theme", vv.all_themes["theme"].to_list(), key="voc_themes")
    sources = c5.multiselect("Source", source_options, key="voc_sources")
    unmasked = c6.toggle(
        "Show e-mail addresses and phone numbers",
        value=False,
        key="voc_unmasked",
        help="Comments are shown with personal details masked unless you turn this on.",
    )
    query = voc.Query(
        tuple(touchpoints),
        tuple(bands),
        tuple(sentiments),
        tuple(themes),
        tuple(sources),
        text,
    )
    number = st.number_input("Page", min_value=1, value=1, step=1, key="voc_page")
    shown, number, pages, found = data.shared(
        comment_queries.page,
        data.COMMENTS,
        vv.view,
        vv.stage_ids,
        query,
        int(number),
        unmasked,
    )
    first = (number - 1) * voc.PAGE_SIZE
    st.caption(
        ui.md(
            f"{found:,} comments match ({query.describe()}); newest first. Page "
            f"{number:,} of {pages:,}: comments {min(first + 1, found):,}–"
            f"{first + shown.height:,}. Comments are shown as "
            "written, as plain text."
            + ("" if unmasked else " E-mail addresses and phone numbers are masked.")
        )
    )
    if found == 0:
        st.info("No comment matches these filters. Clear a filter or the search.")
    else:
        texts = data.get_comments()
        ui.table(
            voc.display_rows(shown, journey, unmasked=unmasked),
            "verbatims",
            # every matching comment, read from the database only when downloaded
            export=lambda: voc.display_rows(
                texts.rows(vv.view, vv.stage_ids, query, unmasked=unmasked),
                journey,
                unmasked=unmasked,
            ),
            hide_index=True,
            height=38 + 35 * shown.height,
            column_config=ui.verbatim_columns(),
        )


if verbatim_tab.open is not False:
    with verbatim_tab:
        if comments_ready():
            verbatims()
