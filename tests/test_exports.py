"""Exports: tables with formulas neutralised, chart images of the right size drawn in the
system Chromium, and the executive briefing read back from its PPTX and PDF."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import xml.etree.ElementTree as ET
import zipfile

import plotly.graph_objects as go
import polars as pl
import pytest
from test_app import sql_nps
from test_cli import run

from cxmetrics.charts import chart_style
from cxmetrics.contract import store
from cxmetrics.contract.registry import METRICS
from cxmetrics.findings import findings, leading
from cxmetrics.reports import briefing, exports
from cxmetrics.stats.filters import Filters
from cxmetrics.views import accountability, overview

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "\tcmd", "\rcmd", "plain", None]


def test_csv_neutralises_formulas_and_keeps_the_rest():
    frame = pl.DataFrame({"text": HOSTILE, "n": list(range(len(HOSTILE)))})
    back = pl.read_csv(io.BytesIO(exports.table_bytes(frame, "csv")), infer_schema_length=0)
    want = ["'" + v for v in HOSTILE[:6]] + ["plain", None]
    assert back["text"].to_list() == want
    assert back["n"].to_list() == [str(i) for i in range(len(HOSTILE))]  # numbers untouched


def test_a_table_export_for_people_reads_as_the_screen_and_parquet_keeps_every_digit():
    """A board pack got "share 51.351351351351354" and "q 7.89e-12" under the code's names."""
    import streamlit as st

    from cxapp import ui

    config = {
        "segment": "Segment",
        "share": st.column_config.NumberColumn("Share at risk", format="%.1f%%"),
        "nps": st.column_config.NumberColumn("NPS", format="%+.0f"),
        "customers": st.column_config.NumberColumn("Customers", format="%d"),
    }
    labels, decimals, _ = ui._shown_as(config)
    assert labels == {
        "segment": "Segment",
        "share": "Share at risk",
        "nps": "NPS",
        "customers": "Customers",
    }
    assert decimals == {"share": 1, "nps": 0, "customers": 0}
    frame = pl.DataFrame(
        {"segment": ["Personal"], "share": [51.351351351351354], "nps": [-0.3], "q": [7.89e-12]}
    )
    back = pl.read_csv(io.BytesIO(exports.table_bytes(frame, "csv", labels, decimals)))
    assert back.columns == ["Segment", "Share at risk", "NPS", "q"]
    assert back.row(0) == ("Personal", 51.4, 0.0, 7.89e-12)  # no "-0.0"; q as it is
    sheet = pl.read_excel(io.BytesIO(exports.table_bytes(frame, "xlsx", labels, decimals)))
    assert sheet.columns == back.columns and sheet["Share at risk"].to_list() == [51.4]
    raw = pl.read_parquet(io.BytesIO(exports.table_bytes(frame, "parquet", labels, decimals)))
    assert raw.equals(frame)


def test_xlsx_holds_no_formula_and_shows_the_text_literally():
    frame = pl.DataFrame({"text": HOSTILE, "n": list(range(len(HOSTILE)))})
    content = exports.table_bytes(frame, "xlsx")
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet  # no cell is a formula
    back = pl.read_excel(io.BytesIO(content), infer_schema_length=0)
    assert back["text"].to_list()[:6] == ["'" + v for v in HOSTILE[:6]]
    assert back["text"][6] == "plain"


def test_parquet_round_trips_exactly():
    frame = pl.DataFrame({"text": HOSTILE, "d": [dt.date(2026, 1, i + 1) for i in range(8)]})
    assert pl.read_parquet(io.BytesIO(exports.table_bytes(frame, "parquet"))).equals(frame)


def test_lists_and_enums_export_as_text():
    frame = pl.DataFrame({"trend": [[1, 2, 3]], "e": ["a"]}).with_columns(
        pl.col("e").cast(pl.Enum(["a", "b"]))
    )
    back = pl.read_csv(io.BytesIO(exports.table_bytes(frame, "csv")))
    assert back.row(0) == ("1 2 3", "a")


def test_file_names_carry_the_view_and_the_date():
    name = exports.file_name("NPS by stage", "Claims", "png", dt.date(2026, 9, 30))
    assert name == "nps-by-stage_claims_2026-09-30.png"


FIG = go.Figure(go.Bar(x=["a", "b"], y=[3, 1]), layout=dict(title="Test chart", height=400))
FOOTNOTE = "1 Jul 2026 – 30 Sep 2026 · File a claim · all departments"


