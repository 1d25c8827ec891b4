"""The executive briefing: the filtered view as a PPTX deck and a PDF.

``build`` gathers the view's numbers and charts from the same compute modules the pages use
(so the briefing and the page agree); ``to_pptx`` and ``to_pdf`` lay them out. Every chart
slide carries its definition and n. Slides, in order: title (period and filters), what to
know (the overview's first screen: top findings, owners, cost, actions), KPI tiles, the
journey strip, moments of truth, what changed, impact, accountability and false positives,
loyalty trend, churn by loyalty, revenue at risk, the closed-loop gap, leading indicators,
action plans with their measured effect, and a few representative comments (personal details
masked). A slide whose inputs were never imported (KPIs, cases, churn, revenue) carries the
sentence that says what to import, and no chart.

When the dashboard's public address is known (``CX_PUBLIC_URL``), every page after the title
and every finding of "What to know" carries a link to the dashboard's page and filtered view
that explains it (:mod:`cxmetrics.views.links`), the same in the PDF and the deck; without it the
files name no link at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from cxmetrics.charts import (
    accountability_charts,
    journey_charts,
    loyalty_charts,
    overview_charts,
    voc_charts,
)
from cxmetrics.contract.periods import trend_unit
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.contract.text import day_text, period_text
from cxmetrics.findings import action_effect, closed_loop, findings
from cxmetrics.findings import impact as impact_mod
from cxmetrics.reports import exports
from cxmetrics.stats import metrics as m
from cxmetrics.stats import voc
from cxmetrics.stats.comment_queries import Comments
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import (
    accountability,
    first_screen,
    links,
    loyalty,
    overview,
    overview_links,
    voc_view,
    wording,
)

Progress = Callable[[float, str], None]
TILE_KEYS = ("nps", "csat", "ces", "responses", "churn", "revenue_at_risk")
SLIDE_SIZE = (1280, 620)  # chart pixels on a 16:9 slide
VERBATIMS = 4
WHAT_TO_KNOW = "What to know"
NO_MOMENTS = (
    "The journey declares no moment of truth. Mark the touchpoints that matter most as "
    "moments of truth in the journey definition to see them here."
)
_NUMBERED = re.compile(r"\d+\. ")  # a finding's first line on a dense slide
LINK_COLOR = "1F4E79"  # the dashboard's primary colour


def _quiet(_f: float, _m: str) -> None:
    return None


@dataclass(frozen=True)
class Link:
    """A link to a page of the dashboard and a filtered view: ``label`` names the page."""

    label: str
    url: str

    @property
    def text(self) -> str:
        return f"{self.label} page ›"


@dataclass(frozen=True)
class Slide:
    title: str
    lines: list[str] = field(default_factory=list)
    figure: go.Figure | None = None
    note: str = ""  # the definition and n under a chart
    dense: bool = False  # many lines: smaller type, numbered lines in bold
    link: Link | None = None  # the page and view that explain the slide, beside its title
    line_links: tuple[Link | None, ...] = ()  # a link at the end of a line, by line


@dataclass(frozen=True)
class Briefing:
    title: str
    period: str
    filters: str
    view_name: str  # for file names
    slides: list[Slide]
    made_on: dt.date

    @property
    def charts(self) -> int:
        return sum(1 for s in self.slides if s.figure is not None)


def _period(start: dt.date, end: dt.date) -> str:
    return period_text(start, end)


def representative_comments(comments: Comments, f: Filters, stage_ids, k: int = VERBATIMS):
    """The most negative comments of the largest themes in view, then the most positive
    comment: short, distinct, masked (read from the database, a few rows)."""
    themes = voc.theme_summary(comments.stats(f, stage_ids))["theme"].head(k - 1).to_list()
    return comments.representative(f, stage_ids, themes, k)


def build(
    ds: Dataset,
    kpis: pl.DataFrame,
    cases: pl.DataFrame,
    contacts: pl.DataFrame,
    comments: Comments,
    f: Filters,
    min_n: int = MIN_N,
    made_on: dt.date | None = None,
    actions: pl.DataFrame | None = None,
    public_url: str | None = None,
) -> Briefing:
    """Everything in the briefing for the view ``f``. ``cases`` from
    :func:`closed_loop.prepare`, ``contacts`` from :func:`dataset.load_contacts`,
    ``actions`` from :func:`cxmetrics.contract.actions.load` (None: no action plans slide);
    ``public_url``: the dashboard's address for the links (None: ``CX_PUBLIC_URL``, and no
    links when that is not set either)."""
    made_on = made_on or dt.date.today()
    if public_url is None:
        try:
            public_url = links.public_url()
        except ValueError as exc:
            raise exports.ExportError(str(exc)) from exc
    labels = ds.journey.labels
    ov = overview.compute(ds, f, min_n)
    view = Filters(ov.start, ov.end, f.stages, f.departments, f.channels, f.segments, f.regions)
    stage_ids = ds.stage_ids(view)
    filters_text = view.describe(labels, with_period=False, scope=ds.scope)
    previous = _period(ov.previous.start, ov.previous.end) if ov.previous is not None else None
    slides: list[Slide] = []
    symbol = ds.settings.currency_symbol

    def link(page: str, stages: tuple[str, ...] | None = None) -> Link | None:
        """The slide's link: ``page`` on the briefing's view (on ``stages`` when given)."""
        if not public_url:
            return None
        shown = view if stages is None else view.with_stages(stages)
        return Link(first_screen.PAGE_TITLES[page], links.view_url(public_url, page, shown))

    # what to know: the overview's first screen, the same findings, owners, cost and actions
    listing = None if actions is None else action_effect.listing(ds, actions, made_on)
    evidence = first_screen.evidence(ds, view, contacts, cases, kpis, min_n, ov)
    known = first_screen.build(ds, view, evidence, kpis, listing, made_on, public_url or "")
    lines = [f"{_period(ov.start, ov.end)} · {filters_text}", *known.lines(ds.money)]
    slides.append(
        Slide(
            WHAT_TO_KNOW,
            lines,
            note=first_screen.NOTE,
            dense=True,
            link=link("overview"),
            line_links=headline_links(known, lines) if public_url else (),
        )
    )

    # KPI tiles
    tile_lines = []
    for key in TILE_KEYS:
        t = ov.tiles[key]
        text = f"{METRICS[key].short}: {wording.tile_value(t, min_n, symbol)}"
        tile_lines.append(f"{text} ({wording.tile_caption(t, min_n, previous, symbol)})")
    slides.append(
        Slide(
            "Headline numbers",
            tile_lines,
            note=METRICS["nps"].definition,
            link=link("overview"),
            # each number, as its tile on the overview links it
            line_links=tuple(link(links.TILE_PAGES[key]) for key in TILE_KEYS),
        )
    )

    # the journey strip
    strip = []
    for s in ov.stages:
        nps = wording.value_text("nps", s.scores["nps"], min_n)
        strip.append(
            f"{s.name}: NPS {nps} (n = {s.scores['nps'].n:,}) · {s.status_words} · lead "
            f"{s.owners[0] if s.owners else '–'}"
        )
    slides.append(
        Slide(
            "The journey, stage by stage",
            strip,
            overview_charts.fig_stage_nps(ov.stages, min_n),
            f"{METRICS['nps'].definition} n = {ov.tiles['nps'].score.n:,} NPS answers in view.",
            link=link("journey"),
        )
    )
    slides.append(
        Slide(
            "The weakest moments of truth",
            moment_lines(ov.worst_moments, ds, min_n),
            overview_charts.fig_worst_moments(ov.worst_moments)
            if ov.worst_moments.height
            else None,
            f"Declared moments of truth with at least {min_n} answers, by NPS.",
            link=link("journey"),
        )
    )
    # what changed against the previous period, as the overview says and links it
    slides.append(
        Slide(
            "What changed",
            ov.changes,
            note=overview.changes_note(previous, ov.tested.get("change", 0)),
            link=link("overview"),
            line_links=tuple(
                Link(first_screen.PAGE_TITLES[page], url) if url else None
                for _line, page, url in overview_links.changes(
                    public_url, ov.changes, ov.findings, view
                )
            )
            if public_url
            else (),
        )
    )
    cells = overview_cells(ds, view)
    ranking = impact_mod.ranking(cells, ds.journey, min_n, ds.design_effect)
    slides.append(
        Slide(
            "Where loyalty is won and lost",
            [],
            journey_charts.fig_impact(ranking, min_n=min_n),
            f"{impact_mod.METHOD} n = {int(ranking['n_nps'].sum()):,} NPS answers. "
            + findings.caption(
                int(ranking["p"].is_not_null().sum()),
                "a touchpoint's NPS against the rest of its stage",
            ),
            link=link("journey"),
        )
    )

    # accountability
    av = accountability.compute(ds, kpis, view, min_n)
    flagged = [v.sentence for v in av.verdicts if v.false_positive]
    if av.unjudged_reason:  # no KPIs or departments (in view): nothing to plot, say why
        slides.append(
            Slide(
                "Green scorecards, red experiences",
                [av.unjudged_reason],
                link=link("accountability"),
            )
        )
    else:
        slides.append(
            Slide(
                "Green scorecards, red experiences",
                flagged or [accountability.clear_words(av.verdicts)],
                accountability_charts.fig_silo_quadrant(av.verdicts),
                f"{METRICS['false_positive'].definition} n = {int(av.kpis.height):,} KPI-weeks. "
                f"{accountability.family_caption(av.verdicts)}",
                link=link("accountability"),
            )
        )

    # loyalty and money
    stats = ds.slice_stats(view)
    unit = trend_unit(ov.start, ov.end)
    trend = loyalty.trend(stats, unit, None, min_n, ds.design_effect)
    slides.append(
        Slide(
            f"NPS by {unit}",
            [],
            loyalty_charts.fig_nps_trend(trend, unit),
            f"{METRICS['nps'].definition} n = {int(trend['n_nps'].sum()):,} answers.",
            link=link("loyalty"),
        )
    )
    customers = loyalty.customers_in_view(ds, view)
    no_churn = ds.facts.unknown_text("churn")
    if no_churn:
        slides.append(Slide("Does loyalty predict who leaves?", [no_churn], link=link("loyalty")))
    else:
        by_loyalty = loyalty.churn_by_loyalty(customers, min_n)
        slides.append(
            Slide(
                "Does loyalty predict who leaves?",
                [],
                loyalty_charts.fig_churn_by(
                    by_loyalty, "group", "Churn by NPS group", "Latest NPS answer"
                ),
                f"{METRICS['churn'].definition} n = {customers.height:,} customers.",
                link=link("loyalty"),
            )
        )
    rar_tile = ov.tiles["revenue_at_risk"]
    if rar_tile.unknown:
        slides.append(Slide("Revenue at risk", [rar_tile.unknown], link=link("loyalty")))
    else:
        by_stage = loyalty.latest_by_stage(ds, view)
        rar = loyalty.revenue_at_risk_by(ds, view, "stage", by_stage)
        rar_text = wording.tile_value(rar_tile, min_n, symbol)
        slides.append(
            Slide(
                "Revenue at risk",
                [
                    f"Revenue at risk in view: {rar_text} "
                    f"({wording.tile_caption(rar_tile, min_n, previous, symbol)})"
                ],
                loyalty_charts.fig_revenue_at_risk(rar, "stage", symbol),
                METRICS["revenue_at_risk"].definition,
                link=link("loyalty"),
            )
        )

    # the closed loop and leading indicators
    vv = voc_view.compute(ds, comments, cases, contacts, view, min_n)
    if cases.height == 0:  # never imported: what to import, and no empty chart
        slides.append(Slide("Closed is not resolved", [voc_view.NO_CASES], link=link("voice")))
    else:
        slides.append(
            Slide(
                "Closed is not resolved",
                [
                    closed_loop_line(vv.headline),
                    # whether customers came back is unknown there: said, not counted as none
                    *(
                        [closed_loop.NO_REPEATS]
                        if closed_loop.repeats_unknown(vv.loop_cases)
                        else []
                    ),
                ],
                voc_charts.fig_closed_vs_confirmed(vv.per_department, min_n),
                f"{METRICS['confirmed_rate'].definition} "
                f"{METRICS['false_closure_rate'].definition} "
                f"{vv.loop_window} n = {vv.loop_cases.height:,} cases opened.",
                link=link("voice"),
            )
        )
    if vv.lead_warnings:  # only a lead the findings engine kept
        lead = vv.lead_warnings[0]
        stage = lead.stages[0]
        s = next(x for x in vv.signals if x.stage_id == stage)
        name = ds.journey.stage_name(stage)
        slides.append(
            Slide(
                "Contacts warn before surveys do",
                [f"{lead.sentence}: when contacts rise, NPS falls later."],
                voc_charts.fig_leading(vv.weekly.filter(pl.col("stage_id") == stage), name, s),
                f"{vv.lead_caption} n = {lead.n} weeks.",
                link=link("voice", (stage,)),
            )
        )

    # action plans and their measured effect
    if actions is not None:
        plans = action_slide(ds, actions, stage_ids, made_on, listing)
        slides.append(dataclasses.replace(plans, link=link("accountability")))

    # verbatims
    said = representative_comments(comments, view, stage_ids)
    slides.append(
        Slide(
            "In customers' words",
            [
                f"“{r['comment']}” — {labels.get(str(r['stage_id']), str(r['stage_id']))}, "
                f"{day_text(r['responded_on'])}, {r['source']}"
                for r in said
            ]
            or ["No comments in view."],
            note="The most negative comment of each of the largest themes, and the most "
            "positive; e-mail addresses and phone numbers masked.",
            link=link("voice"),
        )
    )
    view_name = exports.view_slug(view, ds.scope)
    company = ds.settings.company_name
    return Briefing(
        f"{company}: customer experience briefing" if company else "Customer experience briefing",
        _period(ov.start, ov.end),
        filters_text,
        view_name,
        slides,
        made_on,
    )


def moment_lines(worst: pl.DataFrame, ds: Dataset, min_n: int) -> list[str]:
    """What the weakest-moments chart shows, one line per moment of truth, worst first: its
    NPS with the 95% margin, n and status against its stage's target."""
    if worst.height == 0:
        if not ds.journey.touchpoints["moment_of_truth"].any():
            return [NO_MOMENTS]
        return [f"No declared moment of truth has {min_n} or more NPS answers in this view."]
    lines = []
    for r in worst.iter_rows(named=True):
        se = None if r["nps_moe"] is None else r["nps_moe"] / m.Z95
        score = m.Score("nps", r["nps"], r["n_nps"], se)  # judged as the chart colours it
        target = r["nps_target"]
        status = m.status(score, target, min_n)
        margin = "" if r["nps_moe"] is None else f" ± {r['nps_moe']:.1f}"
        against = "" if target is None else f" (stage target {METRICS['nps'].format(target)})"
        lines.append(
            f"{r['touchpoint']} ({r['stage']}): NPS {METRICS['nps'].format(r['nps'])}"
            f"{margin} (n = {r['n_nps']:,} answers) · {status}{against}"
        )
    return lines


