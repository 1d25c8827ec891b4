"""Voice of the customer: the figures of comments (theme summary, themes by stage and over
time, rising themes) and the page's own filters.

The dashboard reads comments where they are stored: their sentiment and theme are in the
``comment_analysis`` table (``comment_analysis.py``), the figures are summed from the
additive statistics one GROUP BY gives (``comment_queries.py``), the list is read a page at
a time. The functions here take those statistics, or comment rows (which they sum first).

``build`` is the in-memory analysis of a frame of comments (every comment joined to its
response and analysed in the process): the reference the stored analysis and the SQL
figures are tested against, and a tool for small frames. The pages do not use it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import polars as pl

from cxmetrics.contract import periods, text_analytics
from cxmetrics.contract.text import mask_pii_column
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset, bucket_columns, date_slice
from cxmetrics.stats.filters import Filters
from cxmetrics.stats.inference import FDR, bh_qvalues, p_two_sided

SCORE_BANDS = ("promoter", "passive", "detractor", "no NPS")
PAGE_SIZE = 25
RISING_MIN_N = m.MIN_N  # comments in a theme (now or before) to call it rising


@dataclass(frozen=True)
class Verbatims:
    comments: pl.DataFrame  # sorted by responded_on, response_id; see build()
    themes: pl.DataFrame  # theme, terms, comments (over all data)

    @property
    def theme_names(self) -> list[str]:
        return self.themes["theme"].cast(pl.String).to_list()


def score_band(nps: pl.Expr) -> pl.Expr:
    return (
        pl.when(nps >= 9)
        .then(pl.lit("promoter"))
        .when(nps >= 7)
        .then(pl.lit("passive"))
        .when(nps.is_not_null())
        .then(pl.lit("detractor"))
        .otherwise(pl.lit("no NPS"))
        .cast(pl.Enum(SCORE_BANDS))
    )


def build(
    ds: Dataset,
    comments: pl.DataFrame,
    n_themes: int = text_analytics.N_THEMES,
    stop_words=(),
) -> Verbatims:
    """Comments (``response_id``, ``comment``, optionally ``sentiment_label``) placed in the
    journey, masked and analysed. ``stop_words``: words themes are not made of, besides the
    company's own name (from its settings).

    Columns: response_id, responded_on, stage_id, touchpoint_id, channel, source, nps, csat,
    ces, cust, segment, region, score_band, comment (masked), raw (as written), sentiment,
    sentiment_band, theme. Comments whose response is not in the dataset are left out.
    """
    if "sentiment_label" not in comments.columns:
        comments = comments.with_columns(pl.lit(None, dtype=pl.String).alias("sentiment_label"))
    placed = (
        comments.filter(
            pl.col("comment").is_not_null() & (pl.col("comment").str.strip_chars() != "")
        )
        .select(
            pl.col("response_id").cast(pl.String),
            pl.col("comment").alias("raw"),
            pl.col("sentiment_label").cast(pl.String).alias("label"),
        )
        .join(
            ds.responses.select(
                pl.col("response_id").cast(pl.String),
                "responded_on",
                "stage_id",
                "touchpoint_id",
                "channel",
                "source",
                "nps",
                "csat",
                "ces",
                "cust",
                "segment",
                "region",
            ),
            on="response_id",
            how="inner",
        )
        .sort("responded_on", "response_id")
    )
    placed = placed.with_columns(
        mask_pii_column(placed["raw"]).alias("comment"),
        score_band(pl.col("nps")).alias("score_band"),
    )
    company = ds.settings.company_name  # the company's own name never makes a theme
    analysis = text_analytics.analyse(
        placed.select("response_id", pl.col("comment").alias("text"), "label"),
        n_themes,
        (*stop_words, *([company] if company else [])),
    )
    frame = (
        placed.drop("label")
        .join(analysis.per_comment, on="response_id", how="left", maintain_order="left")
        # trend buckets, so a trend is a group-by without date arithmetic
        .with_columns(bucket_columns("responded_on"))
    )
    return Verbatims(frame, analysis.themes)


def search_example(v: Verbatims | pl.DataFrame) -> str | None:
    """A word to suggest in the search box, from the data: the strongest term of the
    largest theme (None without themes). ``v``: comments, or their themes (theme, terms,
    comments)."""
    themes = v if isinstance(v, pl.DataFrame) else v.themes
    found = themes.filter(
        (pl.col("theme").cast(pl.String) != text_analytics.NO_THEME) & (pl.col("terms") != "")
    ).sort("comments", "theme", descending=[True, False])
    return found["terms"][0].split(", ")[0] if found.height else None


@dataclass(frozen=True)
class Query:
    """The page's own filters on top of the sidebar's; empty means "any"."""

    touchpoints: tuple[str, ...] = ()
    score_bands: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    text: str = ""

    def chosen(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(label, column of the comments frame, values) of each filter that is set."""
        return [
            (label, column, values)
            for label, column, values in (
                ("touchpoints", "touchpoint_id", self.touchpoints),
                ("NPS", "score_band", self.score_bands),
                ("sentiment", "sentiment_band", self.sentiments),
                ("themes", "theme", self.themes),
                ("sources", "source", self.sources),
            )
            if values
        ]

    def describe(self) -> str:
        parts = [f"{label}: {', '.join(values)}" for label, _, values in self.chosen()]
        if self.text.strip():
            parts.append(f'containing "{self.text.strip()}"')
        return "; ".join(parts) or "no further filters"


