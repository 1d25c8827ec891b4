"""Numbers in words: how a score, a tile and its caption read, on a page or in a briefing."""

from __future__ import annotations

import re

from cxmetrics.contract.registry import METRICS, short_money
from cxmetrics.stats import metrics as m
from cxmetrics.views.overview import Tile

NOT_RECORDED = "Not recorded"
NO_DATA, TOO_FEW = "No data", "Too few responses"
TOO_FEW_CUSTOMERS = "Too few customers"  # churn counts customers, not answers
#: The words a score shows where it has no number to show: no answers, or too few
SCARCE = (NO_DATA, TOO_FEW, TOO_FEW_CUSTOMERS)
#: A tile's or stage card's value where it is a word: six to a row (1,400 px) cut a word
#: ("Not reco", "Too few"), so they show a dash and their caption and status say it whole
NO_FIGURE = "–"


def value_text(key: str, score: m.Score, min_n: int, symbol: str | None = None) -> str:
    """The number to show, "No data" without a single answer, or "Too few responses" below
    the minimum n. Money needs the company's currency ``symbol``."""
    spec = METRICS[key]
    shown_range = revenue_range(score) if key == "revenue_at_risk" else None
    if shown_range is not None:
        low, high = shown_range
        return f"{spec.format(low, symbol)} – {spec.format(high, symbol)}"
    if key in ("responses", "revenue_at_risk"):
        return spec.format(score.value, symbol)
    if score.n == 0:
        return NO_DATA
    shown = score.shown(min_n)
    if shown is not None:
        return spec.format(shown, symbol)
    return TOO_FEW_CUSTOMERS if key == "churn" else TOO_FEW


def tile_value(t: Tile, min_n: int, symbol: str) -> str:
    """A tile's value: "Not recorded" when a fact it needs is not recorded, never 0."""
    return NOT_RECORDED if t.unknown else value_text(t.key, t.score, min_n, symbol)


def tile_figure(t: Tile, min_n: int, symbol: str) -> str:
    """A tile's value as its narrow line holds it: :func:`tile_value`, with a dash for a
    word (:func:`figure`) and a range of revenue at risk in short amounts ("£6.2k – £30k",
    where "£6,243 – £30k" was cut to "£6,243 -" and read as a point)."""
    shown_range = revenue_range(t.score) if t.key == "revenue_at_risk" else None
    if not t.unknown and shown_range is not None:
        low, high = shown_range
        return f"{short_money(low, symbol)} – {short_money(high, symbol)}"
    return figure(tile_value(t, min_n, symbol))


def revenue_range(score: m.Score) -> tuple[float, float] | None:
    """The 95% range revenue at risk is shown as, where it is too wide for a point to be
    stated (:func:`metrics.range_only`); None where the point is shown."""
    if score.se is None or score.value is None:
        return None
    half = m.Z95 * score.se
    if not m.range_only(score.value, half):
        return None
    return max(score.value - half, 0.0), score.value + half


def figure(text: str) -> str:
    """A value as a tile or a stage card shows it: the number, or :data:`NO_FIGURE` where
    :func:`value_text` or :func:`tile_value` gave a word."""
    return NO_FIGURE if text == NOT_RECORDED or text in SCARCE else text


def possessive(name: str) -> str:
    """A name with its possessive: "Sales'", "Claims'", "Marketing's"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def tile_caption(
    t: Tile, min_n: int, previous_label: str | None, symbol: str, short: bool = False
) -> str:
    """What a tile says under its value. ``short``: the few words a tile on a screen keeps
    (margin, n, target; for revenue at risk the detractors and the attributable churn), the
    rest going to its tooltip."""
    s = t.score
    if t.unknown:
        return t.unknown
    if t.key == "revenue_at_risk" and short:
        d = t.detail
        return (
            f"n = {d['detractors']:,} active detractors · {100 * d['churn_rate']:.1f}% a year "
            "attributable churn"
        )
    if t.key == "revenue_at_risk":
        d = t.detail
        rate = "unknown" if d["detractor_churn"] is None else f"{100 * d['detractor_churn']:.1f}%"
        other = "unknown" if d["other_churn"] is None else f"{100 * d['other_churn']:.1f}%"
        partial = (
            f" · {d['unknown_revenue']:,} with no revenue recorded"
            if d.get("unknown_revenue")
            else ""
        )
        return (
            f"{d['detractors']:,} active detractors · "
            f"{METRICS['revenue_at_risk'].format(d['detractor_revenue'], symbol)} revenue × "
            f"{100 * d['churn_rate']:.1f}% a year attributable churn (detractors {rate} "
            f"a year, n = {d['history_n']:,}, against {other}, n = {d['others_n']:,}){partial}"
        )
    # churn is of the period in view, not a year's: the tile beside it speaks of a year
    parts = ["left in the period"] if t.key == "churn" else []
    if s.moe is not None and not s.too_few(min_n) and t.key != "responses":
        unit = " pts" if t.key in ("nps", "csat", "churn") else ""
        parts.append(f"± {s.moe:.{1 if t.key != 'ces' else 2}f}{unit}")
    noun = {"churn": "customers", "responses": "responses"}.get(t.key, "answers")
    parts.append(f"n = {s.n:,} {noun}" if t.key != "responses" else "all sources")
    if t.target is not None:
        parts.append(f"target {METRICS[t.key].format(t.target, symbol)}")
    if short:
        return " · ".join(parts)
    if previous_label is None:
        parts.append("no previous period")
    elif t.change is None:
        parts.append("change not tested")
    elif not t.change.significant:
        parts.append("no significant change")
    else:  # said as the tile's delta says it
        parts.append(f"{change_figure(t.key, t.change)} against {previous_label}, significant")
    if t.status in (m.STATUS_BELOW, m.STATUS_NEAR):  # what the tile's badge says
        parts.append(t.status)
    return " · ".join(parts)


def change_figure(key: str, change: m.Change) -> str:
    """A change as a tile's delta shows it: "-4 pts", "+0.12", "+1,204"."""
    if key == "responses":
        return f"{change.delta:+z,.0f}"
    unit = {"nps": " pts", "csat": " pts", "churn": " pts"}.get(key, "")
    return f"{change.delta:+.{METRICS[key].decimals}f}{unit}"


_MARKUP = re.compile(r"([\\\[\]<>])")
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto)(?=:)|\b(www)(?=\.)|(?=@)")
_JOINER = "\u2060"  # an invisible word joiner: "https⁠://…" no longer reads as a link


def inert(text: str) -> str:
    """Markdown in which text from the data cannot become a link, an image or HTML:
    backslashes, brackets and angle brackets are escaped (a backslash from the data would
    otherwise cancel the escape of the bracket after it), and URLs and e-mail addresses
    are kept from linking themselves by an invisible joiner. Our own bold and italics still
    work, and it all reads the same on screen."""
    escaped = _MARKUP.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda m: (m.group(0) or "") + _JOINER, escaped)
