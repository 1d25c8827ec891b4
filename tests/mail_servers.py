"""Real receivers on 127.0.0.1 for delivery tests: an SMTP server (aiosmtpd) and an HTTP
webhook receiver (http.server), each able to refuse or drop on demand."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailBox:
    """An aiosmtpd handler that keeps every accepted message and counts every attempt.

    ``mode``: "accept"; "refuse-data" (451 to DATA); "refuse-rcpt" (550 to RCPT);
    "drop" (the connection is closed when the message is sent)."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.attempts = 0
        self.mode = "accept"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "refuse-rcpt":
            self.attempts += 1
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.mode == "refuse-data":
            return "451 4.3.0 try again later"
        if self.mode == "drop":
            server.transport.close()
            return "250 OK"  # never reaches the client
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def certificate(folder) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), as (certificate, key) paths."""
    cert, key = f"{folder}/cert.pem", f"{folder}/key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


@contextlib.contextmanager
def smtp_server(tls: str | None = None, cert: tuple[str, str] | None = None, login=None):
    """``tls``: None (plain), "starttls" (offered and required) or "implicit" (smtps);
    ``login``: (user, password) the server requires."""
    box = MailBox()
    port = free_port()
    options: dict = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
        if tls == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        else:
            options |= {"ssl_context": context}
    if login:
        options |= {"authenticator": authenticator(*login), "auth_required": True}
        # aiosmtpd sees TLS only when it came by STARTTLS; smtps is TLS from the first byte
        options |= {"auth_require_tls": tls == "starttls"}
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.attempts = 0
        self.fail_with: int | None = None  # an HTTP status to answer instead of 200


@contextlib.contextmanager
def webhook_server():
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            hook.attempts += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.fail_with:
                self.send_response(hook.fail_with)
                self.end_headers()
                return
            hook.posts.append(
                {"content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret"
    finally:
        server.shutdown()
        server.server_close()
