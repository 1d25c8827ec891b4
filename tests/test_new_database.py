"""A new, empty database set up by a CX team: from the Data page (AppTest) and from the
command line, checked against the file itself read by plain sqlite3."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from conftest import REPO
from streamlit.testing.v1 import AppTest

from cxmetrics.contract import access, schema, store

PASSWORD = "correct horse battery"


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_database_is_set_up_from_the_data_page(tmp_path, monkeypatch):
    db = tmp_path / "airline.db"
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{db}")
    monkeypatch.chdir(REPO)
    # the page itself, as a browser opens it from the menu (AppTest's switch_page from a
    # dashboard that stopped on its error keeps no button's click)
    at = AppTest.from_file(str(REPO / "pages" / "data.py"), default_timeout=120)
    at.run()
    assert not at.exception and not at.error
    [warning] = [w.value for w in at.warning]
    assert warning.startswith(f"**The database is not set up yet:** the SQLite file {db} does not")
    assert "init-db" in warning
    assert not db.exists()  # looking made no file
    # the journey comes first, but not before there are tables to hold it
    assert not at.get("file_uploader")
    at.button(key="create_tables").click().run()
    assert not at.exception and not at.error and not at.warning
    made = _tables(db)
    assert set(schema.TABLE_NAMES) <= made
    assert [s.value for s in at.success] == [
        f"Created {len(made)} tables. Import the journey definition first."
    ]
    assert [h.value for h in at.subheader][-2:] == [
        "Import a journey definition",
        "Import a file",
    ]
    assert at.get("file_uploader")  # the journey's, the file's and the mapping's
    # how a mapping is written, beside its uploader: the reference the command line prints
    [how] = [e for e in at.expander if e.label == "How a mapping file is written"]
    [code] = how.code
    assert "[columns]" in code.value and "responses: response_id*" in code.value
    # the next visit sees a database like any other
    at.run()
    assert not at.success and not at.warning and not at.exception


def test_only_an_analyst_may_create_the_tables(tmp_path, monkeypatch):
    db = tmp_path / "airline.db"
    users = tmp_path / "users.toml"
    access.add_user(users, "ceo@example.com", "executive", PASSWORD)
    monkeypatch.setenv("CX_USERS_FILE", str(users))
    monkeypatch.setenv(store.URL_ENV, f"sqlite:///{db}")
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "pages" / "data.py"), default_timeout=120)
    at.run()
    at.text_input(key="_sign_in_email").input("ceo@example.com")
    at.text_input(key="_sign_in_password").input(PASSWORD)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    assert not at.exception
    assert [w.value for w in at.warning][0].startswith("**The database is not set up yet:**")
    assert not [b for b in at.button if b.key == "create_tables"]
    assert [i.value for i in at.info] == ["Creating the tables is for analysts."]
    assert not db.exists()


def _init_db(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cxmetrics", "init-db", "--url", url],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_init_db_asks_for_the_comment_analysis_only_where_there_are_responses(tmp_path):
    db = tmp_path / "cx.db"
    out = _init_db(f"sqlite:///{db}")
    assert "created table responses" in out and "analyse-comments" not in out
    with sqlite3.connect(db) as conn:  # a database from before the comment analysis
        conn.execute("DROP TABLE comment_analysis")
        conn.execute("DROP TABLE comment_models")
    out = _init_db(f"sqlite:///{db}")
    assert "created table comment_analysis" in out
    assert "fill the comment analysis with `python3 -m cxmetrics analyse-comments`" in out


def test_a_database_the_dashboard_does_not_write_to_is_not_offered_its_tables(
    tmp_path, monkeypatch
):
    """A DuckDB file without the contract's tables: the page says the tables are missing
    and why they are not made here, instead of a button that would fail."""
    from engines import need

    need("duckdb")
    monkeypatch.setenv(store.URL_ENV, f"duckdb:///{tmp_path / 'cx.duckdb'}")
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "pages" / "data.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning][0].startswith("**The database is not set up yet:**")
    assert not [b for b in at.button if b.key == "create_tables"]
    (said,) = [i.value for i in at.info]
    assert said.startswith("Files cannot be written: file imports go into a SQLite or Postgres")
