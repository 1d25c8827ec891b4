"""The findings engine: every statement the dashboard makes about the data is a Finding.

A module that looks for something (a change, a lead, a false positive, a closed-loop gap, a
strong or weak touchpoint, a channel gap, a behavioural difference, an at-risk concentration,
a stage against its target) proposes *candidates*: one test each, with its effect, 95%
interval, n and p-value. :func:`decide` controls the false discovery rate over the family of
candidates a view makes (Benjamini-Hochberg at :data:`inference.FDR`) and keeps those whose
q-value passes. Pages, the briefing and the CLI state only what :func:`decide` kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from cxmetrics.contract.text import counted
from cxmetrics.stats.inference import FDR, bh_qvalues

#: Every kind of finding, with the test behind it (the glossary shows these).
KINDS: dict[str, str] = {
    "change": (
        "A score moved against the previous period of the same length: two-sample z-test "
        "with standard errors that allow for customers answering more than once, "
        "Benjamini-Hochberg over every score and stage compared in the view."
    ),
    "trend": (
        "A week, month or quarter differs from the one before it: z-test per point, "
        "Benjamini-Hochberg over every point of the chart."
    ),
    "lead": (
        "Contact volume foretells a stage's NPS 1-8 weeks later: each weekly series is "
        "pre-whitened (residuals of its own autoregression, order 0-3 by AIC, with a linear "
        "trend); the strongest cross-correlation over the eight lags is compared with 999 "
        "random reorderings of the contacts residuals (maximum over lags on each, which "
        "corrects for the lags); Benjamini-Hochberg over the stages tested; at least 26 "
        "pairs of weeks. Interval: Fisher's, at the lag found."
    ),
    "false_positive": (
        "A department meets its own KPIs while most of the stages it affects are below target "
        "for the customer: its KPI hit rate is above 75% (one-sided score test; the 95% "
        "Wilson interval lies above 75%, on at least 13 KPI-weeks) and more than half of its "
        "role-weighted stages have their NPS interval below target (z-tests with the design "
        "effect of repeated answers, Bonferroni over its stages); p is the larger of the two, "
        "Benjamini-Hochberg over the departments in view."
    ),
    "closed_loop": (
        "A department's closed-versus-confirmed gap (cases closed without the customer's "
        "confirmation, as a share of cases opened) differs from the other departments': "
        "two-proportion z-test on cases opened at least 60 days before the data ends (30 days "
        "to close, then 30 for a repeat contact), Benjamini-Hochberg over the departments "
        "with enough cases in view."
    ),
    "moment": (
        "A touchpoint's NPS differs from the rest of its stage's (the stage's other "
        "touchpoints in the same view): two-sample z-test with standard errors that allow for "
        "customers answering more than once, at least the minimum n on each side, "
        "Benjamini-Hochberg over the touchpoints compared."
    ),
    "channel": (
        "Effort (CES) differs between two channels: the difference is compared within each "
        "touchpoint offered on both (at least the minimum n each side) and combined with "
        "inverse-variance weights, z-test with standard errors that allow for customers "
        "answering more than once, Benjamini-Hochberg over every pair of channels compared; "
        "the headline is the widest kept gap (hardest channel against easiest)."
    ),
    "behaviour": (
        "Customers with a behavioural moment (three contacts in 30 days, a complaint, a "
        "moment at a stage) answer differently from everyone else in view: z-test on NPS "
        "(standard errors allowing for repeated answers; for a stage's moment, the answers "
        "at the other stages on both sides), only with the minimum n on both sides, "
        "Benjamini-Hochberg over every test of the moments. Churn is shown beside it, not "
        "tested: who left early had less time to do anything."
    ),
    "at_risk": (
        "Satisfied-but-at-risk customers (CSAT 4-5 yet NPS 0-8 or gone) concentrate in a "
        "segment: two-proportion z-test of the segment's at-risk share against the other "
        "segments' together, at least the minimum n satisfied customers on each side, "
        "Benjamini-Hochberg over the segments; stated only when the share is higher."
    ),
    "influencer": (
        "Top-decile influencers answer a stage differently from everyone else: z-test of the "
        "two NPS with margins that allow for repeated answers, Benjamini-Hochberg over stages."
    ),
    "action": (
        "An action plan moved its metric: the change on its touchpoint (or stage) across two "
        "equal windows around its start date (up to 120 days each) minus the change on the "
        "comparable touchpoints (or stages) it did not touch (difference-in-differences), "
        "z-test with variances that allow for customers answering more than once; judged only "
        "once the after window holds the answers needed to find the minimum detectable effect "
        "with 80% power, Benjamini-Hochberg over the actions judged together."
    ),
    "target": (
        "A score is below (or above) its target: only when its whole 95% interval lies "
        "below (or above) it; otherwise 'near target'."
    ),
}


@dataclass(frozen=True)
class Finding:
    """One tested statement. ``effect`` and ``ci`` are in ``unit``; ``q`` is set by
    :func:`decide`; ``sentence`` is what the dashboard says when the finding is kept."""

    kind: str
    sentence: str
    effect: float | None
    ci: tuple[float, float] | None
    n: int
    p: float | None
    q: float | None = None
    stages: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    touchpoints: tuple[str, ...] = ()
    unit: str = ""
    family: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")

    @property
    def significant(self) -> bool:
        return self.q is not None and self.q <= FDR

    @property
    def text(self) -> str:
        """The sentence as plain text, without the pages' bold marks: the command line, its
        JSON and e-mail say it without Markdown."""
        return self.sentence.replace("**", "")

    def as_dict(self) -> dict:
        def num(x):
            return None if x is None else round(float(x), 6)

        return {
            "kind": self.kind,
            "sentence": self.text,
            "effect": num(self.effect),
            "ci": None if self.ci is None else [num(self.ci[0]), num(self.ci[1])],
            "unit": self.unit,
            "n": int(self.n),
            "p": num(self.p),
            "q": num(self.q),
            "stages": list(self.stages),
            "departments": list(self.departments),
            "touchpoints": list(self.touchpoints),
            "family": self.family,
        }


def adjust(candidates: Iterable[Finding]) -> list[Finding]:
    """Every candidate with its Benjamini-Hochberg q-value over the family given."""
    items = list(candidates)
    tested = [i for i, c in enumerate(items) if c.p is not None]
    q = bh_qvalues([items[i].p for i in tested])
    out = list(items)
    for i, qi in zip(tested, q, strict=True):
        out[i] = replace(items[i], q=qi)
    return out


def decide(candidates: Iterable[Finding], alpha: float = FDR) -> list[Finding]:
    """The candidates that pass the false discovery rate ``alpha`` over their family,
    strongest evidence first."""
    kept = [c for c in adjust(candidates) if c.q is not None and c.q <= alpha]
    return sorted(kept, key=lambda c: (c.q, c.p))


def caption(family_size: int, what: str) -> str:
    """The sentence a chart or section shows under its claims."""
    if family_size <= 0:
        return f"Nothing was tested: {what}."
    return (
        f"{counted(family_size, 'test')} of {what}; claims shown only where the false "
        f"discovery rate (Benjamini-Hochberg) stays at {FDR:.0%}, with margins that allow for "
        "customers answering more than once."
    )
