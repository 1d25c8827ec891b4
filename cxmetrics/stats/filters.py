"""The one value that says what slice of the data a user is looking at.

``Filters`` is frozen and hashable, so it can key a cache. It applies itself to a Polars
frame (in memory, on every widget change) or to a SQLAlchemy ``select`` (pushed down to
the database). An empty tuple means "no restriction" for that dimension.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract.text import day_text


class FilterError(ValueError):
    """A filter value is impossible (for example, a start after the end)."""


@dataclass(frozen=True)
class Filters:
    start: dt.date | None = None
    end: dt.date | None = None
    stages: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise FilterError(f"the start date {self.start} is after the end date {self.end}")
        for name in ("stages", "departments", "channels", "segments", "regions"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple):
                raise FilterError(f"{name} must be a tuple of values, got {value!r}")

    def with_stages(self, stages: tuple[str, ...]) -> Filters:
        return replace(self, stages=stages)

    def with_departments(self, departments: tuple[str, ...]) -> Filters:
        return replace(self, departments=departments)

    def previous_period(self) -> Filters | None:
        """The period of the same length just before this one (None without both dates)."""
        if self.start is None or self.end is None:
            return None
        length = (self.end - self.start).days + 1
        prev_end = self.start - dt.timedelta(days=1)
        return replace(self, start=prev_end - dt.timedelta(days=length - 1), end=prev_end)

    def effective_stages(self, stages_of_departments) -> tuple[str, ...] | None:
        """Stages in view: the chosen stages, cut to those the chosen departments affect.

        ``stages_of_departments`` maps a tuple of department ids to the stages they affect.
        Returns None for "every stage", or a (possibly empty) tuple.
        """
        chosen = set(self.stages) if self.stages else None
        if self.departments:
            affected = set(stages_of_departments(self.departments))
            chosen = affected if chosen is None else chosen & affected
        return None if chosen is None else tuple(sorted(chosen))

    def expression(
        self, *, date_col: str, stage_ids: tuple[str, ...] | None, with_dates: bool = True
    ) -> pl.Expr:
        """A Polars predicate; ``stage_ids`` from :meth:`effective_stages`."""
        cond = pl.lit(True)
        if with_dates and self.start is not None:
            cond &= pl.col(date_col) >= self.start
        if with_dates and self.end is not None:
            cond &= pl.col(date_col) <= self.end
        if stage_ids is not None:
            cond &= pl.col("stage_id").is_in(list(stage_ids))
        for column, values in (
            ("channel", self.channels),
            ("segment", self.segments),
            ("region", self.regions),
        ):
            if values:
                cond &= pl.col(column).is_in(list(values))
        return cond

    def where(self, columns: dict[str, sa.ColumnElement], stage_ids) -> list[sa.ColumnElement]:
        """The same predicate for SQL: ``columns`` maps date/stage_id/channel/segment/region."""
        clauses: list[sa.ColumnElement] = []
        if self.start is not None:
            clauses.append(columns["date"] >= self.start)
        if self.end is not None:
            clauses.append(columns["date"] <= self.end)
        if stage_ids is not None:
            clauses.append(columns["stage_id"].in_(list(stage_ids)))
        for column, values in (
            ("channel", self.channels),
            ("segment", self.segments),
            ("region", self.regions),
        ):
            if values:
                clauses.append(columns[column].in_(list(values)))
        return clauses

    def describe(
        self,
        names: dict[str, str] | None = None,
        *,
        with_period: bool = True,
        scope: tuple[str, ...] | None = None,
    ) -> str:
        """Plain words for a footnote or a title slide; ``names`` maps ids to labels. With a
        manager's ``scope`` (department ids), "all" means all of theirs and says so."""
        names = names or {}

        def label(values: tuple[str, ...], every: str) -> str:
            return ", ".join(names.get(v, v) for v in values) if values else every

        def day(d: dt.date | None, missing: str) -> str:
            return day_text(d) if d else missing

        period = (
            f"{day(self.start, 'first day')} – {day(self.end, 'last day')}"
            if (self.start or self.end)
            else "all dates"
        )
        parts = [period] if with_period else []
        parts += [
            label(self.stages, "all stages" if scope is None else "all your stages"),
            label(
                self.departments,
                "all departments" if scope is None else label(scope, ""),
            ),
            label(self.channels, "all channels"),
            label(self.segments, "all segments"),
            label(self.regions, "all regions"),
        ]
        return " · ".join(parts)
