"""Importing files through a column mapping: every rejection reason, all-or-nothing and
accept-valid, idempotent re-import, the mapping's features, the journey, the real Skytrax
reviews. Every database test runs on SQLite and on a real Postgres server."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from conftest import REPO

from cxmetrics import cli
from cxmetrics.contract import importer, journey_import, limits, mapping, schema, store
from cxmetrics.contract.journey import TABLES as JOURNEY_TABLES
from cxmetrics.contract.journey import JourneyError
from cxmetrics.contract.registry import METRICS

D = dt.date


def _realdata() -> Path:
    """The public Skytrax lounge reviews beside the project (``CX_REALDATA`` names the
    folder elsewhere)."""
    folders = [os.environ.get("CX_REALDATA"), REPO.parent / "shared" / "realdata"]
    folders.append(Path("/work/shared/realdata"))
    for folder in folders:
        if folder and (Path(folder) / "skytrax_lounge.csv").exists():
            return Path(folder) / "skytrax_lounge.csv"
    return REPO.parent / "shared" / "realdata" / "skytrax_lounge.csv"


REALDATA = _realdata()
SKYTRAX = REPO / "sample_data" / "skytrax"
_names = (f"imp{i}" for i in itertools.count())

MAPPING = """
table = "responses"
[columns]
response_id = "ID"
customer_id = "Customer"
touchpoint_id = "Touchpoint"
responded_on = "Date"
nps = "Recommend"
csat = "Stars"
channel = "Channel"
source = "Source"
comment = "Comment"
[dates]
responded_on = "%d/%m/%Y"
[values.touchpoint_id]
"Billing" = "pay_first_bill"
[rescale.csat]
from = [1, 10]
to = [1, 5]
"""
HEADER = "ID,Customer,Touchpoint,Date,Recommend,Stars,Channel,Source,Comment\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, sample_data):
    """A fresh database holding the test company's journey, customers and 100 responses."""
    tables = {
        name: frame
        for name, frame in sample_data.tables().items()
        if name not in ("responses", "contacts", "cases", "kpis")
    }
    tables["responses"] = sample_data.responses.head(100)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cx.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(next(_names))
    store.write_tables(url, tables)
    eng = store.make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path):
    """A fresh database with the contract's tables and nothing in them."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(next(_names))
    eng = store.make_engine(url)
    schema.create_all(eng)
    yield eng
    eng.dispose()


def count(engine, table="responses") -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(schema.metadata.tables[table])
        ).scalar()


def rows_by_id(engine, ids) -> dict[str, dict]:
    r = schema.responses
    with engine.connect() as conn:
        got = conn.execute(sa.select(r).where(r.c.response_id.in_(ids))).mappings().all()
    return {row["response_id"]: dict(row) for row in got}


def write(tmp_path: Path, body: str, name="file.csv", encoding=None) -> Path:
    path = tmp_path / name
    data = (HEADER + body).encode("utf-8") if encoding is None else encoding
    path.write_bytes(data)
    return path


GOOD = (
    "9000001,1,Billing,01/09/2026,9,10,web,survey,Great\n"
    '9000002,2,pay_first_bill,02/09/2026,,1,phone,complaint,"Charged twice, again"\n'
    "9000003,3,Billing,03/09/2026,0,,mobile,survey,\n"
)


def test_a_clean_file_is_written_exactly(engine, tmp_path):
    path = write(tmp_path, GOOD)
    before = count(engine)
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert report.problems.height == 0 and report.written == 3
    assert count(engine) == before + 3
    got = rows_by_id(engine, ["9000001", "9000002", "9000003"])
    assert got["9000001"]["touchpoint_id"] == "pay_first_bill"  # value map
    assert got["9000001"]["responded_on"] == D(2026, 9, 1)  # day/month/year
    assert got["9000001"]["csat"] == 5  # 10 on 1-10 is 5 on 1-5
    assert got["9000002"]["csat"] == 1 and got["9000002"]["nps"] is None
    assert got["9000002"]["comment"] == "Charged twice, again"
    assert got["9000003"]["nps"] == 0 and got["9000003"]["csat"] is None
    assert report.report_path is None  # nothing to report, no file


def test_every_rejection_reason_is_named_and_nothing_is_written(engine, tmp_path):
    long_channel = "x" * 41
    body = (
        GOOD
        + "9000010,1,Billing,01/09/2026,x,5,web,survey,\n"  # row 5: not a number
        + "9000011,1,Billing,01/09/2026,11,5,web,survey,\n"  # row 6: out of range
        + "9000012,1,Billing,01/09/2026,7,5,,survey,\n"  # row 7: required
        + f"9000013,1,Billing,01/09/2026,7,5,{long_channel},survey,\n"  # row 8: too long
        + "9000014,1,Billing,31/02/2026,7,5,web,survey,\n"  # row 9: no such date
        + "9000015,1,Nowhere,01/09/2026,7,5,web,survey,\n"  # row 10: unknown touchpoint
        + "9000016,999999,Billing,01/09/2026,7,5,web,survey,\n"  # row 11: unknown customer
        + "9000001,4,Billing,01/09/2026,7,5,web,survey,\n"  # row 12: duplicate id
        + "9000017,1,Billing,01/09/2026,7,5,web,email,\n"  # row 13: not an allowed source
        + "9000018,1,Billing,01/09/2026,7,11,web,survey,\n"  # row 14: outside the rescale
    )
    raw = (HEADER + body).encode("utf-8") + b"9000019,1,Billing,01/09/2026,7,5,web,survey,caf\xe9\n"
    path = write(tmp_path, "", encoding=raw)  # row 15: not UTF-8
    before = count(engine)
    report = importer.run(
        engine, "responses", path, mapping.loads(MAPPING, ".toml"), report_dir=tmp_path / "out"
    )
    got = {(r["row"], r["column"], r["reason"]) for r in report.problems.iter_rows(named=True)}
    assert got == {
        (5, "nps", "not a whole number"),
        (6, "nps", "out of range (0 to 10)"),
        (7, "channel", "required but empty"),
        (8, "channel", "longer than 40 characters"),
        (9, "responded_on", "not a date in the form %d/%m/%Y"),
        (10, "touchpoint_id", "unknown touchpoint (not in touchpoints)"),
        (11, "customer_id", "unknown customer (not in customers)"),
        (12, "response_id", "duplicate id in the file (first at row 2)"),
        (13, "source", "not one of survey, contact_center, social, complaint"),
        (14, "csat", "not a number on the file's scale, 1 to 10"),
        (
            15,
            "comment",
            "broken encoding: bytes that are not valid utf-8 text; if the file is in another "
            'encoding, name it in the mapping: encoding = "cp1252" (Excel on Windows) or '
            '"latin-1"',
        ),
    }
    values = {(r["row"], r["column"]): r["value"] for r in report.problems.iter_rows(named=True)}
    assert values[(5, "nps")] == "x" and values[(10, "touchpoint_id")] == "Nowhere"
    assert count(engine) == before and report.written == 0 and not report.ok
    # the report and the rejected rows are files beside each other
    assert pl.read_csv(report.report_path).height == report.problems.height
    rejected = pl.read_csv(report.rejected_path, infer_schema_length=0)
    assert rejected["row"].cast(int).to_list() == list(range(5, 16))
    assert rejected["ID"][0] == "9000010"


def test_implausible_dates_are_rejected_naming_the_span(engine, tmp_path):
    """A typo of a year (2099, 1899) would move every period preset to it; tomorrow is
    still taken (a time zone ahead), the day after is not."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    after = tomorrow + dt.timedelta(days=1)
    body = (
        "9000001,1,Billing,31/12/2099,9,5,web,survey,\n"
        "9000002,1,Billing,31/12/1899,9,5,web,survey,\n"
        f"9000003,1,Billing,{after:%d/%m/%Y},9,5,web,survey,\n"
        f"9000004,1,Billing,{tomorrow:%d/%m/%Y},9,5,web,survey,\n"
        "9000005,1,Billing,01/01/1990,9,5,web,survey,\n"
    )
    report = importer.run(
        engine,
        "responses",
        write(tmp_path, body),
        mapping.loads(MAPPING, ".toml"),
        accept_valid=True,
    )
    span = f"not a plausible date (1990-01-01 to {tomorrow})"
    got = {(r["row"], r["column"], r["reason"]) for r in report.problems.iter_rows(named=True)}
    assert got == {(2, "responded_on", span), (3, "responded_on", span), (4, "responded_on", span)}
    assert report.written == 2
    assert set(rows_by_id(engine, ["9000004", "9000005"])) == {"9000004", "9000005"}


def test_a_customer_who_left_before_joining_is_rejected(engine, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,segment,region,joined_on,churned_on\n"
        "C-1,Personal,North,2025-03-01,2025-02-28\n"
        "C-2,Personal,North,2025-03-01,2025-03-01\n"
        "C-3,Personal,North,1985-06-01,\n"  # a customer for forty years: taken
        "C-4,Personal,North,2099-01-01,\n"
    )
    report = importer.run(engine, "customers", path, None, accept_valid=True)
    got = [(r["row"], r["column"], r["reason"]) for r in report.problems.iter_rows(named=True)]
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert got == [
        (2, "churned_on", "before joined_on"),
        (5, "joined_on", f"in the future (after {tomorrow})"),
    ]
    assert report.written == 2


def test_the_encoding_the_broken_encoding_hint_names_reads_the_file(engine, tmp_path):
    raw = HEADER.encode() + "9000019,1,Billing,01/09/2026,7,5,web,survey,café\n".encode("cp1252")
    path = write(tmp_path, "", encoding=raw)
    latin = mapping.loads('encoding = "cp1252"\n' + MAPPING, ".toml")
    assert importer.run(engine, "responses", path, latin).written == 1
    assert rows_by_id(engine, ["9000019"])["9000019"]["comment"] == "café"


def test_accept_valid_writes_the_good_rows_only(engine, tmp_path):
    body = GOOD + "9000010,1,Billing,01/09/2026,x,5,web,survey,\n"
    path = write(tmp_path, body)
    before = count(engine)
    report = importer.run(
        engine, "responses", path, mapping.loads(MAPPING, ".toml"), accept_valid=True
    )
    assert report.ok and report.written == 3 and report.rejected_source_rows == 1
    assert count(engine) == before + 3
    assert rows_by_id(engine, ["9000010"]) == {}


def test_dry_run_checks_but_writes_nothing(engine, tmp_path):
    path = write(tmp_path, GOOD)
    before = count(engine)
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"), dry_run=True)
    assert report.written == 3 and count(engine) == before


def test_reimporting_the_same_file_changes_nothing_and_a_new_value_updates(engine, tmp_path):
    m = mapping.loads(MAPPING, ".toml")
    path = write(tmp_path, GOOD)
    done = importer.run(engine, "responses", path, m)
    assert done.summary().endswith("wrote 3 rows (3 new)")
    first = rows_by_id(engine, ["9000001", "9000002", "9000003"])
    total = count(engine)
    again = importer.run(engine, "responses", path, m)
    assert count(engine) == total and rows_by_id(engine, ["9000001", "9000002", "9000003"]) == first
    # the report says the rows were there already: a re-import is not new data
    assert again.summary().endswith("wrote 3 rows (0 new; 3 already there, updated)")
    # the same id with a new answer, and one new id
    write(
        tmp_path,
        GOOD.replace(",9,10,web", ",3,10,web") + "9000004,4,Billing,04/09/2026,7,,web,survey,\n",
    )
    changed = importer.run(engine, "responses", path, m)
    assert count(engine) == total + 1 and rows_by_id(engine, ["9000001"])["9000001"]["nps"] == 3
    assert changed.summary().endswith("wrote 4 rows (1 new; 3 already there, updated)")
    assert (
        importer.run(engine, "responses", path, m, dry_run=True)
        .summary()
        .endswith("would write 4 rows")
    )


