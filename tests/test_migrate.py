"""`init-db` upgrades a database of the earlier contract (integer ids, required revenue, cost
and influence) in one transaction, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from test_cli import run

from cxmetrics.contract import migrate, schema, store
from cxmetrics.stats import dataset

D = dt.date
#: The earlier contract's id columns and their integer types.
OLD_IDS = {
    ("customers", "customer_id"): sa.Integer,
    ("responses", "response_id"): sa.BigInteger,
    ("responses", "customer_id"): sa.Integer,
    ("contacts", "contact_id"): sa.BigInteger,
    ("contacts", "customer_id"): sa.Integer,
    ("cases", "case_id"): sa.BigInteger,
    ("cases", "response_id"): sa.BigInteger,
    ("cases", "customer_id"): sa.Integer,
}
OPTIONAL_FACTS = ("annual_revenue", "cost_to_serve", "influence")
#: Optional columns added to the contract since.
NEW_COLUMNS = {"kpis": ("unit",)}


def old_metadata() -> sa.MetaData:
    """The contract as it was: integer ids and required customer facts, no settings."""
    old = sa.MetaData()
    for table in schema.WRITE_ORDER:
        copy = table.to_metadata(old)
        for (name, column), kind in OLD_IDS.items():
            if name == table.name:
                copy.c[column].type = kind()
        if table.name == "customers":
            for column in OPTIONAL_FACTS:
                copy.c[column].nullable = False
        for column in NEW_COLUMNS.get(table.name, ()):  # not in the contract then
            copy._columns.remove(copy.c[column])
    return old


def old_database(url: str, data) -> dict[str, int]:
    """An earlier-contract database holding the test company (ids as integers)."""
    engine = store.make_engine(url)
    old = old_metadata()
    old.create_all(engine)
    counts = {}
    with engine.begin() as conn:
        for table in old.sorted_tables:
            frame = data.tables()[table.name]
            ints = [c for (t, c) in OLD_IDS if t == table.name and c in frame.columns]
            frame = frame.with_columns(pl.col(c).cast(pl.Int64) for c in ints)
            if table.name == "targets":
                frame = frame.with_row_index("target_id", offset=1)
            frame = frame.select([c.name for c in table.columns if c.name in frame.columns])
            conn.execute(table.insert(), frame.to_dicts())
            counts[table.name] = frame.height
    engine.dispose()
    return counts


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request, tmp_path, sample_data):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        pg = request.getfixturevalue("pg_server")
        url = pg.create_database(f"old_{tmp_path.name[-20:].lower().replace('-', '_')}")
    counts = old_database(url, sample_data)
    return url, counts


def column_types(engine, table: str) -> dict[str, dict]:
    return {c["name"]: c for c in sa.inspect(engine).get_columns(table)}


def test_the_old_database_needs_every_change(old_url):
    url, _ = old_url
    engine = store.make_engine(url)
    found = {(c.table, c.column, c.what) for c in migrate.pending(engine)}
    engine.dispose()
    expected = (
        {(t, c, "text id") for (t, c) in OLD_IDS}
        | {("customers", c, "optional") for c in OPTIONAL_FACTS}
        | {(t, c, "new column") for t, cs in NEW_COLUMNS.items() for c in cs}
    )
    assert found == expected


def test_init_db_upgrades_an_old_database_keeping_every_row(old_url, sample_data):
    url, counts = old_url
    done = run("init-db", "--url", url)
    assert done.returncode == 0, done.stderr
    assert "upgraded customers.customer_id: integer → text" in done.stdout
    assert "upgraded customers.annual_revenue: required → optional" in done.stdout
    assert "upgraded kpis.unit: new optional column" in done.stdout
    engine = store.make_engine(url)
    try:
        assert migrate.pending(engine) == []
        for (table, column), _kind in OLD_IDS.items():
            assert isinstance(column_types(engine, table)[column]["type"], sa.String)
        for column in OPTIONAL_FACTS:
            assert column_types(engine, "customers")[column]["nullable"] is True
        assert sa.inspect(engine).has_table("settings")
        kpis = store.load_kpis(engine)  # the new column, empty in every row kept
        assert kpis.height == counts["kpis"] and kpis["unit"].null_count() == kpis.height
        for name, n in counts.items():
            assert store.count_rows(engine, name) == n
        # the ids are the same ids, written as their digits
        got = store.load_customers(engine).sort("customer_id")
        want = sample_data.customers.sort("customer_id")
        assert got["customer_id"].to_list() == want["customer_id"].to_list()
        assert got["annual_revenue"].to_list() == want["annual_revenue"].to_list()
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("responses")}
        assert "ix_responses_responded_on" in indexes
        with engine.begin() as conn:  # a customer without revenue, with a CRM's own id
            conn.execute(
                schema.customers.insert().values(
                    customer_id="C-10023", segment="Retail", region="North", joined_on=D(2025, 1, 2)
                )
            )
        # foreign keys still hold where the database enforces them
        if engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(
                    schema.responses.insert().values(
                        response_id="R-1",
                        customer_id="nobody",
                        touchpoint_id="pay_first_bill",
                        channel="web",
                        responded_on=D(2026, 1, 1),
                        source="survey",
                    )
                )
        data = dataset.load(engine)
        assert data.n_responses == counts["responses"]
        again = run("init-db", "--url", url)  # nothing left to do
        assert again.returncode == 0 and "upgraded" not in again.stdout
    finally:
        engine.dispose()


def test_an_import_into_an_old_database_names_the_upgrade_and_writes_nothing(old_url, tmp_path):
    """An import into a database of the earlier contract stops before anything is written,
    naming what is older and init-db (on Postgres it was an 'unexpected error': the newer
    tables' foreign keys do not fit integer ids); after init-db the same files import, a
    KPI with its unit."""
    from cxmetrics.contract import importer

    url, counts = old_url
    engine = store.make_engine(url)
    kpis = tmp_path / "kpis.csv"
    kpis.write_text(
        "department_id,kpi,week,value,target,higher_is_better,unit\n"
        "claims,Claims closed within SLA,2026-12-07,96,95,true,%\n"
    )
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,segment,region,joined_on\nC-10023,Retail,North,2025-01-02\n")
    try:
        for table, path in (("kpis", kpis), ("customers", customers)):
            with pytest.raises(importer.ImportError_) as refused:
                importer.run(engine, table, path, None)
            said = str(refused.value)
            assert said.startswith("the database was made by an earlier version of the dashboard")
            assert "customers.customer_id: integer → text" in said  # the first change
            assert "python3 -m cxmetrics init-db --url" in said
        assert store.count_rows(engine, "kpis") == counts["kpis"]
        assert store.count_rows(engine, "customers") == counts["customers"]
        migrate.upgrade(engine)
        assert importer.run(engine, "kpis", kpis, None).written == 1
        assert importer.run(engine, "customers", customers, None).written == 1
        got = store.load_kpis(engine).filter(pl.col("week") == D(2026, 12, 7))
        assert got["unit"].to_list() == ["%"]
    finally:
        engine.dispose()


def test_a_new_column_an_import_does_not_fill_need_not_wait_for_the_upgrade(tmp_path):
    """A database of the current contract but for a KPI's unit: KPIs without units import,
    KPIs with units are refused naming the column's change."""
    from cxmetrics.contract import importer

    url = f"sqlite:///{tmp_path / 'cx.db'}"
    engine = store.make_engine(url)
    now = sa.MetaData()
    for table in schema.WRITE_ORDER:
        copy = table.to_metadata(now)
        if table.name == "kpis":
            copy._columns.remove(copy.c["unit"])
    now.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.departments.insert().values(department_id="claims", name="Claims"))
    assert [str(c) for c in migrate.pending(engine)] == ["kpis.unit: new optional column"]
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "department_id,kpi,week,value,target,higher_is_better\nclaims,SLA,2026-12-07,96,95,true\n"
    )
    assert importer.run(engine, "kpis", bare, None).written == 1
    with_unit = tmp_path / "unit.csv"
    with_unit.write_text(
        bare.read_text()
        .replace("higher_is_better", "higher_is_better,unit")
        .replace("true", "true,%")
    )
    with pytest.raises(importer.ImportError_, match=r"\(kpis\.unit: new optional column\)"):
        importer.run(engine, "kpis", with_unit, None)
    engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(old_url, monkeypatch):
    url, counts = old_url
    engine = store.make_engine(url)
    before = migrate.pending(engine)
    if engine.dialect.name == "sqlite":
        # fails after every table was rebuilt, before the commit
        def broken(*_args, **_kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(migrate.sa.schema, "CreateIndex", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            migrate.upgrade(engine)
    else:
        # the last change names a column that does not exist: the earlier ones roll back
        bogus = migrate.Change("customers", "no_such_column", "optional")
        with pytest.raises(sa.exc.ProgrammingError):
            migrate._upgrade_postgres(engine, [*before, bogus])
    assert migrate.pending(engine) == before
    for name, n in counts.items():
        assert store.count_rows(engine, name) == n
    engine.dispose()
