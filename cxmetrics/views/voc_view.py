"""Everything the voice-of-the-customer page shows for one filter view, section by section."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from cxmetrics.contract.periods import trend_unit
from cxmetrics.contract.text_analytics import NO_THEME
from cxmetrics.findings import closed_loop, findings, leading
from cxmetrics.findings.findings import Finding
from cxmetrics.stats import complaints, voc
from cxmetrics.stats import metrics as m
from cxmetrics.stats.comment_queries import Comments, Status
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters

TOP_THEMES = 5


NO_CASES = (
    "No cases have been imported. Import the cases table (customer, touchpoint, department, "
    "opened and closed dates, whether the customer confirmed the resolution) to see the "
    "closed loop."
)


@dataclass(frozen=True)
class VocView:
    """One filter view of the page. Each section is computed when first read, so a page
    that shows one tab at a time pays only for that tab (and the headlines)."""

    ds: Dataset
    texts: Comments  # the comments, read from the database a statistic or a page at a time
    all_cases: pl.DataFrame  # from closed_loop.prepare
    contacts: pl.DataFrame  # from dataset.load_contacts
    view: Filters  # with both dates set
    min_n: int

    @property
    def start(self) -> dt.date:
        return self.view.start

    @property
    def end(self) -> dt.date:
        return self.view.end

    @cached_property
    def stage_ids(self) -> tuple[str, ...] | None:
        return self.ds.stage_ids(self.view)

    @cached_property
    def previous(self) -> Filters | None:
        return self.view.previous_period()

    @cached_property
    def empty(self) -> bool:
        """No response in view."""
        return self.ds.slice_stats(self.view).height == 0

    @property
    def trend_unit(self) -> str:
        return trend_unit(self.start, self.end)

    # --- closed loop (also a headline) ----------------------------------------------------
    @cached_property
    def cases(self) -> pl.DataFrame:
        """Every case opened in view (broken processes count them all)."""
        return closed_loop.in_view(self.all_cases, self.view, self.stage_ids)

    @cached_property
    def loop_cases(self) -> pl.DataFrame:
        """The cases in view old enough for the closed-loop rates."""
        return closed_loop.mature(self.cases, self.ds.last_day)

    @property
    def loop_window(self) -> str:
        return closed_loop.window_text(self.start, self.ds.last_day)

    @cached_property
    def per_department(self) -> pl.DataFrame:
        return closed_loop.by_department(self.loop_cases, self.ds.journey)

    @cached_property
    def per_department_stage(self) -> pl.DataFrame:
        return closed_loop.by_department_stage(self.loop_cases, self.ds.journey)

    @cached_property
    def loop_candidates(self) -> list:
        """The closed-loop family of tests (one per department with enough cases)."""
        return closed_loop.mature_candidates(self.ds, self.view, self.loop_cases, self.min_n)

    @cached_property
    def loop_findings(self) -> list:
        return findings.decide(self.loop_candidates)

    @property
    def loop_caption(self) -> str:
        return findings.caption(
            len(self.loop_candidates),
            "a department's closed-versus-confirmed gap against the other departments' "
            f"(departments with {self.min_n}+ cases)",
        )

    @cached_property
    def headline(self) -> str | None:
        return closed_loop.headline(self.loop_findings)

    # --- leading indicators (also a headline) ---------------------------------------------
    @cached_property
    def weekly(self) -> pl.DataFrame:
        return leading.weekly(self.ds, self.contacts, self.view, self.min_n)

    @cached_property
    def signals(self) -> list[leading.Signal]:
        """In journey order, each tested and judged with the others of the view."""
        order = {s: i for i, s in enumerate(self.ds.journey.stage_order)}
        found = leading.judge(leading.signals(self.weekly), self.ds.journey)
        return sorted(found, key=lambda s: order.get(s.stage_id, len(order)))

    @cached_property
    def lead_candidates(self) -> list[Finding]:
        """The view's family of lead tests (one per stage with enough weeks)."""
        return leading.findings_of(self.signals, self.ds.journey)

    @cached_property
    def lead_findings(self) -> list[Finding]:
        """The leads the view states: kept by :func:`findings.decide`, strongest first."""
        return findings.decide(self.lead_candidates)

    @property
    def lead_warnings(self) -> list[Finding]:
        """Kept leads where contacts rise before NPS falls (the page's warnings)."""
        return [f for f in self.lead_findings if f.effect is not None and f.effect < 0]

    @property
    def lead_caption(self) -> str:
        return leading.family_caption(len(self.lead_candidates))

    # --- broken processes -----------------------------------------------------------------
    @cached_property
    def processes(self) -> pl.DataFrame:
        ds, prev = self.ds, self.previous
        now = ds.complaints(self.view)
        return complaints.broken_processes(
            self.cases,
            now,
            closed_loop.in_view(self.all_cases, prev, self.stage_ids)
            if prev
            else self.cases.head(0),
            ds.complaints(prev) if prev else now.head(0),
            ds.journey,
            self.start,
            self.end,
        )

    # --- comments, themes and sentiment ---------------------------------------------------
    @cached_property
    def comment_status(self) -> Status:
        """How many comments the database holds and how many are analysed."""
        return self.texts.status()

    @cached_property
    def comment_stats(self) -> pl.DataFrame:
        """Statistics of the comments in the sidebar's view (``voc.STAT_KEYS``), by SQL."""
        return self.texts.stats(self.view, self.stage_ids)

    @property
    def comment_count(self) -> int:
        return voc.total(self.comment_stats)

    @cached_property
    def all_themes(self) -> pl.DataFrame:
        """theme, terms, comments over all data in scope (the theme filter's choices)."""
        return self.texts.themes()

    @cached_property
    def options(self) -> tuple[list[str], list[str]]:
        """Touchpoints and sources of the comments in view."""
        return self.texts.options(self.view, self.stage_ids)

    @cached_property
    def themes(self) -> pl.DataFrame:
        return voc.theme_summary(self.comment_stats)

    @cached_property
    def themes_shown(self) -> pl.DataFrame:
        """:attr:`themes` as the page's table shows them: a theme's NPS only on at least
        the minimum n of answers (null, shown blank, below it), as every score."""
        enough = pl.col("n_nps") >= self.min_n
        return self.themes.with_columns(pl.when(enough).then(pl.col("nps")).alias("nps"))

    @cached_property
    def comment_stats_before(self) -> pl.DataFrame | None:
        """Statistics of the comments of the previous period (None: no previous period)."""
        prev = self.previous
        return self.texts.stats(prev, self.stage_ids) if prev else None

    @cached_property
    def rising(self) -> pl.DataFrame:
        before = self.comment_stats_before
        before = self.comment_stats.head(0) if before is None else before
        out = voc.rising(self.comment_stats, before, self.min_n, self.themes)
        return out.filter(pl.col("theme") != NO_THEME)

    @property
    def rising_empty(self) -> str:
        """What the chart of rising themes says when it has no theme to draw."""
        before = self.comment_stats_before
        if before is None:
            return "No previous period to compare with"
        if not voc.total(before) or not self.comment_count:
            return "No comments in " + ("the previous period" if self.comment_count else "view")
        return f"No theme has {self.min_n} comments in either period"

    @cached_property
    def theme_stage(self) -> pl.DataFrame:
        return voc.theme_by_stage(self.comment_stats, self.ds.journey)

    @cached_property
    def theme_trend(self) -> pl.DataFrame:
        return voc.theme_trend(self.comment_stats, self.trend_unit, self.start, self.end)

    @cached_property
    def sentiment(self) -> pl.DataFrame:
        """stage, comments, sentiment_band, share (%)."""
        return sentiment_by_stage(self.comment_stats, self.ds.journey)

    @property
    def top_themes(self) -> list[str]:
        named = self.themes.filter(pl.col("theme") != NO_THEME)
        return named["theme"].head(TOP_THEMES).to_list()

    # --- sections, for a caller that wants them all at once (benchmarks, exports) ---------
    SECTIONS = {
        "headlines": ("headline", "signals", "lead_findings"),
        "closed loop": ("per_department", "per_department_stage", "loop_findings"),
        "leading indicators": ("weekly", "signals", "lead_findings"),
        "broken processes": ("processes",),
        "themes": ("themes", "rising", "theme_stage", "theme_trend", "sentiment"),
        "verbatims": ("comment_status", "all_themes", "options"),
    }

    def compute(self, section: str) -> None:
        for name in self.SECTIONS[section]:
            getattr(self, name)


