"""``python -m cxmetrics`` as a user runs it, checked against plain SQL on the same file."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO


def run(*args, url=None, env=None):
    environ = {**os.environ, **(env or {})}
    if url:
        environ["CX_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "cxmetrics", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def by_hand(raw_sql, where: str = "1=1", params=()):
    """NPS, margin, CSAT and CES with sqlite3, written independently of cxmetrics."""
    sql = f"""
        SELECT SUM(r.nps >= 9), SUM(r.nps <= 6), COUNT(r.nps),
               SUM(r.csat >= 4), COUNT(r.csat), SUM(r.ces), COUNT(r.ces), COUNT(*)
        FROM responses r JOIN touchpoints t USING (touchpoint_id)
        JOIN customers c USING (customer_id) WHERE {where}"""
    pro, det, n, top2, n_csat, ces_sum, n_ces, count = raw_sql.execute(sql, params).fetchone()
    p, d = pro / n, det / n
    return {
        "nps": 100 * (p - d),
        "moe": 196 * math.sqrt(design_effect(raw_sql) * (p + d - (p - d) ** 2) / n),
        "n": n,
        "csat": 100 * top2 / n_csat,
        "n_csat": n_csat,
        "ces": ces_sum / n_ces,
        "n_ces": n_ces,
        "responses": count,
    }


def design_effect(raw_sql) -> float:
    """The NPS design effect over all answers, clustered by customer, in plain SQL: the sum
    over customers of (Σ scores − mean × answers)² over the sum over answers of
    (score − mean)², where a score is +1 promoter, −1 detractor, 0 passive."""
    score = "(CASE WHEN nps >= 9 THEN 1.0 WHEN nps <= 6 THEN -1.0 ELSE 0.0 END)"
    (mean,) = raw_sql.execute(
        f"SELECT AVG({score}) FROM responses WHERE nps IS NOT NULL"
    ).fetchone()
    (iid,) = raw_sql.execute(
        f"SELECT SUM(({score} - ?) * ({score} - ?)) FROM responses WHERE nps IS NOT NULL",
        (mean, mean),
    ).fetchone()
    (clustered,) = raw_sql.execute(
        f"""SELECT SUM((u - ? * k) * (u - ? * k)) FROM (
              SELECT SUM({score}) AS u, COUNT(*) AS k FROM responses
              WHERE nps IS NOT NULL GROUP BY customer_id)""",
        (mean, mean),
    ).fetchone()
    return max(clustered / iid, 1.0)


def test_summary_json_overall_matches_plain_sql(sample_url, raw_sql):
    out = run("summary", "--json", url=sample_url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    want = by_hand(raw_sql)
    o = data["overall"]
    assert o["nps"]["value"] == pytest.approx(want["nps"], abs=1e-3)
    assert o["nps"]["moe"] == pytest.approx(want["moe"], abs=1e-3)
    assert o["nps"]["n"] == want["n"]
    assert o["csat"]["value"] == pytest.approx(want["csat"], abs=1e-3)
    assert o["ces"]["value"] == pytest.approx(want["ces"], abs=1e-3)
    assert o["responses"] == want["responses"]
    first, last = raw_sql.execute(
        "SELECT MIN(responded_on), MAX(responded_on) FROM responses"
    ).fetchone()
    assert data["period"] == {"start": first, "end": last}


def test_summary_json_with_filters_matches_plain_sql(sample_url, raw_sql):
    out = run(
        "summary",
        "--json",
        "--start",
        "2026-04-01",
        "--end",
        "2026-09-30",
        "--stage",
        "claim,pay",
        "--channel",
        "web",
        "--segment",
        "Personal",
        url=sample_url,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    where = (
        "r.responded_on BETWEEN '2026-04-01' AND '2026-09-30' AND t.stage_id IN "
        "('claim','pay') AND r.channel = 'web' AND c.segment = 'Personal'"
    )
    want = by_hand(raw_sql, where)
    assert data["overall"]["nps"]["value"] == pytest.approx(want["nps"], abs=1e-3)
    assert data["overall"]["responses"] == want["responses"]
    stages = {s["stage_id"]: s for s in data["stages"]}
    assert list(stages) == ["pay", "claim"]  # customer order, only the chosen stages
    claim = by_hand(raw_sql, where + " AND t.stage_id = 'claim'")
    assert stages["claim"]["nps"]["value"] == pytest.approx(claim["nps"], abs=1e-3)
    assert stages["claim"]["ces"]["n"] == claim["n_ces"]
    assert stages["claim"]["status"] in ("on target", "near target", "below target")


def test_department_filter_uses_the_stages_it_affects(sample_url, raw_sql):
    out = run("summary", "--json", "--department", "billing", url=sample_url)
    data = json.loads(out.stdout)
    affected = [
        r[0]
        for r in raw_sql.execute(
            "SELECT stage_id FROM stage_owners WHERE department_id = 'billing'"
        )
    ]
    assert sorted(s["stage_id"] for s in data["stages"]) == sorted(affected)


def test_summary_text_names_every_stage(sample_url, raw_sql):
    out = run("summary", url=sample_url)
    assert out.returncode == 0, out.stderr
    for (name,) in raw_sql.execute("SELECT name FROM stages"):
        assert name in out.stdout
    assert "What changed" in out.stdout
    # a stage's status names the metric it is about, as the page and the briefing do
    statuses = re.findall(r"\[((?:below|near) target[^\]]*)\]", out.stdout)
    assert statuses and all(re.fullmatch(r"(below|near) target on [A-Z, ]+", s) for s in statuses)
    assert re.search(r"Churn +\S+.* left in the period", out.stdout)


@pytest.mark.parametrize(
    "args, env_url, message",
    [
        (["summary", "--stage", "nope"], None, "unknown stage 'nope'"),
        (["summary", "--start", "2026-02-01", "--end", "2026-01-01"], None, "after the end"),
        (["summary"], "sqlite:////no/such/folder/cx.db", "does not exist"),
        (["summary"], "postgresql+psycopg://cx@127.0.0.1:9/cx", "cannot"),
        (["summary"], "mysql+nosuchdriver://x/y", "no database driver"),
        # the scheme libpq and Heroku write: not "install a driver", but the scheme to write
        (["summary"], "postgres://cx:secret@127.0.0.1:9/cx", "write postgresql+psycopg://"),
        (["summary"], "/srv/cx/cx.db", "a SQLite file is sqlite:///relative/path.db or"),
        (["summary"], "sqlite:////tmp", "/tmp is a folder, not a SQLite file"),
        # every command, not only those that check the database first
        (
            ["settings", "show"],
            "postgresql+psycopg://cx:s3cret@127.0.0.1:9/cx",
            "error: the database postgresql+psycopg://cx:***@127.0.0.1:9/cx failed: ",
        ),
    ],
)
def test_bad_input_gives_one_clear_line_and_a_non_zero_exit(sample_url, args, env_url, message):
    out = run(*args, url=env_url or sample_url)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr and "s3cret" not in out.stderr


def test_bad_date_is_a_usage_error():
    out = run("summary", "--start", "yesterday")
    assert out.returncode == 2 and "not a date in YYYY-MM-DD form" in out.stderr


def test_database_without_the_tables_is_named(tmp_path):
    path = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(path).execute("CREATE TABLE notes (a)").connection.commit()
    out = run("summary", url=f"sqlite:///{path}")
    assert out.returncode != 0 and "lacks the table(s)" in out.stderr


def test_sample_then_summary_on_a_new_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    out = run("sample", "--customers", "300", "--seed", "5", "--url", url)
    assert out.returncode == 0, out.stderr
    assert "responses from 300 customers" in out.stdout
    assert "%]" in out.stderr  # progress is visible, and never runs back
    shown = [float(p) for p in re.findall(r"\[\s*([\d.]+)%\]", out.stderr)]
    assert len(shown) > 3 and shown == sorted(shown), shown
    again = run("sample", "--customers", "300", "--url", url)
    assert again.returncode != 0 and "--replace" in again.stderr
    summary = run("summary", "--json", url=url)
    assert json.loads(summary.stdout)["overall"]["responses"] > 0


def test_init_db_creates_the_contract(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    out = run("init-db", "--url", url)
    assert out.returncode == 0, out.stderr
    import sqlalchemy as sa

    names = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"stages", "responses", "kpis", "incentives"} <= names


def test_findings_json_states_the_claims_decline_as_computed_in_plain_sql(sample_url, raw_sql):
    args = ("--start", "2026-07-01", "--end", "2026-09-29")  # 91 days; before: 1 Apr - 30 Jun
    out = run("findings", "--json", *args, url=sample_url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["period"] == {"start": "2026-07-01", "end": "2026-09-29"}
    claim = " AND t.stage_id = 'claim'"
    now = by_hand(raw_sql, "r.responded_on BETWEEN '2026-07-01' AND '2026-09-29'" + claim)
    before = by_hand(raw_sql, "r.responded_on BETWEEN '2026-04-01' AND '2026-06-30'" + claim)
    found = [
        f
        for f in data["findings"]
        if f["kind"] == "change" and f["stages"] == ["claim"] and f["family"] == "nps"
    ]
    assert len(found) == 1
    assert found[0]["effect"] == pytest.approx(now["nps"] - before["nps"], abs=1e-3)
    assert found[0]["n"] == now["n"] + before["n"]
    lo, hi = found[0]["ci"]
    assert lo < found[0]["effect"] < hi < 0  # a fall, the whole interval below zero
    for f in data["findings"]:  # every claim passed its family's false discovery control
        assert f["q"] is not None and f["q"] <= 0.05 and f["p"] <= f["q"] + 1e-12
        assert f["kind"] in data["tested"] and data["tested"][f["kind"]] >= 1
    assert {"change", "target", "trend", "lead", "false_positive", "closed_loop"} <= set(
        data["tested"]
    )
    # summary --json states exactly the kept change sentences
    summary = json.loads(run("summary", "--json", *args, url=sample_url).stdout)
    changes = [f["sentence"] for f in data["findings"] if f["kind"] == "change"]
    assert summary["changes"] == changes[:6]


def test_one_date_given_makes_the_same_tests_as_both(sample_url, raw_sql):
    """--start alone compared nothing: "No previous period", where --start and the data's
    last day as --end tested every change."""
    (last,) = raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()
    alone = json.loads(run("findings", "--json", "--start", "2026-07-01", url=sample_url).stdout)
    both = json.loads(
        run("findings", "--json", "--start", "2026-07-01", "--end", last, url=sample_url).stdout
    )
    assert alone["period"] == both["period"] == {"start": "2026-07-01", "end": last}
    assert alone["tested"]["change"] == both["tested"]["change"] > 0
    assert alone["findings"] == both["findings"]
    (first,) = raw_sql.execute("SELECT MIN(responded_on) FROM responses").fetchone()
    ended = json.loads(run("summary", "--json", "--end", "2025-06-30", url=sample_url).stdout)
    assert ended["period"] == {"start": first, "end": "2025-06-30"}


def test_an_unexpected_error_is_one_line_with_its_kind_and_a_non_zero_exit(
    monkeypatch, capsys, sample_url
):
    from cxmetrics import cli

    def broken(args):
        raise RuntimeError("disk sector 7 unreadable\nsecond line of detail")

    monkeypatch.setenv("CX_DATABASE_URL", sample_url)
    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    monkeypatch.setattr(cli, "_summary", broken)
    assert cli.main(["summary"]) == 70
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "unexpected RuntimeError in 'summary': disk sector 7 unreadable" in lines[0]
    assert "CX_TRACEBACK=1" in lines[0] and "second line" not in lines[0]

    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")  # whoever debugs it gets the traceback
    with pytest.raises(RuntimeError, match="disk sector 7"):
        cli.main(["summary"])


def test_an_interrupt_ends_quietly_with_130(monkeypatch, capsys):
    from cxmetrics import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_summary", interrupted)
    assert cli.main(["summary"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_a_view_without_responses_is_refused_not_reported_as_zero(sample_url, raw_sql):
    """Nothing measured gives no £0 cost and no finding of another period: each command
    says why the view is empty, on one line, and writes nothing to standard output."""
    first, last = raw_sql.execute(
        "SELECT MIN(responded_on), MAX(responded_on) FROM responses"
    ).fetchone()
    (help_by_agent,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "WHERE t.stage_id = 'help' AND r.channel = 'agent'"
    ).fetchone()
    assert help_by_agent == 0  # the sample offers no agent channel at Get help
    cases = [
        (("--start", "2030-01-01"), f"--start 2030-01-01 is after the data's last day ({last})"),
        (("--end", "2020-01-01"), f"--end 2020-01-01 is before the data's first day ({first})"),
        (
            ("--stage", "shop", "--department", "claims"),
            "no stage matches these filters: Claims does not affect the chosen stage(s)",
        ),
        (
            ("--stage", "help", "--channel", "agent"),
            f"no responses between {first} and {last} for these filters",
        ),
    ]
    for command in ("summary", "findings"):
        for args, message in cases:
            out = run(command, "--json", *args, url=sample_url)
            assert out.returncode == 1, (command, args, out.stderr)
            assert out.stdout == ""
            assert out.stderr == f"error: {message}" + out.stderr[len(message) + 7 :]
            assert message in out.stderr and out.stderr.count("\n") == 1


@pytest.mark.parametrize("replace", [[], ["--replace"]])
def test_export_parquet_onto_a_file_is_refused_naming_it(tmp_path, sample_url, capsys, replace):
    from cxmetrics import cli

    target = tmp_path / "afile"
    target.write_text("mine\n")
    assert cli.main(["export-parquet", str(target), "--url", sample_url, *replace]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target} is a file, not a folder") and err.count("\n") == 1
    inside = tmp_path / "afile" / "lake"
    assert cli.main(["export-parquet", str(inside), "--url", sample_url, *replace]) == 1
    assert capsys.readouterr().err == f"error: {target} is a file, not a folder\n"
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]  # nothing written beside it
    assert target.read_text() == "mine\n"


def test_findings_are_plain_text_on_the_command_line_and_in_json(sample_url):
    """The pages bold a department's name in the closed-loop finding; the command line and
    its JSON (read by scripts and mail) carry no Markdown."""
    out = run("findings", "--json", url=sample_url)
    assert out.returncode == 0, out.stderr
    sentences = {f["kind"]: f["sentence"] for f in json.loads(out.stdout)["findings"]}
    assert sentences["closed_loop"].startswith("Customer Service closed ")
    assert not [s for s in sentences.values() if "**" in s]
    text = run("findings", url=sample_url)
    assert "[closed_loop] Customer Service closed " in text.stdout and "**" not in text.stdout


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_export_parquet_gives_the_lake_the_mode_of_any_new_folder(tmp_path, sample_url, umask):
    """Not the private 0700 of the temporary folder it is written in: a service running as
    another user (DuckDB's, Spark's) reads the lake as it reads its files."""
    lake_dir = tmp_path / "lake"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os, sys; os.umask({umask}); from cxmetrics import cli; "
            f"sys.exit(cli.main(['export-parquet', {str(lake_dir)!r}, '--url', {sample_url!r}]))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert lake_dir.stat().st_mode & 0o777 == 0o777 & ~umask
    for file in lake_dir.iterdir():
        assert file.stat().st_mode & 0o777 == 0o666 & ~umask


def test_import_help_gives_the_mapping_format_and_each_table_s_columns():
    """An analyst writing a mapping finds its format without reading the source."""
    out = run("import", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for section in ("[columns]", "[constants]", "[dates]", "[where]", "[values.", "[rescale."):
        assert section in text, section
    assert "[ids]" in text and "[unpivot]" in text and "``" not in text
    # the contract's columns, required ones marked, as the tables define them
    assert (
        "  responses: response_id*, customer_id*, touchpoint_id*, channel*, responded_on*, "
        "nps, csat, ces, comment, source*, sentiment_label\n"
    ) in text
    assert (
        "  customers: customer_id*, segment*, region*, joined_on*, annual_revenue, "
        "cost_to_serve, influence, churned_on\n"
    ) in text
