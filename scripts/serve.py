"""Start ``streamlit run dashboard.py`` on a free port of 127.0.0.1 and wait until it answers
(for the browser tests and the load benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """The server exited or did not answer in time; the message holds its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    env: dict[str, str],
    log: Path,
    timeout: float = 120,
    address: str = "127.0.0.1",
    script: str = "dashboard.py",
) -> tuple[subprocess.Popen, str]:
    """The running server (with ``env`` added to this process's environment, its output in
    ``log``, listening on ``address``) and its base URL, once its health endpoint answers.
    ``script``: the app it runs, from the repository's folder (its settings are read there)."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script,
                "--server.port", str(port), "--server.address", address,
                "--server.headless", "true",
            ],
            cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # under a sub-path (``STREAMLIT_SERVER_BASE_URL_PATH``) every address starts with it
    path = env.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
    base = f"http://127.0.0.1:{port}" + (f"/{path}" if path else "")
    deadline = time.monotonic() + timeout
    while True:  # wait for the health endpoint, bounded
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise ServerError(f"streamlit did not start:\n{log.read_text()}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.terminate()
    proc.wait(timeout=timeout)
