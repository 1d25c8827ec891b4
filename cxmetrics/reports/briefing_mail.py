"""Briefings by e-mail: each manager their departments' briefing, executives the company's.

The files go as attachments while a message's files together stay under
``CX_MAIL_MAX_MB`` (default 10 MB: most mail servers refuse 20-25 MB, and base64 adds a
third); above it the message carries a link to the dashboard's view instead, where the
sidebar's *Executive briefing* button makes the same file.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from cxmetrics.contract import access
from cxmetrics.reports import delivery
from cxmetrics.stats.filters import Filters
from cxmetrics.views import links

DEFAULT_MAX_MB = 10.0
MIME = {
    ".pdf": "application/pdf",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


@dataclass(frozen=True)
class Built:
    """One briefing written to disk: whose it is (a department id, or None for the
    company's), its view and its files."""

    department: str | None
    view: Filters
    title: str
    files: tuple[Path, ...]


def max_bytes(environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    text = env.get("CX_MAIL_MAX_MB", "").strip()
    try:
        mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        raise delivery.SettingsError(f"CX_MAIL_MAX_MB must be a number, got {text!r}") from None
    if mb < 0:
        raise delivery.SettingsError("CX_MAIL_MAX_MB cannot be negative")
    return int(mb * 1024 * 1024)


def recipients(users: dict[str, access.User], built: list[Built]) -> list[tuple[str, list[Built]]]:
    """Who receives which briefings: a manager those of their own departments, an executive
    the company's. Nobody receives another department's briefing."""
    by_department = {b.department: b for b in built if b.department is not None}
    company = [b for b in built if b.department is None]
    out = []
    for u in users.values():
        if u.role == access.MANAGER:
            mine = [by_department[d] for d in u.departments if d in by_department]
        elif u.role == access.EXECUTIVE:
            mine = company
        else:
            mine = []
        if mine:
            out.append((u.email, mine))
    return out


def message(
    smtp: delivery.Smtp,
    to: str,
    briefings: list[Built],
    limit: int,
    public_url: str,
    company: str,
) -> EmailMessage:
    """The e-mail for one person: the files attached when they fit under ``limit`` bytes,
    else a link to each briefing's view."""
    files = [p for b in briefings for p in b.files]
    size = sum(p.stat().st_size for p in files)
    attach = size <= limit
    titles = "; ".join(b.title for b in briefings)
    subject = f"{company} briefing: {titles}"
    lines = [subject, ""]
    items = []
    for b in briefings:
        link = links.view_url(public_url, "overview", b.view)
        if attach:
            names = ", ".join(p.name for p in b.files)
            lines.append(f"- {b.title}: attached ({names}). The live view: {link}")
            items.append(
                f"<li>{html.escape(b.title)}: attached ({html.escape(names)}). "
                f"<a href='{html.escape(link, quote=True)}'>The live view</a></li>"
            )
        else:
            lines.append(f"- {b.title}: {link}")
            items.append(
                f"<li><a href='{html.escape(link, quote=True)}'>{html.escape(b.title)}</a></li>"
            )
    if not attach:
        note = (
            f"The files ({size / 1024 / 1024:.1f} MB) are over the {limit / 1024 / 1024:g} MB "
            "limit for attachments (CX_MAIL_MAX_MB): open the view and use the sidebar's "
            "Executive briefing button for the same file."
        )
        lines += ["", note]
        items.append(f"</ul><p>{html.escape(note)}</p><ul>")
    body = (
        "<!doctype html><html><body style='font-family:Arial,Helvetica,sans-serif'>"
        f"<h2 style='font-size:18px'>{html.escape(subject)}</h2><ul>"
        + "".join(items)
        + "</ul></body></html>"
    )
    attachments = (
        [(p.name, p.read_bytes(), MIME.get(p.suffix, "application/octet-stream")) for p in files]
        if attach
        else []
    )
    return delivery.mail(smtp, to, subject, "\n".join(lines), body, attachments)