def headline_links(known: first_screen.FirstScreen, lines: list[str]) -> tuple[Link | None, ...]:
    """The link of each line of "What to know": a finding's first line links to its view."""
    by_line = {f"{i}. {h.sentence}": h for i, h in enumerate(known.headlines, start=1)}
    return tuple(
        Link(first_screen.PAGE_TITLES[h.page], h.link) if (h := by_line.get(line)) else None
        for line in lines
    )


ACTION_LINES = 8


def action_lines(listing: pl.DataFrame, limit: int = ACTION_LINES) -> list[str]:
    """One line per action (late ones first, then by due date): owner, where, due, status
    and its measured effect; at most ``limit``, and how many more there are."""
    rows = listing.sort([pl.col("late").not_(), "due_on", "action_id"]).iter_rows(named=True)
    lines = []
    for r in rows:
        where = r["stage"] + (f" · {r['touchpoint']}" if r["touchpoint"] else "")
        late = "LATE, " if r["late"] else ""
        lines.append(
            f"{r['action_id']} {r['title']} — {r['department']}, {where}; due "
            f"{day_text(r['due_on'])} ({late}{r['status']}). Effect: {r['effect_note']}"
        )
    if len(lines) > limit:
        return [*lines[:limit], f"… and {len(lines) - limit} more on the Accountability page."]
    return lines