def test_blank_invalid_leaves_a_wrong_optional_value_empty_and_keeps_its_row(engine, tmp_path):
    m = mapping.loads('blank_invalid = ["csat"]\n' + MAPPING, ".toml")
    path = write(
        tmp_path,
        "9000001,1,Billing,01/09/2026,9,42,web,survey,\n"  # Stars 42: off the 1-10 scale
        "9000002,2,Billing,02/09/2026,11,42,web,survey,\n"  # and NPS 11: the row is rejected
        "9000003,3,Billing,03/09/2026,3,10,web,survey,\n",
    )
    report = importer.run(engine, "responses", path, m, accept_valid=True)
    assert report.written == 2
    assert report.blanked.select("row", "column", "value").rows() == [(2, "csat", "42")]
    # a rejected row keeps every problem it has, the blank-able one too
    assert report.problems.select("row", "column").rows() == [(3, "csat"), (3, "nps")]
    got = rows_by_id(engine, ["9000001", "9000003"])
    assert (got["9000001"]["nps"], got["9000001"]["csat"]) == (9, None)
    assert got["9000003"]["csat"] == 5  # 10 of 10, rescaled
    outcomes = pl.read_csv(report.report_path).select("row", "column", "outcome").rows()
    assert sorted(outcomes) == [
        (2, "csat", "left empty"),
        (3, "csat", "rejected"),
        (3, "nps", "rejected"),
    ]
    assert (
        "1 wrong value left empty (csat: blank_invalid; listed in the report)" in report.summary()
    )
    with pytest.raises(mapping.MappingError, match="blank_invalid names responded_on, which every"):
        mapping.loads('blank_invalid = ["responded_on"]\n' + MAPPING, ".toml")
    assert 'blank_invalid = ["csat"]' in m.to_toml()
    # a later duplicate left out (keep-first) is no cell left empty: it is not written
    first = mapping.loads(
        'blank_invalid = ["csat"]\nduplicates = "keep-first"\n' + MAPPING, ".toml"
    )
    twice = write(
        tmp_path,
        "9000011,1,Billing,01/09/2026,9,4,web,survey,\n9000011,1,Billing,01/09/2026,9,42,web,survey,\n",
        name="twice.csv",
    )
    kept = importer.run(engine, "responses", twice, first)
    assert kept.written == 1 and kept.duplicates_dropped == 1
    assert kept.blanked.height == 0 and "left empty" not in kept.summary()


def test_xlsx_and_parquet_read_like_csv(tmp_path):
    csv = write(tmp_path, GOOD)
    frame = pl.read_csv(csv, infer_schema_length=0)
    frame.write_excel(tmp_path / "file.xlsx")
    frame.write_parquet(tmp_path / "file.parquet")
    want = importer.read_source(csv)
    for name in ("file.xlsx", "file.parquet"):
        got = importer.read_source(tmp_path / name)
        assert got.select(want.columns).equals(want), name


def _typed_dates(kind):
    """Two responses whose responded_on is a typed date (or date and time) cell."""
    when = [dt.datetime(2026, 1, 10), dt.datetime(2026, 1, 11, 14, 30)]
    return pl.DataFrame(
        {
            "response_id": ["9000101", "9000102"],
            "customer_id": ["1", "2"],
            "touchpoint_id": ["pay_first_bill"] * 2,
            "channel": ["web"] * 2,
            "responded_on": [w.date() for w in when] if kind is dt.date else when,
            "source": ["survey"] * 2,
            "nps": [9, 3],
        }
    )


@pytest.mark.parametrize(
    "suffix,kind", [(".xlsx", dt.datetime), (".parquet", dt.datetime), (".parquet", dt.date)]
)
@pytest.mark.parametrize("rules", [None, '[dates]\nresponded_on = "%d/%m/%Y"\n'])
def test_typed_date_cells_of_xlsx_and_parquet_are_dates(engine, tmp_path, suffix, kind, rules):
    """Excel's date cells and Parquet's date or datetime columns are dates whatever the
    mapping's text formats; a time of day is left out. A mapping with only [dates] reads
    the other columns from the file's columns of the same name."""
    frame = _typed_dates(kind)
    path = tmp_path / f"resp{suffix}"
    frame.write_excel(path) if suffix == ".xlsx" else frame.write_parquet(path)
    m = mapping.loads(rules, ".toml", "responses") if rules else None
    report = importer.run(engine, "responses", path, m)
    assert report.problems.height == 0 and report.written == 2
    got = rows_by_id(engine, ["9000101", "9000102"])
    assert got["9000101"]["responded_on"] == D(2026, 1, 10)
    assert got["9000102"]["responded_on"] == D(2026, 1, 11)
    assert (got["9000101"]["nps"], got["9000102"]["customer_id"]) == (9, "2")


def test_an_id_built_from_a_typed_time_keeps_its_microseconds(engine, tmp_path):
    """Two events in one second are two ids, as they were before typed dates were read."""
    frame = _typed_dates(dt.datetime).drop("response_id")
    at = [dt.datetime(2026, 1, 10, 13, 45, 0, 1), dt.datetime(2026, 1, 10, 13, 45, 0, 2)]
    path = tmp_path / "events.parquet"
    frame.with_columns(pl.Series("at", at)).write_parquet(path)
    m = mapping.loads('[ids]\nresponse_id = ["at"]\n', ".toml", "responses")
    report = importer.run(engine, "responses", path, m)
    assert report.problems.height == 0 and report.written == 2


def test_a_date_mapping_alone_reads_the_other_columns_by_name(engine, tmp_path):
    path = tmp_path / "resp.csv"
    path.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,source,comment\n"
        "9000201,3,pay_first_bill,phone,25/08/2026,survey,Late\n"
        "9000202,1,pay_first_bill,web,2026-08-24,survey,\n"  # ISO reads too
    )
    m = mapping.loads('[dates]\nresponded_on = "%d/%m/%Y"\n', ".toml", "responses")
    report = importer.run(engine, "responses", path, m)
    assert report.problems.height == 0
    got = rows_by_id(engine, ["9000201", "9000202"])
    assert got["9000201"]["responded_on"] == D(2026, 8, 25)
    assert got["9000202"]["responded_on"] == D(2026, 8, 24)
    assert (got["9000201"]["customer_id"], got["9000201"]["channel"]) == ("3", "phone")
    assert got["9000201"]["comment"] == "Late"
    # a mapping with [columns] reads exactly what it names: a column left out stays out
    named = mapping.loads(
        "[columns]\nresponse_id = 'response_id'\ncustomer_id = 'customer_id'\n"
        "touchpoint_id = 'touchpoint_id'\nchannel = 'channel'\nresponded_on = 'responded_on'\n"
        "source = 'source'\n[dates]\nresponded_on = '%d/%m/%Y'\n",
        ".toml",
        "responses",
    )
    again = tmp_path / "resp2.csv"
    again.write_text(path.read_text().replace("90002", "90003"))
    assert importer.run(engine, "responses", again, named).problems.height == 0
    assert rows_by_id(engine, ["9000301"])["9000301"]["comment"] is None  # left out
    with pytest.raises(importer.ImportError_, match="gives no value for response_id, customer_id"):
        importer.run(
            engine,
            "responses",
            path,
            mapping.loads("[columns]\ncomment = 'channel'\n", ".toml", "responses"),
        )


def test_an_import_without_the_required_columns_names_them_all(engine, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("Customer ID,Joined,segment\nC-1,2026-01-01,Retail\n")
    with pytest.raises(importer.ImportError_) as error:
        importer.run(engine, "customers", path, None)
    # "Customer ID" is read as customer_id (named like it but for case and the space)
    assert str(error.value) == (
        "crm.csv gives no value for region, joined_on, which customers requires (its "
        "columns: Customer ID, Joined, segment); name the file's column for each in a "
        'mapping\'s [columns] (e.g. region = "Your column"), or give a constant (the '
        "mapping: --mapping FILE on the command line, the column choices on the Data page)"
    )
    m = mapping.loads('[columns]\nsegment = "segment"\n', ".toml", "customers")
    with pytest.raises(importer.ImportError_) as error:  # with [columns]: only what it names
        importer.run(engine, "customers", path, m)
    assert str(error.value).startswith(
        "crm.csv gives no value for customer_id, region, joined_on, which customers requires"
    )
    assert "(customer_id = 'Customer ID')" in str(error.value)


MULTILINE = '9000004,1,Billing,04/09/2026,5,5,web,survey,"two\nlines"\n'  # lines 5-6, row 5


def test_a_row_with_extra_fields_is_named_and_accept_valid_takes_the_rest(engine, tmp_path):
    extra = "9000005,2,Billing,05/09/2026,5,5,web,survey,ok,again,\n"  # line 7, row 6
    path = write(tmp_path, GOOD + MULTILINE + extra)
    m = mapping.loads(MAPPING, ".toml")
    refused = importer.run(engine, "responses", path, m)
    assert refused.problems.rows() == [
        (
            6,
            "(the whole row)",
            "again,",  # the extra fields whole, as CSV text
            "line 7 has 11 fields, the header 9 (extra: 'again', ''); put quotes around a "
            "value that holds the separator, or remove the extra fields",
        )
    ]
    assert refused.written == 0 and count(engine) == 100
    taken = importer.run(engine, "responses", path, m, accept_valid=True)
    assert taken.written == 4 and taken.rejected_source_rows == 1
    got = rows_by_id(engine, [f"900000{i}" for i in range(1, 6)])
    assert sorted(got) == ["9000001", "9000002", "9000003", "9000004"]
    assert got["9000004"]["comment"] == "two\nlines"
    rejected = pl.read_csv(taken.rejected_path, infer_schema_length=0)
    assert rejected.row(0) == (
        "6",
        "9000005",
        "2",
        "Billing",
        "05/09/2026",
        "5",
        "5",
        "web",
        "survey",
        "ok",
    )


@pytest.mark.parametrize("separator", [",", ";"])
def test_a_row_with_too_few_fields_is_named_not_read_with_blanks(engine, tmp_path, separator):
    """A line cut short (or written with another separator) was read with its last cells
    blank, without a word: one missing only optional columns was written as it was. Now
    it is named by its line, as a line with extra fields is; the rest can still go in."""
    good = GOOD + MULTILINE
    cut = "9000005,2,Billing,05/09/2026,5,5,web\n"  # line 7, row 6: no Source, no Comment
    other = "9000006;3;Billing;06/09/2026;5;5;web;survey;\n"  # line 8, row 7: one field
    text = HEADER + good + cut + other + "\n"  # and a blank line at the end: no record
    if separator == ";":
        text = text.replace(",", ";")  # then line 8 fits
    path = tmp_path / "file.csv"
    path.write_text(text)
    m = mapping.loads(MAPPING, ".toml")
    refused = importer.run(engine, "responses", path, m)
    shape = refused.problems.filter(pl.col("column") == "(the whole row)")
    if separator == ",":
        assert shape.select("row", "reason").rows() == [
            (6, "line 7 has 7 fields, the header 9 (no Source, Comment); check the "
                "separators on that line, or that it was not cut short"),
            (7, "line 8 has 1 field, the header 9 (no Customer, Touchpoint, Date, Recommend, "
                "Stars, Channel, Source, Comment); check the separators on that line, or that "
                "it was not cut short"),
        ]  # fmt: skip
    else:
        assert shape["row"].to_list() == [6]
        assert shape["reason"][0].startswith("line 7 has 7 fields, the header 9 (no Source")
    assert refused.written == 0 and count(engine) == 100
    taken = importer.run(engine, "responses", path, m, accept_valid=True)
    assert taken.written == 4 + (separator == ";")  # the semicolon file's last line fits
    got = rows_by_id(engine, [f"900000{i}" for i in range(1, 7)])
    assert "9000005" not in got and ("9000006" in got) == (separator == ";")


def test_a_header_ending_in_a_separator_needs_no_field_for_its_empty_name(engine, tmp_path):
    """ "a,b," is a header of two named columns and an empty one: rows without a third field
    are whole (every row was rejected, for a column no mapping can read)."""
    path = tmp_path / "trail.csv"
    path.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,source,nps,\n"
        "9100001,1,pay_first_bill,web,2026-09-01,survey,9\n"
        "9100002,2,pay_first_bill,web,2026-09-02,survey,7\n"
        "9100003,3,pay_first_bill,web,2026-09-03\n"  # short: no source, no nps
    )
    report = importer.run(engine, "responses", path, None, accept_valid=True)
    assert report.written == 2
    assert report.problems.select("row", "reason").rows() == [
        (4, "line 4 has 5 fields, the header 8 (no source, nps); check the separators on "
            "that line, or that it was not cut short"),
    ]  # fmt: skip


