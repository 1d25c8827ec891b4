"""The executive's first screen: what is breaking, who owns it, what it costs, what is done.

The overview's first fold and the briefing's "What to know" page read the same
:class:`FirstScreen`. It states only what the findings engine kept (:func:`finder.find`), and
of those only the *headline* kinds: a department's green scorecard over a red stage
(``false_positive``), a closed-versus-confirmed gap (``closed_loop``), a score or trend that
fell, contacts that foretell NPS, influencers or at-risk customers set apart, a channel that
is harder work. Touchpoints that differ from the rest of their stage and scores below target
are standing facts that the journey strip and the moments of truth below show; on data with
no story in it they are all there is, so the first fold then says that nothing significant
is to report rather than inventing a headline.

Ranking: the findings that name a department (false positive, closed loop) first, as the
dashboard exists to show accountability across silos; then what fell or foretells a fall
(changes, trends, leading indicators); then standing differences (influencers, at-risk
segments, channels). Within a tier, by strength of evidence (q-value) and, at equal q, by
the size of the effect in widths of its own 95% interval. One finding per kind and place
(of "File a claim NPS, CSAT and CES fell", the NPS).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field

import polars as pl

from cxmetrics.contract import actions
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.contract.text import counted, day_text
from cxmetrics.findings import action_effect
from cxmetrics.findings import findings as fx
from cxmetrics.stats import metrics as m
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import accountability, finder, links, loyalty, overview

MAX_HEADLINES = 5
WHOLE_VIEW = "the whole view"
#: Kinds the first screen may headline, in the order ties are broken.
HEADLINE_KINDS = (
    "false_positive",
    "closed_loop",
    "change",
    "trend",
    "lead",
    "influencer",
    "at_risk",
    "channel",
)
#: Findings of facts without a channel (cases, department KPIs): a channel filter does not
#: narrow them, and the first screen says so
CHANNEL_BLIND = ("false_positive", "closed_loop")
NO_CHANNEL = "Cases and department KPIs have no channel: the findings on them cover every channel."
#: Tiers of the ranking: findings that name a department, then what fell, then the rest.
TIERS = {"false_positive": 0, "closed_loop": 0, "change": 1, "trend": 1, "lead": 1}
#: A revenue-at-risk range is shown when it reaches this share of the value either side.
WIDE_RANGE = 0.25
PAGE_TITLES = {
    "overview": "Overview",
    "journey": "Journey",
    "loyalty": "Loyalty & value",
    "accountability": "Accountability",
    "voice": "Voice of the customer",
}
NOTHING = (
    "Nothing significant to report in this view: no score fell against the previous period, "
    "no department's green scorecard hides a red stage, and no closed-versus-confirmed gap, "
    "leading indicator or concentration of risk holds after testing ({tested}, false "
    "discovery rate 5%). Scores against target and the touchpoints that differ are below."
)
#: Instead of NOTHING where what held is good news only: "nothing significant" would deny it
NOTHING_BAD = (
    "Nothing went wrong in this view: no score fell against the previous period, no "
    "department's green scorecard hides a red stage, and no closed-versus-confirmed gap, "
    "leading indicator or concentration of risk holds after testing ({tested}, false "
    "discovery rate 5%). What held is good news: {good}"
)
UNTESTED = (
    "Nothing could be tested in this view: every comparison needs at least {min_n} answers "
    "(or cases) on each side, and none has them here. Widen the period or the filters to "
    "see what changed; the scores with enough answers are below."
)
NOTE = (
    "The findings that hold after testing every comparison of their kind in view "
    "(Benjamini-Hochberg, false discovery rate 5%), department-level ones first. Owners: the "
    "lead and the contributing departments of each stage, from the journey definition. A "
    "scorecard is green when the 95% interval of its KPI hit rate lies above "
    f"{accountability.GREEN_SILO:.0%}. Revenue at risk: detractors' annual revenue × "
    "(their annual churn − everyone else's), per stage."
)
IMPORT_KPIS = "departments' own KPIs (the kpis table) to show whose scorecard is green"
IMPORT_CASES = "cases (the cases table) to show closed against customer-confirmed"
IMPORT_ACTIONS = "action plans (the actions table, or the Accountability page) to show what is done"
IMPORT_REVENUE = "customers' annual revenue to put a cost on each finding"
IMPORT_CONTACTS = "contacts to find leading indicators and behavioural moments"


@dataclass(frozen=True)
class Scorecard:
    """A department's own KPIs in the period: hit rate and whether it is green (the
    hit rate's 95% Wilson interval above :data:`accountability.GREEN_SILO`)."""

    department: str
    hits: int
    weeks: int
    green: bool

    @property
    def text(self) -> str:
        share = 100 * self.hits / self.weeks
        verdict = "green" if self.green else "not green"
        whose = self.department + ("'" if self.department.endswith("s") else "'s")
        return f"{whose} own KPIs: {verdict}, {share:.0f}% of {self.weeks:,} KPI-weeks on target"


