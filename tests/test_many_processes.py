"""Two dashboard processes on one database behind nginx with sticky sessions and TLS,
configured by the file the README documents (docs/deploy/nginx-sticky.conf), in a real
Chromium."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import serve

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
DOCUMENTED = REPO / "docs" / "deploy" / "nginx-sticky.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("CI") == "true":  # as tests/engines.py: on CI a missing part fails
            pytest.fail("nginx is missing: scripts/install-system-deps.sh installs nginx-light")
        pytest.skip("nginx is not installed (scripts/install-system-deps.sh installs it)")
    return found


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the test's own authority)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, key_pem = folder / "cert.pem", folder / "key.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem, key_pem


@dataclass(frozen=True)
class Proxy:
    base: str  # https://127.0.0.1:PORT
    plain: str  # http://127.0.0.1:PORT, the server that redirects
    log: Path  # route, upstream and URI of each request
    trust: ssl.SSLContext  # verifies the proxy's certificate

    def get(self, path: str, headers: dict | None = None):
        request = urllib.request.Request(f"{self.base}{path}", headers=headers or {})
        return urllib.request.urlopen(request, timeout=10, context=self.trust)


def proxy_config(folder: Path, backends: list[int]) -> tuple[Path, Proxy]:
    """The documented server blocks with this test's ports and certificate, inside a
    minimal nginx.conf that logs which process served each request."""
    site = DOCUMENTED.read_text()
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in backends)
    site, n_upstreams = re.subn(
        r"(?m)^    server 127\.0\.0\.1:\d+;\n(    server .*\n)*", servers + "\n", site
    )
    tls, plain = serve.free_port(), serve.free_port()
    site, n_plain = re.subn(r"listen 80;", f"listen 127.0.0.1:{plain};", site)
    site, n_tls = re.subn(r"listen 443 ssl;", f"listen 127.0.0.1:{tls} ssl;", site)
    pem, key = certificate(folder)
    site, n_cert = re.subn(r"ssl_certificate +\S+;", f"ssl_certificate {pem};", site)
    site, n_key = re.subn(r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};", site)
    shape = (n_upstreams, n_plain, n_tls, n_cert, n_key)
    assert shape == (1, 1, 1, 1, 1), f"the documented file's shape changed: {shape}"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(exist_ok=True)
    conf = folder / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format routed '$cookie_cx_route $upstream_addr $request_uri';
    access_log {folder}/access.log routed;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
"""
    )
    trust = ssl.create_default_context(cafile=str(pem))
    proxy = Proxy(
        f"https://127.0.0.1:{tls}", f"http://127.0.0.1:{plain}", folder / "access.log", trust
    )
    return conf, proxy


