"""Bring a database made by an older version of the contract up to the current one.

Older databases hold integer ids (``customer_id``, ``response_id``, ``contact_id``,
``case_id``), require revenue, cost to serve and influence on every customer, and lack
the optional columns added since (a KPI's ``unit``). The current contract keeps ids as
text, lets those three facts be empty and adds the new columns, empty. :func:`upgrade`
finds every column that differs and changes it in one transaction, keeping every row:
an integer id becomes its decimal text (``123`` → ``"123"``), so ids made by hashing in
an import stay the same ids, and importing the same file again still updates, not adds.

- SQLite cannot change a column's type, so each affected table is rebuilt: created anew
  under a temporary name, filled from the old one, the old one dropped and the new one
  renamed (SQLite's documented procedure), inside one ``BEGIN IMMEDIATE`` … ``COMMIT``.
- Postgres changes the columns in place (``ALTER COLUMN … TYPE … USING``, ``DROP NOT
  NULL``) with the foreign keys dropped and added back, in one transaction.

Values already stored are kept as they are: a 0 revenue typed for "unknown" stays 0;
clear such a column with SQL (``UPDATE customers SET annual_revenue = NULL``) or import the
customers again without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from cxmetrics.contract import schema


class MigrationError(RuntimeError):
    """The database cannot be upgraded; nothing was changed."""


@dataclass(frozen=True)
class Change:
    table: str
    column: str
    what: str  # "text id", "optional", "new column" or "new table"

    def __str__(self) -> str:
        if self.what == "new table":
            return f"{self.table}: new table"
        if self.what == "text id":
            return f"{self.table}.{self.column}: integer → text"
        if self.what == "new column":
            return f"{self.table}.{self.column}: new optional column"
        return f"{self.table}.{self.column}: required → optional"


def pending(engine_or_conn) -> list[Change]:
    """The columns of existing contract tables that differ from the current contract."""
    inspector = sa.inspect(engine_or_conn)
    present = set(inspector.get_table_names())
    changes = []
    for table in schema.WRITE_ORDER:
        if table.name not in present:
            continue
        found = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.columns:
            have = found.get(column.name)
            if have is None:
                if column.nullable and not column.primary_key:  # added to the contract since
                    changes.append(Change(table.name, column.name, "new column"))
                continue
            if isinstance(column.type, sa.String) and isinstance(have["type"], sa.Integer):
                changes.append(Change(table.name, column.name, "text id"))
            elif column.nullable and not column.primary_key and not have["nullable"]:
                changes.append(Change(table.name, column.name, "optional"))
    return changes


def new_tables(engine_or_conn) -> list[Change]:
    """Tables of the contract the database does not hold yet (``upgrade`` creates them): a
    database made before a table was added to the contract (settings, action plans and
    their change log, the record of alerts, the comments' analysis) gains it without any
    change to its other tables."""
    present = set(sa.inspect(engine_or_conn).get_table_names())
    return [
        Change(t.name, "", "new table")
        for t in schema.metadata.sorted_tables
        if t.name not in present
    ]


def upgrade(engine: sa.Engine) -> list[Change]:
    """Create missing tables and upgrade the existing ones; returns what was changed (the
    columns changed, then the optional tables added).

    All or nothing: on any error the database is left as it was."""
    changes = pending(engine)
    added = new_tables(engine)
    if changes:
        dialect = engine.dialect.name
        if dialect == "sqlite":
            _upgrade_sqlite(engine, changes)
        elif dialect == "postgresql":
            _upgrade_postgres(engine, changes)
        else:
            raise MigrationError(
                f"cannot upgrade a {dialect} database automatically; change these columns "
                "by hand: " + "; ".join(str(c) for c in changes)
            )
    schema.create_all(engine)
    return changes + added


def _select_converted(kept: list[str], text_ids: set[str]) -> str:
    parts = [f'CAST("{c}" AS TEXT)' if c in text_ids else f'"{c}"' for c in kept]
    return ", ".join(parts)


def _upgrade_sqlite(engine: sa.Engine, changes: list[Change]) -> None:
    tables = [t for t in schema.WRITE_ORDER if t.name in {c.table for c in changes}]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # an explicit transaction: pysqlite would otherwise commit each DDL on its own
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            for table in tables:
                present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
                kept = [c.name for c in table.columns if c.name in present]
                text_ids = {
                    c.column for c in changes if c.table == table.name and c.what == "text id"
                }
                temp = f"{table.name}__upgrade"
                ddl = str(sa.schema.CreateTable(table).compile(conn))
                head = f"CREATE TABLE {table.name} "
                if head not in ddl:
                    raise MigrationError(f"unexpected table definition for {table.name}")
                conn.exec_driver_sql(ddl.replace(head, f'CREATE TABLE "{temp}" ', 1))
                cols = ", ".join(f'"{c}"' for c in kept)
                conn.exec_driver_sql(
                    f'INSERT INTO "{temp}" ({cols}) '
                    f'SELECT {_select_converted(kept, text_ids)} FROM "{table.name}"'
                )
                conn.exec_driver_sql(f'DROP TABLE "{table.name}"')
                conn.exec_driver_sql(f'ALTER TABLE "{temp}" RENAME TO "{table.name}"')
                for index in table.indexes:
                    conn.execute(sa.schema.CreateIndex(index))
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise


def _upgrade_postgres(engine: sa.Engine, changes: list[Change]) -> None:
    names = sorted({c.table for c in changes} | _referencing(changes))
    with engine.begin() as conn:
        keys = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND "
            "(conrelid::regclass::text = ANY(%(t)s) OR confrelid::regclass::text = ANY(%(t)s))",
            {"t": names},
        ).all()
        for table_name, name, _definition in keys:
            conn.exec_driver_sql(
                f'ALTER TABLE "{table_name.strip(chr(34))}" DROP CONSTRAINT "{name}"'
            )
        for c in changes:
            if c.what == "text id":
                length = schema.metadata.tables[c.table].c[c.column].type.length
                conn.exec_driver_sql(
                    f'ALTER TABLE "{c.table}" ALTER COLUMN "{c.column}" '
                    f'TYPE VARCHAR({length}) USING "{c.column}"::text'
                )
            elif c.what == "new column":
                column = schema.metadata.tables[c.table].c[c.column]
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f'ALTER TABLE "{c.table}" ADD COLUMN "{c.column}" {kind}')
            else:
                conn.exec_driver_sql(
                    f'ALTER TABLE "{c.table}" ALTER COLUMN "{c.column}" DROP NOT NULL'
                )
        for table_name, name, definition in keys:
            conn.exec_driver_sql(
                f'ALTER TABLE "{table_name.strip(chr(34))}" ADD CONSTRAINT "{name}" {definition}'
            )


def _referencing(changes: list[Change]) -> set[str]:
    """Tables whose foreign keys point at a changed column."""
    changed = {(c.table, c.column) for c in changes}
    return {
        t.name
        for t in schema.WRITE_ORDER
        for fk in t.foreign_keys
        if (fk.column.table.name, fk.column.name) in changed
    }
