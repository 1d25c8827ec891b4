"""Sending messages: e-mail over SMTP and a JSON webhook, each tried again with backoff.

Settings come from the environment:

- ``CX_SMTP_URL``: ``smtp://user:password@host:587`` (STARTTLS whenever the server offers
  it) or ``smtps://user:password@host:465`` (TLS from the first byte); user and password
  are optional and percent-encoded; ``?timeout=SECONDS`` (default 30).
- ``CX_SMTP_CA_FILE``: a CA bundle (PEM) to trust for the server's certificate, for a server
  with a private CA (default: the system's).
- ``CX_MAIL_FROM``: the sender's address (default ``cx-dashboard@`` the SMTP host).
- ``CX_ALERT_WEBHOOK``: an incoming-webhook URL (Slack, Microsoft Teams, Mattermost …); it
  receives ``{"text": "..."}`` as a JSON POST.
- ``CX_DELIVERY_ATTEMPTS`` (default 4) and ``CX_DELIVERY_BACKOFF`` (seconds before the
  second attempt, default 2; doubled before each further one).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit


class DeliveryError(Exception):
    """A message could not be delivered; the text says where and why."""


class SettingsError(ValueError):
    """A delivery setting is malformed; the text names it."""


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None
    sender: str
    timeout: float = 30.0
    ca_file: str | None = None

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def where(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    backoff: float = 2.0  # seconds before the second attempt, doubled each time


def smtp_settings(environ: dict[str, str] | None = None) -> Smtp | None:
    """The SMTP server named by ``CX_SMTP_URL``, or None when it is not set."""
    env = os.environ if environ is None else environ
    url = env.get("CX_SMTP_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(
            f"CX_SMTP_URL must start with smtp:// or smtps://, got {parts.scheme or 'none'}://"
        )
    try:
        port = parts.port
    except ValueError:
        raise SettingsError("CX_SMTP_URL has a port that is not a number") from None
    if not parts.hostname:
        raise SettingsError("CX_SMTP_URL names no host")
    implicit = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    try:
        timeout = float(query.get("timeout", ["30"])[-1])
    except ValueError:
        raise SettingsError("CX_SMTP_URL's timeout must be a number of seconds") from None
    sender = env.get("CX_MAIL_FROM", "").strip() or f"cx-dashboard@{parts.hostname}"
    ca_file = env.get("CX_SMTP_CA_FILE", "").strip() or None
    if ca_file and not os.path.isfile(ca_file):
        raise SettingsError(f"CX_SMTP_CA_FILE {ca_file} is not a file")
    return Smtp(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        implicit_tls=implicit,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
        timeout=timeout,
        ca_file=ca_file,
    )


def webhook_url(environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    url = env.get("CX_ALERT_WEBHOOK", "").strip()
    if not url:
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        raise SettingsError("CX_ALERT_WEBHOOK must be an http:// or https:// URL")
    return url


def webhook_name(url: str) -> str:
    """How the record names a webhook: its host only (the rest of the URL is a secret)."""
    return f"webhook:{urlsplit(url).hostname}"


def retry_settings(environ: dict[str, str] | None = None) -> Retry:
    env = os.environ if environ is None else environ
    try:
        attempts = int(env.get("CX_DELIVERY_ATTEMPTS", "4"))
        backoff = float(env.get("CX_DELIVERY_BACKOFF", "2"))
    except ValueError:
        raise SettingsError(
            "CX_DELIVERY_ATTEMPTS must be a whole number and CX_DELIVERY_BACKOFF a number of "
            "seconds"
        ) from None
    if attempts < 1 or backoff < 0:
        raise SettingsError("CX_DELIVERY_ATTEMPTS must be at least 1, CX_DELIVERY_BACKOFF >= 0")
    return Retry(attempts, backoff)


def mail(
    smtp: Smtp,
    to: str,
    subject: str,
    text: str,
    html: str,
    attachments: list[tuple[str, bytes, str]] = (),
) -> EmailMessage:
    """A message with a plain-text and an HTML part (and any ``(name, data, mime type)``
    attachments)."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


class Unreachable(OSError):
    """The SMTP server could not be reached; the message names it (host and port)."""


def send_mail(smtp: Smtp, msg: EmailMessage) -> None:
    """Hand one message to the SMTP server; raises on any refusal or broken connection,
    :class:`Unreachable` naming the server when it cannot be reached."""
    context = smtp.tls()
    try:
        if smtp.implicit_tls:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except (smtplib.SMTPException, ssl.SSLError):  # the server answered: its own words
        raise
    except OSError as exc:  # refused, timed out, no such host: say which server
        where = f"{smtp.host}:{smtp.port}"
        raise Unreachable(f"SMTP server {where} unreachable: {describe(exc)}") from exc
    with client:
        client.ehlo()
        if not smtp.implicit_tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        refused = client.send_message(msg)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


def post_webhook(url: str, text: str, timeout: float = 30.0) -> None:
    """POST ``{"text": text}``; raises unless the receiver answers 2xx."""
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http[s] only)
        response.read()


def describe(exc: BaseException) -> str:
    """One line for the record and stderr."""
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return f"SMTP server answered {exc.smtp_code} {detail}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTP server refused the recipient(s): " + ", ".join(
            f"{to} ({code})" for to, (code, _msg) in exc.recipients.items()
        )
    if isinstance(exc, urllib.error.HTTPError):
        return f"webhook answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"webhook unreachable: {exc.reason}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"SMTP server closed the connection ({exc or 'no reason given'})"
    if isinstance(exc, Unreachable):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


#: What a failed attempt may raise (anything else is a defect and propagates).
FAILURES = (smtplib.SMTPException, OSError, urllib.error.URLError, ssl.SSLError)


def with_retries(
    send: Callable[[], None], retry: Retry, sleep: Callable[[float], None] = time.sleep
) -> tuple[int, str | None]:
    """Call ``send`` until it succeeds or ``retry.attempts`` are spent, waiting
    ``backoff``, ``2 × backoff``, ``4 × backoff`` … between attempts. Returns the attempts
    made and the last error (None on success)."""
    error = None
    for attempt in range(1, retry.attempts + 1):
        try:
            send()
            return attempt, None
        except FAILURES as exc:
            error = describe(exc)
        if attempt < retry.attempts:
            sleep(retry.backoff * 2 ** (attempt - 1))
    return retry.attempts, error
