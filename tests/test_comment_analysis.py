"""Comment sentiment and themes stored once per comment (``comment_analysis``), the Voice
page's statistics by SQL against the in-memory computation it replaced, paging against a
Polars filter of the tables, old databases, and the ``analyse-comments`` command."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import sqlite3

import polars as pl
import pytest
import sqlalchemy as sa
from test_app import start

from cxmetrics import cli
from cxmetrics.charts import voc_charts
from cxmetrics.contract import comment_analysis, importer, mapping, schema, store
from cxmetrics.contract.text import mask_pii_column
from cxmetrics.stats import comment_queries, voc
from cxmetrics.stats.filters import Filters
from cxmetrics.views import voc_view

D = dt.date
_names = (f"cmt{i}" for i in itertools.count())


# --- the reference: the Voice page's figures as computed in memory before this table --------


def reference(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Theme summary, theme × stage, sentiment by stage and weekly theme counts of comment
    rows, with the formulas the page used on every comment held in memory."""
    nps = pl.col("nps")

    def counts(by):
        return frame.group_by(by).agg(
            pl.len().cast(pl.Int64).alias("comments"),
            nps.is_not_null().sum().cast(pl.Int64).alias("n_nps"),
            (nps >= 9).sum().cast(pl.Int64).alias("promoters"),
            (nps <= 6).sum().cast(pl.Int64).alias("detractors"),
            pl.col("sentiment").mean().cast(pl.Float64).alias("sentiment"),
            (100 * (pl.col("sentiment_band") == "negative").mean()).alias("negative"),
        )

    def with_nps(f):
        return f.with_columns(
            pl.when(pl.col("n_nps") > 0)
            .then(100 * (pl.col("promoters") - pl.col("detractors")) / pl.col("n_nps"))
            .alias("nps")
        )

    themes = with_nps(counts(["theme"])).with_columns(
        pl.col("theme").cast(pl.String), (100 * pl.col("comments") / frame.height).alias("share")
    )
    stage = with_nps(counts(["theme", "stage_id"])).with_columns(
        pl.col("theme", "stage_id").cast(pl.String)
    )
    bands = (
        frame.group_by("stage_id", "sentiment_band")
        .agg(pl.len().alias("n"))
        .with_columns(pl.col("stage_id", "sentiment_band").cast(pl.String))
    )
    weekly = (
        frame.group_by(pl.col("responded_on").dt.truncate("1w").alias("period"), "theme")
        .agg(pl.len().alias("comments"))
        .with_columns(pl.col("theme").cast(pl.String))
    )
    return {"themes": themes, "stage": stage, "bands": bands, "weekly": weekly}


def same(got: pl.DataFrame, want: pl.DataFrame, keys: list[str], cols: list[str]) -> None:
    joined = want.join(got, on=keys, how="full", coalesce=True, suffix="_got")
    assert joined.height == want.height == got.height
    for col in cols:
        a, b = joined[col].to_list(), joined[f"{col}_got"].to_list()
        for x, y in zip(a, b, strict=True):
            if x is None or isinstance(x, bool):
                assert x == y, col
            else:
                assert x == pytest.approx(y, rel=1e-6, abs=1e-9), col


@pytest.fixture(scope="module")
def in_memory(loaded, sample_url):
    """Every comment analysed in memory, as the page did before (``voc.build``)."""
    engine = store.make_engine(sample_url)
    try:
        return voc.build(loaded, store.load_all_comments(engine))
    finally:
        engine.dispose()


@pytest.fixture
def engine(sample_url):
    eng = store.make_engine(sample_url)
    yield eng
    eng.dispose()