def test_a_column_named_twice_is_refused_whichever_reader_reads_the_file(engine, tmp_path):
    """With a short line the record-by-record reader read the file, and a header naming nps
    twice gave Polars' "row at index 0 has length 8 (expected 7)"."""
    path = tmp_path / "twice.csv"
    header = "response_id,customer_id,touchpoint_id,channel,responded_on,source,nps,nps\n"
    path.write_text(header + "9100001,1,pay_first_bill,web,2026-09-01,survey,9,8\n")
    with pytest.raises(importer.ImportError_) as whole:
        importer.run(engine, "responses", path, None)
    path.write_text(header + "9100001,1,pay_first_bill,web,2026-09-01,survey,9,8\n9100002,2\n")
    with pytest.raises(importer.ImportError_) as short:
        importer.run(engine, "responses", path, None)
    assert "more than one column named 'nps'" in str(whole.value)
    assert str(short.value) == str(whole.value)


def test_a_short_line_is_found_beside_a_field_longer_than_the_csv_module_s_limit(tmp_path):
    """The C reader's field limit (131,072 characters unless raised) stopped the check, and
    the short line was read with blanks."""
    import csv

    from cxmetrics.contract import csv_rows

    text = "a,b,c\n1," + "x" * 140_000 + ",3\n4,5\n"
    before = csv.field_size_limit()
    csv.field_size_limit(131_072)
    try:
        assert csv_rows.has_short_records(text)
        path = tmp_path / "long.csv"
        path.write_text(text)
        frame = importer.read_source(path)
    finally:
        csv.field_size_limit(max(before, csv.field_size_limit()))
    assert frame[csv_rows.SHAPE].to_list() == [None, "line 3 has 2 fields, the header 3 (no c); "
        "check the separators on that line, or that it was not cut short"]  # fmt: skip


def test_a_ragged_line_s_extra_fields_reach_the_report_whole(engine, tmp_path):
    """The reason cuts the extra fields at 80 characters; the report's value holds them all,
    quoted where a field holds the separator, so nothing of the line is lost."""
    tail = "x" * 150
    extra = f'9000005,2,Billing,05/09/2026,5,5,web,survey,ok,"a, b",{tail}\n'  # line 5, row 5
    path = write(tmp_path, GOOD + extra)
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    ((row, column, value, reason),) = report.problems.rows()
    assert (row, column, value) == (5, "(the whole row)", f'"a, b",{tail}')
    assert len(reason) < len(value) + 100 and tail not in reason
    written = pl.read_csv(report.report_path, infer_schema_length=0)
    assert written["value"].to_list() == [f'"a, b",{tail}']


def test_a_header_with_the_reserved_extra_column_is_refused(engine, tmp_path):
    """Whichever reader takes the file: the fast one (every line fits), or the record by
    record one (a ragged line), which adds a column of that name itself."""
    header = HEADER.rstrip("\n") + ",__extra\n"
    first = GOOD.splitlines()[0]
    for body in (f"{first},x\n", f"{first},x,y\n"):
        path = write(tmp_path, "", encoding=(header + body).encode())
        with pytest.raises(importer.ImportError_, match="__extra, which is reserved"):
            importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))


def test_a_semicolon_file_is_split_on_its_semicolons_and_blank_lines_are_no_rows(engine, tmp_path):
    """Excel's CSV where the decimal mark is a comma uses ";": it was read as one column
    ("no column 'Customer'"). Blank lines at the end were rows of empty, rejected cells, so
    an all-or-nothing import wrote nothing."""
    body = GOOD.replace(",", ";").replace('"Charged twice; again"', '"Charged twice, again"')
    path = write(tmp_path, "", encoding=(HEADER.replace(",", ";") + body + "\n\n").encode())
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    lines = [line for line in GOOD.splitlines() if line]
    assert report.problems.height == 0 and report.written == len(lines)
    got = rows_by_id(engine, [line.split(",")[0] for line in lines])
    assert got["9000002"]["comment"] == "Charged twice, again"
    # the same file with commas, and blank lines between rows: rows keep their line numbers
    gaps = GOOD.replace("\n", "\n\n", 1)
    source = importer.read_source(write(tmp_path, gaps + "\n", name="gaps.csv"))
    assert source["__row"].to_list() == [2, 4, 5]
    # a ragged line whose fields under the header are all empty is no blank line: reported
    ragged = importer.read_source(write(tmp_path, GOOD + ",,,,,,,,,x\n", name="ragged.csv"))
    ((row, column, value, _reason),) = importer.shape_problems(ragged).rows()
    assert (row, column, value) == (5, "(the whole row)", "x")
    # a header read as CSV on each separator: a quoted name may hold another one
    quoted = write(tmp_path, "", name="quoted.csv", encoding=b'"Score, 0-10";Date\n7;2026-01-02\n')
    assert importer.file_columns(importer.read_source(quoted)) == ["Score, 0-10", "Date"]


def test_a_form_s_rating_scale_reads_as_a_rescale_onto_the_contract_s():
    """The Data page could not rescale a 1-10 CSAT: every 6-10 was out of range."""
    fields = {f.name: f for f in mapping.form_fields(mapping.Mapping("responses"))}
    csat, nps = fields["csat"], fields["nps"]
    assert (csat.scale, nps.scale, fields["channel"].scale) == ((1, 5), (0, 10), None)
    assert mapping.scale_of(csat, "1-10") == mapping.Rescale(1.0, 10.0, 1.0, 5.0)
    assert mapping.scale_of(csat, " 1 to 10 ") == mapping.Rescale(1.0, 10.0, 1.0, 5.0)
    assert mapping.scale_of(csat, "1-5") is None  # the contract's own
    assert mapping.scale_text(mapping.Mapping("responses"), csat) == "1-5"
    rescaled = mapping.Mapping("responses", rescale={"csat": mapping.Rescale(0, 100, 1, 5)})
    assert mapping.scale_text(rescaled, csat) == "0-100"
    for bad in ("10-1", "ten", "1-", "5-5"):
        with pytest.raises(mapping.MappingError, match="csat: the scale in the file"):
            mapping.scale_of(csat, bad)


def test_a_byte_order_mark_is_not_part_of_the_first_column_s_name(engine, tmp_path):
    """Excel's "CSV UTF-8" starts with one; the record-by-record reader (a ragged line sent
    the file to it) leaves it out, as the fast reader does."""
    extra = "9000005,2,Billing,05/09/2026,5,5,web,survey,ok,again\n"  # line 5, row 5
    path = write(tmp_path, "", encoding=("\ufeff" + HEADER + GOOD + extra).encode("utf-8"))
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert [(r[0], r[1]) for r in report.problems.rows()] == [(5, "(the whole row)")]


def test_an_unclosed_quote_names_the_line_it_opens_on(engine, tmp_path):
    broken = '9000005,2,Billing,05/09/2026,5,5,web,survey,"never closed\n9000006,3,x\n'
    path = write(tmp_path, GOOD + MULTILINE + broken)
    with pytest.raises(importer.ImportError_) as error:
        importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert str(error.value) == (
        'file.csv cannot be read as CSV: line 7: a quoted value opens (") and never closes; '
        "close the quote or remove the stray quote on that line"
    )


def test_unreadable_files_and_unknown_columns_are_named(tmp_path):
    m = mapping.loads(MAPPING, ".toml")
    with pytest.raises(importer.ImportError_, match="unknown file type .json"):
        importer.read_source(tmp_path / "x.json")
    with pytest.raises(importer.ImportError_, match="cannot read"):
        importer.read_source(tmp_path / "missing.csv")
    other = tmp_path / "other.csv"
    other.write_text("Id,When\n1,2026-01-01\n")
    with pytest.raises(importer.ImportError_, match="no column 'Channel'.*its columns: Id, When"):
        importer.apply_mapping(importer.read_source(other), m, "other.csv")


def test_mapping_errors_name_the_problem(tmp_path):
    with pytest.raises(mapping.MappingError, match=r"\[columns\] names colour, not column"):
        mapping.loads('table = "responses"\n[columns]\ncolour = "C"\n', ".toml")
    with pytest.raises(mapping.MappingError, match="unknown section"):
        mapping.loads('table = "responses"\n[colums]\nnps = "N"\n', ".toml")
    with pytest.raises(mapping.MappingError, match="not valid TOML"):
        mapping.loads('table = "responses"\n[columns\n', ".toml")
    with pytest.raises(mapping.MappingError, match="cannot be imported"):
        mapping.loads('table = "imports"\n', ".toml")
    with pytest.raises(mapping.MappingError, match="is for table 'customers', not 'responses'"):
        mapping.loads('table = "customers"\n', ".toml", table="responses")
    with pytest.raises(mapping.MappingError, match=r"\[rescale.csat\] needs from"):
        mapping.loads('table = "responses"\n[rescale.csat]\nfrom = [1]\n', ".toml")


def test_a_yaml_mapping_equals_its_toml_and_toml_round_trips():
    m = mapping.loads(MAPPING, ".toml")
    yaml_text = """
table: responses
columns: {response_id: ID, customer_id: Customer, touchpoint_id: Touchpoint,
  responded_on: Date, nps: Recommend, csat: Stars, channel: Channel, source: Source,
  comment: Comment}
dates: {responded_on: "%d/%m/%Y"}
values: {touchpoint_id: {Billing: pay_first_bill}}
rescale: {csat: {from: [1, 10], to: [1, 5]}}
"""
    assert mapping.loads(yaml_text, ".yaml") == m
    assert mapping.loads(m.to_toml(), ".toml") == m


def test_mapping_features_by_hand():
    m = mapping.loads(
        """
table = "responses"
duplicates = "keep-first"
[columns]
responded_on = "When"
[ids]
customer_id = ["Who"]
response_id = ["Who", "When", "touchpoint_id"]
[constants]
channel = "web"
source = "survey"
[values.csat]
"" = "3"
[unpivot]
key = "touchpoint_id"
value = "csat"
skip = ["0"]
columns = { Food = "food", Wifi = "wifi" }
""",
        ".toml",
    )
    source = (
        pl.DataFrame(
            {
                "Who": ["ann", "bob"],
                "When": ["2026-01-01", "2026-01-02"],
                "Food": ["4", "0"],
                "Wifi": ["5", None],
            }
        )
        .with_row_index(importer.ROW, offset=2)
        .with_columns(pl.col(importer.ROW).cast(pl.Int64))
    )
    out = importer.apply_mapping(source, m)
    # ann's two ratings become two rows; bob's 0 ("not rated") and blank make none
    assert out.select(importer.ROW, "touchpoint_id", "csat").rows() == [
        (2, "food", "4"),
        (2, "wifi", "5"),
    ]
    assert set(out["channel"]) == {"web"} and set(out["source"]) == {"survey"}
    # ids are stable: the same text always gives the same number, within the column's size
    again = importer.apply_mapping(source, m)
    assert out["response_id"].equals(again["response_id"])
    assert out["customer_id"].n_unique() == 1 and 0 <= int(out["customer_id"][0]) < 2**31
    assert out["response_id"].n_unique() == 2


def test_several_date_formats_are_tried_in_order_and_ordinals_are_read(engine, tmp_path):
    m = mapping.loads(
        MAPPING.replace(
            'responded_on = "%d/%m/%Y"', 'responded_on = ["%d/%m/%Y", "%d %B %Y", "%Y-%m-%d"]'
        ),
        ".toml",
    )
    assert m.dates["responded_on"] == ("%d/%m/%Y", "%d %B %Y", "%Y-%m-%d")
    assert mapping.loads(m.to_toml(), ".toml") == m  # a list survives the round trip
    body = (
        "9000001,1,Billing,01/09/2026,9,10,web,survey,\n"
        "9000002,1,Billing,19th March 2025,9,10,web,survey,\n"
        "9000003,1,Billing,1st March 2025,9,10,web,survey,\n"
        "9000004,1,Billing,22nd march 2025,9,10,web,survey,\n"
        "9000005,1,Billing,3rd May 2025,9,10,web,survey,\n"
        "9000006,1,Billing,2ND June 2025,9,10,web,survey,\n"
        "9000007,1,Billing,2025-07-04,9,10,web,survey,\n"
        "9000008,1,Billing,32nd March 2025,9,10,web,survey,\n"  # row 9: no such day
        "9000009,1,Billing,March 2025,9,10,web,survey,\n"  # row 10: no day
    )
    report = importer.run(
        engine, "responses", write(tmp_path, body), m, accept_valid=True, report_dir=tmp_path
    )
    got = {r: d for r, d in rows_by_id(engine, [str(i) for i in range(9000001, 9000010)]).items()}
    assert {k: v["responded_on"] for k, v in got.items()} == {
        "9000001": D(2026, 9, 1),
        "9000002": D(2025, 3, 19),
        "9000003": D(2025, 3, 1),
        "9000004": D(2025, 3, 22),
        "9000005": D(2025, 5, 3),
        "9000006": D(2025, 6, 2),
        "9000007": D(2025, 7, 4),
    }
    reason = "not a date in any of the forms %d/%m/%Y, %d %B %Y, %Y-%m-%d"
    assert set(report.problems.select("row", "reason").rows()) == {(9, reason), (10, reason)}
    with pytest.raises(mapping.MappingError, match=r"\[dates\] responded_on must be a format"):
        mapping.loads('table = "responses"\n[dates]\nresponded_on = []\n', ".toml")