@dataclass(frozen=True)
class Cost:
    """Revenue at risk of one stage a year (the registry's definition), with its range."""

    stage: str
    value: float
    low: float | None
    high: float | None
    detractors: int

    def wide(self) -> bool:
        if self.low is None or self.high is None or not self.value:
            return False
        return (self.high - self.low) / 2 >= WIDE_RANGE * abs(self.value)


@dataclass(frozen=True)
class Headline:
    finding: fx.Finding
    sentence: str  # one sentence with its n, plain text
    stage_ids: tuple[str, ...]
    department_ids: tuple[str, ...]  # who owns it: named by the finding, else the leads
    owners: str  # "File a claim: lead Claims, with Customer Service, Underwriting"
    scorecards: tuple[Scorecard, ...]
    costs: tuple[Cost, ...]
    actions: tuple[str, ...] | None  # open actions on its stages, late first; None: unread
    page: str
    link: str
    same_as: int | None = None  # 1-based number of an earlier headline with the same owners

    @property
    def green_over_red(self) -> bool:
        """An owner's own scorecard is green while this finding says the stage is red."""
        red = self.finding.kind in ("false_positive", "change", "trend")
        return red and any(card.green for card in self.scorecards)

    def owner_text(self) -> str:
        """Who owns it and whether their own scorecard is green."""
        cards = [card.text for card in self.scorecards]
        return " · ".join([self.owners, *cards])

    def cost_text(self, money) -> str:
        """Revenue at risk of its stages a year (``money`` formats an amount)."""
        if self.costs:
            return "Revenue at risk: " + "; ".join(cost_text(c, money) for c in self.costs)
        if not self.stage_ids:
            return "Revenue at risk: not recorded"
        return "Revenue at risk: not recorded for this stage"

    def doing_text(self) -> str:
        """The open actions on its stages, that there are none, or that they could not be
        read (the database failed: "none" would be a claim nobody checked)."""
        if self.actions is None:
            return "Being done: not known, the action plans cannot be read right now"
        if self.actions:
            return "Being done: " + "; ".join(self.actions)
        return "Being done: no open action plan on this stage" if self.stage_ids else ""


@dataclass(frozen=True)
class FirstScreen:
    start: dt.date
    end: dt.date
    headlines: list[Headline]
    tested: int
    missing: list[str] = field(default_factory=list)  # what to import, as phrases
    currency: str = ""
    min_n: int = MIN_N  # the answers a score needs, as the screen was computed with
    #: said under a channel filter when a finding is of cases or KPIs, which have no channel
    channel_note: str | None = None
    #: the findings that held and are good news (a score that rose), as sentences
    good_news: tuple[str, ...] = ()

    @property
    def nothing(self) -> str | None:
        """The sentence shown instead of headlines, None when there are some."""
        if self.headlines:
            return None
        if not self.tested:  # not "nothing fell": nothing could be compared
            return UNTESTED.format(min_n=self.min_n)
        tested = counted(self.tested, "test")
        if self.good_news:
            more = len(self.good_news) - 1
            good = self.good_news[0] + (f" And {more:,} more." if more else "")
            return NOTHING_BAD.format(tested=tested, good=good)
        return NOTHING.format(tested=tested)

    def lines(self, money) -> list[str]:
        """The first screen as plain lines (the briefing's "What to know")."""
        out = [] if self.headlines else [self.nothing]
        for i, h in enumerate(self.headlines, start=1):
            out.append(f"{i}. {h.sentence}")
            if h.same_as is not None:
                out.append(f"Owners, cost and actions as in {h.same_as}.")
                continue
            owner = h.owner_text()
            if h.green_over_red:
                owner += " (green scorecard, red experience)"
            out.append(owner)
            out.append(" · ".join(t for t in (h.cost_text(money), h.doing_text()) if t))
        if self.channel_note:
            out.append(self.channel_note)
        if self.import_line:
            out.append(self.import_line)
        return out

    @property
    def import_line(self) -> str | None:
        if not self.missing:
            return None
        return "To see more here, import " + "; ".join(self.missing) + "."