def test_the_sample_writer_stores_what_the_in_memory_analysis_finds(engine, in_memory, raw_sql):
    (blank_free,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment IS NOT NULL AND TRIM(comment) != ''"
    ).fetchone()
    stored = store.read_select(engine, sa.select(schema.comment_analysis))
    assert stored.height == blank_free == in_memory.comments.height
    both = in_memory.comments.join(stored, on="response_id", suffix="_stored")
    assert both.height == stored.height
    assert (both["theme"].cast(pl.String) == both["theme_stored"]).all()
    assert (both["sentiment_band"].cast(pl.String) == both["sentiment_band_stored"]).all()
    assert (both["sentiment"].cast(pl.Float64) == both["sentiment_stored"]).all()
    # the masked text is stored only where masking changed it
    masked = both.filter(pl.col("comment") != pl.col("raw"))
    assert masked.height > 0
    assert (masked["comment"] == masked["masked_comment"]).all()
    assert both.filter(pl.col("comment") == pl.col("raw"))["masked_comment"].null_count() == (
        both.height - masked.height
    )
    assert stored["model_version"].n_unique() == 1
    # the theme names the page shows are the ones the in-memory analysis found
    themes = comment_queries.Comments(engine).themes()
    assert themes["theme"].to_list() == in_memory.theme_names
    assert themes["terms"].to_list() == in_memory.themes["terms"].to_list()
    assert themes["comments"].to_list() == in_memory.themes["comments"].to_list()


VIEWS = [
    Filters(),
    Filters(D(2026, 3, 1), D(2026, 5, 31)),
    Filters(D(2025, 9, 1), D(2026, 2, 28), stages=("pay", "claim"), channels=("phone",)),
    Filters(D(2025, 1, 1), D(2026, 12, 31), segments=("Small business",), regions=("North",)),
]


@pytest.mark.parametrize("f", VIEWS, ids=["all", "quarter", "stages-channel", "segment-region"])
def test_the_voice_pages_figures_equal_the_in_memory_computation(loaded, engine, in_memory, f):
    stage_ids = loaded.stage_ids(f)
    rows = voc.in_view(in_memory, f, stage_ids)
    want = reference(rows)
    stats = comment_queries.Comments(engine).stats(f, stage_ids)
    assert voc.total(stats) == rows.height
    got = voc.theme_summary(stats)
    cols = ["comments", "share", "nps", "n_nps", "sentiment", "negative"]
    same(got, want["themes"], ["theme"], cols)
    same(voc.theme_by_stage(stats, loaded.journey), want["stage"], ["theme", "stage_id"], cols[:1])
    same(
        voc.theme_by_stage(stats, loaded.journey),
        want["stage"],
        ["theme", "stage_id"],
        ["nps", "n_nps"],
    )
    bands = voc_view.sentiment_by_stage(stats, loaded.journey)
    labels = loaded.journey.labels
    by_name = want["bands"].with_columns(pl.col("stage_id").replace(labels).alias("stage"))
    totals = by_name.group_by("stage").agg(pl.col("n").sum().alias("comments"))
    shares = by_name.join(totals, on="stage").with_columns(
        (100 * pl.col("n") / pl.col("comments")).alias("share")
    )
    same(bands, shares.drop("stage_id", "n"), ["stage", "sentiment_band"], ["share", "comments"])
    same(voc.theme_trend(stats, "week"), want["weekly"], ["period", "theme"], ["comments"])


def test_the_voice_view_of_the_page_equals_the_in_memory_computation(loaded, engine, in_memory):
    """The page's own object (rising themes against the previous period included)."""
    f = Filters(D(2026, 1, 1), D(2026, 3, 31))
    vv = voc_view.compute(
        loaded, comment_queries.Comments(engine), pl.DataFrame(), pl.DataFrame(), f
    )
    stage_ids = loaded.stage_ids(f)
    now = voc.in_view(in_memory, vv.view, stage_ids)
    before = voc.in_view(in_memory, vv.view.previous_period(), stage_ids)
    assert vv.comment_count == now.height
    want = voc.rising(now, before, vv.min_n).filter(pl.col("theme") != "Unclassified")
    same(
        vv.rising,
        want,
        ["theme"],
        ["now", "before", "share_now", "share_before", "change", "significant"],
    )
    trend = voc.theme_trend(now, vv.trend_unit, vv.start, vv.end)
    same(vv.theme_trend, trend, ["period", "theme"], ["comments"])