def in_view(
    v: Verbatims, f: Filters, stage_ids: tuple[str, ...] | None, *, with_dates: bool = True
) -> pl.DataFrame:
    """Comments in the sidebar's view (period by binary search, then the rest)."""
    frame = v.comments
    if with_dates:
        frame = date_slice(frame, "responded_on", f.start, f.end)
    if stage_ids is None and not (f.channels or f.segments or f.regions):
        return frame
    return frame.filter(
        f.expression(date_col="responded_on", stage_ids=stage_ids, with_dates=False)
    )


def search(frame: pl.DataFrame, q: Query, *, unmasked: bool = False) -> pl.DataFrame:
    """Comments matching the page's filters, oldest first (``page`` shows newest first).
    The text search is literal and case-insensitive; it looks at the masked text unless
    ``unmasked``. Values a column does not hold match nothing."""
    cond = pl.lit(True)
    for _, column, values in q.chosen():
        known = set(frame.schema[column].categories.to_list())
        cond &= pl.col(column).is_in([v for v in values if v in known])
    needle = q.text.strip()
    if needle:
        column = "raw" if unmasked else "comment"
        cond &= pl.col(column).str.contains("(?i)" + re.escape(needle))
    return frame if cond.meta.eq(pl.lit(True)) else frame.filter(cond)