def test_png_is_a_valid_image_at_twice_the_size():
    content = exports.image_bytes(FIG, "png", FOOTNOTE, size=(800, 400))
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    assert (width, height) == (800 * exports.PNG_SCALE, (400 + 60) * exports.PNG_SCALE)


def test_svg_is_valid_and_carries_title_and_footnote():
    content = exports.image_bytes(FIG, "svg", FOOTNOTE, size=(800, 400))
    root = ET.fromstring(content)
    assert root.tag.endswith("svg") and float(root.get("width")) == 800
    text = content.decode("utf-8")
    assert "Test chart" in text and "File a claim" in text


def test_an_exported_footnote_sits_under_a_legend_drawn_below_the_chart():
    """ "Touchpoints ranked by NPS points at stake" had its footnote printed over its legend,
    in the export and in the briefing's image."""
    fig = go.Figure(
        [go.Bar(x=[1, 2], y=["a", "b"], orientation="h", name=n) for n in ("one", "two")]
    )
    chart_style.legend_below(fig)
    height = int(fig.layout.height) + 60  # as image_bytes draws it
    out = exports.with_footnote(fig, FOOTNOTE, height)
    (note,) = [a for a in out.layout.annotations if a.text.startswith("1 Jul 2026")]
    note_top = out.layout.margin.b + note.yshift + 11 * 1.4  # pixels above the bottom edge
    legend_bottom = out.layout.legend.y * height
    assert out.layout.legend.yref == "container" and note.yanchor == "bottom"
    assert out.layout.margin.b + note.yshift >= 0 and note_top <= legend_bottom, (
        note_top,
        legend_bottom,
    )
    # a chart without a legend below keeps its footnote where it was
    plain = exports.with_footnote(go.Figure(FIG), FOOTNOTE, 460)
    (note,) = [a for a in plain.layout.annotations if a.text.startswith("1 Jul 2026")]
    assert plain.layout.margin.b == 90 and note.yshift == -78


def test_an_exported_chart_s_title_keeps_clear_of_the_left_edge():
    """The page pads a chart, a file does not: the title touched the image's edge (x = 0)."""
    fig = go.Figure(FIG, layout=dict(template=chart_style.TEMPLATE))
    root = ET.fromstring(exports.chart_bytes(fig, "svg", FOOTNOTE))
    (title,) = [t for t in root.iter() if t.tag.endswith("text") and t.text == "Test chart"]
    assert float(title.get("x")) >= exports.EXPORT_TITLE_PAD > 0


def test_html_is_standalone_and_interactive():
    page = exports.html_bytes(FIG, FOOTNOTE).decode("utf-8")
    assert "<html" in page and "Plotly.newPlot" in page
    assert '<script src="http' not in page and len(page) > 1_000_000  # plotly.js is inside
    assert "File a claim" in page


# --- the briefing ------------------------------------------------------------------------


def briefing_inputs(url: str):
    engine = store.make_engine(url)
    try:
        return briefing.load_inputs(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def inputs(sample_url):
    return briefing_inputs(sample_url)


def pptx_texts(content: bytes) -> list[list[str]]:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(content))
    return [
        [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
        for slide in deck.slides
    ]


def pictures(content: bytes) -> int:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(content))
    return sum(1 for s in deck.slides for sh in s.shapes if sh.shape_type == 13)


