"""Hostile input: SQL through every filter and the search, markup in names, secrets in
messages. Databases are real (SQLite and a Postgres server); values are checked by a second
implementation (plain SQL or plain Python)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest
import sqlalchemy as sa
from conftest import REPO
from streamlit.testing.v1 import AppTest
from test_cli import run

from cxmetrics.charts import chart_style
from cxmetrics.contract import schema, store
from cxmetrics.contract.registry import METRICS
from cxmetrics.stats import voc
from cxmetrics.stats.filters import Filters
from cxmetrics.views.wording import inert

SQL_ATTEMPTS = (
    "x' OR '1'='1",
    "'; DROP TABLE responses; --",
    "claim') OR 1=1 --",
    "%",
)
_names = (f"security_{i}" for i in itertools.count())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, sample_url, sample_data):
    if request.param == "sqlite":
        yield sample_url
        return
    url = request.getfixturevalue("pg_server").create_database(next(_names))
    store.write_tables(url, sample_data.tables())
    yield url


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for name, table in schema.metadata.tables.items()
        }


def test_sql_in_every_filter_matches_nothing_and_changes_nothing(db):
    engine = store.make_engine(db)
    try:
        before = counts(engine)
        for attempt in SQL_ATTEMPTS:
            for field in ("stages", "channels", "segments", "regions"):
                view = Filters(**{field: (attempt,)})
                stage_ids = (attempt,) if field == "stages" else None
                found = store.load_comments(engine, view, stage_ids, limit=50)
                assert found.height == 0, (field, attempt)
            stats = store.load_stats_sql(
                engine, Filters(channels=(attempt,), regions=(attempt,)), (attempt,), ["channel"]
            )
            assert stats.height == 0
        assert counts(engine) == before
        # a filter that does match still works: the same call with a real value
        real = store.load_comments(engine, Filters(channels=("web",)), None, limit=5)
        assert real.height == 5 and set(real["channel"]) == {"web"}
    finally:
        engine.dispose()


def test_sql_and_patterns_in_the_comment_search_are_literal(loaded, sample_url):
    engine = store.make_engine(sample_url)
    try:
        v = voc.build(loaded, store.load_all_comments(engine), n_themes=2)
    finally:
        engine.dispose()
    texts = v.comments["comment"].to_list()
    for needle in (*SQL_ATTEMPTS, ".*", "(", "[a-z]+", "\\", "bill", "BILL"):
        found = voc.search(v.comments, voc.Query(text=needle))
        expected = sum(needle.lower() in t.lower() for t in texts)  # plain Python
        assert found.height == expected, needle
    assert voc.search(v.comments, voc.Query(text="bill")).height > 0


def test_sql_in_the_url_of_every_filter_is_ignored_by_the_pages(app_env, raw_sql):
    end = dt.date.fromisoformat(
        raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()[0]
    )
    start = end - dt.timedelta(days=89)
    pro, det, n = raw_sql.execute(
        "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses "
        "WHERE responded_on BETWEEN ? AND ?",
        (start.isoformat(), end.isoformat()),
    ).fetchone()
    (total,) = raw_sql.execute("SELECT COUNT(*) FROM responses").fetchone()
    for attempt in SQL_ATTEMPTS:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
        for key in ("period", "dates", "stage", "department", "channel", "segment", "region"):
            at.query_params[key] = attempt
        at.run()
        assert not at.exception, attempt
        nps = next(m.value for m in at.metric if m.label == "NPS")
        assert nps == METRICS["nps"].format(100 * (pro - det) / n), attempt
        at.switch_page(str(REPO / "pages" / "voice.py"))
        at.query_params["voc_tab"] = attempt
        at.run()
        assert not at.exception, attempt
    assert raw_sql.execute("SELECT COUNT(*) FROM responses").fetchone() == (total,)


def test_cli_filters_refuse_unknown_values_without_touching_the_database(sample_url, raw_sql):
    (total,) = raw_sql.execute("SELECT COUNT(*) FROM responses").fetchone()
    for attempt in SQL_ATTEMPTS[:3]:
        for option in ("--stage", "--channel", "--segment", "--region", "--department"):
            done = run("summary", option, attempt, url=sample_url)
            assert done.returncode != 0 and "Traceback" not in done.stderr
            assert done.stderr.startswith("error: ") and "unknown" in done.stderr
    assert raw_sql.execute("SELECT COUNT(*) FROM responses").fetchone() == (total,)


# --- markup in names ----------------------------------------------------------------------


def test_inert_markdown_keeps_our_bold_and_disarms_links_images_and_html():
    text = inert("**Lead:** Claims <img src=x> [md](https://evil.example) ![i](http://x.io/a.png)")
    assert "**Lead:**" in text
    assert "\\<img src=x\\>" in text and "\\[md\\]" in text and "!\\[i\\]" in text
    assert "https://" not in text and "http://" not in text
    plain = re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")
    assert (
        plain == "**Lead:** Claims <img src=x> [md](https://evil.example) ![i](http://x.io/a.png)"
    )
    assert "@" not in inert("jo@example.com").replace("\u2060@", "")
    assert "www." not in inert("www.evil.example")


def test_chart_text_from_the_data_is_drawn_as_written():
    name = "<a href='https://evil.example'>x</a><img src=x>"
    fig = go.Figure(
        go.Bar(
            x=[name, "<b>Pay</b><br>n = 3"],
            y=[1, 2],
            text=[f"<b>{name}</b>", "ok"],
            customdata=[[name, 1], ["b", 2]],
            hovertemplate="%{x}<br>%{customdata[0]}<extra></extra>",
        ),
        layout=dict(title=f"NPS at {name}"),
    )
    chart_style.literal(fig)
    bar = fig.data[0]
    assert bar.x[0] == "&lt;a href='https://evil.example'>x&lt;/a>&lt;img src=x>"
    assert bar.x[1] == "<b>Pay</b><br>n = 3"  # our own tags stay
    assert bar.text[0].startswith("<b>&lt;a href=") and bar.text[0].endswith("</b>")
    assert bar.customdata[0][0].startswith("&lt;a href=")
    assert bar.hovertemplate == "%{x}<br>%{customdata[0]}<extra></extra>"
    assert fig.layout.title.text.startswith("NPS at &lt;a href=")
    assert "<a " not in fig.to_json() and "<img" not in fig.to_json()


# --- secrets ------------------------------------------------------------------------------

SECRET = "S3cret-Pa55word"
UNREACHABLE = f"postgresql+psycopg://cx_reader:{SECRET}@127.0.0.1:1/cx"


def test_a_database_password_never_reaches_a_page(monkeypatch):
    monkeypatch.setenv(store.URL_ENV, UNREACHABLE)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120)
    at.run()
    assert not at.exception
    shown = " ".join(e.value for e in [*at.error, *at.caption, *at.markdown, *at.warning])
    assert "cannot load its data" in shown and "127.0.0.1" in shown
    assert SECRET not in shown
    at.switch_page(str(REPO / "pages" / "data.py")).run()
    shown = " ".join(e.value for e in [*at.error, *at.caption, *at.markdown])
    assert "cx_reader:***@127.0.0.1" in shown and SECRET not in shown


def test_a_database_password_never_reaches_the_command_line_output():
    for args in (("summary",), ("init-db",), ("briefing", "--out", "/tmp/never")):
        done = run(*args, url=UNREACHABLE)
        assert done.returncode != 0, args
        assert SECRET not in done.stdout + done.stderr, args
        assert "Traceback" not in done.stderr, args


# --- personal details in comments: linear-time masking, bounded comments ----------------

# The patterns the masking replaced, as a second implementation on short texts (where their
# backtracking costs nothing).
_EMAIL_REFERENCE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_REFERENCE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")


def _masked_by_reference(text: str) -> str:
    return _PHONE_REFERENCE.sub("[phone]", _EMAIL_REFERENCE.sub("[email]", text))


def test_masking_agrees_with_the_plain_patterns_on_short_texts():
    import random

    from cxmetrics.contract.text import mask_pii

    rng = random.Random(16)
    alphabet = "ab1.@-+ _x(9)é"
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert mask_pii(text) == _masked_by_reference(text), text
    for text, want in [
        ("write to jo.bloggs@example.com today", "write to [email] today"),
        ("a@b.com+x@y.org", "[email][email]"),  # "+x" starts the second name
        ("call +44 (0)20 7946 0958 now", "call [phone] now"),
        ("no address @ all", "no address @ all"),
    ]:
        assert mask_pii(text) == want


def test_masking_an_adversarial_comment_takes_linear_time():
    from scripts.bench_text import time_adversarial

    long, short = time_adversarial(80_000), time_adversarial(20_000)
    # the plain patterns took 2-3 s on 20,000 of these characters and 20 s on 80,000
    assert max(long.values()) < 0.5, long
    for name in long:  # four times the text: about four times the time, not sixteen
        assert long[name] < 8 * short[name] + 0.02, (name, long[name], short[name])


@pytest.mark.parametrize(
    "password",
    ["s3cr@tPass", "Q9:zK/w#x?y", "a%40bZq", "p@ss@w0rd@@", "sp ace&Kq=1", "@@@@Zq", "ü¥€:@/Kq"],
)
def test_no_part_of_an_odd_password_is_shown(password):
    url = f"postgresql+psycopg://cx_reader:{password}@db.example.com:5432/cx?sslmode=require"
    shown = store.safe_url(url)
    assert shown == "postgresql+psycopg://cx_reader:***@db.example.com:5432/cx?sslmode=require"
    secret = password.replace("%40", "@")
    pieces = {secret[i : i + 3] for i in range(len(secret) - 2)}
    assert not any(p in shown for p in pieces if p.strip("@:/")), (password, shown)


def test_a_password_given_in_the_query_is_hidden():
    shown = store.safe_url("postgresql+psycopg://cx@db/cx?password=Hunter2Zq&sslmode=require")
    assert "Hunter2Zq" not in shown and "password=***" in shown and "sslmode=require" in shown


# --- markup in names: backslashes, exported footnotes -------------------------------------


def test_a_backslash_from_the_data_cannot_unescape_a_bracket():
    text = inert(r"\[Re-verify your login\](//evil.example/login) and \\<b>x\</b>")
    # In Markdown a character is escaped when an odd number of backslashes precede it.
    for found in re.finditer(r"(\\*)([\[\]<>])", text):
        assert len(found.group(1)) % 2 == 1, (found.group(0), text)
    plain = re.sub(r"\\(.)", r"\1", text)  # what the reader sees
    assert plain == r"\[Re-verify your login\](//evil.example/login) and \\<b>x\</b>"


HOSTILE_SEGMENT = "Gold <a href='https://evil.example/f'>click</a> \\[x\\](//evil.example/m)"


@pytest.mark.browser
def test_an_exported_html_chart_draws_the_footnote_as_text(browser, tmp_path):
    from cxmetrics.reports import exports

    path = tmp_path / "chart.html"
    fig = go.Figure(go.Bar(x=["a", "b"], y=[3, 1]), layout=dict(title="NPS"))
    path.write_bytes(exports.html_bytes(fig, f"1 Jul 2026 · segment {HOSTILE_SEGMENT}"))
    page = browser.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .annotation-text", timeout=30_000)
    footnote = page.locator(".annotation-text").text_content()
    links = page.evaluate(
        "[...document.querySelectorAll('a')].map(a => a.getAttribute('href') || "
        "a.getAttribute('xlink:href') || '').filter(h => h.includes('evil'))"
    )
    page.close()
    assert links == []
    assert "<a href='https://evil.example/f'>click</a>" in footnote


def test_xlsx_export_writes_links_as_plain_text():
    import io as _io
    import zipfile

    from cxmetrics.reports import exports

    texts = [
        "external:\\\\attacker.example\\share\\x",
        "http://evil.example/a",
        "https://evil.example/b",
        "mailto:jo@evil.example",
        "ftp://evil.example/c",
    ]
    content = exports.table_bytes(pl.DataFrame({"comment": texts}), "xlsx")
    with zipfile.ZipFile(_io.BytesIO(content)) as z:  # the file itself, read as XML
        parts = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    assert "<hyperlink" not in parts and "relationships/hyperlink" not in parts
    assert pl.read_excel(content)["comment"].to_list() == texts  # text, as written


# --- uploaded files on disk ---------------------------------------------------------------


class _Upload:
    def __init__(self, name: str, content: bytes) -> None:
        self.name, self._content = name, content

    def getvalue(self) -> bytes:
        return self._content


def test_uploads_land_in_a_private_folder_follow_no_link_and_are_removed(tmp_path):
    import os
    import stat
    import tempfile

    from cxapp import uploads

    base = uploads.upload_dir()
    assert base != Path(tempfile.gettempdir()) / "cx-dashboard-uploads"  # not guessable
    assert stat.S_IMODE(base.stat().st_mode) == 0o700 and base.stat().st_uid == os.getuid()
    upload = _Upload("../../responses.csv", b"id,comment\n1,hello\n")
    path = uploads.save(upload)
    assert path.parent.parent == base and path.name == "responses.csv"  # no way out
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == upload.getvalue()

    # a link planted where the next file will land is removed, never written through
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    other = _Upload("other.csv", b"id\n2\n")
    folder = base / uploads.digest(other)
    folder.mkdir(mode=0o700)
    (folder / "other.csv").symlink_to(victim)
    saved = uploads.save(other)
    assert not saved.is_symlink() and saved.read_bytes() == b"id\n2\n"
    assert victim.read_text() == "untouched"

    # a folder that is a link is refused
    linked = _Upload("third.csv", b"id\n3\n")
    (base / uploads.digest(linked)).symlink_to(tmp_path)
    with pytest.raises(PermissionError, match="not a folder of this server"):
        uploads.save(linked)
    assert list(tmp_path.iterdir()) == [victim]

    uploads.discard(path)
    uploads.discard(saved)
    assert not path.exists() and not path.parent.exists() and not saved.parent.exists()


# --- file bombs in imports ----------------------------------------------------------------

YAML_BOMB = "\n".join(
    ["a: &a ['x','x','x','x','x','x','x','x','x']"]
    + [
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ['table: "responses"']
)


def test_a_yaml_mapping_or_journey_with_aliases_is_refused(tmp_path):
    import tracemalloc

    from cxmetrics.contract import journey_import, mapping
    from cxmetrics.contract.journey import JourneyError

    assert len(YAML_BOMB) < 600  # nine levels of nine: 9**9 = 387M strings if unfolded
    tracemalloc.start()
    with pytest.raises(mapping.MappingError, match=r"not valid YAML: line 2: an alias \(\*a\)"):
        mapping.loads(YAML_BOMB, ".yaml", "responses", "bomb.yaml")
    path = tmp_path / "journey.yaml"
    path.write_text(YAML_BOMB)
    with pytest.raises(JourneyError, match="an alias"):
        journey_import.read(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    plain = 'table: "responses"\ncolumns:\n  response_id: ID\n'  # a mapping without aliases
    assert mapping.loads(plain, ".yaml").columns == {"response_id": "ID"}


def test_files_beyond_the_row_column_or_unpacked_limits_are_refused_before_reading(
    tmp_path, monkeypatch
):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cxmetrics.contract import importer

    # Parquet: 30M equal values compress to a few kilobytes
    bomb = tmp_path / "bomb.parquet"
    chunk = pa.table({"nps": pa.array(np.zeros(1_000_000, dtype=np.int8))})
    with pq.ParquetWriter(bomb, chunk.schema) as writer:
        for _ in range(30):
            writer.write_table(chunk)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(
        importer.ImportError_,
        match=r"bomb.parquet is too large to import: it has 30,000,000 rows, more than an "
        r"import takes \(5,000,000 rows; set CX_IMPORT_MAX_ROWS to change it\)",
    ):
        importer.read_source(bomb)

    # CSV: rows and columns counted by hand
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(501)) + "\n" + ",".join("1" * 501) + "\n")
    with pytest.raises(importer.ImportError_, match="header names 501 columns"):
        importer.read_source(wide)
    monkeypatch.setenv("CX_IMPORT_MAX_ROWS", "3")
    long = tmp_path / "long.csv"
    long.write_text("id\n1\n2\n3\n")
    assert importer.read_source(long).height == 3  # at the limit: read
    long.write_text("id\n1\n2\n3\n4\n")
    with pytest.raises(importer.ImportError_, match="it has 4 rows.*CX_IMPORT_MAX_ROWS"):
        importer.read_source(long)

    # XLSX: a sheet that unpacks to more than the limit
    monkeypatch.setenv("CX_IMPORT_MAX_UNPACKED_MB", "1")
    monkeypatch.setenv("CX_IMPORT_MAX_ROWS", "1000000")
    sheet = tmp_path / "big.xlsx"
    pl.DataFrame({"comment": ["y" * 100] * 20_000}).write_excel(sheet)
    assert sheet.stat().st_size < 2**20
    with pytest.raises(importer.ImportError_, match=r"big.xlsx .* unpacks to \d MB"):
        importer.read_source(sheet)
    monkeypatch.setenv("CX_IMPORT_MAX_UNPACKED_MB", "64")
    assert importer.read_source(sheet).height == 20_000


# --- uploads before sign-in ----------------------------------------------------------------


def test_the_server_takes_uploads_no_larger_than_imports_need_and_binds_loopback():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = {  # what Streamlit itself reads from .streamlit/config.toml
        m.group(1): m.group(2)
        for m in re.finditer(r"(?m)^(maxUploadSize|address) = (.+)$", done.stdout)
    }
    assert shown == {"maxUploadSize": "100", "address": '"127.0.0.1"'}, done.stdout[-2000:]
    # a CSV of a million responses of the sample company fits, with room to spare
    from cxmetrics.contract import sample

    rows = sample.generate(customers=1_000, seed=3).responses.head(5_000)
    per_million_mb = len(rows.write_csv().encode("utf-8")) / rows.height * 1e6 / 2**20
    assert per_million_mb < 100 < 2 * per_million_mb


# --- a manager's filter options -------------------------------------------------------------


def test_a_manager_is_offered_only_options_from_their_scope(sample_data, tmp_path):
    from cxmetrics.stats import dataset, scope

    tables = sample_data.tables()
    journey = tables["stage_owners"]
    service_stages = set(journey.filter(pl.col("department_id") == "service")["stage_id"])
    stage_of = dict(
        zip(tables["touchpoints"]["touchpoint_id"], tables["touchpoints"]["stage_id"], strict=True)
    )
    stages_by_customer: dict[int, set] = {}
    for cust, tp in zip(
        tables["responses"]["customer_id"], tables["responses"]["touchpoint_id"], strict=True
    ):
        stages_by_customer.setdefault(cust, set()).add(stage_of[tp])
    elsewhere = sorted(c for c, s in stages_by_customer.items() if not s & service_stages)[:3]
    assert elsewhere, "the test company needs customers who never met the service stages"
    tables["customers"] = tables["customers"].with_columns(
        pl.when(pl.col("customer_id").is_in(elsewhere))
        .then(pl.lit("Secret Expansion Region"))
        .otherwise(pl.col("region"))
        .alias("region")
    )
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store.write_tables(url, tables)
    engine = store.make_engine(url)
    try:
        ds = dataset.load(engine)
        comments = store.load_all_comments(engine)
    finally:
        engine.dispose()
    manager = ds.scoped(("service",))
    assert "Secret Expansion Region" in ds.options("region")
    assert "Secret Expansion Region" not in manager.options("region")
    seen = {  # by hand: the regions and segments of customers who answered in scope
        col: sorted(
            {
                str(v)
                for c, v in zip(
                    tables["customers"]["customer_id"], tables["customers"][col], strict=True
                )
                if stages_by_customer.get(c, set()) & service_stages
            }
        )
        for col in ("region", "segment")
    }
    assert manager.options("region") == seen["region"]
    assert manager.options("segment") == seen["segment"]

    # a theme whose comments all come from other departments' stages is not offered
    v = voc.build(ds, comments, n_themes=4)
    secret = "merger · layoffs · acquisition"
    outside = v.comments.filter(~pl.col("stage_id").cast(pl.String).is_in(list(service_stages)))
    planted = voc.Verbatims(
        v.comments.with_columns(
            pl.when(pl.col("response_id").is_in(outside["response_id"].head(5).implode()))
            .then(pl.lit(secret))
            .otherwise(pl.col("theme").cast(pl.String))
            .alias("theme")
        ),
        pl.concat(
            [
                v.themes.with_columns(pl.col("theme").cast(pl.String)),
                pl.DataFrame(
                    {"theme": [secret], "terms": ["merger, layoffs, acquisition"], "comments": [5]},
                    schema=v.themes.with_columns(pl.col("theme").cast(pl.String)).schema,
                ),
            ]
        ),
    )
    scoped = scope.verbatims(planted, manager)
    assert secret in planted.theme_names and secret not in scoped.theme_names
    in_scope = scoped.comments["theme"].cast(pl.String).value_counts()
    want = dict(zip(in_scope["theme"], in_scope["count"], strict=True))  # counted by hand
    assert dict(zip(scoped.theme_names, scoped.themes["comments"], strict=True)) == want
