"""The comments' queries: the Voice page's theme and sentiment statistics as one GROUP BY in
the database, and the "every comment" list one page of rows at a time.

Comments are never read into the process whole: the statistics are bounded by days ×
stages × themes × sentiment bands, a page by its size. Sentiment and themes come from the
``comment_analysis`` table, filled once per comment (``cxmetrics/contract/comment_analysis.py``).
Any SQLAlchemy dialect compiles these queries; filters are the sidebar's (``Filters`` and
the stages in view) and the page's own (``voc.Query``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import comment_analysis, schema, store
from cxmetrics.contract.text import mask_pii_column
from cxmetrics.contract.text_analytics import NO_THEME
from cxmetrics.stats import voc
from cxmetrics.stats.filters import Filters

NOT_ANALYSED = (
    "The comments have not been analysed yet. Run `python3 -m cxmetrics analyse-comments` "
    "on this database to find their sentiment and themes (once; imports keep it up to date)."
)
NO_TABLE = (
    "This database was made by an earlier version and has no table for the comments' "
    "sentiment and themes. Run `python3 -m cxmetrics init-db`, then "
    "`python3 -m cxmetrics analyse-comments`."
)


#: A limit that keeps every row (the largest a Spark LIMIT takes)
_ALL_ROWS = 2**31 - 1


@dataclass(frozen=True)
class Status:
    comments: int  # non-blank comments in the database
    analysed: int  # of which with a sentiment and theme
    has_table: bool

    @property
    def message(self) -> str | None:
        """What to run before the comments can be shown, or None when nothing is missing."""
        if not self.has_table:
            return NO_TABLE if self.comments else None
        if self.comments and not self.analysed:
            return NOT_ANALYSED
        return None

    @property
    def pending(self) -> int:
        return max(self.comments - self.analysed, 0) if self.has_table else self.comments


def _score_band(band: str, nps: sa.ColumnElement) -> sa.ColumnElement:
    return {
        "promoter": nps >= 9,
        "passive": nps.between(7, 8),
        "detractor": nps <= 6,
        "no NPS": nps.is_(None),
    }[band]


@dataclass(frozen=True)
class Comments:
    """The comments of one database, within a manager's ``stages`` (None: all)."""

    engine: sa.Engine
    stages: tuple[str, ...] | None = None

    def scoped(self, stages: tuple[str, ...]) -> Comments:
        return Comments(self.engine, tuple(stages))

    # --- what is there ------------------------------------------------------------------
    def status(self) -> Status:
        found = comment_analysis.status(self.engine)
        if found is None:
            r = schema.responses
            with self.engine.connect() as conn:
                n = conn.execute(
                    sa.select(sa.func.count()).where(r.c.comment.is_not(None), r.c.comment != "")
                ).scalar()
            return Status(int(n or 0), 0, False)
        return Status(found["comments"], found["analysed"], True)

    def _ready(self) -> bool:
        return not comment_analysis.missing_tables(self.engine)

    def _joined(self, f: Filters, stage_ids):
        """responses ⋈ customers ⋈ touchpoints ⋈ comment_analysis, and the WHERE clauses
        of the sidebar's filters (within the manager's stages)."""
        if self.stages is not None:
            stage_ids = tuple(s for s in (stage_ids or self.stages) if s in self.stages)
        joined, where = store.responses_in_view(f, stage_ids)
        r, a = schema.responses, schema.comment_analysis
        joined = joined.join(a, a.c.response_id == r.c.response_id)
        return joined, [*where, r.c.comment.is_not(None), r.c.comment != ""]

    # --- statistics (themes and sentiment) --------------------------------------------
    def stats(self, f: Filters, stage_ids) -> pl.DataFrame:
        """``voc.STAT_KEYS`` and ``voc.STAT_SUMS`` of the comments in view, by one GROUP BY."""
        r, t, a = schema.responses, schema.touchpoints, schema.comment_analysis
        keys = [r.c.responded_on, t.c.stage_id, a.c.theme, a.c.sentiment_band]
        if not self._ready():
            return _empty_stats()
        joined, where = self._joined(f, stage_ids)

        stmt = (
            sa.select(
                *keys,
                sa.func.count().label("comments"),
                sa.func.count(r.c.nps).label("n_nps"),
                store.count_where(r.c.nps >= 9).label("promoters"),
                store.count_where(r.c.nps <= 6).label("detractors"),
                sa.func.sum(a.c.sentiment).label("sentiment_sum"),
                sa.func.count(a.c.sentiment).label("n_sentiment"),
            )
            .select_from(joined)
            .where(*where)
            .group_by(*keys)
        )
        frame = store.read_select(self.engine, stmt)
        return frame.with_columns(
            pl.col("comments", "n_nps", "promoters", "detractors", "n_sentiment").cast(pl.Int64),
            pl.col("sentiment_sum").cast(pl.Float64),
        ).sort("responded_on", "stage_id", "theme", "sentiment_band")

    def themes(self) -> pl.DataFrame:
        """theme, terms, comments (over all data in scope), in the model's order with
        "Unclassified" last. In a manager's scope, themes with no comment there are left
        out: their names are made of other departments' customers' words."""
        empty = pl.DataFrame(schema={"theme": pl.String, "terms": pl.String, "comments": pl.Int64})
        if not self._ready():
            return empty
        model = comment_analysis.latest_model(self.engine)
        labels, terms = (model[1]["labels"], model[1]["terms"]) if model else ([], [])
        r, t, a = schema.responses, schema.touchpoints, schema.comment_analysis
        stmt = sa.select(a.c.theme, sa.func.count().label("comments"))
        if self.stages is not None:
            stmt = stmt.select_from(
                a.join(r, r.c.response_id == a.c.response_id).join(
                    t, t.c.touchpoint_id == r.c.touchpoint_id
                )
            ).where(t.c.stage_id.in_(list(self.stages)))
        counts = store.read_select(self.engine, stmt.group_by(a.c.theme))
        named = pl.DataFrame(
            {
                "theme": [*labels, NO_THEME],
                "terms": [", ".join(w) for w in terms] + [""],
            },
            schema={"theme": pl.String, "terms": pl.String},
        )
        out = named.join(
            counts.with_columns(pl.col("comments").cast(pl.Int64)),
            on="theme",
            how="inner" if self.stages is not None else "left",
            maintain_order="left",
        ).with_columns(pl.col("comments").fill_null(0))
        return out if model or out["comments"].sum() else empty

    def options(self, f: Filters, stage_ids) -> tuple[list[str], list[str]]:
        """The touchpoints and the sources of the comments in view (sorted)."""
        if not self._ready():
            return [], []
        r = schema.responses
        joined, where = self._joined(f, stage_ids)
        stmt = (
            sa.select(r.c.touchpoint_id, r.c.source)
            .select_from(joined)
            .where(*where)
            .group_by(r.c.touchpoint_id, r.c.source)
        )
        found = store.read_select(self.engine, stmt)
        return (
            sorted(set(found["touchpoint_id"].to_list())),
            sorted(set(found["source"].to_list())),
        )

    # --- the list of comments -----------------------------------------------------------
    def _matching(self, f: Filters, stage_ids, q: voc.Query, unmasked: bool):
        r, a = schema.responses, schema.comment_analysis
        joined, where = self._joined(f, stage_ids)
        column = {
            "touchpoint_id": r.c.touchpoint_id,
            "sentiment_band": a.c.sentiment_band,
            "theme": a.c.theme,
            "source": r.c.source,
        }
        for _, name, values in q.chosen():
            if name == "score_band":
                bands = [_score_band(v, r.c.nps) for v in values if v in voc.SCORE_BANDS]
                where.append(sa.or_(*bands) if bands else sa.false())
            else:
                where.append(column[name].in_(list(values)))
        needle = q.text.strip()
        if needle:
            text = r.c.comment if unmasked else sa.func.coalesce(a.c.masked_comment, r.c.comment)
            where.append(text.icontains(needle, autoescape=True))
        return joined, where

    def count(self, f: Filters, stage_ids, q: voc.Query, *, unmasked: bool = False) -> int:
        if not self._ready():
            return 0
        joined, where = self._matching(f, stage_ids, q, unmasked)
        with self.engine.connect() as conn:
            stmt = sa.select(sa.func.count()).select_from(joined).where(*where)
            return int(conn.execute(stmt).scalar() or 0)

    def rows(
        self,
        f: Filters,
        stage_ids,
        q: voc.Query,
        *,
        unmasked: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> pl.DataFrame:
        """Matching comments newest first (date, then response id, both descending), with
        the columns ``voc.display_rows`` reads; ``comment`` masked, ``raw`` as written."""
        r, t, a = schema.responses, schema.touchpoints, schema.comment_analysis
        cols = [
            r.c.response_id,
            r.c.responded_on,
            t.c.stage_id,
            r.c.touchpoint_id,
            r.c.channel,
            r.c.source,
            r.c.nps,
            r.c.csat,
            r.c.ces,
            r.c.comment.label("raw"),
            a.c.sentiment,
            a.c.sentiment_band,
            a.c.theme,
        ]
        if not self._ready():
            return _conform_rows(store.read_select(self.engine, sa.select(*cols).where(sa.false())))
        joined, where = self._matching(f, stage_ids, q, unmasked)
        stmt = (
            sa.select(*cols)
            .select_from(joined)
            .where(*where)
            .order_by(r.c.responded_on.desc(), r.c.response_id.desc())
        )
        # an offset, even 0, without a limit compiles for SQLite to "LIMIT ? OFFSET n", a
        # parameter the column readers leave unfilled (the comments' export read nothing):
        # an offset only when there is one, with a limit every engine takes
        if limit is not None or offset:
            stmt = stmt.limit(limit if limit is not None else _ALL_ROWS)
        if offset:
            stmt = stmt.offset(offset)
        return _conform_rows(store.read_select(self.engine, stmt))

    def page(
        self,
        f: Filters,
        stage_ids,
        q: voc.Query,
        number: int,
        *,
        unmasked: bool = False,
        size: int = voc.PAGE_SIZE,
    ) -> tuple[pl.DataFrame, int, int, int]:
        """One page of the matching comments, newest first: (rows, page number clamped to
        1..pages, number of pages, number of matching comments)."""
        found = self.count(f, stage_ids, q, unmasked=unmasked)
        pages = max(1, -(-found // size))
        number = min(max(1, number), pages)
        rows = self.rows(f, stage_ids, q, unmasked=unmasked, limit=size, offset=(number - 1) * size)
        return rows, number, pages, found

    # --- for the briefing -----------------------------------------------------------------
    def representative(
        self, f: Filters, stage_ids, themes: list[str], k: int, longest: int = 240
    ) -> list[dict]:
        """The most negative comment of each of ``themes`` in view, then the most positive
        comment: short (masked text of at most ``longest`` characters), distinct, masked."""
        if not self._ready():
            return []
        r, t, a = schema.responses, schema.touchpoints, schema.comment_analysis
        joined, where = self._joined(f, stage_ids)
        shown = sa.func.coalesce(a.c.masked_comment, r.c.comment)
        base = (
            sa.select(
                shown.label("comment"),
                t.c.stage_id,
                r.c.responded_on,
                r.c.source,
                a.c.theme,
                a.c.sentiment,
            )
            .select_from(joined)
            .where(*where, sa.func.length(shown) <= longest, a.c.sentiment.is_not(None))
        )
        picked = []
        with self.engine.connect() as conn:
            for theme in themes:
                row = conn.execute(
                    base.where(a.c.theme == theme)
                    .order_by(a.c.sentiment, r.c.responded_on.desc(), r.c.response_id.desc())
                    .limit(1)
                ).first()
                if row:
                    picked.append(dict(row._mapping))
            row = conn.execute(
                base.order_by(
                    a.c.sentiment.desc(), r.c.responded_on.desc(), r.c.response_id.desc()
                ).limit(1)
            ).first()
            if row:
                picked.append(dict(row._mapping))
        out, seen = [], set()
        for p in picked:
            p["comment"] = mask_pii_column(pl.Series([p["comment"]]))[0]
            if p["comment"] not in seen:
                seen.add(p["comment"])
                out.append(p)
        return out[:k]


def page(
    texts: Comments, f: Filters, stage_ids, q: voc.Query, number: int, unmasked: bool = False
) -> tuple[pl.DataFrame, int, int, int]:
    """:meth:`Comments.page` as a function, for a view shared by every session."""
    return texts.page(f, stage_ids, q, number, unmasked=unmasked)


def _conform_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("sentiment").cast(pl.Float32),
        mask_pii_column(frame["raw"]).alias("comment"),
    )


def _empty_stats() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "responded_on": pl.Date,
            "stage_id": pl.String,
            "theme": pl.String,
            "sentiment_band": pl.String,
            **{c: pl.Int64 for c in voc.STAT_SUMS},
        }
    ).with_columns(pl.col("sentiment_sum").cast(pl.Float64))
