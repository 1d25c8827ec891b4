"""Two dashboard processes on one database behind nginx with sticky sessions, configured by
the file the README documents (docs/deploy/nginx-sticky.conf), in a real Chromium."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import urllib.request
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


def proxy_config(folder: Path, listen: int, backends: list[int]) -> Path:
    """The documented server block with this test's ports, inside a minimal nginx.conf that
    logs which process served each request."""
    site = DOCUMENTED.read_text()
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in backends)
    site, n_upstreams = re.subn(
        r"(?m)^    server 127\.0\.0\.1:\d+;\n(    server .*\n)*", servers + "\n", site
    )
    site, n_listen = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", site)
    assert (n_upstreams, n_listen) == (1, 1), "the documented file's shape changed"
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
    return conf


@contextlib.contextmanager
def nginx(conf: Path, base: str):
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
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
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


@pytest.fixture(scope="module")
def proxied(sample_url, tmp_path_factory):
    """Two processes on the sample database and nginx in front: (base URL, access log,
    the two backends' addresses)."""
    folder = tmp_path_factory.mktemp("proxy")
    procs, ports = [], []
    try:
        for i in range(2):
            try:
                proc, base = serve.start(
                    {"CX_DATABASE_URL": sample_url}, folder / f"server{i}.log", 120
                )
            except serve.ServerError as exc:
                pytest.fail(str(exc))
            procs.append(proc)
            ports.append(int(base.rsplit(":", 1)[1]))
        listen = serve.free_port()
        base = f"http://127.0.0.1:{listen}"
        with nginx(proxy_config(folder, listen, ports), base):
            yield base, folder / "access.log", {f"127.0.0.1:{p}" for p in ports}
    finally:
        for proc in procs:
            serve.stop(proc, 20)


def routed(log: Path) -> list[tuple[str, str, str]]:
    lines = [line.split(" ", 2) for line in log.read_text().splitlines() if line.strip()]
    return [(route, upstream, uri) for route, upstream, uri in lines]


def test_each_route_stays_on_one_process_and_both_processes_serve(proxied):
    base, log, backends = proxied
    first_seen: dict[str, str] = {}
    for k in range(24):
        for _ in range(2):
            req = urllib.request.Request(
                f"{base}/_stcore/health", headers={"Cookie": f"cx_route=r{k}"}
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
    for route, upstream, uri in routed(log):
        if not route.startswith("r") or uri != "/_stcore/health":
            continue
        assert upstream in backends
        assert first_seen.setdefault(route, upstream) == upstream, f"{route} moved process"
    assert len(first_seen) == 24
    # 24 routes all hashed to one of two processes would happen with probability 2^-23
    assert set(first_seen.values()) == backends


def test_a_new_browser_gets_a_route_cookie(proxied):
    base, _, _ = proxied
    with urllib.request.urlopen(f"{base}/", timeout=10) as r:
        cookie = r.headers.get("Set-Cookie", "")
    assert re.match(r"cx_route=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Lax", cookie), cookie


def test_the_dashboard_works_through_the_proxy_on_one_process(proxied, browser):
    from tests.test_browser import nps_tile, wait_ready

    base, log, backends = proxied
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.goto(base)
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
    route = next(c["value"] for c in context.cookies() if c["name"] == "cx_route")
    context.close()
    served = {upstream for r, upstream, _ in routed(log) if r == route}
    assert len(served) == 1 and served <= backends, served  # websocket and all on one process


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
        listen = serve.free_port()
        base = f"http://127.0.0.1:{listen}"
        with nginx(proxy_config(tmp_path, listen, [backend.server_port]), base):
            request = urllib.request.Request(
                f"{base}/_stcore/health", headers={"X-Forwarded-For": "203.0.113.7"}
            )
            with urllib.request.urlopen(request, timeout=10) as r:
                assert r.read().decode() == "127.0.0.1"
    finally:
        backend.shutdown()