# --- the cached part: findings and revenue at risk of the view ---------------------------


@dataclass(frozen=True)
class Evidence:
    report: finder.Report
    risk_by_stage: pl.DataFrame  # loyalty.revenue_at_risk_by(ds, f, "stage")
    has_contacts: bool
    has_cases: bool
    has_kpis: bool
    whole_view: Cost | None = None  # the view's revenue at risk (its tile), for overall findings
    min_n: int = MIN_N  # the answers a score needed


def evidence(
    ds: Dataset,
    f: Filters,
    contacts: pl.DataFrame | None,
    cases: pl.DataFrame | None,
    kpis: pl.DataFrame | None,
    min_n: int = MIN_N,
    ov: overview.Overview | None = None,
) -> Evidence:
    """What the first screen is made of, for one view: every finding the view supports
    (``cases`` from :func:`closed_loop.prepare_for`) and revenue at risk by stage."""
    has = {
        "contacts": contacts is not None and contacts.height > 0,
        "cases": cases is not None and cases.height > 0,
        "kpis": kpis is not None and kpis.height > 0,
    }
    inputs = finder.Inputs(
        contacts=contacts if has["contacts"] else None,
        cases=cases if has["cases"] else None,
        kpis=kpis if has["kpis"] else None,
    )
    ov = ov or overview.compute(ds, f, min_n)
    report = finder.find(ds, f, inputs, min_n, ov)
    risk = loyalty.revenue_at_risk_by(ds, f, "stage")
    tile = ov.tiles["revenue_at_risk"]
    whole = None
    if not tile.unknown and tile.score.value is not None:
        half = m.Z95 * tile.score.se if tile.score.se is not None else None
        whole = Cost(
            WHOLE_VIEW,
            tile.score.value,
            None if half is None else max(tile.score.value - half, 0.0),
            None if half is None else tile.score.value + half,
            int(tile.detail.get("detractors", 0)),
        )
    return Evidence(report, risk, has["contacts"], has["cases"], has["kpis"], whole, min_n)


# --- choosing and wording the headlines ---------------------------------------------------


def is_bad_news(item: fx.Finding) -> bool:
    """Whether a kept finding says something is breaking (a decline, a gap, a risk)."""
    if item.kind == "change":
        better = METRICS[item.family].higher_is_better if item.family in METRICS else True
        return (item.effect or 0) < 0 if better else (item.effect or 0) > 0
    if item.kind in ("trend", "influencer", "lead"):  # fell; answer worse; contacts up, NPS down
        return (item.effect or 0) < 0
    if item.kind in ("at_risk", "closed_loop"):  # a larger share at risk; a wider gap
        return (item.effect or 0) > 0
    return item.kind in HEADLINE_KINDS


def _strength(item: fx.Finding) -> float:
    """The effect in widths of its own 95% interval (larger: clearer)."""
    if item.ci is None or item.effect is None:
        return 0.0
    half = abs(item.ci[1] - item.ci[0]) / 2
    return abs(item.effect) / half if half else 0.0


def rank(kept: list[fx.Finding], limit: int = MAX_HEADLINES) -> list[fx.Finding]:
    """The headline findings of a view, best first (see the module's docstring)."""
    candidates = [c for c in kept if c.kind in HEADLINE_KINDS and is_bad_news(c)]
    candidates.sort(
        key=lambda c: (
            TIERS.get(c.kind, 2),
            c.q if c.q is not None else 1.0,
            -_strength(c),
            HEADLINE_KINDS.index(c.kind),
        )
    )
    best: dict[tuple, fx.Finding] = {}
    for c in candidates:  # one per kind and place; of scores that moved together, NPS
        place = (c.kind, c.stages, c.departments, c.family if c.kind == "at_risk" else "")
        if place not in best or (c.family == "nps" and best[place].family != "nps"):
            best[place] = c
    kept_ids = {id(c) for c in best.values()}
    return [c for c in candidates if id(c) in kept_ids][:limit]


_SENTENCE_END = re.compile(r"(?<=[.)])\s+(?=[A-Z])")


def one_sentence(text: str) -> str:
    """The first sentence of a finding, plain text (no Markdown bold), ending in a stop."""
    first = _SENTENCE_END.split(text.replace("**", "").strip(), maxsplit=1)[0].strip()
    return first if first.endswith((".", "!", "?")) else first + "."