def test_a_where_filter_leaves_rows_out_and_counts_them(engine, tmp_path):
    m = mapping.loads(
        MAPPING
        + '[where]\nComment = "not empty"\nChannel = { not = ["phone", "fax"] }\n'
        + 'Source = ["survey", "complaint"]\n',
        ".toml",
    )
    assert mapping.loads(m.to_toml(), ".toml") == m
    body = (
        "9000001,1,Billing,01/09/2026,9,10,web,survey,Great\n"  # row 2: kept
        "9000002,1,Billing,01/09/2026,x,10,web,survey,\n"  # row 3: no comment (and bad nps)
        "9000003,1,Billing,01/09/2026,9,10,phone,survey,Slow\n"  # row 4: phone
        "9000004,1,Billing,01/09/2026,9,10, fax ,survey,Slow\n"  # row 5: fax, trimmed
        "9000005,1,Billing,01/09/2026,9,10,web,social,Meh\n"  # row 6: not in the list
        "9000006,1,Billing,01/09/2026,9,10,mobile,complaint,Bad\n"  # row 7: kept
        "9000007,1,Billing,01/09/2026,x,10,mobile,complaint,Bad\n"  # row 8: kept, wrong
    )
    report = importer.run(
        engine, "responses", write(tmp_path, body), m, accept_valid=True, report_dir=tmp_path
    )
    assert report.filtered_rows == 4 and report.checked_rows == 3
    assert report.problems.select("row", "column").rows() == [(8, "nps")]  # not rows 3 or 5
    assert set(rows_by_id(engine, [str(i) for i in range(9000001, 9000008)])) == {
        "9000001",
        "9000006",
    }
    kept = "it keeps rows where Comment is not empty; Channel is none of"
    assert f"4 rows left out by the filter ({kept}" in report.summary()
    # "empty" is a test for a blank cell; a list is literal, so ["empty"] is the word
    words = mapping.loads('table = "responses"\n[where]\nA = "empty"\nB = ["empty"]\n', ".toml")
    source = pl.DataFrame({"A": ["", None, "x", " "], "B": ["empty", "empty", "empty", "e"]})
    assert importer.filter_rows(source, words).height == 2  # rows 1 and 2
    with pytest.raises(mapping.MappingError, match=r"\[where\] A = .* is not a condition"):
        mapping.loads('table = "responses"\n[where]\nA = { is = "x" }\n', ".toml")
    with pytest.raises(importer.ImportError_, match="no column 'Nope'"):
        bad = mapping.loads(MAPPING + '[where]\nNope = "x"\n', ".toml")
        importer.run(engine, "responses", write(tmp_path, body), bad, dry_run=True)


def test_two_mappings_with_date_ranges_import_a_scale_that_changed_on_a_date(engine, tmp_path):
    """Stars on 1-5 until 2 September 2026, then on 1-10: one mapping per range, the
    file's dates read with the [dates] format of the column they fill."""
    plain = MAPPING.replace("[rescale.csat]\nfrom = [1, 10]\nto = [1, 5]\n", "")
    before = mapping.loads(plain + '[where]\nDate = { before = "2026-09-02" }\n', ".toml")
    after = mapping.loads(MAPPING + "[where]\nDate = { from = 2026-09-02 }\n", ".toml")
    for m in (before, after):
        assert mapping.loads(m.to_toml(), ".toml") == m
    body = (
        "9000001,1,Billing,31/08/2026,9,4,web,survey,\n"  # 1-5: 4
        "9000002,1,Billing,01/09/2026,9,5,web,survey,\n"  # 1-5: 5, the last day before
        "9000003,1,Billing,02/09/2026,9,10,web,survey,\n"  # 1-10: 10 -> 5, the first day
        "9000004,1,Billing,03/09/2026,9,4,web,survey,\n"  # 1-10: 4 -> 2.33 -> 2
        "9000005,1,Billing,someday,9,4,web,survey,\n"  # not a date: in neither range
    )
    path = write(tmp_path, body)
    first = importer.run(engine, "responses", path, before, accept_valid=True)
    second = importer.run(engine, "responses", path, after, accept_valid=True)
    assert (first.written, first.filtered_rows) == (2, 3)
    assert (second.written, second.filtered_rows) == (2, 3)
    got = rows_by_id(engine, [str(i) for i in range(9000001, 9000006)])
    assert {k: v["csat"] for k, v in got.items()} == {
        "9000001": 4,
        "9000002": 5,
        "9000003": 5,
        "9000004": 2,
    }
    kept = "it keeps rows where Date before 2026-09-02"
    assert f"3 rows left out by the filter ({kept})" in first.summary()
    assert "(it keeps rows where Date on or after 2026-09-02)" in second.summary()
    both = mapping.loads(
        'table = "responses"\n[where]\nD = { from = 2026-01-01, before = "2026-02-01" }\n', ".toml"
    )
    days = pl.DataFrame({"D": ["2025-12-31", "2026-01-01", "2026-01-31", "2026-02-01", ""]})
    assert importer.filter_rows(days, both)["D"].to_list() == ["2026-01-01", "2026-01-31"]
    with pytest.raises(mapping.MappingError, match=r"D from = 'June' is not a date"):
        mapping.loads('table = "responses"\n[where]\nD = { from = "June" }\n', ".toml")
    with pytest.raises(mapping.MappingError, match=r"D keeps no date"):
        mapping.loads(
            'table = "responses"\n[where]\nD = { from = 2026-02-01, before = 2026-02-01 }\n',
            ".toml",
        )


CUSTOMERS = """
table = "customers"
duplicates = "keep-first"
[ids]
customer_id = ["Name"]
[columns]
segment = "Segment"
[constants]
region = "North"
joined_on = "2025-01-01"
annual_revenue = 100
cost_to_serve = 10
influence = 1
"""