def action_slide(
    ds: Dataset, actions: pl.DataFrame, stage_ids, today: dt.date, listing=None
) -> Slide:
    """The actions on the stages in view with their measured effect (judged over every
    action of the dataset together, as on the pages). ``listing``: that listing, when the
    caller has it."""
    if listing is None:
        listing = action_effect.listing(ds, actions, today)
    if stage_ids is not None:
        listing = listing.filter(pl.col("stage_id").is_in(list(stage_ids)))
    return Slide(
        "Action plans and their measured effect",
        action_lines(listing) or ["No action plan on the stages in view."],
        note=action_effect.METHOD,
    )


def closed_loop_line(headline: str | None) -> str:
    return (
        headline
        or "No department's closed-versus-confirmed gap is significantly larger than the "
        "other departments' in this view."
    ).replace("**", "")


def overview_cells(ds: Dataset, f: Filters) -> pl.DataFrame:
    """The view's statistics by stage × touchpoint × channel (what the impact ranking reads)."""
    return m.sums(ds.slice_stats(f), ["stage_id", "touchpoint_id", "channel"])


# --- rendering ---------------------------------------------------------------------------


def images(b: Briefing, progress: Progress = _quiet) -> list[bytes | None]:
    """A PNG per slide with a chart (None for text slides), footnoted with the view."""
    out: list[bytes | None] = []
    total = max(b.charts, 1)
    done = 0
    footnote = f"{b.period} · {b.filters}"
    for slide in b.slides:
        if slide.figure is None:
            out.append(None)
            continue
        progress(0.1 + 0.7 * done / total, f"Drawing chart {done + 1} of {total}: {slide.title}")
        fig = go.Figure(slide.figure).update_layout(height=SLIDE_SIZE[1] - 60)
        out.append(exports.image_bytes(fig, "png", footnote, SLIDE_SIZE))
        done += 1
    return out


