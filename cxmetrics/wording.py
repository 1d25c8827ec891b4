"""Numbers in words: how a score, a tile and its caption read, on a page or in a briefing."""

from __future__ import annotations

import re

from cxmetrics import metrics as m
from cxmetrics.overview import Tile
from cxmetrics.registry import METRICS


def value_text(key: str, score: m.Score, min_n: int) -> str:
    """The number to show, "No data" without a single answer, or "Too few responses" below
    the minimum n."""
    spec = METRICS[key]
    if key in ("responses", "revenue_at_risk"):
        return spec.format(score.value)
    if score.n == 0:
        return "No data"
    shown = score.shown(min_n)
    return spec.format(shown) if shown is not None else "Too few responses"


def with_article(name: str) -> str:
    """ "a" or "an" before a name, by its first letter: "an Airport & departure", "a Claim"."""
    return f"{'an' if name[:1].lower() in 'aeiou' and name[:1] else 'a'} {name}"


def tile_caption(t: Tile, min_n: int, previous_label: str | None) -> str:
    s = t.score
    if t.key == "revenue_at_risk":
        d = t.detail
        return (
            f"{d['detractors']:,} active detractors · "
            f"{METRICS['revenue_at_risk'].format(d['detractor_revenue'])} revenue × "
            f"{100 * d['churn_rate']:.1f}% detractor churn (n = {d['history_n']:,})"
        )
    parts = []
    if s.moe is not None and not s.too_few(min_n) and t.key != "responses":
        unit = " pts" if t.key in ("nps", "csat", "churn") else ""
        parts.append(f"± {s.moe:.{1 if t.key != 'ces' else 2}f}{unit}")
    noun = {"churn": "customers", "responses": "responses"}.get(t.key, "answers")
    parts.append(f"n = {s.n:,} {noun}" if t.key != "responses" else "all sources")
    if t.target is not None:
        parts.append(f"target {METRICS[t.key].format(t.target)}")
    if previous_label is None:
        parts.append("no previous period")
    elif t.change is None:
        parts.append("change not tested")
    elif not t.change.significant:
        parts.append("no significant change")
    return " · ".join(parts)


_MARKUP = re.compile(r"([\[\]<>])")
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto)(?=:)|\b(www)(?=\.)|(?=@)")
_JOINER = "\u2060"  # an invisible word joiner: "https⁠://…" no longer reads as a link


def inert(text: str) -> str:
    """Markdown in which text from the data cannot become a link, an image or HTML:
    brackets and angle brackets are escaped, and URLs and e-mail addresses are kept from
    linking themselves by an invisible joiner. Our own bold and italics still work, and it
    all reads the same on screen."""
    escaped = _MARKUP.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda m: (m.group(0) or "") + _JOINER, escaped)