def test_keep_first_counts_and_reports_the_rows_it_leaves_out(engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Name,Segment\nann,a\nbob,b\nann,c\ncid,c\nbob,d\nann,e\n")
    m = mapping.loads(CUSTOMERS, ".toml")
    report = importer.run(engine, "customers", path, m, dry_run=True, report_dir=tmp_path)
    assert report.problems.height == 0 and report.written == 3  # ann, bob, cid
    assert report.duplicates_dropped == 3
    assert "3 duplicate rows left out (keep-first" in report.summary()
    listed = pl.read_csv(report.report_path)
    assert listed.select("row", "outcome").rows() == [
        (4, "left out"),
        (6, "left out"),
        (7, "left out"),
    ]
    assert listed["reason"].to_list() == [
        "duplicate id, left out (duplicates = keep-first; first at row 2)",
        "duplicate id, left out (duplicates = keep-first; first at row 3)",
        "duplicate id, left out (duplicates = keep-first; first at row 2)",
    ]
    assert report.rejected_path is None  # nothing was rejected


def test_an_id_from_a_blank_column_names_that_column(engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Name,Segment\nann,a\n,b\n")
    m = mapping.loads(CUSTOMERS, ".toml")
    report = importer.run(engine, "customers", path, m, dry_run=True, report_dir=tmp_path)
    assert report.problems.select("row", "column", "reason").rows() == [
        (3, "customer_id", "cannot build the id: blank source column(s) 'Name'")
    ]
    two = mapping.loads(CUSTOMERS.replace('["Name"]', '["Name", "Segment", "Team"]'), ".toml")
    path.write_text("Name,Segment,Team\nann,a,x\n,,y\n")
    report = importer.run(engine, "customers", path, two, dry_run=True, report_dir=tmp_path)
    assert report.problems.select("row", "column", "reason").rows() == [
        (3, "customer_id", "cannot build the id: blank source column(s) 'Name', 'Segment'"),
        (3, "segment", "required but empty"),
    ]


def test_ids_in_scientific_notation_or_with_decimals_are_warned_about(engine, tmp_path):
    m = mapping.loads(MAPPING, ".toml")
    body = (
        "5.70306E+17,1,Billing,01/09/2026,9,10,web,survey,\n"
        "5.70306E+17,1,Billing,02/09/2026,9,10,web,survey,\n"  # collides with row 2
        "12.5,1,Billing,02/09/2026,9,10,web,survey,\n"
        "9000001,1,Billing,02/09/2026,9,10,web,survey,\n"
    )
    report = importer.run(engine, "responses", write(tmp_path, body), m, dry_run=True)
    assert len(report.warnings) == 2
    sci, dec = report.warnings
    assert sci.startswith(
        "column 'ID' (→ response_id) holds numbers in scientific notation as ids "
        "(2 rows, e.g. '5.70306E+17' in row 2)"
    )
    assert dec.startswith("column 'ID' (→ response_id) holds numbers with decimals as ids (1 row,")
    clean = importer.run(engine, "responses", write(tmp_path, GOOD), m, dry_run=True)
    assert clean.warnings == ()
    # an id hashed from such a column collides just the same
    hashed = mapping.loads(CUSTOMERS.replace('["Name"]', '["Handle"]'), ".toml")
    path = tmp_path / "people.csv"
    path.write_text("Handle,Segment\n1.2E+5,a\n7,b\n")
    report = importer.run(engine, "customers", path, hashed, dry_run=True)
    assert [w.split(" holds")[0] for w in report.warnings] == ["column 'Handle' (→ customer_id)"]


def test_a_yes_no_column_read_as_nps_is_warned_about(engine, tmp_path):
    """A 1/0 "would you recommend" column mapped straight onto NPS reads every answer as a
    detractor: imported as it is, with a warning naming the column and the way to map it.
    Answers spread over the scale, or a yes/no mapped with [values.nps], are not warned."""
    m = mapping.loads(MAPPING, ".toml")
    n = importer.LOWEST_TWO_FROM

    def rows(scores) -> str:
        return "".join(
            f"{9000001 + i},1,Billing,01/09/2026,{s},10,web,survey,\n" for i, s in enumerate(scores)
        )

    yes_no = [i % 2 for i in range(n)]
    report = importer.run(engine, "responses", write(tmp_path, rows(yes_no)), m, dry_run=True)
    assert report.problems.height == 0 and report.written == n
    [warning] = report.warnings
    assert warning.startswith(
        f"column 'Recommend' (→ nps) holds only 0 and 1 in its {n} answers, of the two "
        "lowest of nps's 0-10 scale"
    )
    assert "[values.nps]" in warning
    # one answer fewer than the rule's floor, one answer off the two lowest: no warning
    few = importer.run(engine, "responses", write(tmp_path, rows(yes_no[1:])), m, dry_run=True)
    spread = importer.run(
        engine, "responses", write(tmp_path, rows([*yes_no[1:], 2])), m, dry_run=True
    )
    assert few.warnings == () and spread.warnings == ()
    zeros = importer.run(engine, "responses", write(tmp_path, rows([0] * n)), m, dry_run=True)
    assert zeros.warnings[0].startswith(f"column 'Recommend' (→ nps) holds only 0 in its {n} ")
    mapped = mapping.loads(MAPPING + '[values.nps]\n"1" = "10"\n"0" = "0"\n', ".toml")
    report = importer.run(engine, "responses", write(tmp_path, rows(yes_no)), mapped, dry_run=True)
    assert report.problems.height == 0 and report.warnings == ()


def test_a_customer_date_that_stands_for_a_missing_one_is_warned_about(engine, tmp_path):
    """1970-01-01 (a 0 read as a date) and spreadsheets' day 0 are imported, as a customer
    may have joined long ago, but the report names the column and how many rows."""
    m = mapping.loads(
        CUSTOMERS.replace('joined_on = "2025-01-01"\n', "").replace(
            "[columns]\n", '[columns]\njoined_on = "Since"\n'
        ),
        ".toml",
    )
    path = tmp_path / "people.csv"
    path.write_text(
        "Name,Segment,Since\nann,a,1970-01-01\nbob,b,1970-01-01\ncid,a,1899-12-30\n"
        "dee,b,1985-03-04\n"
    )
    report = importer.run(engine, "customers", path, m, dry_run=True)
    assert report.problems.height == 0 and report.written == 4
    assert report.warnings == (
        "column 'Since' (→ joined_on) gives 1970-01-01 and 1899-12-30 in 3 rows: a date "
        "that usually stands for a missing one (1970-01-01 is a 0 read as a date). They are "
        "imported as they are; give those rows their real dates.",
    )
    path.write_text("Name,Segment,Since\nann,a,1985-03-04\nbob,b,1970-01-02\n")
    assert importer.run(engine, "customers", path, m, dry_run=True).warnings == ()
    # from the mapping's constant, said so
    constant = mapping.loads(CUSTOMERS.replace("2025-01-01", "1970-01-01"), ".toml")
    path.write_text("Name,Segment\nann,a\n")
    [warning] = importer.run(engine, "customers", path, constant, dry_run=True).warnings
    assert warning.startswith("joined_on (the mapping's constant) gives 1970-01-01 in 1 row:")


def test_a_date_two_formats_read_as_different_days_is_warned_about(engine, tmp_path):
    """With [dates] listing %d/%m/%Y then %m/%d/%Y, 03/04/2026 is read as 3 April. That is
    said, naming the column, a row (the file's line, header = 1) and both days, unless
    other rows prove the file writes %d/%m/%Y; rows only %m/%d/%Y reads are named as the
    reason to doubt it."""
    both = MAPPING.replace('responded_on = "%d/%m/%Y"', 'responded_on = ["%d/%m/%Y", "%m/%d/%Y"]')
    m = mapping.loads(both, ".toml")

    def run(dates, dry_run=True):
        body = "".join(
            f"{9000001 + i},{i + 1},Billing,{d},9,10,web,survey,\n" for i, d in enumerate(dates)
        )
        return importer.run(engine, "responses", write(tmp_path, body), m, dry_run=dry_run)

    head = (
        "column 'Date' (→ responded_on): 1 row read as %d/%m/%Y would be another day as "
        "%m/%d/%Y (e.g. '03/04/2026' in row 3, taken as 2026-04-03, not 2026-03-04)."
    )
    mixed = run(["13/04/2026", "03/04/2026", "04/13/2026"], dry_run=False)
    assert mixed.problems.height == 0 and mixed.written == 3
    assert mixed.warnings == (
        head + " 1 other row can only be %d/%m/%Y and 1 row only %m/%d/%Y: the file holds "
        "dates written both ways, so those read as %d/%m/%Y may be wrong.",
    )
    # imported as the first format reads it, the warning notwithstanding
    written = rows_by_id(engine, ["9000002", "9000003"])
    assert written["9000002"]["responded_on"] == D(2026, 4, 3)
    assert written["9000003"]["responded_on"] == D(2026, 4, 13)
    # the file writes %d/%m/%Y: 13/04 proves it, nothing to say
    assert run(["13/04/2026", "03/04/2026"]).warnings == ()
    # only %m/%d/%Y is proven, or nothing is
    [other] = run(["04/13/2026", "03/04/2026"]).warnings
    assert other == head + (
        " 1 other row can only be %m/%d/%Y and none only %d/%m/%Y: the file seems to write "
        "%m/%d/%Y; put it first in [dates]."
    )
    [neither] = run(["05/05/2026", "03/04/2026"]).warnings
    assert neither == head + (
        " No row tells which the file writes: check one against its source and put that "
        "format first in [dates]."
    )
    # formats that never read one cell two ways (another separator): nothing to say
    iso = mapping.loads(
        MAPPING.replace('responded_on = "%d/%m/%Y"', 'responded_on = ["%d/%m/%Y", "%Y.%m.%d"]'),
        ".toml",
    )
    body = (
        "9000001,1,Billing,03/04/2026,9,10,web,survey,\n"
        "9000002,2,Billing,2026.04.03,9,,web,survey,\n"
    )
    assert (
        importer.run(engine, "responses", write(tmp_path, body), iso, dry_run=True).warnings == ()
    )


def test_a_report_that_cannot_be_written_stops_the_import_before_it_writes(engine, tmp_path):
    """Rows left out need a report; a folder that cannot take it (read-only beside the
    input, a file in its place) is named, and nothing is imported."""
    m = mapping.loads(CUSTOMERS, ".toml")
    path = tmp_path / "people.csv"
    path.write_text("Name,Segment\nzed,a\nzed,b\nyan,a\n")  # the second zed is left out
    before = store.count_rows(engine, "customers")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(importer.ImportError_) as refused:
        importer.run(engine, "customers", path, m, report_dir=blocked / "reports")
    assert str(refused.value).startswith(
        f"the import's report cannot be written in {blocked / 'reports'} (Not a directory); "
        "nothing was imported."
    )
    assert store.count_rows(engine, "customers") == before
    report = importer.run(engine, "customers", path, m, report_dir=tmp_path / "reports")
    assert report.written == 2 and store.count_rows(engine, "customers") == before + 2


def test_a_sentiment_label_imports_and_reaches_the_comments(engine, tmp_path):
    m = mapping.loads(
        MAPPING.replace('comment = "Comment"', 'comment = "Comment"\nsentiment_label = "Tone"')
        + '[values.sentiment_label]\n"pos" = "positive"\n"neg" = "negative"\n',
        ".toml",
    )
    path = tmp_path / "toned.csv"
    path.write_text(
        HEADER.replace("Comment\n", "Comment,Tone\n")
        + "9000001,1,Billing,01/09/2026,9,10,web,survey,Lovely,pos\n"
        + "9000002,1,Billing,01/09/2026,9,10,web,survey,Awful,neg\n"
        + "9000003,1,Billing,01/09/2026,9,10,web,survey,Fine,neutral\n"
        + "9000004,1,Billing,01/09/2026,9,10,web,survey,Hm,\n"
        + "9000005,1,Billing,01/09/2026,9,10,web,survey,Hm,great\n"  # row 6: not a label
    )
    report = importer.run(engine, "responses", path, m, accept_valid=True, report_dir=tmp_path)
    assert report.problems.select("row", "column", "reason").rows() == [
        (6, "sentiment_label", "not one of positive, neutral, negative")
    ]
    comments = store.load_all_comments(engine).filter(
        pl.col("response_id").str.starts_with("90000")
    )
    assert sorted(comments.select("response_id", "sentiment_label").rows()) == [
        ("9000001", "positive"),
        ("9000002", "negative"),
        ("9000003", "neutral"),
        ("9000004", None),
    ]
    if engine.dialect.name == "sqlite":  # a database made before the column existed
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE responses DROP COLUMN sentiment_label")
        old = store.load_all_comments(engine)
        assert old["sentiment_label"].null_count() == old.height > 0


def test_yaml_and_toml_syntax_errors_name_line_and_column():
    with pytest.raises(
        mapping.MappingError,
        match=r"^the mapping is not valid YAML: line 3, column 6: expected ',' or '}', but got "
        r"':' \(while parsing a flow mapping from line 2, column 10\)$",
    ):
        mapping.loads("table: responses\ncolumns: {nps: N\ndates: x\n", ".yaml")
    with pytest.raises(
        mapping.MappingError,
        match=r"^m.yml is not valid YAML: line 4, column 8: mapping values are not allowed here$",
    ):
        mapping.loads("table: responses\ncolumns:\n  nps: N\n   csat: C\n", ".yml", where="m.yml")
    with pytest.raises(
        mapping.MappingError, match=r"^the mapping is not valid TOML: line 3, column 7: "
    ):
        mapping.loads('table = "responses"\n[columns]\nnps = N\n', ".toml")


def test_the_journey_imports_from_yaml_and_bad_journeys_are_refused(engine, tmp_path):
    skytrax = journey_import.read(SKYTRAX / "journey.yaml")
    with pytest.raises(JourneyError, match="position 1 of stage 'lounge' is taken by stage 'shop'"):
        journey_import.write(engine, skytrax)  # the insurer's first stage is there already
    skytrax = skytrax.__class__(
        **{**skytrax.__dict__, "stages": skytrax.stages.with_columns(pl.lit(7).alias("position"))}
    )
    counts = journey_import.write(engine, skytrax)
    assert counts == {
        "stages": 1,
        "touchpoints": 8,
        "departments": 3,
        "stage_owners": 3,
        "incentives": 0,  # not known for these reviews
        "targets": 2,  # NPS and CSAT: no CES, which these reviews do not ask
    }
    assert count(engine, "stages") == 7 and count(engine, "targets") == 2  # targets replaced
    again = journey_import.write(engine, skytrax)
    assert again == counts and count(engine, "stages") == 7  # upserted, not doubled
    # the Data page's "Last import" of each journey table is the journey's import, with the
    # rows of that table
    status = {r["table"]: r["last_import"] for r in importer.table_status(engine).to_dicts()}
    for table, written in counts.items():
        assert status[table].endswith(f" · journey definition · {written} written, 0 rejected")
    assert status["responses"] is None or "journey" not in status["responses"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "stages: [{stage_id: a, name: A, position: 1}]\n"
        "touchpoints: [{touchpoint_id: t, stage_id: nowhere, name: T, moment_of_truth: true}]\n"
        "departments: [{department_id: d, name: D}, {department_id: e, name: E}]\n"
        "stage_owners: [{stage_id: a, department_id: d, role: lead},"
        " {stage_id: a, department_id: e, role: lead}]\n"
    )
    bad.write_text(
        bad.read_text()
        + "targets: [{metric: nps, stage_id: a, target: 500}, {metric: csat, target: -1},"
        " {metric: ces, stage_id: a, target: 7}]\n"
    )
    with pytest.raises(JourneyError) as err:
        journey_import.write(engine, journey_import.read(bad))
    assert "touchpoints: unknown stage 'nowhere'" in str(err.value)
    assert "stage 'a' has 2 leads" in str(err.value)
    assert "targets: the nps target of stage 'a' is 500, outside -100 to 100" in str(err.value)
    assert "targets: the csat target of the company is -1, outside 0 to 100" in str(err.value)
    assert "ces target" not in str(err.value)  # 7 is the top of its scale
    assert count(engine, "stages") == 7
    same = tmp_path / "same.yaml"  # a stage and a department with one id: refused, named
    same.write_text(
        "stages: [{stage_id: pain, name: Pain, position: 9}]\n"
        "departments: [{department_id: pain, name: Pain franchise}]\n"
    )
    with pytest.raises(JourneyError, match="departments: 'pain' is also a stage id"):
        journey_import.write(engine, journey_import.read(same))
    assert count(engine, "stages") == 7


def test_the_journey_folder_format_reads_the_sample(tmp_path):
    j = journey_import.read(REPO / "sample_data")
    assert j.stages.height == 6 and journey_import.problems(j) == []


def test_a_journey_folder_saved_by_excel_reads_as_the_comma_one(tmp_path):
    """Excel writes ";" where the decimal mark is a comma, and "CSV UTF-8" with a
    byte-order mark: the same journey as the sample's comma files. A file in another
    encoding is refused naming its line."""
    sample = REPO / "sample_data"
    folder = tmp_path / "excel"
    folder.mkdir()
    for path in sample.glob("*.csv"):
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
        # and, where the decimal mark is a comma, a decimal with a comma ("0,05")
        comma = [
            [v.replace(".", ",") if re.fullmatch(r"-?\d+\.\d+", v) else v for v in r] for r in rows
        ]
        text = "\r\n".join(";".join(f'"{v}"' if ";" in v else v for v in r) for r in comma)
        (folder / path.name).write_bytes("\ufeff".encode() + text.encode("utf-8"))
    assert (folder / "stages.csv").read_bytes().count(b";") > 0
    assert re.search(rb";-?\d+,\d+", (folder / "incentives.csv").read_bytes())
    ours, theirs = journey_import.read(sample), journey_import.read(folder)
    for name in ("stages", "touchpoints", "departments", "stage_owners", "targets", "incentives"):
        assert getattr(theirs, name).equals(getattr(ours, name)), name
    latin = folder / "departments.csv"
    latin.write_bytes(b"department_id;name\nops;Op\xe9rations\n")  # \xe9: byte 26
    assert journey_refusal(folder) == (
        f"{latin}: line 2 is not UTF-8 text (byte 26); save the file as CSV UTF-8"
    )


def journey_refusal(path) -> str:
    """Why ``journey_import.read`` refuses ``path``."""
    with pytest.raises(JourneyError) as error:
        journey_import.read(path)
    return str(error.value)


def test_a_journey_value_of_the_wrong_kind_names_its_row_field_and_accepted_values(tmp_path):
    yaml_text = (SKYTRAX / "journey.yaml").read_text()
    catering = "name: Catering, moment_of_truth: false"
    assert yaml_text.count(catering) == 1  # the fifth touchpoint
    yaml_file = tmp_path / "journey.yaml"
    yaml_file.write_text(yaml_text.replace(catering, "name: Catering, moment_of_truth: maybe"))
    assert journey_refusal(yaml_file) == (
        f"{yaml_file}: touchpoints: row 5 (touchpoint_id 'lounge_catering'): "
        "moment_of_truth = 'maybe' is not true, false, 1 or 0"
    )
    folder = tmp_path / "journey"
    folder.mkdir()
    for name in ("stages", "departments", "stage_owners", "targets", "incentives"):
        (folder / f"{name}.csv").write_bytes((REPO / "sample_data" / f"{name}.csv").read_bytes())
    (folder / "touchpoints.csv").write_text(
        "touchpoint_id,stage_id,name,moment_of_truth,description\n"
        "shop_quote,shop,Quote,true,\n"
        "shop_compare,shop,Compare,maybe,\n"
    )
    (folder / "stages.csv").write_text("stage_id,name,position,description\nshop,Shop,first,\n")
    whole = "is not a whole number from -2,147,483,648 to 2,147,483,647"
    assert journey_refusal(folder) == (
        f"{folder / 'stages.csv'}: row 2 (stage_id 'shop'): position = 'first' {whole}"
    )
    (folder / "stages.csv").write_text("stage_id,name,position,description\nshop,Shop,1,\n")
    assert journey_refusal(folder) == (
        f"{folder / 'touchpoints.csv'}: row 3 (touchpoint_id 'shop_compare'): "
        "moment_of_truth = 'maybe' is not true, false, 1 or 0"
    )
    (folder / "touchpoints.csv").write_text(
        "touchpoint_id,stage_id,name,moment_of_truth,description\nshop_quote,shop,Quote,true,\n"
    )
    # beyond 32 bits, or not finite: named as any other wrong value, not left to Polars
    (folder / "stages.csv").write_text(
        "stage_id,name,position,description\nshop,Shop,2147483648,\n"
    )
    assert journey_refusal(folder) == (
        f"{folder / 'stages.csv'}: row 2 (stage_id 'shop'): position = '2147483648' {whole}"
    )
    (folder / "stages.csv").write_text(
        "stage_id,name,position,description\nshop,Shop,-2147483648,\n"
    )
    (folder / "targets.csv").write_text("metric,stage_id,target\nnps,shop,nan\n")
    assert journey_refusal(folder) == (
        f"{folder / 'targets.csv'}: row 2 (metric 'nps'): target = 'nan' is not a number"
    )


# --- the real Skytrax lounge reviews ---------------------------------------------------


def import_skytrax(engine, tmp_path) -> dict[str, importer.Report]:
    journey_import.write(engine, journey_import.read(SKYTRAX / "journey.yaml"))
    out = {}
    for table, name in (
        ("customers", "customers"),
        ("responses", "ratings"),
        *[("responses", name) for name in OVERALL],
    ):
        out[name] = importer.run(
            engine,
            table,
            REALDATA,
            mapping.load(SKYTRAX / f"{name}.toml"),
            accept_valid=True,
            report_dir=tmp_path / name,
        )
    return out


#: The mappings of the overall rating, one per range of dates (sample_data/skytrax)
OVERALL = ("overall_early", "overall", "overall_10")
#: Skytrax asked "would you recommend?" from then on; the overall rating is out of 10 from
TEN_POINT = dt.date(2015, 6, 9)
RECOMMEND_ASKED = dt.date(2011, 11, 1)


def expected_skytrax() -> dict:
    """The overall rows a careful reader of the CSV would keep, computed with plain Polars."""
    raw = pl.read_csv(REALDATA, infer_schema_length=0)
    first = raw.unique(keep="first", maintain_order=True)  # only a review repeated whole
    day = first["date"].str.to_date("%Y-%m-%d")
    rating = first["overall_rating"].str.strip_chars().replace("", None).cast(pl.Float64)
    top = pl.Series([10.0 if d >= TEN_POINT else 5.0 for d in day])
    on_scale = (rating >= 1) & (rating <= top) & (rating == rating.round(0))
    # 4 or 5 of 5; of 10, 7 and above: rounded to 4 or 5 on the 1-5 scale
    satisfied = on_scale & (rating >= pl.Series([7.0 if t == 10 else 4.0 for t in top]))
    asked = day >= RECOMMEND_ASKED
    ratings = first.select(RATING_COLUMNS).unpivot()["value"].str.strip_chars()
    return {
        "reviewers": raw["author"].n_unique(),
        # every review, its rating left empty where it is not on its date's scale
        "overall": first.height,
        "off_scale": int((rating.is_not_null() & ~on_scale).sum()),
        "csat": int(on_scale.sum()),
        "satisfied": int(satisfied.sum()),
        "nps_answers": int(asked.sum()),
        "recommend": int((asked & (first["recommended"] == "1")).sum()),
        "ratings": int((ratings.is_not_null() & ~ratings.is_in(["", "0", "0.0"])).sum()),
    }


RATING_COLUMNS = [
    "comfort_rating",
    "cleanliness_rating",
    "bar_beverages_rating",
    "catering_rating",
    "washrooms_rating",
    "wifi_connectivity_rating",
    "staff_service_rating",
]


def test_the_real_skytrax_reviews_import(empty_engine, tmp_path):
    if not REALDATA.exists():
        pytest.fail(f"{REALDATA} is missing: set CX_REALDATA to the realdata folder")
    engine = empty_engine
    reports = import_skytrax(engine, tmp_path)
    want = expected_skytrax()
    assert reports["customers"].written == want["reviewers"]
    # the three mappings of the overall rating share the reviews out by date: each review once
    overall = [reports[name] for name in OVERALL]
    assert sum(o.written for o in overall) == want["overall"]
    for o in overall:
        assert o.written + o.filtered_rows == want["overall"]
        assert o.problems.height == 0  # nothing rejected, no duplicates
    r = schema.responses
    at = r.c.touchpoint_id == "lounge_overall"
    with engine.connect() as conn:
        recommend, nps_answers, rated, satisfied = conn.execute(
            sa.select(
                sa.func.count(sa.case((r.c.nps == 10, 1))),
                sa.func.count(r.c.nps),
                sa.func.count(r.c.csat),
                sa.func.count(sa.case((r.c.csat >= 4, 1))),
            ).where(at)
        ).one()
    # no NPS before Skytrax asked (its 0s were not answers), CSAT on each date's scale
    assert (recommend, nps_answers) == (want["recommend"], want["nps_answers"])
    assert want["nps_answers"] < want["overall"]
    assert (rated, satisfied) == (want["csat"], want["satisfied"])
    assert sum(o.blanked.height for o in overall) == want["off_scale"]
    assert reports["ratings"].written == want["ratings"]
    assert reports["ratings"].problems.height == 0


def test_two_skytrax_reviews_by_one_author_on_one_day_are_two_responses(empty_engine, tmp_path):
    """Rows 17 and 18 of the real file: Alan Wan reviewed Aer Lingus's lounges in Dublin and
    at Heathrow on 2012-09-10, under the same generic lounge_name."""
    if not REALDATA.exists():
        pytest.fail(f"{REALDATA} is missing: set CX_REALDATA to the realdata folder")
    records = pl.read_csv(REALDATA, infer_schema_length=0, n_rows=17).tail(2)
    assert records["author"].to_list() == ["Alan Wan", "Alan Wan"]
    assert records["date"].n_unique() == 1 and records["lounge_name"].n_unique() == 1
    assert records["airport"].to_list() == ["Dublin Airport", "London Heathrow Airport"]
    path = tmp_path / "two.csv"  # rows 17 and 18, then row 17 again: a review repeated whole
    pl.concat([records, records.head(1)]).write_csv(path)
    engine = empty_engine
    journey_import.write(engine, journey_import.read(SKYTRAX / "journey.yaml"))
    importer.run(engine, "customers", path, mapping.load(SKYTRAX / "customers.toml"))
    report = importer.run(
        engine, "responses", path, mapping.load(SKYTRAX / "overall.toml"), accept_valid=True
    )
    assert report.written == 2
    assert report.problems.select("row", "reason").rows() == [
        (4, "duplicate id in the file (first at row 2)")
    ]
    ratings = importer.run(
        engine, "responses", path, mapping.load(SKYTRAX / "ratings.toml"), accept_valid=True
    )
    rated = records.select(RATING_COLUMNS).unpivot()["value"]
    assert ratings.written == int((~rated.is_in(["0", "0.0"]) & rated.is_not_null()).sum())
    assert set(ratings.problems["row"]) == {4}


def skytrax_url(tmp_path: Path) -> str:
    """A new SQLite file in ``tmp_path`` holding the lounge reviews as the README imports them."""
    if not REALDATA.exists():
        pytest.fail(f"{REALDATA} is missing: set CX_REALDATA to the realdata folder")
    url = f"sqlite:///{tmp_path / 'sky.db'}"
    engine = store.make_engine(url)
    schema.create_all(engine)
    import_skytrax(engine, tmp_path)
    engine.dispose()
    return url


def test_the_dashboard_renders_the_skytrax_data(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    url = skytrax_url(tmp_path)
    want = expected_skytrax()
    monkeypatch.setenv(store.URL_ENV, url)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="period").set_value("all").run()
    assert not at.exception, at.exception
    nps = 100 * (2 * want["recommend"] - want["nps_answers"]) / want["nps_answers"]
    assert at.metric[0].value == METRICS["nps"].format(nps)
    assert any(f"n = {want['nps_answers']:,} answers" in c.value for c in at.caption)
    strip = [md.value for md in at.markdown if md.value.startswith("[**1.")]  # linked titles
    assert [title.split("](")[0] for title in strip] == ["[**1. Airport lounge**"]
    for page in (
        "pages/journey.py",
        "pages/voice.py",
        "pages/accountability.py",
        "pages/loyalty.py",
    ):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        if page == "pages/journey.py":  # no column of CES, which no review holds: not 0s
            tables = [  # the touchpoints and the channels (the ranking shows NPS alone)
                d.value
                for d in at.dataframe
                if "n_nps" in d.value.columns and "verdict" not in d.value.columns
            ]
            assert len(tables) == 2
            assert not [t.columns for t in tables if {"ces", "n_ces"} & set(t.columns)]


_AT_RISK = re.compile(
    r"Concentrated in .+: (\d+)% of its [\d,]+ satisfied customers are at risk.* against "
    r"(\d+)% of the other segments'"
)


@pytest.mark.parametrize("company", ["sample", "skytrax"])
def test_the_findings_say_only_what_the_data_show(company, tmp_path, capsys, sample_url):
    """``findings`` said "Concentrated in Personal" of the sample's segment *least* at risk
    (12 points under the others), and of the lounge reviews, where no churn is recorded,
    "… and 0.0% left in the period". Both companies hold segments clearly more and clearly
    less at risk than the others; only the first are said to concentrate it."""
    from cxmetrics.findings import findings as fx
    from cxmetrics.stats import dataset
    from cxmetrics.stats.filters import Filters
    from cxmetrics.views import loyalty

    url = skytrax_url(tmp_path) if company == "skytrax" else sample_url
    engine = store.make_engine(url)
    ds = dataset.load(engine)
    engine.dispose()
    assert ds.facts.churn == (company == "sample")
    tested = loyalty.candidates(ds, Filters())
    decided = {c.family: c.effect > 0 for c in fx.decide(tested)}
    assert True in decided.values()
    assert cli.main(["findings", "--url", url, "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["findings"]
    at_risk = {f["family"]: f for f in said if f["kind"] == "at_risk"}
    assert set(at_risk) == {family for family, more in decided.items() if more}, at_risk
    for f in at_risk.values():
        mine, others = map(int, _AT_RISK.match(f["sentence"]).groups())
        assert mine > others and f["effect"] > 0, f["sentence"]
    if company == "sample":  # segments less at risk, clear enough to be kept, not stated
        assert False in decided.values()
    else:
        assert not [f for f in said if "left in the period" in f["sentence"]], said
        assert all("who left is not recorded" in f["sentence"] for f in at_risk.values())


def test_a_bulk_postgres_import_keeps_its_foreign_keys(
    pg_server, sample_data, tmp_path, monkeypatch
):
    """Large imports drop and re-add the foreign keys inside the transaction; they must be
    back afterwards, and a row the keys refuse must undo the whole import."""
    url = pg_server.create_database(next(_names))
    store.write_tables(url, {k: v for k, v in sample_data.tables().items() if k != "kpis"})
    engine = store.make_engine(url)
    monkeypatch.setattr(importer, "BULK_ROWS", 1)

    def foreign_keys() -> set[str]:
        with engine.connect() as conn:
            return set(
                conn.exec_driver_sql(
                    "SELECT conname FROM pg_constraint "
                    "WHERE conrelid = 'responses'::regclass AND contype = 'f'"
                ).scalars()
            )

    keys = foreign_keys()
    assert len(keys) == 2
    importer.upsert(
        engine,
        "responses",
        pl.DataFrame(
            {
                "response_id": ["9000001"],
                "customer_id": ["1"],
                "touchpoint_id": ["pay_first_bill"],
                "channel": ["web"],
                "responded_on": [D(2026, 9, 1)],
                "source": ["survey"],
            }
        ),
    )
    assert foreign_keys() == keys
    before = count(engine)
    with pytest.raises(sa.exc.IntegrityError):  # validation bypassed: the keys still hold
        importer.upsert(
            engine,
            "responses",
            pl.DataFrame(
                {
                    "response_id": ["9000002", "9000003"],
                    "customer_id": ["1", "99999999"],
                    "touchpoint_id": ["pay_first_bill", "pay_first_bill"],
                    "channel": ["web", "web"],
                    "responded_on": [D(2026, 9, 1), D(2026, 9, 1)],
                    "source": ["survey", "survey"],
                }
            ),
        )
    assert count(engine) == before and foreign_keys() == keys
    engine.dispose()


def command_setup(tmp_path: Path, sample_db: Path) -> tuple[str, Path]:
    """A copy of the sample database to import into, and the test mapping as a file."""
    db = tmp_path / "cx.db"
    db.write_bytes(sample_db.read_bytes())
    rules = tmp_path / "rules.toml"
    rules.write_text(MAPPING)
    return f"sqlite:///{db}", rules


@pytest.mark.parametrize(
    "header, read, unread",
    [
        # the contract's names but for case: read, as the Data page reads them
        ("response_id,customer_id,touchpoint_id,channel,responded_on,NPS,CSAT,Comment,source",
         {"nps": 9, "csat": 4, "comment": "Quick"}, []),
        ("Response ID,Customer-ID,touchpoint_id,Channel,Responded On,nps,csat,comment,source",
         {"nps": 9, "csat": 4, "comment": "Quick"}, []),
        # a misspelt score and a column of no table: not read, and said
        ("response_id,customer_id,touchpoint_id,channel,responded_on,nps_score,CSAT,Comment,source",
         {"nps": None, "csat": 4, "comment": "Quick"}, ["nps_score"]),
        ("response_id,customer_id,touchpoint_id,channel,responded_on,NPS,CSAT,Comment,source,agent",
         {"nps": 9, "csat": 4, "comment": "Quick"}, ["agent"]),
    ],
)  # fmt: skip
def test_a_file_imported_by_its_column_names_reads_them_as_the_data_page_does(
    tmp_path, sample_db, header, read, unread
):
    """Without a mapping, a header's "NPS", "CSAT" and "Comment" were not read, without a
    word: 2 responses written with no score nor comment. Names are now matched but for case,
    spaces and punctuation, and a column left unread is named."""
    from test_cli import run

    url, _rules = command_setup(tmp_path, sample_db)
    path = tmp_path / "mine.csv"
    last = "survey,Ann" if header.endswith("agent") else "survey"
    path.write_text(
        f"{header}\n9100001,1,pay_first_bill,web,2026-09-01,9,4,Quick,{last}\n"
        f"9100002,2,pay_first_bill,web,2026-09-02,9,4,Quick,{last}\n"
    )
    done = run("import", "responses", str(path), "--url", url)
    assert done.returncode == 0 and "wrote 2 rows (2 new)" in done.stdout, done.stdout
    engine = store.make_engine(url)
    got = rows_by_id(engine, ["9100001", "9100002"])
    engine.dispose()
    for row in got.values():
        assert {k: row[k] for k in read} == read
    said = [line for line in done.stdout.splitlines() if line.startswith("warning: not read")]
    if unread:
        assert len(said) == 1 and all(f"'{c}'" in said[0] for c in unread), done.stdout
    else:
        assert not said, done.stdout
    assert "hold no score" not in done.stdout


@pytest.mark.parametrize(
    "columns, read, said",
    [
        # the column of the very name, as the Data page guesses it
        (["nps", "NPS"], "nps", "'NPS': responses' nps is read from 'nps'"),
        # two alike: neither, on the Data page as in the import, and said
        (["NPS", "N P S"], None, "'NPS', 'N P S', each named like nps: which of them holds"),
    ],
)
def test_columns_named_alike_are_read_as_the_data_page_guesses(
    engine, tmp_path, columns, read, said
):
    header = "response_id,customer_id,touchpoint_id,channel,responded_on,source," + ",".join(
        columns
    )
    path = tmp_path / "alike.csv"
    path.write_text(f"{header}\n9100001,1,pay_first_bill,web,2026-09-01,survey,9,8\n")
    guessed = mapping.guess("responses", header.split(","))
    assert guessed.columns.get("nps") == read
    report = importer.run(engine, "responses", path, None)
    assert report.written == 1
    got = rows_by_id(engine, ["9100001"])["9100001"]["nps"]
    assert got == (None if read is None else 9)
    assert [w for w in report.warnings if w.startswith(f"not read: {said}")], report.warnings


def test_a_constant_s_column_in_the_file_is_said_to_be_given_by_the_mapping(engine, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,nps,source,agent\n"
        "9100001,1,pay_first_bill,web,2026-09-01,9,survey,Ann\n"
    )
    m = mapping.loads('[constants]\nsource = "social"\n', ".toml", "responses")
    report = importer.run(engine, "responses", path, m)
    assert report.written == 1 and rows_by_id(engine, ["9100001"])["9100001"]["source"] == (
        "social"
    )
    said = [w for w in report.warnings if w.startswith("not read")]
    assert len(said) == 2, said
    assert said[0].startswith("not read: the file's column 'agent', named like no column")
    assert "rename a column in the file to read it, or name every column to read" in said[0]
    assert said[1] == "not read: 'source': responses' source is read as the mapping gives it"


def test_responses_imported_with_no_score_are_said_to_hold_none(tmp_path, sample_db):
    from test_cli import run

    url, _rules = command_setup(tmp_path, sample_db)
    path = tmp_path / "mine.csv"
    path.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,source,score,comment\n"
        "9100001,1,pay_first_bill,web,2026-09-01,survey,9,Quick\n"
    )
    done = run("import", "responses", str(path), "--url", url, "--dry-run")
    assert done.returncode == 0 and "would write 1 row" in done.stdout, done.stdout
    assert "warning: not read: the file's column 'score'" in done.stdout
    assert (
        "warning: these responses hold no score: no column is read as nps 0-10, csat 1-5, ces 1-7"
        in done.stdout
    )


def test_the_import_command(tmp_path, sample_db):
    from test_cli import run

    url, rules = command_setup(tmp_path, sample_db)
    long_channel = "w" * 6_000  # printed cut, whole in the report
    path = write(
        tmp_path,
        GOOD
        + "9000010,1,Billing,01/09/2026,x,5,web,survey,\n"
        + f"9000011,1,Billing,01/09/2026,7,5,{long_channel},survey,\n",
    )
    args = ["import", "responses", str(path), "--mapping", str(rules), "--url", url]
    refused = run(*args)
    assert refused.returncode == 1
    assert "5 rows read, 5 checked, 2 problems in 2 rows; wrote 0 rows" in refused.stdout
    assert (
        "problems, by the file's line (row 1 is the header):\n  row 5, nps = 'x': not a whole"
        in (refused.stdout)
    )
    assert f"row 6, channel = '{'w' * 79}… (6,000 characters)': longer than" in refused.stdout
    assert max(len(line) for line in refused.stdout.splitlines()) < 200
    report, rejected = tmp_path / "file.rules.report.csv", tmp_path / "file.rules.rejected.csv"
    assert f"report written to {report}\n" in refused.stdout
    assert f"rejected rows written to {rejected}\n" in refused.stdout
    written = pl.read_csv(report)
    assert written["row"].to_list() == [5, 6] and rejected.exists()
    assert written.filter(pl.col("row") == 6)["value"].item() == long_channel
    assert report.read_bytes().endswith(b"\n") and rejected.read_bytes().endswith(b"\n")
    dry = run(*args, "--accept-valid", "--dry-run")
    assert dry.returncode == 0 and "would write 3 rows" in dry.stdout
    done = run(*args, "--accept-valid")
    assert done.returncode == 0 and "wrote 3 rows" in done.stdout
    engine = store.make_engine(url)
    assert set(rows_by_id(engine, ["9000001", "9000002", "9000003", "9000010"])) == {
        "9000001",
        "9000002",
        "9000003",
    }
    engine.dispose()
    missing = run(
        "import", "responses", str(tmp_path / "nope.csv"), "--mapping", str(rules), "--url", url
    )
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1].startswith("error: cannot read")
    assert "No such file" in missing.stderr and "Traceback" not in missing.stderr
    bad_rules = tmp_path / "bad.toml"
    bad_rules.write_text('table = "responses"\n[columns]\ncolour = "C"\n')
    wrong = run("import", "responses", str(path), "--mapping", str(bad_rules), "--url", url)
    assert wrong.returncode == 1 and "colour, not column(s) of responses" in wrong.stderr
    journey = run("import-journey", str(REPO / "sample_data"), "--url", url)
    assert journey.returncode == 0 and "6 stages, 25 touchpoints" in journey.stdout


def test_imports_of_one_file_through_several_mappings_keep_their_own_reports(tmp_path, sample_db):
    from test_cli import run

    db = tmp_path / "cx.db"
    db.write_bytes(sample_db.read_bytes())
    url = f"sqlite:///{db}"
    path = write(tmp_path, GOOD + "9000010,1,Billing,01/09/2026,x,5,web,survey,\n")
    (tmp_path / "overall.toml").write_text(MAPPING)
    (tmp_path / "stars.toml").write_text(MAPPING.replace('csat = "Stars"\n', 'csat = "Date"\n'))
    for name in ("overall", "stars"):
        args = ["import", "responses", str(path), "--mapping", str(tmp_path / f"{name}.toml")]
        done = run(*args, "--dry-run", "--url", url)
        assert f"report written to {tmp_path / f'file.{name}.report.csv'}" in done.stdout
    overall = pl.read_csv(tmp_path / "file.overall.report.csv")  # still there
    assert overall.select("row", "column").rows() == [(5, "nps")]
    stars = pl.read_csv(tmp_path / "file.stars.report.csv")
    assert stars.select("row", "column").rows() == [
        (2, "csat"),
        (3, "csat"),
        (4, "csat"),
        (5, "csat"),
        (5, "nps"),
    ]
    plain = tmp_path / "plain.csv"  # no mapping: the table names the report
    plain.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,source\n"
        "9000020,1,pay_first_bill,web,yesterday,survey\n"
    )
    bare = run("import", "responses", str(plain), "--dry-run", "--url", url)
    assert f"report written to {tmp_path / 'plain.responses.report.csv'}" in bare.stdout


def test_counts_of_one_are_singular(tmp_path, sample_db):
    from test_cli import run

    url, rules = command_setup(tmp_path, sample_db)
    path = write(tmp_path, "9000010,1,Billing,01/09/2026,x,5,web,survey,\n")
    one = run("import", "responses", str(path), "--mapping", str(rules), "--url", url)
    assert "file.csv → responses: 1 row read, 1 checked, 1 problem in 1 row; wrote 0 rows (" in (
        one.stdout
    )
    sky = f"sqlite:///{tmp_path / 'sky.db'}"
    assert run("init-db", "--url", sky).returncode == 0
    journey = run("import-journey", str(SKYTRAX / "journey.yaml"), "--url", sky)
    assert journey.stdout.strip().endswith(
        ": 1 stage, 8 touchpoints, 3 departments, 3 stage owners, 0 incentives, 2 targets"
    )
    # the Data page names the file, as it does a data import's (its whole path, beside the
    # counts, was cut at "0 rejecte" at 1,400 px)
    engine = store.make_engine(sky)
    status = {r["table"]: r["last_import"] for r in importer.table_status(engine).to_dicts()}
    engine.dispose()
    assert status["stages"].split(" · ")[1:] == ["journey.yaml", "1 written, 0 rejected"]
    # a folder of CSV files by its name, "." too
    folder = tmp_path / "company"
    folder.mkdir()
    for name in JOURNEY_TABLES:
        (folder / f"{name}.csv").write_bytes((REPO / "sample_data" / f"{name}.csv").read_bytes())
    here = tmp_path / "here.db"
    assert run("init-db", "--url", f"sqlite:///{here}").returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "cxmetrics", "import-journey", ".", "--url", f"sqlite:///{here}"],
        cwd=folder, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engine = store.make_engine(f"sqlite:///{here}")
    status = {r["table"]: r["last_import"] for r in importer.table_status(engine).to_dicts()}
    engine.dispose()
    assert status["stages"].split(" · ")[1] == "company"