def to_pptx(b: Briefing, pictures: list[bytes | None]) -> bytes:
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    title_layout, blank = deck.slide_layouts[0], deck.slide_layouts[6]
    first = deck.slides.add_slide(title_layout)
    first.shapes.title.text = b.title
    first.placeholders[1].text = f"{b.period}\n{b.filters}\nMade on {day_text(b.made_on)}"

    def text_box(slide, left, top, width, height, lines, size):
        box = slide.shapes.add_textbox(left, top, width, height)
        frame = box.text_frame
        frame.word_wrap = True
        for i, line in enumerate(lines):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            para.text = line
            para.font.size = Pt(size)
        return box

    def add_link(para, link: Link, size) -> None:
        """``link`` at the end of the paragraph, after a space: its page's name, clickable."""
        para.add_run().text = "  "
        run = para.add_run()
        run.text = link.text
        run.hyperlink.address = link.url
        run.font.size = Pt(size)
        run.font.bold = False
        run.font.underline = True
        run.font.color.rgb = RGBColor.from_string(LINK_COLOR)

    for slide_data, picture in zip(b.slides, pictures, strict=True):
        slide = deck.slides.add_slide(blank)
        title = text_box(
            slide, Inches(0.5), Inches(0.3), Inches(12.3), Inches(0.8), [slide_data.title], 28
        )
        if slide_data.link is not None:
            add_link(title.text_frame.paragraphs[0], slide_data.link, 14)
        top = Inches(1.1)
        if slide_data.lines:
            size = 12 if slide_data.dense else 14 if picture is not None else 18
            height = (
                Inches(0.35 * len(slide_data.lines) + 0.2) if picture is not None else Inches(5)
            )
            box = text_box(slide, Inches(0.5), top, Inches(12.3), height, slide_data.lines, size)
            if slide_data.dense:
                for para in box.text_frame.paragraphs:
                    para.font.bold = _NUMBERED.match(para.text) is not None
                    para.space_before = Pt(6) if para.font.bold else Pt(0)
            for para, link in zip(box.text_frame.paragraphs, slide_data.line_links, strict=False):
                if link is not None:
                    add_link(para, link, size)
            top = top + height
        if picture is not None:
            room = Inches(6.6) - top
            slide.shapes.add_picture(io.BytesIO(picture), Inches(0.9), top, height=room)
        if slide_data.note:
            text_box(
                slide, Inches(0.5), Inches(6.75), Inches(12.3), Inches(0.6), [slide_data.note], 10
            )
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def to_pdf(b: Briefing, pictures: list[bytes | None]) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer

    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.2 * cm,
        bottomMargin=1.2 * cm,
        title=b.title,
        author="CX dashboard",
    )
    styles = getSampleStyleSheet()
    # a dense page: each finding's first line in bold with room above, its details indented
    heading = ParagraphStyle(
        "finding", styles["Normal"], fontName="Helvetica-Bold", fontSize=12, leading=15,
        spaceBefore=9,
    )  # fmt: skip
    detail = ParagraphStyle("detail", styles["Normal"], fontSize=11, leading=14, leftIndent=16)

    def linked(text: str, link: Link | None, size: int | None = None) -> str:
        """``text`` as Paragraph markup, then ``link`` (its page's name, clickable)."""
        if link is None:
            return escape(text)
        anchor = (
            f'<a href="{escape(link.url, {chr(34): "&quot;"})}" color="#{LINK_COLOR}">'
            f"<u>{escape(link.text)}</u></a>"
        )
        size_attr = f' size="{size}"' if size is not None else ""
        anchor = f'<font name="Helvetica"{size_attr}>{anchor}</font>'  # never bold
        return f"{escape(text)}&nbsp;&nbsp;{anchor}"

    story = [
        Spacer(1, 4 * cm),
        Paragraph(escape(b.title), styles["Title"]),
        Paragraph(escape(b.period), styles["Heading2"]),
        Paragraph(escape(b.filters), styles["Normal"]),
        Paragraph(f"Made on {day_text(b.made_on)}", styles["Normal"]),
    ]
    width = page[0] - 3 * cm
    for slide, picture in zip(b.slides, pictures, strict=True):
        title = linked(slide.title, slide.link, 12)
        story += [PageBreak(), Paragraph(title, styles["Heading1"])]
        style = styles["Normal"] if picture is not None or slide.dense else styles["Heading3"]
        line_links = [*slide.line_links, *[None] * (len(slide.lines) - len(slide.line_links))]
        for line, link in zip(slide.lines, line_links, strict=True):
            if slide.dense:
                numbered = _NUMBERED.match(line) is not None
                story.append(Paragraph(linked(line, link), heading if numbered else detail))
                continue
            story.append(Paragraph(linked(line, link), style))
        if picture is not None:
            ratio = SLIDE_SIZE[1] / SLIDE_SIZE[0]
            room = page[1] - 6.5 * cm - 0.5 * cm * len(slide.lines)
            w = min(width, room / ratio)
            story += [Spacer(1, 0.3 * cm), Image(io.BytesIO(picture), width=w, height=w * ratio)]
        if slide.note:
            story += [Spacer(1, 0.2 * cm), Paragraph(escape(slide.note), styles["Italic"])]
    doc.build(story)
    return out.getvalue()


