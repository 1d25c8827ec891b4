"""Sentiment and theme of every comment, computed once per comment and stored.

The results live in the contract's ``comment_analysis`` table (one row per analysed
comment) and the fitted theme model in ``comment_models``; the dashboard only reads them.
:func:`analyse` is run at import of responses, by the sample generator when it writes a
database, and by ``python3 -m cxmetrics analyse-comments [--all]``.

- **New comments** (the default): comments with no row in ``comment_analysis`` (and
  comments whose text an import changed) get their sentiment, and the theme of the newest
  stored model: the same TF-IDF weighting over the stored vocabulary, then the strongest
  of the stored NMF components (:func:`text_analytics.assign_themes`). The themes are not
  refitted, so earlier comments keep theirs and the theme names stay put. A comment with
  none of the model's words is "Unclassified".
- **Everything** (``--all``, or when no model is stored yet): the themes are fitted again
  on every comment and every comment is analysed again, in one transaction. Run it when
  the comments have changed much since the last fit, or after the theme method changes.

Comments are analysed with e-mail addresses and phone numbers masked (``text.mask_pii``)
and the company's own name left out of the themes, as the Voice page always did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import schema, store, text_analytics
from cxmetrics.contract import settings as company
from cxmetrics.contract.text import mask_pii_column

#: The method's version; a model's version is this, the time of the fit and a digest.
METHOD = "vader+tfidf-nmf-1"
Progress = Callable[[float, str], None]
ID_CHUNK = 5_000  # ids per IN (...) list (SQLite allows 32,766 parameters)


def _quiet(_fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class Outcome:
    analysed: int  # comments written to comment_analysis
    refitted: bool  # themes fitted anew (else the stored model placed the new comments)
    model_version: str | None  # None when there are no comments
    themes: int  # themes in the model, "Unclassified" not counted
    removed: int = 0  # rows of comments that are now empty, removed

    def summary(self) -> str:
        how = (
            f"themes fitted anew ({self.themes} themes, model {self.model_version})"
            if self.refitted
            else f"placed in the {self.themes} stored themes (model {self.model_version})"
        )
        text = f"analysed {self.analysed:,} comment(s); " + (
            how if self.model_version else "no comments to analyse"
        )
        return text + (f"; removed {self.removed:,} emptied" if self.removed else "")


def missing_tables(engine: sa.Engine) -> list[str]:
    """The analysis tables the database lacks (``init-db`` adds them)."""
    present = set(sa.inspect(engine).get_table_names())
    return [
        t.name for t in (schema.comment_analysis, schema.comment_models) if t.name not in present
    ]


def _require_tables(engine: sa.Engine) -> None:
    missing = missing_tables(engine)
    if missing:
        where = store.safe_url(engine.url.render_as_string(hide_password=False))
        raise store.StoreError(
            f"the database {where} lacks the table(s) {', '.join(missing)}; add them with "
            "`python3 -m cxmetrics init-db`"
        )


def _comments(engine: sa.Engine, only_new: bool, ids: list[str] | None = None) -> pl.DataFrame:
    """response_id, raw, text (masked) and label of the non-blank comments (only those
    without an analysis when ``only_new``; only those of ``ids`` when given)."""
    r, a = schema.responses, schema.comment_analysis
    stmt = store.comments_select(engine)
    if only_new:
        stmt = stmt.where(~sa.exists().where(a.c.response_id == r.c.response_id))
    if ids is not None:
        stmt = stmt.where(r.c.response_id.in_(ids))
    frame = store.read_select(engine, stmt).filter(pl.col("comment").str.strip_chars() != "")
    return frame.select(
        "response_id",
        pl.col("comment").alias("raw"),
        mask_pii_column(frame["comment"]).alias("text"),
        pl.col("sentiment_label").cast(pl.String).alias("label"),
    )


def latest_model(engine: sa.Engine) -> tuple[str, dict] | None:
    """(version, model) of the newest stored theme model, or None."""
    m = schema.comment_models
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(m.c.model_version, m.c.model)
            .order_by(m.c.fitted_at.desc(), m.c.model_version.desc())
            .limit(1)
        ).first()
    return (row[0], json.loads(row[1])) if row else None


def _version(model: dict, at: dt.datetime) -> str:
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:10]
    return f"{METHOD}:{at:%Y%m%dT%H%M%S.%f}:{digest}"


def _rows(per_comment: pl.DataFrame, comments: pl.DataFrame, version: str, at) -> pl.DataFrame:
    """Rows of comment_analysis: the analysis, the masked text where masking changed it."""
    masked = comments.select(
        "response_id",
        pl.when(pl.col("text") != pl.col("raw")).then(pl.col("text")).alias("masked_comment"),
    )
    return per_comment.join(masked, on="response_id", how="left").select(
        pl.col("response_id").cast(pl.String),
        pl.col("sentiment").cast(pl.Float64),
        pl.col("sentiment_band").cast(pl.String),
        pl.col("theme").cast(pl.String),
        "masked_comment",
        pl.lit(at, dtype=pl.Datetime("us")).alias("analysed_at"),
        pl.lit(version).alias("model_version"),
    )


def analyse(
    engine: sa.Engine,
    *,
    everything: bool = False,
    changed: list[str] | None = None,
    n_themes: int = text_analytics.N_THEMES,
    progress: Progress = _quiet,
) -> Outcome:
    """Analyse the comments not analysed yet (all of them, with the themes fitted anew,
    when ``everything`` or when no model is stored). ``changed``: response ids whose
    comment text was just written (an import), analysed again. All or nothing."""
    _require_tables(engine)
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stored = None if everything else latest_model(engine)
    a = schema.comment_analysis
    if stored is None:
        progress(0.05, "Reading every comment")
        comments = _comments(engine, only_new=False)
        name = company.load(engine).company_name
        progress(0.2, f"Finding the sentiment and themes of {comments.height:,} comments")
        result = text_analytics.analyse(
            comments.select("response_id", "text", "label"),
            n_themes,
            (name,) if name else (),
        )
        model = result.model or {"labels": [], "terms": []}
        version = _version(model, at) if comments.height else None
        rows = _rows(result.per_comment, comments, version or "", at)
        progress(0.8, f"Writing {rows.height:,} rows")
        with engine.begin() as conn:
            conn.execute(a.delete())
            if version:
                conn.execute(
                    schema.comment_models.insert().values(
                        model_version=version,
                        fitted_at=at,
                        comments=comments.height,
                        model=json.dumps(model),
                    )
                )
            _insert(conn, rows)
        progress(1.0, "Done")
        return Outcome(rows.height, True, version, len(model["labels"]))
    version, model = stored
    progress(0.05, "Reading the new comments")
    comments = _comments(engine, only_new=True)
    if changed:
        again = _comments_of(engine, pl.Series(changed, dtype=pl.String))
        known = comments["response_id"].implode()
        comments = pl.concat([comments, again.filter(~pl.col("response_id").is_in(known))])
    progress(0.3, f"Finding the sentiment and theme of {comments.height:,} comments")
    scored = text_analytics.sentiment_of(comments.select("response_id", "text", "label"))
    labels = [*model["labels"], text_analytics.NO_THEME]
    index = text_analytics.assign_themes(model, comments["text"].to_list())
    assigned = comments.select("response_id").with_columns(
        pl.Series("theme", [labels[i] for i in index], dtype=pl.String)
    )
    per_comment = scored.join(assigned, on="response_id", how="left")
    rows = _rows(per_comment, comments, version, at)
    progress(0.8, f"Writing {rows.height:,} rows")
    with engine.begin() as conn:
        removed = conn.execute(a.delete().where(_emptied(a))).rowcount or 0
        ids = rows["response_id"].to_list()
        for i in range(0, len(ids), ID_CHUNK):
            conn.execute(a.delete().where(a.c.response_id.in_(ids[i : i + ID_CHUNK])))
        _insert(conn, rows)
    progress(1.0, "Done")
    return Outcome(rows.height, False, version, len(model["labels"]), removed)


def _comments_of(engine: sa.Engine, ids: pl.Series) -> pl.DataFrame:
    """The non-blank comments of these responses, as :func:`_comments` gives them."""
    parts = [
        _comments(engine, only_new=False, ids=ids[i : i + ID_CHUNK].to_list())
        for i in range(0, ids.len(), ID_CHUNK)
    ]
    return pl.concat(parts) if parts else _comments(engine, only_new=True).head(0)


def _emptied(a: sa.Table) -> sa.ColumnElement:
    """Analysis rows whose response has no comment any more."""
    r = schema.responses
    return ~sa.exists().where(
        r.c.response_id == a.c.response_id, r.c.comment.is_not(None), r.c.comment != ""
    )


def _insert(conn: sa.Connection, rows: pl.DataFrame) -> None:
    if rows.height == 0:
        return
    if conn.dialect.name == "postgresql":
        store.copy_into(conn, schema.comment_analysis.name, rows)
        return
    if conn.dialect.name == "sqlite":  # the driver's executemany: fast, same transaction
        columns = ", ".join(f'"{c}"' for c in rows.columns)
        marks = ", ".join("?" for _ in rows.columns)
        as_text = rows.with_columns(  # SQLAlchemy's own text form of a SQLite DATETIME
            pl.col("analysed_at").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        )
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(
            f"INSERT INTO {schema.comment_analysis.name} ({columns}) VALUES ({marks})",
            as_text.iter_rows(),
        )
        return
    for chunk in rows.iter_slices(50_000):
        conn.execute(schema.comment_analysis.insert(), chunk.to_dicts())


def status(engine: sa.Engine) -> dict[str, int] | None:
    """Comments and analysed comments in the database; None without the analysis tables."""
    if missing_tables(engine):
        return None
    r, a = schema.responses, schema.comment_analysis
    with engine.connect() as conn:
        comments = conn.execute(
            sa.select(sa.func.count()).where(r.c.comment.is_not(None), r.c.comment != "")
        ).scalar()
        analysed = conn.execute(sa.select(sa.func.count()).select_from(a)).scalar()
    return {"comments": int(comments or 0), "analysed": int(analysed or 0)}
