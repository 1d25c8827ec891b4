"""Briefings delivered: each manager their department's file, executives the company's, over
a real SMTP server on 127.0.0.1; files over the size limit become a link."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mail_servers import smtp_server

from cxmetrics import cli
from cxmetrics.contract import access
from cxmetrics.reports import briefing_mail, delivery
from cxmetrics.stats.filters import Filters

USERS = {
    "dana@example.com": ("manager", ["claims"]),
    "bo@example.com": ("manager", ["billing"]),
    "sal@example.com": ("manager", ["sales"]),  # no briefing of Sales is made below
    "ceo@example.com": ("executive", []),
    "ali@example.com": ("analyst", []),
}


def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.toml"
    for address, (role, departments) in USERS.items():
        access.add_user(path, address, role, None, tuple(departments))
    return path


def test_briefing_per_department_send_mails_each_manager_their_own(
    sample_url, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    with smtp_server() as (box, port):
        monkeypatch.setenv("CX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("CX_USERS_FILE", str(users_file(tmp_path)))
        monkeypatch.setenv("CX_PUBLIC_URL", "https://cx.example.com")
        code = cli.main(
            ["briefing", "--url", sample_url, "--out", str(out), "--format", "pdf",
             "--department", "claims,billing", "--per", "department", "--send"]
        )  # fmt: skip
        captured = capsys.readouterr()
        assert code == 0, captured.err
    written = sorted(out.iterdir())
    assert len(written) == 3  # Claims, Billing and the company's
    by_owner = {}
    for path in written:
        owner = next((d for d in ("claims", "billing") if f"_{d}_" in path.name), None)
        by_owner[owner] = path
    assert set(by_owner) == {"claims", "billing", None}
    assert {m["To"] for m in box.messages} == {
        "dana@example.com", "bo@example.com", "ceo@example.com",
    }  # fmt: skip
    for address, owner in (
        ("dana@example.com", "claims"), ("bo@example.com", "billing"), ("ceo@example.com", None),
    ):  # fmt: skip
        (msg,) = box.to(address)
        files = [(p.get_filename(), p.get_content()) for p in msg.iter_attachments()]
        assert files == [(by_owner[owner].name, by_owner[owner].read_bytes())]
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None


def test_files_over_the_limit_go_as_a_link(tmp_path):
    files = []
    for name, size in (("a.pdf", 600_000), ("a.pptx", 500_000)):
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        files.append(path)
    smtp = delivery.Smtp("127.0.0.1", 25, False, None, None, "cx@example.com")
    view = Filters(dt.date(2026, 7, 1), dt.date(2026, 9, 30), departments=("claims",))
    built = [briefing_mail.Built("claims", view, "Claims, Q3", tuple(files))]
    one_mb = 1024 * 1024
    over = briefing_mail.message(smtp, "dana@example.com", built, one_mb, "https://cx", "Co")
    parsed = email.message_from_bytes(over.as_bytes(), policy=email.policy.default)
    assert list(parsed.iter_attachments()) == []
    text = parsed.get_body(("plain",)).get_content()
    assert "over the 1 MB limit" in text and "1.0 MB" in text  # 1,100,000 bytes
    link = next(w for w in text.split() if w.startswith("https://cx"))
    query = parse_qs(urlsplit(link).query)
    assert query == {"start": ["2026-07-01"], "end": ["2026-09-30"], "department": ["claims"]}
    under = briefing_mail.message(smtp, "dana@example.com", built, 2 * one_mb, "https://cx", "Co")
    assert [p.get_filename() for p in under.iter_attachments()] == ["a.pdf", "a.pptx"]
    assert briefing_mail.max_bytes({"CX_MAIL_MAX_MB": "2.5"}) == int(2.5 * one_mb)
    assert briefing_mail.max_bytes({}) == 10 * one_mb
