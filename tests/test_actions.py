"""Action plans: who may edit them, what a valid action is, the change log, late actions,
importing them from a file (a bad row names row and column; nothing half-written) on SQLite
and a real Postgres server, and `init-db` adding the tables to an older database."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3

import polars as pl
import pytest
import sqlalchemy as sa
from test_cli import run

from cxmetrics.contract import actions, importer, schema, store
from cxmetrics.contract.access import ANALYST, EXECUTIVE, MANAGER, NOBODY, User

D = dt.date
DANA = User("dana@example.com", MANAGER, "Dana", ("digital",))
BOSS = User("ceo@example.com", EXECUTIVE)
ANA = User("ana@example.com", ANALYST)
_names = (f"act{i}" for i in itertools.count())


def test_who_may_edit_whose_actions():
    assert actions.can_edit(DANA, "digital")
    assert not actions.can_edit(DANA, "claims")
    two = User("m@example.com", MANAGER, departments=("claims", "service"))
    assert actions.can_edit(two, "service") and actions.can_edit(two, "claims")
    assert not actions.can_edit(two, "digital")
    for anyone in (BOSS, ANA, NOBODY):
        assert all(actions.can_edit(anyone, d) for d in ("digital", "claims", "pricing"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, sample_data):
    """The test company with no action plans yet."""
    tables = {
        k: v
        for k, v in sample_data.tables().items()
        if k in ("stages", "touchpoints", "departments", "stage_owners", "targets")
    }
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cx.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(next(_names))
    store.write_tables(url, tables)
    eng = store.make_engine(url)
    yield eng
    eng.dispose()


def fields(**over) -> dict:
    base = {
        "department_id": "digital",
        "stage_id": "help",
        "touchpoint_id": "help_chat",
        "title": "Answer chats within a minute",
        "metric": "csat",
        "target": 85,
        "start_on": D(2026, 5, 1),
        "due_on": D(2026, 8, 1),
        "status": "planned",
        "notes": "",
    }
    return {**base, **over}


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(schema.metadata.tables[table])
        ).scalar()


def test_a_manager_edits_only_their_departments_actions_and_every_change_is_logged(
    engine, sample_data
):
    journey = sample_data.journey
    at = dt.datetime(2026, 10, 1, 9, 30)
    mine = actions.save(engine, DANA, fields(), journey, now=at)
    theirs = actions.save(
        engine, BOSS, fields(department_id="claims", stage_id="claim", touchpoint_id=None), journey
    )
    assert (mine, theirs) == ("A-0001", "A-0002")
    with pytest.raises(actions.ActionError, match="may not own actions for"):
        actions.save(engine, DANA, fields(department_id="claims"), journey)
    with pytest.raises(actions.ActionError, match="may not change A-0002"):  # not even to take it
        actions.save(engine, DANA, fields(), journey, action_id="A-0002")
    with pytest.raises(actions.ActionError, match="may not own actions for"):  # nor give one away
        actions.save(engine, DANA, fields(department_id="claims"), journey, action_id=mine)
    assert count(engine, "actions") == 2 and count(engine, "action_changes") == 2

    actions.save(engine, DANA, fields(status="in progress", target=88), journey, mine, at)
    actions.close(engine, DANA, mine, journey, "done", "Chat staffed at lunch", now=at)
    actions.close(engine, BOSS, theirs, journey, "dropped")  # an executive edits any
    frame = actions.load(engine)
    assert frame.filter(pl.col("action_id") == mine).row(0, named=True)["status"] == "done"
    assert frame.filter(pl.col("action_id") == theirs)["status"].to_list() == ["dropped"]
    log = actions.history(engine, mine)
    assert log["changed_by"].to_list() == ["dana@example.com"] * 3
    assert log["changed_at"].to_list() == [at] * 3
    assert log["change"].to_list() == [
        "status: in progress → done; notes: – → Chat staffed at lunch",
        "target: 85.0 → 88.0; status: planned → in progress",
        "created: Answer chats within a minute (planned, due 2026-08-01)",
    ]
    assert actions.history(engine, theirs)["changed_by"].to_list() == ["ceo@example.com"] * 2


def test_a_form_sent_twice_makes_one_action_and_a_close_sent_twice_one_note(engine, sample_data):
    """A double click on "Create action" sent the form twice: two identical actions, each
    logged. A close sent twice added its note twice."""
    journey = sample_data.journey
    at = dt.datetime(2026, 10, 1, 9, 30)
    first = actions.save(engine, DANA, fields(), journey, now=at)
    again = actions.save(engine, DANA, fields(), journey, now=at + dt.timedelta(seconds=1))
    assert again == first and count(engine, "actions") == 1
    assert count(engine, "action_changes") == 1
    # the same action made again later, or by someone else, is refused and named
    later = at + dt.timedelta(seconds=actions.RESUBMIT_SECONDS)
    for who, when in ((DANA, later), (BOSS, at)):
        with pytest.raises(actions.ActionError, match=f"{first} is already this action"):
            actions.save(engine, who, fields(), journey, now=when)
    assert count(engine, "actions") == 1
    assert actions.save(engine, DANA, fields(target=86), journey, now=at) == "A-0002"
    for _ in range(2):
        actions.close(engine, DANA, first, journey, "done", "Clôturé — ça marche", now=at)
    actions.close(engine, DANA, first, journey, "dropped", "Clôturé — ça marche", now=at)
    actions.close(engine, DANA, first, journey, "dropped", "Rouvert en 2027", now=at)
    actions.close(engine, DANA, first, journey, "dropped", "2027", now=at)  # a line of its own
    row = actions.load(engine).filter(pl.col("action_id") == first).row(0, named=True)
    assert (row["status"], row["notes"]) == (
        "dropped",
        "Clôturé — ça marche\nClôturé — ça marche\nRouvert en 2027\n2027",
    )
    assert actions.history(engine, first)["change"].to_list() == [
        "notes: added 2027",  # what was added, not the notes before and after
        "notes: added Rouvert en 2027",
        "status: done → dropped; notes: added Clôturé — ça marche",
        "status: planned → done; notes: – → Clôturé — ça marche",
        "created: Answer chats within a minute (planned, due 2026-08-01)",
    ]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"title": "  "}, "title: say what the action is"),
        ({"touchpoint_id": "claim_repair"}, "touchpoint_id: 'claim_repair' is not a touchpoint"),
        ({"stage_id": "moon"}, "stage_id: unknown stage 'moon'"),
        ({"metric": "churn"}, "metric: one of nps, csat, ces"),
        ({"metric": "ces", "target": 9}, "target: CES targets lie from 1 to 7"),
        ({"target": "high"}, "target: a number"),
        ({"due_on": D(2026, 4, 1)}, "due_on: the due date is before the start date"),
        ({"start_on": "1 May"}, "start_on must be a date"),
        ({"status": "closed"}, "status: one of planned, in progress, done, dropped"),
    ],
)
def test_a_wrong_field_is_named_and_nothing_is_written(over, message, sample_data, tmp_path):
    eng = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    schema.create_all(eng)
    with pytest.raises(actions.ActionError, match=message):
        actions.save(eng, ANA, fields(**over), sample_data.journey)
    assert count(eng, "actions") == 0 and count(eng, "action_changes") == 0


def test_a_database_the_dashboard_does_not_write_to_is_named(sample_data, tmp_path):
    eng = store.make_engine(f"duckdb:///{tmp_path / 'cx.duckdb'}")
    with pytest.raises(actions.ActionError, match="action plans cannot be written.*duckdb"):
        actions.save(eng, ANA, fields(), sample_data.journey)
    eng.dispose()
    assert not (tmp_path / "cx.duckdb").exists()  # refused before anything was opened


def test_late_means_due_date_passed_and_neither_done_nor_dropped():
    frame = pl.DataFrame(
        {
            "action_id": ["a", "b", "c", "d", "e"],
            "due_on": [D(2026, 9, 1), D(2026, 9, 1), D(2026, 9, 1), D(2026, 12, 1), D(2026, 10, 1)],
            "status": ["planned", "in progress", "done", "in progress", "dropped"],
        }
    )
    late = actions.late(frame, D(2026, 10, 1))
    assert late["action_id"].to_list() == ["a", "b"]
    assert late["days_late"].to_list() == [30, 30]


HEADER = (
    "action_id,department_id,stage_id,touchpoint_id,title,metric,target,start_on,due_on,"
    "status,notes\n"
)
GOOD = (
    "P-1,digital,help,help_chat,Answer chats faster,csat,85,2026-05-01,2026-08-01,planned,\n"
    "P-2,claims,claim,,Call every claimant in 24 hours,nps,10,2026-04-01,2026-09-01,done,ok\n"
)


def test_importing_actions_a_bad_row_is_named_and_nothing_is_written(engine, tmp_path):
    bad = tmp_path / "actions.csv"
    bad.write_text(
        HEADER
        + GOOD
        + "P-3,digital,help,claim_repair,Wrong place,nps,10,2026-05-01,2026-08-01,planned,\n"
        + "P-4,digital,help,,Backwards,nps,10,2026-05-01,2026-04-01,someday,\n"
        + "P-5,nobody,help,,Orphan,effort,10,2026-05-01,2026-08-01,planned,\n"
    )
    report = importer.run(engine, "actions", bad, None)
    problems = {(r["row"], r["column"]): r["reason"] for r in report.problems.iter_rows(named=True)}
    assert problems == {
        (4, "touchpoint_id"): "not a touchpoint of stage help",
        (5, "due_on"): "before start_on",
        (5, "status"): "not one of planned, in progress, done, dropped",
        (6, "department_id"): "unknown department (not in departments)",
        (6, "metric"): "not one of nps, csat, ces",
    }
    assert report.written == 0 and count(engine, "actions") == 0
    assert count(engine, "action_changes") == 0

    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD)
    report = importer.run(engine, "actions", good, None)
    assert report.problems.height == 0 and report.written == 2
    frame = actions.load(engine).sort("action_id")
    assert frame["touchpoint_id"].to_list() == ["help_chat", None]
    assert frame["start_on"].to_list() == [D(2026, 5, 1), D(2026, 4, 1)]
    assert frame["target"].to_list() == [85.0, 10.0]
    log = actions.history(engine, "P-2")
    assert log["changed_by"].to_list() == ["import of good.csv"]
    importer.run(engine, "actions", good, None)  # the same file again: the same two actions
    assert count(engine, "actions") == 2 and count(engine, "action_changes") == 4


def test_the_change_marker_moves_with_every_change_and_import(engine, sample_data, tmp_path):
    journey = sample_data.journey
    seen = [actions.change_marker(engine)]
    assert seen == [(0, 0, None)]  # no action yet

    def moved():
        marker = actions.change_marker(engine)
        assert marker is not None and marker not in seen
        assert marker[:2] == (count(engine, "actions"), count(engine, "action_changes"))
        seen.append(marker)

    first = actions.save(engine, ANA, fields(), journey)
    moved()
    assert actions.save(engine, ANA, fields(), journey, first) == first  # nothing changed
    assert actions.change_marker(engine) == seen[-1]
    actions.save(engine, ANA, fields(target=90), journey, first)
    moved()
    actions.close(engine, ANA, first, journey, "done")
    moved()
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD)
    importer.run(engine, "actions", good, None)
    moved()
    importer.run(engine, "actions", good, None)  # the same rows again: replaced, and logged
    moved()
    assert actions.change_marker(engine) == seen[-1]
    bare = store.make_engine(f"sqlite:///{tmp_path / 'bare.db'}")  # no action tables at all
    try:
        assert actions.change_marker(bare) is None
    finally:
        bare.dispose()


def test_init_db_adds_the_action_tables_to_an_older_database(tmp_path, sample_data):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    tables = {k: v for k, v in sample_data.tables().items() if not k.startswith("action")}
    store.write_tables(url, tables)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE action_changes")
    conn.execute("DROP TABLE actions")
    conn.commit()
    conn.close()
    eng = store.make_engine(url)
    assert actions.load(eng).height == 0  # a database without the table has no actions
    eng.dispose()
    done = run("init-db", "--url", url)
    assert done.returncode == 0, done.stderr
    assert "created table actions" in done.stdout
    assert "created table action_changes" in done.stdout
    eng = store.make_engine(url)
    try:
        assert {"actions", "action_changes"} <= set(sa.inspect(eng).get_table_names())
        assert count(eng, "responses") == sample_data.responses.height
    finally:
        eng.dispose()
    again = run("init-db", "--url", url)
    assert again.returncode == 0 and "created table" not in again.stdout


def test_a_manager_sees_only_their_departments_actions(sample_data):
    everything = sample_data.actions
    journey = sample_data.journey
    assert actions.visible(everything, journey).height == everything.height
    # Marketing's action is on Renew, a stage Customer Service shares: still not Service's
    service_stages = journey.stages_of_departments(("service",))
    shared = everything.filter(pl.col("stage_id").is_in(service_stages))
    assert set(shared["department_id"]) - {"service"}  # other departments act there
    seen = actions.visible(everything, journey.scoped(("service",)), ("service",))
    assert seen.height == 0
    mine = actions.visible(everything, journey.scoped(("digital",)), ("digital",))
    assert mine["action_id"].to_list() == [
        r["action_id"] for r in everything.iter_rows(named=True) if r["department_id"] == "digital"
    ]