FORMATS = ("pptx", "pdf")


def render(b: Briefing, formats=FORMATS, progress: Progress = _quiet) -> dict[str, bytes]:
    """The briefing in each format, charts drawn once."""
    pictures = images(b, progress)
    out = {}
    for i, fmt in enumerate(formats):
        progress(0.85 + 0.15 * i / len(formats), f"Writing the {fmt.upper()}")
        out[fmt] = to_pptx(b, pictures) if fmt == "pptx" else to_pdf(b, pictures)
    progress(1.0, "Done")
    return out


def file_names(b: Briefing, formats=FORMATS) -> list[str]:
    return [exports.file_name("cx-briefing", b.view_name, fmt, b.made_on) for fmt in formats]


def check_distinct(briefings: list[Briefing], formats=FORMATS) -> None:
    """Refuse briefings whose files would overwrite each other (one department's briefing
    must never arrive under another's name)."""
    seen: dict[str, str] = {}
    for b in briefings:
        for name in file_names(b, formats):
            if name in seen:
                raise exports.ExportError(
                    f"the briefings of {seen[name]} and {b.filters} would both be written to {name}"
                )
            seen[name] = b.filters


def write(b: Briefing, folder: Path, formats=FORMATS, progress: Progress = _quiet) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    files = render(b, formats, progress)
    for name, fmt in zip(file_names(b, formats), formats, strict=True):
        content = files[fmt]
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def load_inputs(engine, progress: Progress = _quiet) -> dict:
    """Everything ``build`` needs, read from a database (for the command line)."""
    from cxmetrics.contract import actions, store
    from cxmetrics.stats import dataset

    progress(0.0, "Loading the data")
    ds = dataset.load(engine)
    contacts = dataset.load_contacts(engine, ds)
    progress(0.03, "Linking cases to repeat contacts")
    cases = closed_loop.prepare_for(ds, store.load_cases(engine), contacts)
    return {
        "ds": ds,
        "kpis": store.load_kpis(engine),
        "cases": cases,
        "contacts": contacts,
        "comments": Comments(engine),  # read a statistic or a few rows at a time
        "actions": actions.load(engine),
    }