def stages_concerned(ds: Dataset, item: fx.Finding, shown: list[str]) -> tuple[str, ...]:
    """The finding's stages; for a department's finding without stages, the stages in view
    that department leads."""
    if item.stages:
        return tuple(s for s in item.stages if s in shown) or item.stages
    led = [s for d in item.departments for s in ds.journey.stages_led_by(d)]
    return tuple(s for s in shown if s in led)


def owners_text(ds: Dataset, stage_ids: tuple[str, ...], named: tuple[str, ...]) -> str:
    """Who owns the stages concerned: the lead and the contributors, from the journey. A
    manager's view names them too: the departments that share a manager's stages are the
    stage's team, as the journey's cards and the README say (no other department is in a
    manager's journey, :meth:`Journey.scoped`)."""
    j = ds.journey
    if not stage_ids:
        if named:
            return "Owner: " + ", ".join(j.department_name(d) for d in named)
        if ds.scope is not None:  # a manager's journey is their departments' stages
            return "Owner: the teams of your stages (a score of them all)"
        return "Owner: every stage's team (a score of the whole journey)"
    parts = []
    for sid in stage_ids:
        lead = j.lead_department(sid)
        others = [d for d in j.owners_of(sid) if d != lead]
        text = f"{j.stage_name(sid)}: lead {j.department_name(lead) if lead else 'none named'}"
        if others:
            text += ", with " + ", ".join(j.department_name(d) for d in others)
        parts.append(text)
    return " · ".join(parts)