def page(frame: pl.DataFrame, number: int, size: int = PAGE_SIZE) -> tuple[pl.DataFrame, int, int]:
    """One page of a frame in date order, newest first: (rows, page number clamped to
    1..pages, number of pages)."""
    pages = max(1, -(-frame.height // size))
    number = min(max(1, number), pages)
    end = frame.height - (number - 1) * size
    start = max(end - size, 0)
    return frame.slice(start, end - start).reverse(), number, pages


def display_rows(frame: pl.DataFrame, journey, *, unmasked: bool = False) -> pl.DataFrame:
    """The columns a reader sees, with names instead of ids; the comment masked unless
    ``unmasked``. The comment's NPS answer, sentiment and theme come right after it: on a
    screen too narrow for every column they are the first ones scrolled to."""
    return frame.select(
        "responded_on",
        pl.col("stage_id").cast(pl.String).replace(journey.labels).alias("stage"),
        pl.col("touchpoint_id")
        .cast(pl.String)
        .replace(journey.touchpoint_names)
        .alias("touchpoint"),
        pl.col("raw" if unmasked else "comment").alias("comment"),
        "nps",
        "sentiment",
        pl.col("theme").cast(pl.String),
        "csat",
        "ces",
        pl.col("source").cast(pl.String),
        pl.col("channel").cast(pl.String),
    )


#: Keys and additive statistics of comments: the grain the database's GROUP BY gives
#: (``comment_queries.Comments.stats``) and every theme and sentiment figure is summed from.
STAT_KEYS = ("responded_on", "stage_id", "theme", "sentiment_band")
STAT_SUMS = ("comments", "n_nps", "promoters", "detractors", "sentiment_sum", "n_sentiment")


def comment_stats(frame: pl.DataFrame, by: tuple[str, ...] = STAT_KEYS) -> pl.DataFrame:
    """Additive statistics of comment rows (one row per comment, as ``build`` gives them)
    per ``by``: comments, NPS answers, promoters, detractors, and the sum and count of the
    sentiment scores. A frame that already holds statistics is returned as it is."""
    if "comments" in frame.columns:
        return frame
    nps, sentiment = pl.col("nps"), pl.col("sentiment")
    return frame.group_by([b for b in by if b in frame.columns]).agg(
        pl.len().cast(pl.Int64).alias("comments"),
        nps.is_not_null().sum().cast(pl.Int64).alias("n_nps"),
        (nps >= 9).sum().cast(pl.Int64).alias("promoters"),
        (nps <= 6).sum().cast(pl.Int64).alias("detractors"),
        sentiment.cast(pl.Float64).sum().alias("sentiment_sum"),
        sentiment.is_not_null().sum().cast(pl.Int64).alias("n_sentiment"),
    )


def total(stats: pl.DataFrame) -> int:
    """Comments counted in statistics (or rows of comments)."""
    stats = comment_stats(stats)
    return int(stats["comments"].sum()) if stats.height else 0


def _counts(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Comments, NPS answers, promoters, detractors, mean sentiment and negative share per
    group, with the NPS (null without answers), summed from the statistics of ``frame``."""
    stats = comment_stats(frame)
    negative = pl.when(pl.col("sentiment_band").cast(pl.String) == "negative")
    grouped = stats.group_by(by).agg(
        pl.col("comments", "n_nps", "promoters", "detractors").sum().cast(pl.Int64),
        pl.col("sentiment_sum", "n_sentiment").sum(),
        negative.then(pl.col("comments")).otherwise(0).sum().alias("n_negative"),
    )
    mean = pl.col("sentiment_sum") / pl.col("n_sentiment")
    return grouped.with_columns(
        pl.when(pl.col("n_sentiment") > 0).then(mean).alias("sentiment"),
        (100 * pl.col("n_negative") / pl.col("comments")).alias("negative"),
        m.nps_expr().alias("nps"),
    ).drop("n_negative", "sentiment_sum", "n_sentiment")


def theme_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Per theme: comments, share of comments, NPS of the responses they came with (and n),
    mean sentiment and the share that is negative; largest first. ``frame``: comments or
    their statistics."""
    return (
        _counts(frame, ["theme"])
        .select(
            pl.col("theme").cast(pl.String),
            "comments",
            (100 * pl.col("comments") / max(total(frame), 1)).alias("share"),
            "nps",
            "n_nps",
            "sentiment",
            "negative",
        )
        .sort("comments", "theme", descending=[True, False])
    )


def theme_by_stage(frame: pl.DataFrame, journey) -> pl.DataFrame:
    """Comments per theme × stage with the NPS of those responses (long form)."""
    return (
        _counts(frame, ["theme", "stage_id"])
        .with_columns(pl.col("theme", "stage_id").cast(pl.String))
        .select(
            "theme",
            "stage_id",
            pl.col("stage_id").replace(journey.labels).alias("stage"),
            "comments",
            "nps",
            "n_nps",
        )
    )


def theme_trend(frame: pl.DataFrame, unit: str, start=None, end=None) -> pl.DataFrame:
    """Comments per theme per ``unit`` ("week", "month" or "quarter") bucket. With ``start``
    and ``end``, buckets that the period cuts short are left out (unless none is whole)."""
    stats = comment_stats(frame)
    if start is not None and end is not None and stats.height:
        first, last = _whole_buckets(unit, start, end)
        whole = stats.filter(pl.col("responded_on").is_between(first, last))
        if whole.height:
            stats = whole
    return (
        stats.group_by(
            pl.col("responded_on").dt.truncate(periods.BUCKETS[unit]).alias("period"), "theme"
        )
        .agg(pl.col("comments").sum().cast(pl.UInt32))
        .with_columns(pl.col("theme").cast(pl.String))
        .sort("period", "theme")
    )


def _whole_buckets(unit: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last days of the whole ``unit`` buckets within [start, end]."""
    every = periods.BUCKETS[unit]
    days = pl.Series([start, end + dt.timedelta(days=1)])
    first, after = days.dt.truncate(every).to_list()
    first = start if first == start else pl.Series([first]).dt.offset_by(every)[0]
    return first, after - dt.timedelta(days=1)


def rising(
    current: pl.DataFrame,
    previous: pl.DataFrame,
    min_n: int = RISING_MIN_N,
    current_summary: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Themes whose share of comments grew most against the previous period.

    ``change`` is in percentage points of share; ``significant``: a two-proportion z-test
    per theme, kept by Benjamini-Hochberg over the themes compared at the false discovery
    rate every claim of the dashboard keeps (``q``). Themes with fewer than ``min_n``
    comments in both periods are left out.
    """
    now = theme_summary(current) if current_summary is None else current_summary
    before = theme_summary(previous)
    n_now, n_before = total(current), total(previous)
    both = (
        now.select("theme", pl.col("comments").alias("now"), pl.col("share").alias("share_now"))
        .join(
            before.select(
                "theme", pl.col("comments").alias("before"), pl.col("share").alias("share_before")
            ),
            on="theme",
            how="full",
            coalesce=True,
        )
        .with_columns(
            pl.col("now", "before").fill_null(0), pl.col("share_now", "share_before").fill_null(0.0)
        )
    )
    if n_now == 0 or n_before == 0:
        return both.head(0).with_columns(
            pl.lit(0.0).alias("change"),
            pl.lit(None, pl.Float64).alias("q"),
            pl.lit(False).alias("significant"),
        )
    pooled = (pl.col("now") + pl.col("before")) / (n_now + n_before)
    se = 100 * (pooled * (1 - pooled) * (1 / n_now + 1 / n_before)).sqrt()
    change = pl.col("share_now") - pl.col("share_before")
    tested = (
        both.filter((pl.col("now") >= min_n) | (pl.col("before") >= min_n))
        .with_columns(change.alias("change"), (change / se).alias("z"))
        .sort("change", "theme", descending=[True, False])
    )
    z = tested["z"].to_list()
    p = [p_two_sided(v) if v is not None and math.isfinite(v) else 1.0 for v in z]
    q = bh_qvalues(p) if p else []
    return tested.drop("z").with_columns(
        pl.Series("q", q, dtype=pl.Float64),
        pl.Series("significant", [qi <= FDR for qi in q], dtype=pl.Boolean),
    )