def test_the_rising_themes_chart_says_why_it_is_empty(loaded, engine, in_memory):
    """Only "no previous period" where there is none: a view whose themes are all small
    says that instead, computed from the comments themselves."""
    comments = comment_queries.Comments(engine)

    def view(f: Filters):
        return voc_view.compute(loaded, comments, pl.DataFrame(), pl.DataFrame(), f)

    everything = view(Filters())  # all the data: the period before it is before the data
    assert everything.rising_empty == "No comments in the previous period"
    first = in_memory.comments["responded_on"].min()
    opening = view(Filters(first, first + dt.timedelta(days=6)))
    assert opening.rising_empty == "No comments in the previous period"
    f = Filters(D(2026, 3, 1), D(2026, 3, 3))  # three days: comments both sides, few a theme
    small = view(f)
    stage_ids = loaded.stage_ids(f)
    now = voc.in_view(in_memory, f, stage_ids)
    before = voc.in_view(in_memory, f.previous_period(), stage_ids)
    assert now.height and before.height
    # counted here: no theme (unclassified aside) has the minimum n on either side
    for side in (now, before):
        themed = side.filter(pl.col("theme").cast(pl.String) != "Unclassified")
        assert themed.group_by("theme").len()["len"].max() < small.min_n
    assert small.rising.height == 0
    assert small.rising_empty == f"No theme has {small.min_n} comments in either period"
    fig = voc_charts.fig_rising(small.rising, 8, small.rising_empty)
    assert [a.text for a in fig.layout.annotations] == [small.rising_empty]


def test_the_themes_table_shows_no_nps_below_the_minimum_n(loaded, engine, raw_sql):
    """A theme's NPS on 5 answers was shown ("+40, n 5"): below the minimum n it is blank,
    as every score; the n stays. Counted here in plain SQL."""
    f = Filters(D(2026, 7, 3), D(2026, 9, 30), segments=("Premier",), regions=("South",))
    vv = voc_view.compute(
        loaded, comment_queries.Comments(engine), pl.DataFrame(), pl.DataFrame(), f
    )
    got = {r["theme"]: (r["nps"], r["n_nps"]) for r in vv.themes_shown.iter_rows(named=True)}
    counted = raw_sql.execute(
        "SELECT a.theme, SUM(r.nps >= 9), SUM(r.nps <= 6), COUNT(r.nps) FROM responses r "
        "JOIN comment_analysis a USING (response_id) JOIN customers c USING (customer_id) "
        "WHERE r.responded_on BETWEEN '2026-07-03' AND '2026-09-30' AND c.segment = 'Premier' "
        "AND c.region = 'South' AND r.comment IS NOT NULL AND TRIM(r.comment) != '' "
        "GROUP BY a.theme"
    ).fetchall()
    few = [theme for theme, _p, _d, n in counted if 0 < n < vv.min_n]
    assert few, "the view must hold a theme with too few answers"
    for theme, promoters, detractors, n in counted:
        nps, shown_n = got[theme]
        assert shown_n == n, theme
        if n >= vv.min_n:
            assert nps == pytest.approx(100 * (promoters - detractors) / n), theme
        else:
            assert nps is None, theme


# --- paging ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(sample_db):
    """The tables the list reads, joined by Polars (a second implementation of the query)."""
    conn = sqlite3.connect(sample_db)
    try:
        read = {
            name: pl.read_database(f"SELECT * FROM {name}", conn, infer_schema_length=None)
            for name in ("responses", "comment_analysis", "touchpoints", "customers")
        }
    finally:
        conn.close()
    return (
        read["responses"]
        .join(read["comment_analysis"], on="response_id")
        .join(read["touchpoints"].select("touchpoint_id", "stage_id"), on="touchpoint_id")
        .join(read["customers"].select("customer_id", "segment", "region"), on="customer_id")
        .with_columns(pl.col("responded_on").str.to_date())
    )


