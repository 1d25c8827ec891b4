"""Moments of truth from behaviour rather than surveys: customers defined by what they did
(contacted us three times in a month, filed a claim, reached renewal, complained) against
everyone else, on loyalty (NPS of their answers in view) and churn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cxmetrics import metrics as m

REPEAT_CONTACTS = 3
REPEAT_WINDOW_DAYS = 30


def flag_repeat_contacts(contacts: pl.DataFrame) -> pl.DataFrame:
    """Add ``repeat_contact``: this contact is at least the third by the same customer within
    30 days (``cust``, ``contacted_on``). Returns the frame sorted by date."""
    back = REPEAT_CONTACTS - 1
    by_customer = contacts.sort("cust", "contacted_on", "contact_id")
    flagged = by_customer.with_columns(
        (
            (pl.col("cust") == pl.col("cust").shift(back))
            & (
                (pl.col("contacted_on") - pl.col("contacted_on").shift(back)).dt.total_days()
                <= REPEAT_WINDOW_DAYS - 1
            )
        )
        .fill_null(False)
        .alias("repeat_contact")
    )
    return flagged.sort("contacted_on", "contact_id")


@dataclass(frozen=True)
class GroupResult:
    moment: str
    customers: int
    nps: m.Score
    churn: m.Score
    others_nps: m.Score
    others_churn: m.Score
    change: m.Change | None  # NPS of the group against everyone else


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

    def nps(self, members: np.ndarray, *, others: bool = False) -> m.Score:
        """NPS of the answers given by ``members`` (a mask over codes), or by everyone else."""
        weights = members.astype(np.int64)
        counts = [int(a @ weights) for a in (self.answers, self.promoters, self.detractors)]
        if others:
            counts = [
                int(a.sum()) - c
                for a, c in zip(
                    (self.answers, self.promoters, self.detractors), counts, strict=True
                )
            ]
        row = dict.fromkeys(m.CORE_COLUMNS, 0)
        row.update(n_nps=counts[0], promoters=counts[1], detractors=counts[2])
        return m.scores_of(row)["nps"]


def compare_group(
    moment: str,
    members: np.ndarray,
    counts: AnswerCounts,
    seen: np.ndarray,
    left: np.ndarray,
    min_n: int = m.MIN_N,
) -> GroupResult:
    """Customers with a behaviour (``members``, a mask over customer codes) against everyone
    else. NPS is over the answers in view (``counts``); churn is the share of the customers in
    view (``seen``) who left in the period (``left``)."""
    group, others = members & seen, ~members & seen
    group_nps, others_nps = counts.nps(members), counts.nps(members, others=True)
    # Enough answers and enough customers on both sides: many answers from a handful of
    # customers are not a comparison.
    enough = min(int(group.sum()), int(others.sum())) >= min_n
    return GroupResult(
        moment,
        int(group.sum()),
        group_nps,
        m.proportion_score("churn", int((group & left).sum()), int(group.sum())),
        others_nps,
        m.proportion_score("churn", int((others & left).sum()), int(others.sum())),
        m.compare(group_nps, others_nps, min_n) if enough else None,
    )


def presence(codes: np.ndarray, groups: np.ndarray, n_groups: int, size: int) -> np.ndarray:
    """A (n_groups × customers) mask: which customers have at least one row in each group."""
    if not codes.size:
        return np.zeros((n_groups, size), dtype=bool)
    key = groups.astype(np.int64) * size + codes
    return np.bincount(key, minlength=n_groups * size).reshape(n_groups, size).astype(bool)


def table(groups: list[GroupResult], min_n: int = m.MIN_N) -> pl.DataFrame:
    """One row per behavioural moment: customers, NPS and churn against everyone else."""

    def shown(score: m.Score) -> float | None:
        return score.shown(min_n)

    return pl.DataFrame(
        {
            "moment": [g.moment for g in groups],
            "customers": [g.customers for g in groups],
            "nps": [shown(g.nps) for g in groups],
            "n_nps": [g.nps.n for g in groups],
            "others_nps": [shown(g.others_nps) for g in groups],
            "difference": [g.change.delta if g.change else None for g in groups],
            "significant": [bool(g.change and g.change.significant) for g in groups],
            "churn": [g.churn.value for g in groups],
            "others_churn": [g.others_churn.value for g in groups],
        },
        schema_overrides={
            "nps": pl.Float64,
            "others_nps": pl.Float64,
            "difference": pl.Float64,
            "churn": pl.Float64,
            "others_churn": pl.Float64,
        },
    )
