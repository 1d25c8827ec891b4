"""Moments of truth from behaviour rather than surveys: customers defined by what they did
(contacted us three times in a month, filed a claim, reached renewal, complained) against
everyone else, on loyalty (NPS of their answers in view) and churn.

Each moment gives one test, when both sides have the minimum n: NPS of the group's answers
against everyone else's (z-test, standard errors allowing for customers answering more than
once); a stage's moment compares the answers at the other stages on both sides, so that the
stage's own level is not counted as the group's. Benjamini-Hochberg runs over every test of
the view; a difference is called significant only when its test is kept. Churn in the
period of the group's customers is shown beside everyone else's but not tested: having a
behaviour in a period and leaving in it are tied by time (who left early had less time to
do anything), so a difference would hold on data without any story.

"Made a complaint" counts complaint answers and cases, except cases opened to follow up a
survey answer: those customers were picked by a low score, the very thing compared."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, partial

import numpy as np
import polars as pl

from cxmetrics.findings.findings import Finding, adjust
from cxmetrics.stats import metrics as m
from cxmetrics.stats.contacts import REPEAT_CONTACTS, REPEAT_WINDOW_DAYS
from cxmetrics.stats.inference import FDR, Z95, p_two_sided

NOTHING_IMPORTED = (
    "No behaviour has been imported: contacts (who contacted us, when, about which stage), "
    "complaints or cases. Import them to compare customers by what they did."
)


@dataclass(frozen=True)
class GroupResult:
    moment: str
    customers: int
    nps: m.Score
    churn: m.Score
    others_nps: m.Score
    others_churn: m.Score
    change: m.Change | None  # NPS of the group against everyone else (significant: kept)
    churn_change: m.Change | None = None  # churn of the group against everyone else
    #: the NPS on both sides is of the answers at the other stages (a stage's moment)
    elsewhere: bool = False


@dataclass(frozen=True)
class AnswerCounts:
    """NPS answers in view per customer code: answers, promoters, detractors."""

    answers: np.ndarray
    promoters: np.ndarray
    detractors: np.ndarray

    # NPS -1 (blank), 0-10 -> class: 0 detractor, 1 passive, 2 promoter, 3 blank
    _CLASS = np.array([3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2], dtype=np.int64)

    @classmethod
    def of(cls, codes: np.ndarray, nps: np.ndarray, size: int) -> AnswerCounts:
        """From answer rows (customer codes, NPS with -1 for blank): one counting pass."""
        key = codes.astype(np.int64) * 4 + cls._CLASS[nps.astype(np.int64) + 1]
        per = np.bincount(key, minlength=4 * size).reshape(size, 4)
        return cls(per[:, :3].sum(axis=1), per[:, 2], per[:, 0])

    @classmethod
    def of_groups(cls, groups: pl.DataFrame, size: int) -> AnswerCounts:
        """From a customer-level aggregate (:mod:`cxmetrics.stats.answers`): its counts summed
        per customer."""
        codes = groups["cust"].to_numpy()
        runs = codes.size > 0 and bool((codes[1:] >= codes[:-1]).all())
        if runs:  # rows in customer order (as the aggregate keeps them): sum each run
            starts = np.flatnonzero(np.append(True, codes[1:] != codes[:-1]))
            who = codes[starts]

        columns = ("n_nps", "promoters", "detractors")
        if not runs:

            def per(column: str) -> np.ndarray:
                weights = groups[column].to_numpy().astype(np.int64)
                return np.bincount(codes, weights=weights, minlength=size).astype(np.int64)

            return cls(*(per(c) for c in columns))
        last = np.append(starts[1:], codes.size) - 1  # each run's last row

        def per(column: str) -> np.ndarray:  # each run's sum: a difference of running totals
            out = np.zeros(size, dtype=np.int64)
            out[who] = np.diff(
                np.cumsum(groups[column].to_numpy(), dtype=np.int64)[last], prepend=0
            )
            return out

        return cls(*(per(c) for c in columns))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.answers, self.promoters, self.detractors

    def without(self, part: AnswerCounts) -> AnswerCounts:
        """These counts less ``part`` of them (a stage's answers, say)."""
        return AnswerCounts(*(a - b for a, b in zip(self.arrays(), part.arrays(), strict=True)))

    @cached_property
    def _stacked(self) -> np.ndarray:
        return np.stack([self.answers, self.promoters, self.detractors]).astype(np.float64)

    @cached_property
    def _totals(self) -> list[int]:
        return [int(a.sum()) for a in (self.answers, self.promoters, self.detractors)]

    def nps_of_groups(
        self, members: np.ndarray, deff: dict | None = None
    ) -> list[tuple[m.Score, m.Score]]:
        """NPS of the answers given by each row of ``members`` (groups × customer codes,
        masks) and by everyone else, with one product for every group (float64 sums of
        counts are exact below 2**53)."""
        counts = (members.astype(np.float64) @ self._stacked.T).astype(np.int64).tolist()
        out = []
        for mine in counts:
            rest = [total - c for total, c in zip(self._totals, mine, strict=True)]
            out.append((_nps_of(mine, deff), _nps_of(rest, deff)))
        return out


def _nps_of(counts: list[int], deff: dict | None) -> m.Score:
    """NPS of (answers, promoters, detractors)."""
    row = dict.fromkeys(m.CORE_COLUMNS, 0)
    row.update(n_nps=int(counts[0]), promoters=int(counts[1]), detractors=int(counts[2]))
    return m.scores_of(row, deff)["nps"]


def _difference(a: m.Score, b: m.Score, min_n: int, tested: bool = True) -> m.Change | None:
    """a − b with its z (not yet judged: ``significant`` False); None when either side has
    fewer than ``min_n``. Not ``tested``: without a z, never significant. A churn difference
    is shown, not claimed: who had a behaviour in the period and who left in it are tied by
    time (a customer who left early had less time to contact us, complain or reach a stage),
    so "those who did this left less" holds on data without any story."""
    change = m.compare(a, b, min_n)
    if change is None:
        return None
    return m.Change(change.delta, change.z if tested else None, False)


def compare_groups(
    moments: list[str],
    members: np.ndarray,
    counts: AnswerCounts,
    seen: np.ndarray,
    left: np.ndarray,
    min_n: int = m.MIN_N,
    deff: dict | None = None,
    churn_known: bool = True,
) -> list[GroupResult]:
    """Customers with each behaviour (``members``: one row per moment, a mask over customer
    codes each) against everyone else. NPS is over the answers in view (``counts``); churn is
    the share of the customers in view (``seen``) who left in the period (``left``), unknown
    (no value, no test) where no churn is recorded (``churn_known``).
    Differences are not yet judged: see :func:`judged`."""
    group, others = members & seen, ~members & seen

    def count(mask: np.ndarray) -> list[int]:
        return np.count_nonzero(mask, axis=1).tolist()

    sizes, other_sizes = count(group), count(others)
    gone, others_gone = count(group & left), count(others & left)
    out = []
    for i, (group_nps, others_nps) in enumerate(counts.nps_of_groups(members, deff)):
        churn = m.proportion_score("churn", gone[i], sizes[i])
        others_churn = m.proportion_score("churn", others_gone[i], other_sizes[i])
        if not churn_known:  # nobody's churn date is recorded: unknown, not 0%
            churn = m.Score("churn", None, sizes[i])
            others_churn = m.Score("churn", None, other_sizes[i])
        # Enough answers and enough customers on both sides: many answers from a handful of
        # customers are not a comparison.
        enough = min(sizes[i], other_sizes[i]) >= min_n
        out.append(
            GroupResult(
                moments[i],
                sizes[i],
                group_nps,
                churn,
                others_nps,
                others_churn,
                _difference(group_nps, others_nps, min_n) if enough else None,
                _difference(churn, others_churn, min_n, tested=False) if churn_known else None,
            )
        )
    return out


def findings_of(groups: list[GroupResult]) -> list[Finding]:
    """Unadjusted tests (kind ``behaviour``): NPS of each group against everyone else, where
    both sides have the minimum n. Churn differences are shown, not tested
    (:func:`_difference`)."""
    return [t for _, t in _tests(groups)]


def _tests(groups: list[GroupResult]) -> list[tuple[int, Finding]]:
    """Each group's NPS test, with the group's index."""
    out = []
    for i, g in enumerate(groups):
        change, a, b = g.change, g.nps, g.others_nps
        if change is None or change.z is None:
            continue
        se = abs(change.delta / change.z) if change.z else 0.0
        where = " at the other stages" if g.elsewhere else ""
        said = (
            f"{g.moment}: NPS {a.value:+z.0f}{where} (n = {a.n:,} answers) against "
            f"{b.value:+z.0f} for everyone else (n = {b.n:,})."
        )
        finding = Finding(
            "behaviour",
            said,
            change.delta,
            (change.delta - Z95 * se, change.delta + Z95 * se),
            a.n + b.n,
            p_two_sided(change.z),
            unit="points",
            family="behaviour",
        )
        out.append((i, finding))
    return out


def judged(groups: list[GroupResult]) -> list[GroupResult]:
    """The groups with ``significant`` set on each difference whose test is kept by
    Benjamini-Hochberg over every test of the groups given."""
    tests = _tests(groups)
    adjusted = adjust([t for _, t in tests])
    kept = {i for (i, _), t in zip(tests, adjusted, strict=True) if t.q <= FDR}
    return [
        g if g.change is None else replace(g, change=replace(g.change, significant=i in kept))
        for i, g in enumerate(groups)
    ]


def presence(codes: np.ndarray, groups: np.ndarray, n_groups: int, size: int) -> np.ndarray:
    """A (n_groups × customers) mask: which customers have at least one row in each group."""
    if not codes.size:
        return np.zeros((n_groups, size), dtype=bool)
    mask = np.zeros(n_groups * size, dtype=bool)
    mask[groups.astype(np.int64) * size + codes] = True
    return mask.reshape(n_groups, size)


#: What a stage's moment says beside its name in the table and the chart
ELSEWHERE_LABEL = " (NPS at the other stages)"


def label(g: GroupResult) -> str:
    """A moment's name as the table and the chart show it: a stage's moment is scored on
    its customers' answers at the other stages, and says so ("Had a File a claim moment:
    NPS +22" beside the stage's -29 read as a fault)."""
    return g.moment + (ELSEWHERE_LABEL if g.elsewhere else "")


def table(groups: list[GroupResult], min_n: int = m.MIN_N) -> pl.DataFrame:
    """One row per behavioural moment: customers, NPS (tested) and churn (described)
    against everyone else; a score is blank below ``min_n`` on its side, a difference
    blank unless both sides have it."""

    def shown(score: m.Score) -> float | None:
        return score.shown(min_n)

    return pl.DataFrame(
        {
            "moment": [label(g) for g in groups],
            "customers": [g.customers for g in groups],
            "nps": [shown(g.nps) for g in groups],
            "n_nps": [g.nps.n for g in groups],
            "others_nps": [shown(g.others_nps) for g in groups],
            "difference": [g.change.delta if g.change else None for g in groups],
            "significant": [bool(g.change and g.change.significant) for g in groups],
            "churn": [shown(g.churn) for g in groups],
            "others_churn": [shown(g.others_churn) for g in groups],
            "churn_difference": [g.churn_change.delta if g.churn_change else None for g in groups],
        },
        schema_overrides={
            "nps": pl.Float64,
            "others_nps": pl.Float64,
            "difference": pl.Float64,
            "churn": pl.Float64,
            "others_churn": pl.Float64,
            "churn_difference": pl.Float64,
        },
    )


def groups(
    ds, contacts: pl.DataFrame, f, min_n: int = m.MIN_N, cases: pl.DataFrame | None = None
) -> list[GroupResult]:
    """Customers defined by what they did in the period, against everyone else in view,
    judged over the view's family of tests. ``contacts`` from ``dataset.load_contacts``.
    Complaining is a complaint response or a case opened in the period (not one opened to
    follow up a survey answer). A behaviour whose
    source was never imported (no contacts; no complaints and no cases) is left out rather
    than shown as nobody. A stage's moment (a contact about the stage, or an answer there)
    is made only for a stage with contacts imported: from the survey alone it would only
    say who answered about the stage (which optional questions a review form filled in),
    not what they did."""
    from cxmetrics.contract.text import with_article
    from cxmetrics.stats.dataset import date_slice  # dataset imports this module

    start, end = f.start or ds.first_day, f.end or ds.last_day
    arrays = ds.customer_arrays
    size = arrays.size
    seen = np.zeros(size, dtype=bool)
    seen[ds.customers_in(f)] = True
    if ds.stage_ids(f) is None and not f.channels:  # whole customers: the period's counts
        held = ds.of_period("answer_counts", f.start, f.end, partial(_counts, size=size))
        mask = None if ds.customer_mask(f) is None else seen
        counts = AnswerCounts(
            *((c if mask is None else np.where(mask, c, 0)).astype(np.int64) for c in held)
        )
    else:
        counts = AnswerCounts.of_groups(ds.answers_in_view(f), size)
    left = m.left_in_period(arrays, start, end)

    # every stage and channel of the period: who answered at each stage, who complained
    stage_enum, answered_at, complained = ds.of_period(
        "behaviour_events", f.start, f.end, partial(_events, size=size)
    )
    answered_at = np.unpackbits(answered_at, axis=1, count=size).view(bool)
    complained = np.unpackbits(complained, count=size).view(bool)
    period_contacts = date_slice(contacts, "contacted_on", start, end)
    n_codes = len(stage_enum.categories)
    at_stage = answered_at | presence(
        period_contacts["cust"].to_numpy(),
        period_contacts["stage_id"].cast(stage_enum).to_physical().to_numpy(),
        n_codes,
        size,
    )
    repeat = np.zeros(size, dtype=bool)
    flagged = period_contacts["repeat_contact"].fill_null(False).to_numpy()
    repeat[period_contacts["cust"].to_numpy()[flagged]] = True
    cases = cases if cases is not None and cases.height else None
    if cases is not None:
        opened = cases.filter(pl.col("opened_on").is_between(start, end))
        if "source" not in opened.columns:  # cases as stored: the opening answer's source
            sources = ds.case_sources().select(
                pl.col("response_id").cast(pl.String), pl.col("source").cast(pl.String)
            )
            opened = opened.with_columns(pl.col("response_id").cast(pl.String)).join(
                sources, on="response_id", how="left"
            )
        # a case opened to follow up a survey answer (a low score) is not a complaint: its
        # customers would be picked by the very answers their NPS is compared on
        opened = opened.filter(~pl.col("source").cast(pl.String).eq("survey").fill_null(False))
        if "cust" not in opened.columns:  # cases as stored, not yet prepared
            opened = opened.select(
                pl.col("customer_id").cast(ds.customers["customer_id"].dtype)
            ).join(ds.customers.select("customer_id", "cust"), on="customer_id")
        complained[opened["cust"].to_numpy()] = True

    moments = []
    if contacts.height:
        moments.append(
            (f"Contacted us {REPEAT_CONTACTS}+ times within {REPEAT_WINDOW_DAYS} days", repeat)
        )
    if cases is not None or "complaint" in ds.options("source"):
        moments.append(("Made a complaint", complained))

    def compared(names: list[str], masks: list[np.ndarray], on: AnswerCounts) -> list:
        return compare_groups(
            names, np.stack(masks), on, seen, left, min_n, ds.design_effect, ds.facts.churn
        )

    results = compared(*zip(*moments, strict=True), counts) if moments else []
    # a stage's moment needs contacts about that stage: without any, it would be only who
    # answered there (which of a review form's optional questions were filled in). Its NPS
    # is that of the answers at the other stages, on both sides: the stage's own answers
    # (its own level) would otherwise be compared with the rest of the journey's
    contacted_stages = set(contacts["stage_id"].drop_nulls().cast(pl.String).unique())
    stages = [s for s in ds.journey.stage_order if s in contacted_stages]
    if stages:  # the view's answers split by stage once, in customer order within each
        in_view = ds.answers_in_view(f)
        by_stage = in_view.with_columns(pl.col("stage_id").cast(pl.String)).partition_by(
            "stage_id", as_dict=True, maintain_order=True
        )
    for sid in stages:
        there = AnswerCounts.of_groups(by_stage.get((sid,), in_view.clear()), size)
        name = f"Had {with_article(ds.journey.stage_name(sid))} moment"
        mask = at_stage[list(stage_enum.categories).index(sid)]
        moment = compared([name], [mask], counts.without(there))
        results += [replace(r, elsewhere=True) for r in moment]
    return judged(results)


def _counts(frame: pl.DataFrame, size: int) -> tuple[np.ndarray, ...]:
    """:meth:`AnswerCounts.of_groups` of a period's answers, held in the smallest unsigned
    integer type that holds them (counts of one customer's answers)."""
    counts = AnswerCounts.of_groups(frame, size).arrays()
    held = np.min_scalar_type(max((int(c.max(initial=0)) for c in counts), default=0))
    return tuple(c.astype(held) for c in counts)


def _events(events: pl.DataFrame, size: int) -> tuple[pl.DataType, np.ndarray, np.ndarray]:
    """Of a period's customer-level answers (every stage and channel): the stage type, a
    (stage codes × customers) mask of who answered at each stage, and a mask of who
    complained, both packed eight customers a byte (``np.packbits``)."""
    stage_enum = events["stage_id"].dtype
    codes = events["stage_id"].cast(stage_enum).to_physical().to_numpy()
    answered_at = presence(events["cust"].to_numpy(), codes, len(stage_enum.categories), size)
    complained = np.zeros(size, dtype=bool)
    complained[events["cust"].to_numpy()[events["complaints"].to_numpy() > 0]] = True
    return stage_enum, np.packbits(answered_at, axis=1), np.packbits(complained)


def candidates(
    ds, f, contacts: pl.DataFrame, min_n: int = m.MIN_N, cases: pl.DataFrame | None = None
) -> list[Finding]:
    """The family of behaviour tests for the filtered view ``f`` of ``ds``."""
    return findings_of(groups(ds, contacts, f, min_n, cases))