SQL_ATTEMPTS = (
    "x'); DROP TABLE responses; --",
    "1 OR 1=1",
    '"; DELETE FROM customers; --',
    "'||(SELECT current_user)||'",
)


def test_sql_in_any_import_field_is_text_stored_as_written_or_refused(engine, tmp_path):
    import csv
    import io

    drop, always, delete, concat = SQL_ATTEMPTS
    out = io.StringIO()
    rows = [  # rows 2-6 of the file
        ["9000021", "1", "Billing", "01/09/2026", "9", "10", drop, "survey", delete],
        ["9000022", "2", "Billing", "02/09/2026", "7", "8", concat, "survey", always],
        ["9000023", always, "Billing", "01/09/2026", "9", "10", "web", "survey", ""],
        ["9000024", "1", drop, "01/09/2026", "9", "10", "web", "survey", ""],
        [concat, "1", "Billing", "01/09/2026", "9", "10", "web", delete, ""],
    ]
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = write(tmp_path, out.getvalue())
    before = {t: count(engine, t) for t in ("responses", "customers", "touchpoints")}
    report = importer.run(
        engine, "responses", path, mapping.loads(MAPPING, ".toml"), accept_valid=True
    )
    refused = {(r["row"], r["column"], r["value"]) for r in report.problems.iter_rows(named=True)}
    assert (4, "customer_id", always) in refused
    assert (5, "touchpoint_id", drop) in refused
    # ids are text: SQL in an id is an odd id, refused here only for its source
    assert (6, "source", delete) in refused and (6, "response_id", concat) not in refused
    assert report.written == 2
    got = rows_by_id(engine, ["9000021", "9000022"])
    assert (got["9000021"]["channel"], got["9000021"]["comment"]) == (drop, delete)
    assert (got["9000022"]["channel"], got["9000022"]["comment"]) == (concat, always)
    after = {t: count(engine, t) for t in before}
    assert after == {**before, "responses": before["responses"] + 2}


