"""Statistical inference shared by every claim the dashboard makes: p-values, the false
discovery rate over a family of tests, intervals that stay honest at the extremes, and the
design effect of customers who answer more than once. Pure functions; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np
import polars as pl

Z95 = 1.96
#: The false discovery rate every family of tests is controlled at (Benjamini-Hochberg).
FDR = 0.05


def p_two_sided(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def bh_qvalues(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given.

    q_(i) = min over j ≥ i of p_(j) · m / j, capped at 1. Rejecting every test with q ≤ α
    keeps the expected share of false claims among the claims made at or below α.
    """
    m = len(pvalues)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = min(running, 1.0)
    return q


def wilson(hits: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (0-1); stays inside [0, 1] and never collapses
    to a point when every answer agrees (40 promoters of 40 give [0.91, 1], not [1, 1])."""
    if n <= 0:
        return None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def nps_interval(
    promoters: int, detractors: int, n: int, deff: float = 1.0, z: float = Z95
) -> tuple[float, float] | None:
    """95% interval of NPS in points. The usual ± margin, widened so that it never shrinks
    below what the Wilson intervals of the promoter and detractor shares allow when every
    answer agrees; ``deff`` is the design effect of repeated answers."""
    if n <= 0:
        return None
    p, d = promoters / n, detractors / n
    value = 100 * (p - d)
    eff_n = n / max(deff, 1.0)
    var = max(p + d - (p - d) ** 2, 0.0) / eff_n
    half = 100 * z * math.sqrt(var)
    # Floor: the widest one-sided Wilson gap of the two shares at the effective n.
    wp, wd = wilson(p * eff_n, eff_n, z), wilson(d * eff_n, eff_n, z)
    floor = 100 * max(p - wp[0], wp[1] - p, d - wd[0], wd[1] - d)
    half = max(half, floor)
    return max(value - half, -100.0), min(value + half, 100.0)


# --- customers who answer more than once ------------------------------------------------


def design_effects(responses: pl.DataFrame, customer: str = "cust") -> dict[str, float]:
    """Design effect per metric (nps, csat, ces): the cluster-robust variance of the mean,
    clustered by customer, over the variance that treats every answer as independent.

    Computed once on all answers. Margins and tests multiply their variance by it (that is,
    divide n by it). Customers answer more often over all data than within any slice, so
    using the all-data figure on a slice errs on the wide side. Never below 1.
    """
    scored = {
        "nps": lambda v: (v >= 9).astype(np.float64) - (v <= 6),
        "csat": lambda v: (v >= 4).astype(np.float64),
        "ces": lambda v: v.astype(np.float64),
    }
    codes = responses[customer].to_numpy()
    totals = {}
    for metric, value in scored.items():
        if metric not in responses.columns:
            continue
        column = responses[metric]
        answered = column.is_not_null().to_numpy()
        # summed with NumPy, a few bytes a row (a grouping in Polars took about ten times
        # that at the peak); every term is a whole number, so any order gives the same bits
        y = value(column.fill_null(0).to_numpy()[answered])
        who = codes[answered]
        u = np.bincount(who, weights=y)
        k = np.bincount(who).astype(np.float64)
        totals[metric] = ClusterTotals(
            k.sum(), u.sum(), (y * y).sum(), (u * u).sum(), (u * k).sum(), (k * k).sum()
        )
    return design_effects_of_totals(totals)


@dataclass(frozen=True)
class ClusterTotals:
    """What a design effect needs of one metric's answers, clustered by customer: over
    every answer, their number ``n``, the sum of the scored answers and of their squares;
    over every customer, with u the sum of their scored answers and k their number of
    answers, the sums of u², u·k and k². All whole numbers, so a database's sums, added in
    any order, give the same bits as the rows' sums."""

    n: float
    total: float
    squares: float
    u_squared: float
    u_k: float
    k_squared: float

    def __add__(self, other: ClusterTotals) -> ClusterTotals:
        return ClusterTotals(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def design_effects_of_totals(totals: dict[str, ClusterTotals]) -> dict[str, float]:
    """:func:`design_effects` from each metric's :class:`ClusterTotals`, as the rows or a
    database's ``GROUP BY customer`` give them. A metric left out, or with fewer than two
    answers, gets 1."""
    out = {}
    for metric in ("nps", "csat", "ces"):
        t = totals.get(metric)
        if t is None or t.n < 2:
            out[metric] = 1.0
            continue
        mean = t.total / t.n
        iid = t.squares - t.n * mean * mean
        # the sum over customers of (u - mean·k)², expanded into sums a database can make
        clustered = t.u_squared - 2 * mean * t.u_k + mean * mean * t.k_squared
        out[metric] = max(clustered / iid, 1.0) if iid > 1e-9 * max(t.n, 1.0) else 1.0
    return out
