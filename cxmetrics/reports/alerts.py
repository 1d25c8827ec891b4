"""Alerts: each finding of the week sent to the team the journey says owns it.

:func:`week_findings` runs the findings engine (:func:`cxmetrics.views.finder.find`) on the latest
complete week (Monday to Sunday, ending on or before the data's last day) or from a given
day; only the findings it kept (Benjamini-Hochberg per family) are ever sent.
:func:`route` decides who receives each:

- a finding about a **stage** goes to the managers of the stage's lead department (role
  "lead") and, copied, to the managers of its contributing departments ("contributor");
- a finding about a **department** (a false positive, a closed-loop gap) goes to that
  department's managers only ("department");
- a finding about neither (the company's overall scores, channels, segments) goes to
  executives only;
- every **executive**, and the webhook, receives one digest of all of them.

A manager receives a finding only when all its stages are stages their departments affect
and all its departments are theirs: never another department's data. :func:`messages`
groups what each recipient is owed on a channel into one message (subject, plain text, HTML).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass

from cxmetrics.contract import access
from cxmetrics.contract.text import day_text
from cxmetrics.findings.findings import Finding
from cxmetrics.reports.alert_log import Delivery
from cxmetrics.stats.dataset import Dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import finder, links

LEAD, CONTRIBUTOR, DEPARTMENT, EXECUTIVE = "lead", "contributor", "department", "executive"
DEFAULT_PUBLIC_URL = "http://localhost:8501"

PAGE_OF_KIND = links.PAGE_OF_KIND  # the page a finding's link opens, by kind


def latest_week(last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The Monday-to-Sunday week that ends on or before ``last_day``."""
    end = last_day - dt.timedelta(days=(last_day.weekday() + 1) % 7)
    return end - dt.timedelta(days=6), end