def leads(ds: Dataset, stage_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The departments that lead the stages, each once, in stage order: one that leads two
    of them has one scorecard, not two."""
    return tuple(dict.fromkeys(d for d in (ds.journey.lead_department(s) for s in stage_ids) if d))


def scorecards(
    ds: Dataset,
    kpis: pl.DataFrame | None,
    departments: tuple[str, ...],
    start,
    end,
    per_department: dict[str, tuple[int, int]] | None = None,
) -> tuple[Scorecard, ...]:
    """Each department's own KPIs over the period (none without KPIs).
    ``per_department``: :func:`kpi_weeks` of the same KPIs and period, when already known."""
    if kpis is None or kpis.height == 0:
        return ()
    counted = per_department if per_department is not None else kpi_weeks(kpis, start, end)
    out = []
    for d in departments:
        if d not in counted:
            continue
        hits, weeks = counted[d]
        out.append(
            Scorecard(
                ds.journey.department_name(d),
                hits,
                weeks,
                accountability.is_green(hits, weeks),
            )
        )
    return tuple(out)


def kpi_weeks(kpis: pl.DataFrame, start, end) -> dict[str, tuple[int, int]]:
    """Per department: (KPI-weeks on target, KPI-weeks) in the period."""
    weeks = accountability.kpis_in_period(kpis, start, end)
    per = weeks.group_by("department_id").agg(
        pl.col("on_target").sum().alias("hits"), pl.len().alias("weeks")
    )
    return {str(d): (int(h), int(n)) for d, h, n in per.iter_rows()}


def costs(ds: Dataset, risk: pl.DataFrame, stage_ids: tuple[str, ...]) -> tuple[Cost, ...]:
    out = []
    for sid in stage_ids:
        row = risk.filter(pl.col("stage") == ds.journey.stage_name(sid))
        if row.height == 0 or row["value"][0] is None:
            continue
        r = row.row(0, named=True)
        out.append(
            Cost(ds.journey.stage_name(sid), r["value"], r["low"], r["high"], r["detractors"])
        )
    return tuple(out)


def cost_text(c: Cost, money) -> str:
    """ "£55k a year at File a claim (1,282 detractors; 95% range …)", the range only when
    it is wide."""
    where = "in the whole view" if c.stage == WHOLE_VIEW else f"at {c.stage}"
    text = f"{money(c.value)} a year {where} ({c.detractors:,} detractors"
    if c.wide():
        text += f"; 95% range {money(c.low)} – {money(c.high)}"
    return text + ")"


def action_lines(
    listing: pl.DataFrame | None, stage_ids: tuple[str, ...], today
) -> tuple[str, ...]:
    """Open actions on the stages, late ones first, each with its measured effect."""
    if listing is None or listing.height == 0 or not stage_ids:
        return ()
    mine = listing.filter(
        pl.col("stage_id").is_in(list(stage_ids))
        & pl.col("status").is_in(list(actions.OPEN_STATUSES))
    ).sort(["late", "due_on"], descending=[True, False], nulls_last=True)
    out = []
    for r in mine.iter_rows(named=True):
        due = f"due {day_text(r['due_on'])}"
        if r["late"]:
            due += f", {(today - r['due_on']).days} days late"
        effect = r["verdict"] or "not measured"
        if r.get("effect") is not None:
            metric = r.get("metric")
            unit = action_effect.UNITS.get(metric, "points")
            d = action_effect.DECIMALS.get(metric, 1)  # as the action tables write it
            effect += (
                f" ({r['effect']:+z.{d}f} {unit}, 95% CI {r['effect_low']:+z.{d}f} to "
                f"{r['effect_high']:+z.{d}f})"
            )
        out.append(f"{r['title']} ({r['department']}, {due}); measured effect: {effect}")
    return tuple(out)


def link_for(
    base_url: str, item: fx.Finding, f: Filters, stage_ids: tuple[str, ...]
) -> tuple[str, str]:
    """The page that explains a finding and the link to it, with the view's filters and
    the finding's stage or department."""
    page = links.page_of(item.kind, item.stages, item.family)
    if page == "overview":  # a score of the whole view: its course over time
        page = "loyalty"
    if item.departments:
        view = dataclasses.replace(f, departments=item.departments, stages=())
    elif stage_ids:
        view = dataclasses.replace(f, stages=stage_ids)
    else:
        view = f
    return page, links.view_url(base_url, page, view)


def build(
    ds: Dataset,
    f: Filters,
    ev: Evidence,
    kpis: pl.DataFrame | None,
    listing: pl.DataFrame | None,
    today: dt.date,
    base_url: str = "",
    limit: int = MAX_HEADLINES,
    actions_read: bool = True,
) -> FirstScreen:
    """The first screen of the view ``f``. ``listing``: :func:`action_effect.listing` of the
    actions the user may see; ``base_url``: where the dashboard is served ("" for links
    relative to the site); ``actions_read`` False: the action plans could not be read, so
    what is being done is not known (neither "none" nor "import them")."""
    report = ev.report
    shown = [s for s in ds.journey.stage_order if not f.stages or s in f.stages]
    if f.departments:
        affected = ds.journey.stages_of_departments(f.departments)
        shown = [s for s in shown if s in affected]
    headlines: list[Headline] = []
    has_kpis = kpis is not None and kpis.height > 0
    counted = kpi_weeks(kpis, report.start, report.end) if has_kpis else None
    for item in rank(report.findings, limit):
        stage_ids = stages_concerned(ds, item, shown)
        named = item.departments or leads(ds, stage_ids)
        page, url = link_for(base_url, item, f, stage_ids)
        headlines.append(
            Headline(
                item,
                one_sentence(item.sentence),
                stage_ids,
                named,
                owners_text(ds, stage_ids, item.departments),
                scorecards(ds, kpis, named, report.start, report.end, counted),
                costs(ds, ev.risk_by_stage, stage_ids)
                or ((ev.whole_view,) if not stage_ids and ev.whole_view else ()),
                action_lines(listing, stage_ids, today) if actions_read else None,
                page,
                url,
                next(
                    (
                        i
                        for i, h in enumerate(headlines, start=1)
                        if stage_ids and (h.stage_ids, h.department_ids) == (stage_ids, named)
                    ),
                    None,
                ),
            )
        )
    missing = []
    if not ev.has_kpis:
        missing.append(IMPORT_KPIS)
    if not ev.has_cases:
        missing.append(IMPORT_CASES)
    if actions_read and (listing is None or listing.height == 0):
        missing.append(IMPORT_ACTIONS)
    if ev.risk_by_stage.height == 0 or ev.risk_by_stage["value"].is_null().all():
        missing.append(IMPORT_REVENUE)
    if not ev.has_contacts:
        missing.append(IMPORT_CONTACTS)
    tested = sum(v for k, v in report.tested.items() if k in HEADLINE_KINDS)
    blind = f.channels and any(h.finding.kind in CHANNEL_BLIND for h in headlines)
    return FirstScreen(
        report.start,
        report.end,
        headlines,
        tested,
        missing,
        min_n=ev.min_n,
        channel_note=NO_CHANNEL if blind else None,
        good_news=good_news(report.findings),
    )


def good_news(kept: list[fx.Finding]) -> tuple[str, ...]:
    """The kept findings of the headline kinds that are not bad news (a score that rose), as
    one sentence each: what the first screen names where nothing went wrong."""
    return tuple(
        one_sentence(c.sentence) for c in kept if c.kind in HEADLINE_KINDS and not is_bad_news(c)
    )
