"""Runs every detector on one filtered view and returns what the dashboard may claim.

Each detector proposes one family of tests (:mod:`cxmetrics.findings.findings`); each family is
decided on its own with the Benjamini-Hochberg false discovery rate. The overview page, the
briefing, ``summary --json`` (its ``changes``) and ``findings --json`` read the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cxmetrics.contract.periods import trend_unit
from cxmetrics.contract.registry import MIN_N
from cxmetrics.contract.text import bucket_text
from cxmetrics.findings import behaviour, channels, closed_loop, impact, leading
from cxmetrics.findings import findings as fx
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import accountability, loyalty, overview


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
    t = loyalty.trend(ds.cell_sums(f, unit), unit, None, min_n, ds.design_effect)
    out = []
    for row in t.filter(t["p"].is_not_null()).iter_rows(named=True):
        verb = "rose" if row["change"] > 0 else "fell"
        half = abs(row["change"] / row["z"]) * 1.96 if row["z"] else 0.0
        out.append(
            fx.Finding(
                "trend",
                f"NPS {verb} {abs(row['change']):.0f} points in "
                f"{bucket_text(row['period'], unit)} (n = {row['n_nps']:,}; against "
                f"{bucket_text(row['period_before'], unit)}, n = {row['n_before']:,}).",
                row["change"],
                (row["change"] - half, row["change"] + half),
                row["n_nps"],
                row["p"],
                unit="points",
                family=unit,
            )
        )
    return out


@dataclass(frozen=True)
class Inputs:
    """What some detectors read beside the dataset; None where the company has none."""

    contacts: pl.DataFrame | None = None  # dataset.load_contacts
    cases: pl.DataFrame | None = None  # closed_loop.prepare_for
    kpis: pl.DataFrame | None = None  # store.load_kpis

    @classmethod
    def read(cls, engine, ds: Dataset) -> Inputs:
        """Contacts, prepared cases and KPIs read from the database ``ds`` was loaded from."""
        from cxmetrics.contract import store
        from cxmetrics.stats import dataset

        contacts = dataset.load_contacts(engine, ds)
        cases = closed_loop.prepare_for(ds, store.load_cases(engine), contacts)
        return cls(contacts, cases, store.load_kpis(engine))


def families(
    ds: Dataset,
    f: Filters,
    inputs: Inputs = Inputs(),
    min_n: int = MIN_N,
    ov: overview.Overview | None = None,
) -> dict[str, list[fx.Finding]]:
    """Every family of candidate tests the view makes, by kind (undecided, except change
    and target, which the overview decides as it judges its tiles and stages)."""
    ov = ov or overview.compute(ds, f, min_n)
    unit = trend_unit(ov.start, ov.end)
    out: dict[str, list[fx.Finding]] = {
        "trend": trend_candidates(ds, f, unit, min_n),
        "moment": impact.candidates(ds, f, min_n),
        "channel": channels.candidates(ds, f, "ces", min_n),
        "at_risk": loyalty.candidates(ds, f, min_n),
        "influencer": loyalty.influencer_candidates(ds, f, min_n),
    }
    if inputs.contacts is not None:
        out["behaviour"] = behaviour.candidates(ds, f, inputs.contacts, min_n, inputs.cases)
        out["lead"] = leading.candidates(ds, inputs.contacts, f)
    if inputs.kpis is not None and inputs.kpis.height:
        out["false_positive"] = accountability.candidates(ds, f, inputs.kpis, min_n)
    if inputs.cases is not None and inputs.cases.height:
        out["closed_loop"] = closed_loop.candidates(ds, f, inputs.cases, min_n)
    return out


#: A family whose kept findings are stated only in one direction, and how it is decided
DECIDE = {"at_risk": loyalty.concentrated}


def find(
    ds: Dataset,
    f: Filters,
    inputs: Inputs = Inputs(),
    min_n: int = MIN_N,
    ov: overview.Overview | None = None,
) -> Report:
    """Every finding the view supports, family by family."""
    ov = ov or overview.compute(ds, f, min_n)
    fams = families(ds, f, inputs, min_n, ov)
    kept = list(ov.findings)
    for kind, candidates in fams.items():
        kept += DECIDE.get(kind, fx.decide)(candidates)
    tested = {**ov.tested, **{kind: len(c) for kind, c in fams.items()}}
    return Report(ov.start, ov.end, kept, tested)
