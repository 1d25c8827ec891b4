"""A manager's share of the data, cut where the data is loaded.

Every page, chart, table export, briefing and comment search is built from these frames, so
what a manager cannot see is not in memory for their session at all — a filter in the URL
or a page link cannot bring it back. ``departments`` is the manager's department ids;
``ds`` a dataset already scoped with :meth:`Dataset.scoped`.
"""

from __future__ import annotations

import polars as pl

from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.voc import Verbatims


def _on_stages(ds: Dataset) -> pl.Expr:
    return pl.col("stage_id").cast(pl.String).is_in(ds.journey.stage_order)


def contacts(frame: pl.DataFrame, ds: Dataset) -> pl.DataFrame:
    """Contacts at the stages in scope."""
    return frame.filter(_on_stages(ds))


def own(frame: pl.DataFrame, departments: tuple[str, ...]) -> pl.DataFrame:
    """The departments' own rows of a frame keyed by ``department_id``: the cases they
    handled, their KPIs."""
    return frame.filter(pl.col("department_id").is_in(list(departments)))


def verbatims(v: Verbatims, ds: Dataset) -> Verbatims:
    """Comments at the stages in scope; each theme's volume counted on those comments only
    (the themes themselves were found once, on every comment). A theme with no comment in
    scope is left out: its name is made of other departments' customers' words."""
    comments = v.comments.filter(_on_stages(ds))
    volume = comments.group_by("theme").agg(pl.len().alias("comments"))
    themes = (
        v.themes.drop("comments")
        .join(volume, on="theme", how="inner", maintain_order="left")
        .with_columns(pl.col("comments").cast(v.themes["comments"].dtype))
    )
    return Verbatims(comments, themes)


def inputs(everything: dict, departments: tuple[str, ...]) -> dict:
    """A briefing's inputs (``briefing.load_inputs``) cut to the departments' scope: what a
    manager of those departments would see in the dashboard."""
    ds = everything["ds"].scoped(departments)
    return {
        "ds": ds,
        "kpis": own(everything["kpis"], departments),
        "cases": own(everything["cases"], departments),
        "contacts": contacts(everything["contacts"], ds),
        "comments": everything["comments"].scoped(ds.journey.stage_order),
        **(
            {"actions": own(everything["actions"], departments).filter(_on_stages(ds))}
            if everything.get("actions") is not None
            else {}
        ),
    }