def period(ds: Dataset, since: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The period the alerts cover: from ``since`` to the data's last day, else the latest
    complete week."""
    if since is None:
        start, end = latest_week(ds.last_day)
        if start < ds.first_day:
            raise ValueError(
                f"the data ({ds.first_day} to {ds.last_day}) holds no complete week, "
                "Monday to Sunday; name a start with --since"
            )
        return start, end
    if not ds.first_day <= since <= ds.last_day:
        raise ValueError(f"--since {since} lies outside the data ({ds.first_day} to {ds.last_day})")
    return since, ds.last_day


def week_findings(
    ds: Dataset, start: dt.date, end: dt.date, inputs: finder.Inputs
) -> list[Finding]:
    """The findings the engine keeps for the whole company over the period."""
    return finder.find(ds, Filters(start=start, end=end), inputs).findings


_NUMBER = re.compile(r"[-+−]?\d[\d,.]*")


def finding_key(f: Finding, start: dt.date, end: dt.date) -> str:
    """A key that names the same finding on every run over the same period: its kind and
    family, the stages, departments and touchpoints it is about, the period, and a digest
    of its sentence with the numbers left out (so two findings of a kind about the same
    things — two channel gaps, two behavioural moments — stay apart, and a figure revised
    by late answers does not make a finding new)."""
    words = _NUMBER.sub("#", f.sentence)
    digest = hashlib.sha256(words.encode("utf-8")).hexdigest()[:10]
    return "|".join(
        [
            f"{f.kind}:{f.family}",
            ",".join(f.stages),
            ",".join(f.departments),
            ",".join(f.touchpoints),
            f"{start.isoformat()}..{end.isoformat()}",
            digest,
        ]
    )


def audience(f: Finding, journey) -> dict[str, str]:
    """The departments a finding is for, each with its role (lead over contributor)."""
    if f.departments:
        return {d: DEPARTMENT for d in f.departments}
    roles: dict[str, str] = {}
    for stage in f.stages:
        for d in journey.owners_of(stage):
            role = LEAD if journey.lead_department(stage) == d else CONTRIBUTOR
            if roles.get(d) != LEAD:
                roles[d] = role
    return roles


def in_scope(f: Finding, departments: tuple[str, ...], journey) -> bool:
    """Whether a manager of ``departments`` may see the finding in the dashboard."""
    stages = set(journey.stages_of_departments(departments))
    return set(f.stages) <= stages and set(f.departments) <= set(departments)


def describe_role(role: str, department: str | None, f: Finding, journey) -> str:
    name = journey.department_name(department) if department else ""
    stages = ", ".join(journey.stage_name(s) for s in f.stages)
    if role == LEAD:
        return f"{name} leads {stages}."
    if role == CONTRIBUTOR:
        leads = sorted(
            {journey.department_name(journey.lead_department(s)) for s in f.stages} - {None, ""}
        )
        return f"{name} contributes to {stages}" + (
            f" (led by {', '.join(leads)})." if leads else "."
        )
    if role == DEPARTMENT:
        return f"This finding is about {name} itself."
    return "Company-wide digest."


def _content(
    f: Finding,
    start: dt.date,
    end: dt.date,
    role: str,
    department: str | None,
    journey,
    public_url: str,
) -> dict:
    page = links.page_of(f.kind, f.stages, f.family)
    departments = f.departments or ((department,) if department else ())
    view = Filters(start=start, end=end, stages=f.stages, departments=departments)
    return {
        **f.as_dict(),
        "sentence": f.text,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "role": role,
        "department": department,
        "department_name": journey.department_name(department) if department else None,
        "role_text": describe_role(role, department, f, journey),
        "stage_names": [journey.stage_name(s) for s in f.stages],
        "link": links.view_url(public_url, page, view),
    }


def route(
    findings: list[Finding],
    start: dt.date,
    end: dt.date,
    journey,
    users: dict[str, access.User],
    public_url: str = DEFAULT_PUBLIC_URL,
    webhook: str | None = None,
) -> list[Delivery]:
    """Every (finding, recipient, channel) the findings call for (see the module's text).
    ``webhook`` is the record's name of the webhook (``delivery.webhook_name``), if any."""
    out: list[Delivery] = []
    managers = [u for u in users.values() if u.role == access.MANAGER]
    executives = [u for u in users.values() if u.role == access.EXECUTIVE]
    for f in findings:
        key = finding_key(f, start, end)
        targets: list[tuple[str, str, str, str | None]] = []  # recipient, channel, role, dept
        roles = audience(f, journey)
        for u in managers:
            mine = [d for d in u.departments if d in roles]
            if not mine or not in_scope(f, u.departments, journey):
                continue
            best = min(mine, key=lambda d: [LEAD, DEPARTMENT, CONTRIBUTOR].index(roles[d]))
            targets.append((u.email, "email", roles[best], best))
        targets += [(u.email, "email", EXECUTIVE, None) for u in executives]
        if webhook:
            targets.append((webhook, "webhook", EXECUTIVE, None))
        for recipient, channel, role, department in targets:
            content = _content(f, start, end, role, department, journey, public_url)
            out.append(Delivery(key, recipient, channel, f.kind, start, end, role, content))
    return out


@dataclass(frozen=True)
class Message:
    recipient: str
    channel: str
    subject: str
    text: str
    html: str
    keys: tuple[tuple[str, str, str], ...]  # the deliveries it carries


def _day(text: str) -> str:
    return day_text(dt.date.fromisoformat(text))


def _span(items: list[Delivery]) -> str:
    start = min(d.period_start for d in items).isoformat()
    end = max(d.period_end for d in items).isoformat()
    return f"{_day(start)} – {_day(end)}"


_UNITS = {"%": " percentage points", "1-7": " on the 1-7 scale"}


def _number(x: float) -> str:
    return f"{x:+z.1f}" if abs(x) >= 10 else f"{x:+z.2f}"


def _evidence(c: dict) -> str:
    """The test behind a finding: effect with its 95% interval, n, q-value and period."""
    parts = []
    if c.get("effect") is not None and c.get("ci"):
        unit = _UNITS.get(c.get("unit") or "", f" {c['unit']}" if c.get("unit") else "")
        parts.append(
            f"effect {_number(c['effect'])}{unit} (95% interval {_number(c['ci'][0])} to "
            f"{_number(c['ci'][1])})"
        )
    parts.append(f"n = {c['n']:,}")
    if c.get("q") is not None:
        parts.append("q < 0.001" if c["q"] < 0.001 else f"q = {c['q']:.2g}")
    p = c["period"]
    parts.append(f"{_day(p['start'])} – {_day(p['end'])}")
    return " · ".join(parts)


def messages(deliveries: list[Delivery], company: str = "CX dashboard") -> list[Message]:
    """One message per recipient and channel, carrying everything owed to them."""
    groups: dict[tuple[str, str], list[Delivery]] = {}
    for d in deliveries:
        groups.setdefault((d.recipient, d.channel), []).append(d)
    out = []
    for (recipient, channel), items in groups.items():
        items = sorted(items, key=lambda d: (d.period_start, d.content.get("q") or 0))
        n = len(items)
        depts = sorted({d.content["department_name"] for d in items if d.content.get("department")})
        who = "" if not depts else " for " + ", ".join(depts)
        subject = f"{company} alerts{who}: {n} finding{'s' if n != 1 else ''}, {_span(items)}"
        lines = [subject, ""]
        rows = []
        for d in items:
            c = d.content
            lines += [
                f"- {c['sentence']}",
                f"  {_evidence(c)}",
                f"  {c['role_text']}",
                f"  Open the view: {c['link']}",
                "",
            ]
            rows.append(
                "<tr><td style='padding:12px 0;border-bottom:1px solid #e5e7eb'>"
                f"<div style='font-size:15px;color:#111827'>{html.escape(c['sentence'])}</div>"
                f"<div style='font-size:13px;color:#4b5563;margin-top:4px'>"
                f"{html.escape(_evidence(c))}</div>"
                "<div style='font-size:13px;color:#111827;margin-top:2px'><b>"
                f"{html.escape(c['role_text'])}</b></div>"
                f"<div style='margin-top:6px'><a href='{html.escape(c['link'], quote=True)}' "
                "style='color:#1d4ed8'>Open the filtered view</a></div></td></tr>"
            )
        lines.append(
            "Each finding passed its test (Benjamini-Hochberg false discovery rate 5% per "
            "family); n is the number of answers behind it."
        )
        body = (
            "<!doctype html><html><body style='font-family:Arial,Helvetica,sans-serif;"
            "margin:0;padding:24px;background:#f9fafb'>"
            "<table role='presentation' style='max-width:680px;margin:0 auto;background:#fff;"
            "border:1px solid #e5e7eb;border-radius:8px;padding:20px 24px' width='100%'>"
            f"<tr><td><h2 style='margin:0 0 4px;font-size:18px;color:#111827'>"
            f"{html.escape(subject)}</h2></td></tr>"
            + "".join(rows)
            + "<tr><td style='padding-top:12px;font-size:12px;color:#6b7280'>Each finding "
            "passed its test (Benjamini-Hochberg false discovery rate 5% per family); n is "
            "the number of answers behind it.</td></tr></table></body></html>"
        )
        text = "\n".join(lines)
        if channel == "webhook":  # Slack reads <…> as links and mentions (<!channel>)
            text = text.replace("<", "‹").replace(">", "›")
        out.append(Message(recipient, channel, subject, text, body, tuple(d.key for d in items)))
    return out


def as_json(deliveries: list[Delivery], msgs: list[Message]) -> dict:
    """What ``alerts --json`` prints: every message with its recipients and findings."""
    by_key = {d.key: d for d in deliveries}
    return {
        "messages": [
            {
                "recipient": m.recipient,
                "channel": m.channel,
                "subject": m.subject,
                "findings": [
                    {"key": k[0], "role": by_key[k].role, **by_key[k].content} for k in m.keys
                ],
            }
            for m in msgs
        ]
    }
