"""Calibration: on data where no claim can be true, alerts are as rare as the findings
engine's false discovery rate allows.

Null data as in ``test_calibration_change``: the story-free company (``stories=False``) at
several seeds, every answer's date shuffled across rows and every target set to the stage's
score over all data, so no change, trend point, below-target score, channel gap, at-risk
concentration or influencer difference is true. Each dataset is judged once, alternately
for the latest complete week (the default of ``alerts``) and since the start of its last
quarter (``--since``). The standard is the project's: at most 10% of null datasets send any
alert that cannot be true, to anyone.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_calibration_change import IMPOSSIBLE, shuffled_dates, targets_at_truth

from cxmetrics.contract import access
from cxmetrics.reports import alerts
from cxmetrics.views import finder

SEEDS = range(101, 113)
USERS = {
    "ceo@example.com": access.User("ceo@example.com", access.EXECUTIVE),
    **{
        f"{d}@example.com": access.User(f"{d}@example.com", access.MANAGER, departments=(d,))
        for d in ("sales", "billing", "service", "claims", "pricing", "digital")
    },
}


def alerted_kinds(ds, i: int) -> set[str]:
    since = None if i % 2 == 0 else ds.last_day - dt.timedelta(days=90)
    start, end = alerts.period(ds, since)
    found = alerts.week_findings(ds, start, end, finder.Inputs())
    sent = alerts.route(found, start, end, ds.journey, USERS, webhook="webhook:example")
    return {
        d.kind
        for d in sent
        if not (d.kind == "change" and d.content["family"] == "churn")  # a customer fact
    }


@pytest.fixture(scope="module")
def null_datasets():
    return [targets_at_truth(shuffled_dates(seed)) for seed in SEEDS]


def test_null_data_sends_no_alert_that_cannot_be_true(null_datasets):
    sent = [alerted_kinds(ds, i) & IMPOSSIBLE for i, ds in enumerate(null_datasets)]
    anything = sum(bool(kinds) for kinds in sent)
    assert anything <= 0.10 * len(null_datasets), (
        f"{anything} of {len(null_datasets)} null datasets sent an alert: {sent}"
    )


def test_the_planted_claims_decline_is_alerted_to_claims(story_data):
    """Power: on the sample with its stories, the last quarter's fall at File a claim
    reaches the Claims manager as lead and the Customer Service manager as contributor."""
    from cxmetrics.stats import dataset

    ds = dataset.build(story_data.journey, story_data.customers, story_data.responses)
    start, end = alerts.period(ds, ds.last_day - dt.timedelta(days=90))
    found = alerts.week_findings(ds, start, end, finder.Inputs())
    sent = alerts.route(found, start, end, ds.journey, USERS)
    falls = [
        d
        for d in sent
        if d.kind == "change" and d.content["stages"] == ["claim"] and d.content["effect"] < 0
    ]
    roles = {d.recipient: d.role for d in falls}
    assert roles.get("claims@example.com") == "lead"
    assert roles.get("service@example.com") == "contributor"
    assert "sales@example.com" not in roles  # Sales has no part in File a claim
