"""A manager's scope, cut in the data layer: checked against plain SQL on the test company."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract import store
from cxmetrics.findings import closed_loop
from cxmetrics.stats import dataset, scope, voc
from cxmetrics.stats.filters import Filters
from cxmetrics.views import overview

SERVICE = ("service",)


def sql_stages(raw_sql, departments) -> set[str]:
    marks = ",".join("?" * len(departments))
    rows = raw_sql.execute(
        f"SELECT DISTINCT stage_id FROM stage_owners WHERE department_id IN ({marks})",
        departments,
    ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def service(loaded):
    return loaded.scoped(SERVICE)


def test_a_scoped_dataset_holds_only_the_stages_its_departments_affect(service, raw_sql):
    stages = sql_stages(raw_sql, SERVICE)
    assert stages and stages != {r[0] for r in raw_sql.execute("SELECT stage_id FROM stages")}
    assert set(service.journey.stage_order) == stages
    assert set(service.responses["stage_id"].cast(pl.String).unique()) == stages
    assert set(service.stats["stage_id"].cast(pl.String).unique()) == stages
    (n,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses JOIN touchpoints USING (touchpoint_id) "
        f"WHERE stage_id IN ({','.join('?' * len(stages))})",
        sorted(stages),
    ).fetchone()
    assert service.responses.height == n
    # the stages' teams are named; only the manager's own incentives are there
    marks = ",".join("?" * len(stages))
    owners = raw_sql.execute(
        f"SELECT stage_id, department_id, role FROM stage_owners WHERE stage_id IN ({marks})",
        sorted(stages),
    ).fetchall()
    assert sorted(service.journey.stage_owners.iter_rows()) == sorted(owners)
    assert set(service.journey.departments["department_id"]) == {o[1] for o in owners}
    assert set(service.journey.incentives["department_id"]) == {"service"}


def test_each_customers_latest_answer_is_the_company_s_for_the_churn_rates(service, raw_sql):
    """Detractors' annual churn and everyone else's are figures of the customer base, one
    for every reader: a customer's latest answer on any stage, as plain SQL finds it."""
    rows = raw_sql.execute(
        "SELECT customer_id, nps FROM responses WHERE nps IS NOT NULL "
        "ORDER BY responded_on, response_id"
    ).fetchall()
    latest = dict(rows)  # later rows overwrite earlier ones
    codes = dict(zip(service.customers["customer_id"], service.customers["cust"], strict=True))
    expected = np.full(service.customer_arrays.size, -1, dtype=np.int8)
    for customer, nps in latest.items():
        expected[codes[customer]] = nps
    assert np.array_equal(service.latest_nps, expected)


@pytest.mark.parametrize("days", [90, 365])
def test_a_manager_sees_the_executive_s_numbers_of_the_same_view(loaded, service, days):
    """A manager of a department and an executive who filters on it see one revenue at
    risk, churn and NPS (the manager's had used churn rates of the scoped stages alone)."""
    end = loaded.last_day
    view = Filters(start=end - dt.timedelta(days=days - 1), end=end)
    mine = overview.compute(service, view)
    theirs = overview.compute(loaded, Filters(view.start, view.end, departments=SERVICE))
    for key in ("revenue_at_risk", "churn", "nps", "responses"):
        assert mine.tiles[key].score == theirs.tiles[key].score, key
    assert mine.tiles["revenue_at_risk"].score.value > 0


def test_filters_cannot_reach_outside_the_scope(service, raw_sql):
    stages = tuple(service.journey.stage_order)
    assert service.stage_ids(Filters()) == stages  # never None: "every stage" means theirs
    (outside,) = {r[0] for r in raw_sql.execute("SELECT stage_id FROM stages")} - set(stages)
    assert service.stage_ids(Filters(stages=(outside,))) == ()
    claims = Filters(departments=("claims",))
    assert set(service.stage_ids(claims)) <= set(stages)
    end = service.last_day
    ov = overview.compute(
        service, Filters(start=end - dt.timedelta(days=89), end=end, stages=(outside,))
    )
    assert ov.empty


