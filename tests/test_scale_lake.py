"""The scale benchmark's larger lakes: copies of every customer with all that is theirs."""

from __future__ import annotations

import duckdb
import pytest
from engines import build, need, run_cli

from scripts import scale_lake


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    need("duckdb")
    folder = tmp_path_factory.mktemp("scale")
    small = build(folder).lake
    big = folder / "lake-x3"
    scale_lake.scale(small, big, 3)
    return small, big


def rows(path, table: str, what: str = "count(*)"):
    files = path / f"{table}.parquet" if (path / f"{table}.parquet").exists() else path / table
    pattern = f"{files}/*.parquet" if files.is_dir() else str(files)
    return duckdb.execute(f"SELECT {what} FROM read_parquet('{pattern}')").fetchone()[0]


def test_every_customer_table_has_three_times_the_rows_and_distinct_ids(lakes):
    small, big = lakes
    for table, ids in scale_lake.COPIED.items():
        assert rows(big, table) == 3 * rows(small, table), table
        for column in ids:
            distinct = f"count(DISTINCT {column})"
            assert rows(big, table, distinct) == 3 * rows(small, table, distinct), column
    # the journey and the other shared tables are the same files
    assert rows(big, "touchpoints") == rows(small, "touchpoints")


def test_copied_links_hold_every_response_to_its_own_customer(lakes):
    _, big = lakes
    orphans = duckdb.execute(
        f"SELECT count(*) FROM read_parquet('{big}/responses/*.parquet') r "
        f"ANTI JOIN read_parquet('{big}/customers/*.parquet') c USING (customer_id)"
    ).fetchone()[0]
    assert orphans == 0


def test_the_dashboard_reads_the_bigger_lake_with_the_same_scores_and_three_times_the_n(lakes):
    small, big = lakes
    one = run_cli("summary", "--json", "--url", f"duckdb:///{small}")
    three = run_cli("summary", "--json", "--url", f"duckdb:///{big}")
    assert three["overall"]["nps"]["n"] == 3 * one["overall"]["nps"]["n"]
    assert three["overall"]["nps"]["value"] == pytest.approx(one["overall"]["nps"]["value"])
    assert three["overall"]["csat"]["value"] == pytest.approx(one["overall"]["csat"]["value"])
    assert three["overall"]["churn"]["n"] == 3 * one["overall"]["churn"]["n"]
    assert three["overall"]["churn"]["value"] == pytest.approx(one["overall"]["churn"]["value"])


def test_an_existing_target_or_a_folder_without_responses_is_refused(lakes, tmp_path):
    small, big = lakes
    with pytest.raises(SystemExit, match="exists already"):
        scale_lake.scale(small, big, 2)
    with pytest.raises(SystemExit, match="no responses.parquet"):
        scale_lake.scale(tmp_path, tmp_path / "out", 2)