def test_the_briefing_matches_the_view(inputs, raw_sql):
    ds = inputs["ds"]
    end = ds.last_day
    view = Filters(start=end - dt.timedelta(days=89), end=end)
    b = briefing.build(**inputs, f=view)
    files = briefing.render(b)
    slides = pptx_texts(files["pptx"])
    assert len(slides) == len(b.slides) + 1
    assert [s[0] for s in slides[1:]] == [s.title for s in b.slides]
    title = "\n".join(slides[0])
    period = f"{view.start.day} {view.start:%b %Y} – {end.day} {end:%b %Y}"
    assert period in title and "all stages · all departments" in title
    nps, n = sql_nps(raw_sql, view.start, end)
    assert slides[1][0] == briefing.WHAT_TO_KNOW  # the story first, then the detail
    headline = "\n".join(slides[2])
    assert f"NPS: {METRICS['nps'].format(nps)} (" in headline and f"n = {n:,} answers" in headline
    # a significant fall is stated as its tile states it, with the status its badge shows: the
    # slide said nothing of either, while calling the unchanged scores unchanged
    before, _ = sql_nps(raw_sql, view.start - dt.timedelta(days=90), view.start - dt.timedelta(1))
    (target,) = raw_sql.execute(
        "SELECT target FROM targets WHERE metric = 'nps' AND stage_id IS NULL"
    ).fetchone()
    (nps_line,) = [line for line in headline.splitlines() if line.startswith("NPS: ")]
    assert nps - before < -2 and nps < target  # the sample's fall, below its target
    prior = f"{view.start - dt.timedelta(90):%-d %b %Y}"
    assert f"· {nps - before:+.0f} pts against {prior}" in nps_line, nps_line
    assert nps_line.endswith(", significant · below target)"), nps_line
    assert b.charts >= 8 and pictures(files["pptx"]) == b.charts
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(files["pdf"]))
    assert len(pdf.pages) == len(b.slides) + 1
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert period in text and METRICS["nps"].format(nps) in text
    assert "Closed is not resolved" in text and "In customers' words" in text
    assert briefing.WHAT_TO_KNOW in pdf.pages[1].extract_text()
    # each stage's status on the journey slide names the metric it is about: a stage whose
    # NPS meets its target is never said to be below or near target on NPS
    ov = overview.compute(ds, view)
    strip = next(s for s in b.slides if s.title == "The journey, stage by stage").lines
    judged = 0
    for stage, line in zip(ov.stages, strip, strict=True):
        score, target = stage.scores["nps"], stage.targets["nps"]
        said = re.search(r"· (below|near) target on ([A-Z, ]+) ·", line)
        assert said or " target on " not in line, line
        if said and target is not None and score.value >= target:
            judged += 1
            assert "NPS" not in said.group(2).split(", "), line
    assert judged  # the sample's view has such a stage (its CES below target)
    # a lead slide exactly when the findings engine kept a lead (contacts up, NPS down)
    tested = leading.candidates(ds, inputs["contacts"], view)
    # a lead holds over the weeks to the view's last full week, not over the view: said
    sunday = end - dt.timedelta(days=(end.weekday() + 1) % 7)
    assert tested and all(
        re.search(rf"over the \d+ weeks to {sunday.day} {sunday:%b %Y}\)$", t.sentence)
        for t in tested
    ), [t.sentence for t in tested]
    kept = [k for k in findings.decide(tested) if k.effect < 0]
    leads = [s for s in b.slides if s.title == "Contacts warn before surveys do"]
    assert len(leads) == min(len(kept), 1)
    if kept:
        assert leads[0].lines == [f"{kept[0].sentence}: when contacts rise, NPS falls later."]
        assert "Benjamini-Hochberg" in leads[0].note


def test_a_briefing_of_a_view_without_responses_judges_no_department(inputs, raw_sql):
    """The page says "No responses" for a stage and channel that never meet; the
    briefing's accountability slide judged the departments on their other stages."""
    (agent_at_help,) = raw_sql.execute(
        "SELECT COUNT(*) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "WHERE t.stage_id = 'help' AND r.channel = 'agent'"
    ).fetchone()
    assert agent_at_help == 0
    ds = inputs["ds"]
    view = Filters(
        start=ds.last_day - dt.timedelta(days=89),
        end=ds.last_day,
        stages=("help",),
        channels=("agent",),
    )
    b = briefing.build(**inputs, f=view)
    (slide,) = [s for s in b.slides if s.title == "Green scorecards, red experiences"]
    assert slide.lines == [accountability.NO_RESPONSES] and slide.figure is None


def test_a_manager_s_briefing_names_their_departments_not_the_whole_company(inputs):
    """A manager's briefing (their scope, no filter chosen) said "all stages · all
    departments" on its title slide and was named ``_all_``: forwarded, it read as the
    company's numbers."""
    from cxmetrics.stats import scope

    mine = scope.inputs(inputs, ("claims",))
    end = mine["ds"].last_day
    b = briefing.build(**mine, f=Filters(start=end - dt.timedelta(days=89), end=end))
    assert b.filters == Filters().describe(
        mine["ds"].journey.labels, with_period=False, scope=("claims",)
    )
    assert "all your stages · Claims ·" in b.filters and "all departments" not in b.filters
    start = end - dt.timedelta(days=89)
    assert b.view_name == f"claims_{start:%Y%m%d}-{end:%Y%m%d}"
    title = "\n".join(pptx_texts(briefing.render(b, formats=("pptx",))["pptx"])[0])
    assert "all your stages · Claims" in title and "all departments" not in title


@pytest.fixture(scope="module")
def partial_inputs(partial_url):
    return briefing_inputs(partial_url)