def test_a_managers_overview_is_sql_over_their_stages(service, raw_sql):
    stages = sorted(sql_stages(raw_sql, SERVICE))
    end = service.last_day
    start = end - dt.timedelta(days=89)
    ov = overview.compute(service, Filters(start=start, end=end))
    pro, det, n = raw_sql.execute(
        "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses "
        "JOIN touchpoints USING (touchpoint_id) WHERE responded_on BETWEEN ? AND ? "
        f"AND stage_id IN ({','.join('?' * len(stages))})",
        [start.isoformat(), end.isoformat(), *stages],
    ).fetchone()
    nps = ov.tiles["nps"].score
    assert nps.n == n and nps.value == pytest.approx(100 * (pro - det) / n)
    assert [row.stage_id for row in ov.stages] == [s for s in service.journey.stage_order]


def test_cases_kpis_contacts_and_comments_are_cut_to_the_scope(
    loaded, service, sample_url, raw_sql
):
    engine = store.make_engine(sample_url)
    try:
        cases = scope.own(store.load_cases(engine), SERVICE)
        kpis = scope.own(store.load_kpis(engine), SERVICE)
        contacts = scope.contacts(dataset.load_contacts(engine, loaded), service)
        comments = store.load_all_comments(engine)
    finally:
        engine.dispose()
    (n_cases,) = raw_sql.execute(
        "SELECT COUNT(*) FROM cases WHERE department_id = 'service'"
    ).fetchone()
    assert cases.height == n_cases and set(cases["department_id"]) == {"service"}
    (n_kpis,) = raw_sql.execute(
        "SELECT COUNT(*) FROM kpis WHERE department_id = 'service'"
    ).fetchone()
    assert kpis.height == n_kpis
    stages = sql_stages(raw_sql, SERVICE)
    (n_contacts,) = raw_sql.execute(
        "SELECT COUNT(*) FROM contacts JOIN touchpoints USING (touchpoint_id) "
        f"WHERE stage_id IN ({','.join('?' * len(stages))})",
        sorted(stages),
    ).fetchone()
    assert contacts.height == n_contacts
    loop = closed_loop.prepare_for(service, cases, contacts)
    assert set(loop["department_id"]) == {"service"}

    everything = voc.build(loaded, comments, n_themes=2)
    mine = scope.verbatims(everything, service)
    assert set(mine.comments["stage_id"].cast(pl.String).unique()) <= stages
    (n_comments,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses JOIN touchpoints USING (touchpoint_id) "
        "WHERE TRIM(COALESCE(comment, '')) != '' "
        f"AND stage_id IN ({','.join('?' * len(stages))})",
        sorted(stages),
    ).fetchone()
    assert mine.comments.height == n_comments < everything.comments.height
    assert mine.themes["comments"].sum() == n_comments
    counted = mine.comments.group_by("theme").len()
    for theme, count in zip(counted["theme"], counted["len"], strict=True):
        assert mine.themes.filter(pl.col("theme") == theme)["comments"].item() == count


def test_a_manager_s_first_screen_names_the_team_of_their_stages(loaded, service, raw_sql):
    """The departments that share a manager's stages are named as the stage's team, as for
    an executive (the first screen had named only the lead)."""
    from cxmetrics.views import first_screen

    for stage in service.journey.stage_order:
        owners = raw_sql.execute(
            "SELECT d.name FROM stage_owners o JOIN departments d USING (department_id) "
            "WHERE o.stage_id = ?",
            (stage,),
        ).fetchall()
        mine = first_screen.owners_text(service, (stage,), ())
        assert mine == first_screen.owners_text(loaded, (stage,), ())
        assert all(name in mine for (name,) in owners), (mine, owners)
        assert len(owners) > 1 or stage != service.journey.stage_order[0]
