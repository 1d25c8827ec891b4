"""Runs every detector on one filtered view and returns what the dashboard may claim.

Each detector proposes one family of tests (:mod:`cxmetrics.findings`); each family is
decided on its own with the Benjamini-Hochberg false discovery rate. The overview page, the
briefing, ``summary --json`` (its ``changes``) and ``findings --json`` read the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxmetrics import findings as fx
from cxmetrics import loyalty, overview
from cxmetrics.dataset import Dataset
from cxmetrics.filters import Filters
from cxmetrics.periods import trend_unit
from cxmetrics.registry import MIN_N


@dataclass(frozen=True)
class Report:
    start: object
    end: object
    findings: list[fx.Finding]
    tested: dict[str, int]  # family size per kind

    def as_dict(self) -> dict:
        return {
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "tested": self.tested,
            "findings": [f.as_dict() for f in self.findings],
        }


def trend_candidates(ds: Dataset, f: Filters, unit: str, min_n: int = MIN_N) -> list[fx.Finding]:
    """Every point of the view's NPS trend against the one before it."""
    t = loyalty.trend(ds.slice_stats(f), unit, None, min_n, ds.design_effect)
    out = []
    for row in t.filter(t["p"].is_not_null()).iter_rows(named=True):
        verb = "rose" if row["change"] > 0 else "fell"
        half = abs(row["change"] / row["z"]) * 1.96 if row["z"] else 0.0
        out.append(
            fx.Finding(
                "trend",
                f"NPS {verb} {abs(row['change']):.0f} points in the {unit} of "
                f"{row['period']:%d %b %Y} (n = {row['n_nps']:,}).",
                row["change"],
                (row["change"] - half, row["change"] + half),
                row["n_nps"],
                row["p"],
                unit="points",
                family=unit,
            )
        )
    return out


def find(ds: Dataset, f: Filters, min_n: int = MIN_N, ov: overview.Overview | None = None):
    """Every finding the view supports, family by family."""
    ov = ov or overview.compute(ds, f, min_n)
    unit = trend_unit(ov.start, ov.end)
    trend = trend_candidates(ds, f, unit, min_n)
    kept = list(ov.findings) + fx.decide(trend)
    tested = {**ov.tested, "trend": len(trend)}
    return Report(ov.start, ov.end, kept, tested)