def sentiment_by_stage(comments: pl.DataFrame, journey) -> pl.DataFrame:
    """Share of negative, neutral and positive comments per stage, in journey order.
    ``comments``: comments or their statistics (``voc.comment_stats``)."""
    counts = (
        voc.comment_stats(comments)
        .group_by("stage_id", "sentiment_band")
        .agg(pl.col("comments").sum().cast(pl.UInt32).alias("n"))
        .with_columns(pl.col("stage_id").cast(pl.String))
    )
    totals = counts.group_by("stage_id").agg(pl.col("n").sum().alias("comments"))
    order = {s: i for i, s in enumerate(journey.stage_order)}
    return (
        counts.join(totals, on="stage_id")
        .with_columns(
            (100 * pl.col("n") / pl.col("comments")).alias("share"),
            pl.col("stage_id").replace(journey.labels).alias("stage"),
            pl.col("stage_id").replace_strict(order, default=len(order)).alias("position"),
            pl.col("sentiment_band").cast(pl.String),
        )
        .sort("position", "sentiment_band")
        .select("stage", "comments", "sentiment_band", "share")
    )


def compute(
    ds: Dataset,
    texts: Comments,
    cases: pl.DataFrame,
    contacts: pl.DataFrame,
    f: Filters,
    min_n: int = m.MIN_N,
) -> VocView:
    """The page's view of ``f`` (nothing is computed until a section is read). ``cases``
    from :func:`closed_loop.prepare`; ``contacts`` from :func:`dataset.load_contacts`;
    ``texts`` the database's comments (``comment_queries.Comments``, in the user's scope)."""
    start, end = f.start or ds.first_day, f.end or ds.last_day
    view = Filters(start, end, f.stages, f.departments, f.channels, f.segments, f.regions)
    return VocView(ds, texts, cases, contacts, view, min_n)