def test_an_import_cannot_name_a_table_outside_the_contract(engine, tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(importer.ImportError_, match="responses; DROP TABLE customers"):
        importer.run(engine, "responses; DROP TABLE customers", path, None)
    assert count(engine, "customers") > 0


def test_a_comment_beyond_the_limit_is_reported_not_cut(engine, tmp_path):
    limit = limits.TEXT[("responses", "comment")]
    body = (
        f"9000001,1,Billing,01/09/2026,9,10,web,survey,{'x' * limit}\n"
        f"9000002,1,Billing,01/09/2026,9,10,web,survey,{'y' * (limit + 1)}\n"
    )
    path = write(tmp_path, body)
    before = count(engine)
    report = importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    got = [(r["row"], r["column"], r["reason"]) for r in report.problems.iter_rows(named=True)]
    assert got == [(3, "comment", f"longer than {limit} characters")]
    assert count(engine) == before and report.written == 0
    report = importer.run(
        engine, "responses", path, mapping.loads(MAPPING, ".toml"), accept_valid=True
    )
    assert report.written == 1
    assert rows_by_id(engine, ["9000001"])["9000001"]["comment"] == "x" * limit  # whole, not cut
    assert rows_by_id(engine, ["9000002"]) == {}


def test_tsv_files_catch_all_values_and_scraped_text(tmp_path):
    """A TSV file; "*" in a value map takes every value not listed (and blanks, unless "" is
    listed); html and unquote make scraped text plain."""
    m = mapping.loads(
        'table = "responses"\nhtml = ["comment"]\nunquote = ["comment"]\n'
        '[columns]\ntouchpoint_id = "Topic"\ncomment = "Text"\n'
        '[values.touchpoint_id]\n"Billing" = "pay_first_bill"\n"" = "blank"\n"*" = "other"\n',
        ".toml",
    )
    assert mapping.loads(m.to_toml(), ".toml") == m
    path = tmp_path / "file.tsv"
    path.write_text(
        "Topic\tText\n"
        'Billing\t"""I didn&#039;t pay &amp; <b>won&rsquo;t</b>"""\n'
        "Claims\tplain, with a comma\n"
        '\t"""She said ""no"" twice"""\n'
        'Other words\t"""""Quoted"" start"""\n',
        encoding="utf-8",
    )
    out = importer.apply_mapping(importer.read_source(path), m)
    assert out["touchpoint_id"].to_list() == ["pay_first_bill", "other", "blank", "other"]
    assert out["comment"].to_list() == [
        "I didn't pay &  won\u2019t",
        "plain, with a comma",
        'She said "no" twice',
        '"Quoted" start',
    ]
    without = mapping.loads(
        'table = "responses"\n[columns]\ntouchpoint_id = "Topic"\n'
        '[values.touchpoint_id]\n"Billing" = "pay_first_bill"\n',
        ".toml",
    )  # no "*": other values pass unchanged
    assert importer.apply_mapping(importer.read_source(path), without)[
        "touchpoint_id"
    ].to_list() == ["pay_first_bill", "Claims", None, "Other words"]
    with pytest.raises(mapping.MappingError, match="html must be a list of columns"):
        mapping.loads('table = "responses"\nhtml = 3\n', ".toml")
    with pytest.raises(mapping.MappingError, match=r"\[html\] names colour"):
        mapping.loads('table = "responses"\nhtml = ["colour"]\n', ".toml")


def test_a_mapping_names_the_columns_a_file_lacks():
    m = mapping.Mapping(
        "responses",
        columns={"response_id": "ID", "nps": "would_recommend", "csat": "Stars"},
    )
    assert m.absent_from(["ID", "Stars", "Other"]) == [("nps", "would_recommend")]
    assert m.absent_from(["ID", "would_recommend", "Stars"]) == []
    built = mapping.Mapping(
        "responses",
        columns={"nps": "Recommend"},
        ids={"response_id": ("Author", "Date", "touchpoint_id")},
        where=(mapping.Condition("Type", ("survey",)),),
        unpivot=mapping.Unpivot("touchpoint_id", "csat", {"Seat": "seat", "Food": "food"}),
    )
    # the unpivot's key is made by the mapping, not read from the file
    assert built.absent_from(["Recommend", "Author", "Seat"]) == [
        ("response_id (id)", "Date"),
        ("where", "Type"),
        ("unpivot", "Food"),
    ]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b" \n \n", b"\t\n"])