@contextlib.contextmanager
def nginx(conf: Path, proxy: Proxy):
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [binary, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded wait for the proxy to answer the backends' health endpoint
            try:
                with proxy.get("/_stcore/health") as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def proxied(sample_url, tmp_path_factory):
    """Two processes on the sample database, both with one users file (sign-in on), and
    nginx in front over TLS: (the proxy, the two backends' addresses)."""
    from cxmetrics.contract import access

    folder = tmp_path_factory.mktemp("proxy")
    users = folder / "users.toml"
    access.add_user(users, "ceo@example.com", "executive", PASSWORD)
    procs, ports = [], []
    try:
        for i in range(2):
            try:
                proc, base = serve.start(
                    {"CX_DATABASE_URL": sample_url, "CX_USERS_FILE": str(users)},
                    folder / f"server{i}.log",
                    120,
                )
            except serve.ServerError as exc:
                pytest.fail(str(exc))
            procs.append(proc)
            ports.append(int(base.rsplit(":", 1)[1]))
        conf, proxy = proxy_config(folder, ports)
        with nginx(conf, proxy):
            yield proxy, {f"127.0.0.1:{p}" for p in ports}
    finally:
        for proc in procs:
            serve.stop(proc, 20)


def routed(log: Path) -> list[tuple[str, str, str]]:
    lines = [line.split(" ", 2) for line in log.read_text().splitlines() if line.strip()]
    return [(route, upstream, uri) for route, upstream, uri in lines]


def routes(proxy: Proxy, backends: set[str], n: int = 24) -> dict[str, str]:
    """The process each of ``n`` routes (r0, r1…) is sent to, each asked twice."""
    first_seen: dict[str, str] = {}
    for k in range(n):
        for _ in range(2):
            with proxy.get("/_stcore/health", {"Cookie": f"cx_route=r{k}"}) as r:
                assert r.status == 200
    for route, upstream, uri in routed(proxy.log):
        if not route.startswith("r") or uri != "/_stcore/health":
            continue
        assert upstream in backends
        assert first_seen.setdefault(route, upstream) == upstream, f"{route} moved process"
    return first_seen


def test_each_route_stays_on_one_process_and_both_processes_serve(proxied):
    proxy, backends = proxied
    first_seen = routes(proxy, backends)
    assert len(first_seen) == 24
    # 24 routes all hashed to one of two processes would happen with probability 2^-23
    assert set(first_seen.values()) == backends


def test_a_new_browser_gets_a_secure_route_cookie_and_is_kept_to_https(proxied):
    proxy, _ = proxied
    with proxy.get("/") as r:
        cookie = r.headers.get("Set-Cookie", "")
        hsts = r.headers.get("Strict-Transport-Security")
    assert re.match(r"cx_route=[0-9a-f]{32}; Path=/; HttpOnly; Secure; SameSite=Lax", cookie), (
        cookie
    )
    assert hsts == "max-age=31536000"
    # plain HTTP reaches no process: it is sent to the same address over HTTPS
    host, port = proxy.plain.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/journey?stage=claim")
        answer = conn.getresponse()
        assert answer.status == 301
        assert answer.getheader("Location") == "https://127.0.0.1/journey?stage=claim"
    finally:
        conn.close()
    # logged once, with no upstream: no process was asked
    assert [u for _, u, uri in routed(proxy.log) if uri == "/journey?stage=claim"] == ["-"]


def test_the_dashboard_works_through_the_proxy_on_one_process(proxied, browser):
    """Signed in over HTTPS, a browser stays on one process, websocket and all; its sign-in
    cookie is Secure and holds on the other process too (one users file, one key)."""
    from tests.test_browser import nps_tile, wait_ready

    proxy, backends = proxied
    # the proxy's certificate is the test's own: Chromium is told not to check it
    context = browser.new_context(
        viewport={"width": 1500, "height": 1000}, ignore_https_errors=True
    )
    page = context.new_page()
    page.goto(proxy.base)
    page.wait_for_selector("input[type='password']", timeout=90_000)
    page.get_by_role("textbox", name="E-mail address").fill("ceo@example.com")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_ready(page)
    before = nps_tile(page)
    assert before and not page.locator("[data-testid='stException']").count()
    period = page.locator("[data-testid='stSelectbox']").filter(has_text="Period")
    period.click()
    page.get_by_role("option", name="Last 30 days").click()
    page.wait_for_function(
        "(b) => { const t = document.querySelector(\"[data-testid='stMetricValue']\");"
        " return t && t.innerText.trim() !== b; }",
        arg=before,
        timeout=60_000,
    )
    page.wait_for_function("() => document.cookie.includes('cx_session=')", timeout=30_000)
    cookies = {c["name"]: c for c in context.cookies()}
    route, session = cookies["cx_route"]["value"], cookies["cx_session"]
    assert session["secure"] and session["sameSite"] == "Strict"
    assert cookies["cx_route"]["secure"]
    context.close()
    served = {upstream for r, upstream, _ in routed(proxy.log) if r == route}
    assert len(served) == 1 and served <= backends, served  # websocket and all on one process
    # a route the other process serves, with the same sign-in cookie: still signed in
    other = next(r for r, u in routes(proxy, backends).items() if u not in served)
    context = browser.new_context(
        viewport={"width": 1500, "height": 1000}, ignore_https_errors=True
    )
    context.add_cookies(
        [
            {"name": "cx_route", "value": other, "url": proxy.base},
            {k: session[k] for k in ("name", "value", "domain", "path", "secure", "sameSite")},
        ]
    )
    page = context.new_page()
    page.goto(proxy.base)
    wait_ready(page)
    assert nps_tile(page) and not page.locator("input[type='password']").count()
    context.close()
    assert {u for r, u, _ in routed(proxy.log) if r == other} == backends - served


def test_the_documented_proxy_passes_the_real_client_address_not_the_one_it_was_sent(
    tmp_path,
):
    """The sign-in rate limit counts by the address nginx passes on: a client that sends
    its own X-Forwarded-For must not choose it (appended to, the header would carry the
    client's choice first, and a client on a trusted network would be counted by it)."""
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = (self.headers.get("X-Forwarded-For") or "").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        conf, proxy = proxy_config(tmp_path, [backend.server_port])
        with (
            nginx(conf, proxy),
            proxy.get("/_stcore/health", {"X-Forwarded-For": "203.0.113.7"}) as r,
        ):
            assert r.read().decode() == "127.0.0.1"
    finally:
        backend.shutdown()