def deck(content: bytes) -> dict[str, tuple[list[str], int]]:
    """Each slide after the title, by its title: the text of its boxes after the title and
    how many pictures it holds."""
    from pptx import Presentation

    out = {}
    for slide in list(Presentation(io.BytesIO(content)).slides)[1:]:
        texts = [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
        out[texts[0]] = (texts[1:], sum(1 for sh in slide.shapes if sh.shape_type == 13))
    return out


def partial_briefing(partial_inputs, monkeypatch, formats=("pptx",)):
    monkeypatch.delenv("CX_PUBLIC_URL", raising=False)
    ds = partial_inputs["ds"]
    view = Filters(start=ds.last_day - dt.timedelta(days=89), end=ds.last_day)
    b = briefing.build(**partial_inputs, f=view)
    return b, briefing.render(b, formats)


def test_a_briefing_without_kpis_or_cases_says_so_without_a_chart(partial_inputs, monkeypatch):
    from pypdf import PdfReader

    from cxmetrics.views import accountability, voc_view

    assert partial_inputs["kpis"].height == 0 and partial_inputs["cases"].height == 0
    b, files = partial_briefing(partial_inputs, monkeypatch, ("pptx", "pdf"))
    slides = deck(files["pptx"])
    # the sentence that says what to import, and nothing drawn
    assert slides["Green scorecards, red experiences"] == ([accountability.NO_KPIS], 0)
    assert slides["Closed is not resolved"] == ([voc_view.NO_CASES], 0)
    assert slides["The journey, stage by stage"][1] == 1  # a chart that was measured is drawn
    # "what changed" once, on its own slide; the moments of truth say what their chart shows
    changes = slides["What changed"][0][0].split("\n")
    assert changes == [s.lines for s in b.slides if s.title == "What changed"][0]
    for title, (texts, _) in slides.items():
        if title not in ("What changed", briefing.WHAT_TO_KNOW):
            assert not any(c in t for c in changes for t in texts), title
    assert slides["The weakest moments of truth"][0][0].startswith(
        tuple(f"{t} (" for t in partial_inputs["ds"].journey.touchpoints["name"])
    )
    pages = PdfReader(io.BytesIO(files["pdf"])).pages[1:]
    assert len(pages) == len(b.slides)
    for slide, page in zip(b.slides, pages, strict=True):
        text = page.extract_text()
        if slide.title in ("Green scorecards, red experiences", "Closed is not resolved"):
            assert len(page.images) == 0, slide.title
            assert "KPI-weeks" not in text and "cases opened" not in text, slide.title
        elif slide.title == "The journey, stage by stage":
            assert len(page.images) == 1


def test_the_weakest_moments_slide_says_what_its_chart_shows(inputs, raw_sql, monkeypatch):
    from cxmetrics.views import overview

    monkeypatch.delenv("CX_PUBLIC_URL", raising=False)
    end = inputs["ds"].last_day
    view = Filters(start=end - dt.timedelta(days=89), end=end)
    b = briefing.build(**inputs, f=view)
    slides = {s.title: s for s in b.slides}
    # by hand: each declared moment of truth with 30+ NPS answers in the period, worst 5
    worst = raw_sql.execute(
        "SELECT t.name, s.name, 100.0 * (SUM(r.nps >= 9) - SUM(r.nps <= 6)) / COUNT(r.nps), "
        "COUNT(r.nps) FROM responses r JOIN touchpoints t USING (touchpoint_id) "
        "JOIN stages s ON s.stage_id = t.stage_id "
        "WHERE t.moment_of_truth AND r.responded_on BETWEEN ? AND ? "
        "GROUP BY t.touchpoint_id HAVING COUNT(r.nps) >= 30 ORDER BY 3 LIMIT 5",
        (view.start.isoformat(), end.isoformat()),
    ).fetchall()
    moments = slides["The weakest moments of truth"]
    assert moments.figure is not None and len(moments.lines) == len(worst) > 0
    for line, (touchpoint, stage, nps, n) in zip(moments.lines, worst, strict=True):
        assert line.startswith(f"{touchpoint} ({stage}): NPS {METRICS['nps'].format(nps)} ± ")
        assert f"(n = {n:,} answers) · " in line and "target" in line
    # what changed: on its own slide, once, and nowhere else but among the top findings
    changes = overview.compute(inputs["ds"], view).changes
    assert changes and slides["What changed"].lines == changes
    for slide in b.slides:
        if slide.title not in ("What changed", briefing.WHAT_TO_KNOW):
            assert not set(slide.lines) & set(changes), slide.title


def test_briefing_per_department_writes_each_departments_numbers(sample_url, tmp_path, raw_sql):
    end = dt.date.fromisoformat(
        raw_sql.execute("SELECT MAX(responded_on) FROM responses").fetchone()[0]
    )
    start = end - dt.timedelta(days=89)
    result = run(
        "briefing",
        "--out",
        str(tmp_path),
        "--format",
        "pptx",
        "--department",
        "claims,billing",
        "--per",
        "department",
        url=sample_url,
    )
    assert result.returncode == 0, result.stderr
    written = [line.removeprefix("wrote ") for line in result.stdout.splitlines()]
    assert len(written) == 2 and all(p.endswith(".pptx") for p in written)
    for dept in ("claims", "billing"):  # named by the department's id
        (path,) = [p for p in written if f"_{dept}_" in p.split("/")[-1]]
        with open(path, "rb") as f:
            slides = pptx_texts(f.read())
        pro, det, n = raw_sql.execute(
            "SELECT SUM(nps >= 9), SUM(nps <= 6), COUNT(nps) FROM responses r "
            "JOIN touchpoints t USING (touchpoint_id) WHERE r.responded_on BETWEEN ? AND ? "
            "AND t.stage_id IN (SELECT stage_id FROM stage_owners WHERE department_id = ?)",
            (start.isoformat(), end.isoformat(), dept),
        ).fetchone()
        (headline,) = ["\n".join(s) for s in slides if s[0] == "Headline numbers"]
        assert f"NPS: {METRICS['nps'].format(100 * (pro - det) / n)} (" in headline
        assert f"n = {n:,} answers" in headline
    bad = run("briefing", "--out", str(tmp_path), "--format", "docx", url=sample_url)
    assert bad.returncode == 1 and "unknown format docx" in bad.stderr


def test_department_briefing_names_come_from_ids_and_never_collide(tmp_path):
    ids = ["営業", "経理", "Claims (UK)", "Claims UK", "claims_uk", "claims-uk", "x" * 60, "x" * 61]
    names = [
        exports.file_name("cx-briefing", exports.view_slug(Filters(departments=(d,))), "pdf")
        for d in ids
    ]
    assert len(set(names)) == len(ids), names
    assert all(re.fullmatch(r"cx-briefing_[a-z0-9_-]+_\d{4}-\d{2}-\d{2}\.pdf", n) for n in names)
    assert exports.view_slug(Filters(departments=("claims",))) == "claims"  # plain ids stay
    assert exports.view_slug(Filters()) == "all"


def test_a_file_name_carries_every_filter_and_the_view_s_dates():
    """Two analysts exporting two segments on one day got the same name ("themes_all_…")."""
    period = dict(start=dt.date(2026, 7, 3), end=dt.date(2026, 9, 30))
    every = Filters(
        **period, stages=("claim",), departments=("claims",), channels=("phone",),
        segments=("Small business",), regions=("North",),
    )  # fmt: skip
    # a value that is not a plain id ("Small business") keeps a hash of itself: "SME+" and
    # "SME" never meet
    small = exports.id_slug("small business")
    assert small.startswith("small-business-") and len(small) == len("small-business-") + 8
    assert exports.view_slug(every) == f"claims-claim-phone-{small}-north_20260703-20260930"
    plus, plain = (exports.view_slug(Filters(segments=(s,))) for s in ("SME+", "SME"))
    assert plus != plain and plain == "sme"
    assert exports.view_slug(Filters(**period)) == "all_20260703-20260930"
    assert exports.view_slug(Filters(**period), scope=("service",)) == "service_20260703-20260930"
    names = {
        exports.file_name("Themes", exports.view_slug(Filters(**period, segments=(s,))), "csv")
        for s in ("Premier", "Personal")
    }
    assert len(names) == 2
    many = Filters(**period, regions=tuple(f"Region {i:02d}" for i in range(40)))
    fewer = Filters(**period, regions=tuple(f"Region {i:02d}" for i in range(39)))
    long_names = {exports.view_slug(many), exports.view_slug(fewer)}
    assert len(long_names) == 2 and all(len(n) <= exports.VIEW_CHARS + 18 for n in long_names)

    def one(view_name: str, filters: str) -> briefing.Briefing:
        return briefing.Briefing("t", "p", filters, view_name, [], dt.date(2026, 9, 30))

    with pytest.raises(exports.ExportError, match="Sales and Sales again would both"):
        briefing.check_distinct([one("sales", "Sales"), one("sales", "Sales again")])
    briefing.check_distinct([one("sales", "Sales"), one("claims", "Claims")])