def test_an_empty_file_is_called_empty(engine, tmp_path, content):
    """An empty file was refused as having "no column 'author', 'content' … (its columns: )"."""
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    before = count(engine)
    with pytest.raises(importer.ImportError_, match=r"^empty\.csv is empty: it has no header row"):
        importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert count(engine) == before


def test_a_column_named_twice_is_refused_where_it_is_read(engine, tmp_path):
    """Two "Recommend" columns: the first was read without a word."""
    header = HEADER.replace("Comment\n", "Comment,Recommend\n")
    path = tmp_path / "twice.csv"
    path.write_text(header + "9000040,1,Billing,01/09/2026,9,5,web,survey,Good,0\n")
    before = count(engine)
    with pytest.raises(importer.ImportError_, match=r"more than one column named 'Recommend'"):
        importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert count(engine) == before
    # a column named twice that the import does not read is no matter
    unread = MAPPING.replace('nps = "Recommend"\n', "")
    assert importer.run(engine, "responses", path, mapping.loads(unread, ".toml")).written == 1


def test_a_scale_whose_one_is_best_is_turned_round(engine, tmp_path):
    """from = [5, 1] was accepted, then refused every row: "5: not a number on the file's
    scale, 5 to 1"."""
    reverse = MAPPING.replace("from = [1, 10]\nto = [1, 5]", "from = [5, 1]\nto = [1, 5]")
    body = "".join(
        f"90000{30 + i},1,Billing,01/09/2026,9,{stars},web,survey,\n"
        for i, stars in enumerate(["1", "2", "5", "6"])
    )
    report = importer.run(
        engine,
        "responses",
        write(tmp_path, body),
        mapping.loads(reverse, ".toml"),
        accept_valid=True,
    )
    got = rows_by_id(engine, [f"90000{30 + i}" for i in range(4)])
    assert {k: v["csat"] for k, v in got.items()} == {"9000030": 5, "9000031": 4, "9000032": 1}
    assert report.problems.select("row", "reason").rows() == [
        (5, "not a number on the file's scale, 5 to 1")
    ]


@pytest.mark.parametrize("body", ["", "\n\n", ",,,,,,,,\n"])
def test_a_file_with_a_header_and_no_rows_is_refused_and_not_recorded(engine, tmp_path, body):
    path = write(tmp_path, body, name="nightly.csv")
    with engine.connect() as conn:
        imports = conn.execute(sa.select(sa.func.count()).select_from(schema.imports)).scalar()
    before = count(engine)
    with pytest.raises(importer.ImportError_, match=r"^nightly\.csv has a header but no rows"):
        importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert count(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.imports)).scalar() == (
            imports
        )


@pytest.mark.parametrize("bom", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_its_byte_order_mark_imports_as_it_is(engine, tmp_path, bom):
    """Excel's "Unicode Text": UTF-16 with a byte-order mark and Windows line ends. It
    ended in "unexpected Error … please report it", a mapping naming utf-16 or not."""
    text = (HEADER + "9000021,1,Billing,01/09/2026,7,5,web,survey,café\n").replace("\n", "\r\n")
    path = tmp_path / "unicode.csv"
    path.write_bytes(
        (codecs.BOM_UTF16_LE if bom.endswith("le") else codecs.BOM_UTF16_BE) + text.encode(bom)
    )
    for m in (MAPPING, 'encoding = "utf-16"\n' + MAPPING):
        report = importer.run(engine, "responses", path, mapping.loads(m, ".toml"))
        assert report.written == 1
        assert rows_by_id(engine, ["9000021"])["9000021"]["comment"] == "café"


@pytest.mark.parametrize(
    "content, said",
    [
        (b"PK\x03\x04" + b"\x00" * 40, "is an Excel workbook (XLSX) or another zip file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "is an Excel 97-2003 workbook"),
        (b"PAR1" + b"\x00" * 40, "is a Parquet file"),
        (HEADER.encode("utf-16-le"), "holds NUL bytes, so it is not utf-8 text: UTF-16"),
    ],
    ids=["xlsx", "xls", "parquet", "utf16-without-bom"],
)
def test_a_file_that_is_not_the_text_its_name_says_is_refused_naming_what_it_is(
    engine, tmp_path, content, said
):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    before = count(engine)
    with pytest.raises(importer.ImportError_, match=rf"^export\.csv {re.escape(said)}"):
        importer.run(engine, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert count(engine) == before
    url = engine.url.render_as_string(hide_password=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["import", "responses", str(path), "--url", url])
    assert code == 1 and said in err.getvalue() and "please report it" not in err.getvalue()
    assert count(engine) == before


def test_the_readme_s_journey_example_imports_as_written(empty_engine, tmp_path):
    """The README's journey file, copied as it is, imports (a bare `incentives:` did not)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(stages:.*?)```", readme, re.S)
    path = tmp_path / "journey.yaml"
    path.write_text(block, encoding="utf-8")
    journey_import.write(empty_engine, journey_import.read(path))
    with empty_engine.connect() as conn:
        got = {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
            for t in ("stages", "touchpoints", "departments", "stage_owners", "targets")
        }
    assert got == {
        "stages": 1,
        "touchpoints": 1,
        "departments": 1,
        "stage_owners": 1,
        "targets": 1,
    }