def band(nps: pl.Expr) -> pl.Expr:
    return (
        pl.when(nps >= 9)
        .then(pl.lit("promoter"))
        .when(nps >= 7)
        .then(pl.lit("passive"))
        .when(nps.is_not_null())
        .then(pl.lit("detractor"))
        .otherwise(pl.lit("no NPS"))
    )


QUERIES = [
    voc.Query(),
    voc.Query(score_bands=("detractor", "no NPS"), sentiments=("negative",)),
    voc.Query(sources=("complaint", "social"), text="TWICE"),
    voc.Query(touchpoints=("pay_first_bill", "claim_report"), text="e"),
    voc.Query(text="[email]"),  # in the masked text only
]


@pytest.mark.parametrize("q", QUERIES, ids=range(len(QUERIES)))
def test_paging_returns_the_rows_a_polars_filter_gives_in_order(engine, table, in_memory, q):
    f = Filters(D(2025, 6, 1), D(2026, 6, 30), channels=("web", "phone", "mobile"))
    themes = in_memory.theme_names
    if q == voc.Query():
        q = voc.Query(themes=tuple(themes[:3]))
    cond = pl.col("responded_on").is_between(f.start, f.end) & pl.col("channel").is_in(
        list(f.channels)
    )
    for column, values in (
        ("touchpoint_id", q.touchpoints),
        ("sentiment_band", q.sentiments),
        ("theme", q.themes),
        ("source", q.sources),
    ):
        if values:
            cond &= pl.col(column).is_in(list(values))
    if q.score_bands:
        cond &= band(pl.col("nps")).is_in(list(q.score_bands))
    want = table.filter(cond)
    if q.text:
        masked = mask_pii_column(want["comment"])
        want = want.filter(masked.str.contains("(?i)" + re.escape(q.text)))
    want = want.sort("responded_on", "response_id", descending=True)["response_id"].to_list()
    assert want, "the query must match something to test paging"
    texts = comment_queries.Comments(engine)
    assert texts.count(f, None, q) == len(want)
    size = 7
    pages = -(-len(want) // size)
    for number in sorted({1, 2, pages}):
        rows, got_number, got_pages, found = texts.page(f, None, q, number, size=size)
        assert (got_number, got_pages, found) == (number, pages, len(want))
        assert rows["response_id"].to_list() == want[(number - 1) * size : number * size]
    beyond, number, _, _ = texts.page(f, None, q, pages + 5, size=size)
    assert number == pages and beyond["response_id"].to_list() == want[(pages - 1) * size :]
    # every match, as the page's export reads them (on SQLite it read nothing: an offset
    # without a limit left an unfilled parameter), and from an offset without a limit
    assert texts.rows(f, None, q)["response_id"].to_list() == want
    assert texts.rows(f, None, q, offset=3)["response_id"].to_list() == want[3:]


def test_a_page_masks_details_unless_asked_and_searches_the_raw_text_when_unmasked(engine, raw_sql):
    texts = comment_queries.Comments(engine)
    q = voc.Query(text="jo.bloggs@example.com")
    assert texts.count(Filters(), None, q) == 0  # masked: the address is not in the text
    (written,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses WHERE comment LIKE '%jo.bloggs@example.com%'"
    ).fetchone()
    assert written >= 1
    rows, *_ = texts.page(Filters(), None, q, 1, unmasked=True, size=written)
    assert rows.height == texts.count(Filters(), None, q, unmasked=True) == written
    assert all("jo.bloggs@example.com" in t for t in rows["raw"])
    assert not any("jo.bloggs" in t for t in rows["comment"])
    shown = voc.display_rows(rows, _journey(engine))
    assert not any("jo.bloggs" in t for t in shown["comment"])
    assert all(
        "jo.bloggs" in t for t in voc.display_rows(rows, _journey(engine), unmasked=True)["comment"]
    )


def _journey(engine):
    return store.load_journey(engine)


def test_a_managers_comments_stay_on_their_stages(engine):
    texts = comment_queries.Comments(engine).scoped(("pay",))
    rows = texts.rows(Filters(), ("pay", "claim"), voc.Query(), limit=500)
    assert rows.height == 500 and set(rows["stage_id"].to_list()) == {"pay"}
    stats = texts.stats(Filters(), None)
    assert set(stats["stage_id"].to_list()) == {"pay"}
    assert texts.themes()["comments"].sum() == voc.total(stats)


# --- filled once per new comment: import and the command ------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def small(request, tmp_path, sample_data):
    """A database with the test company's journey, customers and 400 responses."""
    tables = {
        name: frame
        for name, frame in sample_data.tables().items()
        if name not in ("responses", "contacts", "cases", "kpis")
    }
    tables["responses"] = sample_data.responses.filter(pl.col("comment").is_not_null()).head(400)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'small.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(next(_names))
    store.write_tables(url, tables)
    eng = store.make_engine(url)
    yield eng
    eng.dispose()


MAPPING = """
table = "responses"
[columns]
response_id = "ID"
customer_id = "Customer"
touchpoint_id = "Touchpoint"
responded_on = "Date"
nps = "Recommend"
channel = "Channel"
source = "Source"
comment = "Comment"
[dates]
responded_on = "%Y-%m-%d"
"""


def analysis(engine) -> pl.DataFrame:
    return store.read_select(engine, sa.select(schema.comment_analysis)).sort("response_id")


def test_an_import_analyses_only_its_new_and_changed_comments(small, tmp_path, sample_data):
    before = analysis(small)
    assert before.height == 400
    customer = sample_data.customers["customer_id"][0]
    changed_id = before["response_id"][0]
    path = tmp_path / "new.csv"
    path.write_text(
        "ID,Customer,Touchpoint,Date,Recommend,Channel,Source,Comment\n"
        f"n1,{customer},pay_first_bill,2026-09-01,2,web,survey,Awful rude and useless service\n"
        f"n2,{customer},pay_first_bill,2026-09-02,10,web,survey,Lovely quick and kind service\n"
        f"n3,{customer},pay_first_bill,2026-09-03,8,web,survey,\n"
        f"{changed_id},{customer},pay_first_bill,2026-09-04,0,web,survey,Terrible awful dreadful\n"
    )
    report = importer.run(small, "responses", path, mapping.loads(MAPPING, ".toml"))
    assert report.ok and report.written == 4 and not report.warnings
    after = analysis(small)
    assert after.height == 400 + 2  # n1 and n2; n3 has no comment
    kept = before.filter(pl.col("response_id") != changed_id)
    same_rows = after.join(kept, on="response_id", suffix="_before")
    assert same_rows.height == 399
    for col in ("sentiment", "theme", "analysed_at", "model_version"):
        assert (same_rows[col] == same_rows[f"{col}_before"]).all(), col
    new = {r["response_id"]: r for r in after.iter_rows(named=True)}
    assert new["n1"]["sentiment_band"] == "negative"
    assert new["n2"]["sentiment_band"] == "positive"
    assert new[changed_id]["sentiment_band"] == "negative"  # its text changed: analysed again
    # placed in the stored themes, not refitted
    versions = set(after["model_version"].to_list())
    assert versions == set(before["model_version"].to_list())
    model = comment_analysis.latest_model(small)[1]
    assert {new["n1"]["theme"], new["n2"]["theme"]} <= {*model["labels"], "Unclassified"}


def test_the_command_analyses_new_comments_only_and_everything_with_all(small, capsys):
    url = small.url.render_as_string(hide_password=False)
    r = schema.responses
    with small.begin() as conn:  # comments written by another loader than the import
        ids = conn.execute(sa.select(r.c.response_id).order_by(r.c.response_id).limit(3)).scalars()
        ids = list(ids)
        conn.execute(
            schema.comment_analysis.delete().where(schema.comment_analysis.c.response_id.in_(ids))
        )
    assert analysis(small).height == 397
    assert cli.main(["analyse-comments", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "analysed 3 comment(s)" in out and "placed in the" in out
    assert analysis(small).height == 400
    assert cli.main(["analyse-comments", "--url", url]) == 0
    assert "analysed 0 comment(s)" in capsys.readouterr().out
    assert cli.main(["analyse-comments", "--all", "--url", url]) == 0
    assert "analysed 400 comment(s); themes fitted anew" in capsys.readouterr().out
    rows = analysis(small)
    with small.connect() as conn:
        models = conn.execute(sa.select(sa.func.count()).select_from(schema.comment_models))
        assert models.scalar() == 2
    newest = comment_analysis.latest_model(small)[0]
    assert set(rows["model_version"].to_list()) == {newest}


def test_bad_input_to_the_command_says_what_is_wrong(tmp_path, capsys, sample_db):
    missing = tmp_path / "nowhere" / "x.db"
    assert cli.main(["analyse-comments", "--url", f"sqlite:///{missing}"]) == cli.EXIT_DATA
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and "Traceback" not in err
    assert cli.main(["analyse-comments", "--url", "no such url"]) == cli.EXIT_DATA
    assert "is not a valid URL" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert cli.main(["analyse-comments", "--url", f"sqlite:///{empty}"]) == cli.EXIT_DATA
    assert "lacks the table(s)" in capsys.readouterr().err
    old = tmp_path / "old.db"
    shutil.copy(sample_db, old)
    _drop_analysis(old)
    assert cli.main(["analyse-comments", "--url", f"sqlite:///{old}"]) == cli.EXIT_DATA
    err = capsys.readouterr().err
    assert "comment_analysis" in err and "init-db" in err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["analyse-comments", "--everything"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --everything" in capsys.readouterr().err


def _drop_analysis(path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE comment_analysis")
    conn.execute("DROP TABLE comment_models")
    conn.commit()
    conn.close()


# --- old databases and databases without comments on the Voice page -------------------------


def voice(monkeypatch, url: str, tab: str):
    from cxapp import data

    data.refresh()  # as the Data page does after an import; else the version lives a minute
    monkeypatch.setenv(store.URL_ENV, url)
    at = start()
    at.switch_page("pages/voice.py").run()
    at.session_state["voc_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("tab", ["Themes & sentiment", "Verbatims"])
def test_an_old_database_says_what_to_run_then_shows_the_comments(
    monkeypatch, tmp_path, sample_db, tab, capsys
):
    old = tmp_path / "old.db"
    shutil.copy(sample_db, old)
    _drop_analysis(old)
    url = f"sqlite:///{old}"
    at = voice(monkeypatch, url, tab)
    said = " ".join(w.value for w in at.warning)
    assert "init-db" in said and "analyse-comments" in said
    assert not at.get("plotly_chart") and not at.dataframe
    assert cli.main(["init-db", "--url", url]) == 0
    said = capsys.readouterr().out
    created = {
        line.removeprefix("created table ")
        for line in said.splitlines()
        if line.startswith("created table ")
    }
    assert created == {"comment_analysis", "comment_models"}
    assert "analyse-comments" in said
    at = voice(monkeypatch, url, tab)
    assert "have not been analysed yet" in " ".join(w.value for w in at.warning)
    assert cli.main(["analyse-comments", "--url", url]) == 0
    at = voice(monkeypatch, url, tab)
    assert not any("analyse" in w.value for w in at.warning)
    if tab == "Verbatims":
        assert any("comment" in d.value.columns for d in at.dataframe)
    else:
        assert len(at.get("plotly_chart")) == 4


def test_a_database_without_comments_says_so(monkeypatch, tmp_path, sample_db):
    bare = tmp_path / "bare.db"
    shutil.copy(sample_db, bare)
    conn = sqlite3.connect(bare)
    conn.execute("DELETE FROM comment_analysis")
    conn.execute("UPDATE responses SET comment = NULL")
    conn.commit()
    conn.close()
    for tab in ("Themes & sentiment", "Verbatims"):
        at = voice(monkeypatch, f"sqlite:///{bare}", tab)
        assert "No comments have been imported" in " ".join(i.value for i in at.info)
