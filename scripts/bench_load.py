"""Many users at once: real Chromium sessions clicking through every page of one server.

    python -m scripts.bench_load --sessions 20 --rounds 2 [--url sqlite:///…] [--users FILE]

Starts ``streamlit run dashboard.py`` on 127.0.0.1 against ``--url`` (default: the sample
database), opens ``--sessions`` browser sessions at once, and has each one visit every page
in turn, changing the period filter on each, ``--rounds`` times; sessions arrive
``--stagger`` seconds apart. With ``--users`` (a users
file) sign-in is on and each session signs in first, managers and executives alternating.

A step's time runs from the click to the page having finished its run with the expected
heading (or the changed view) on screen. Prints one JSON object: p50, p95 and max per kind
of step, the server's CPU per click and per step of each kind (its CPU time, sampled every
0.1 s, shared equally among the steps under way in each interval), errors seen on pages,
the server's peak memory (VmHWM), and how many times the server loaded the data (from its
log: once per data version is the target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from playwright.async_api import async_playwright

from scripts import serve
from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
PAGES = [
    ("Overview", "Customer experience overview"),
    ("Journey", "Customer journey"),
    ("Loyalty & value", "Loyalty and value"),
    ("Accountability", "Accountability across silos"),
    ("Voice of the customer", "Voice of the customer"),
    ("Glossary", "Glossary"),
]
PERIODS = ["Last 30 days", "Latest quarter", "Last 90 days", "Latest 12 months"]
DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory(pid: int) -> dict[str, int]:
    """The process's resident memory now and at its peak, in MiB (Linux /proc)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


class Server:
    def __init__(self, url: str | None, users: Path | None, log: Path):
        env = {"CX_DATABASE_URL": url} if url else {}
        if users:
            env["CX_USERS_FILE"] = str(users)
        self.log = log
        try:
            self.proc, self.base = serve.start(env, log)
        except serve.ServerError as exc:
            raise SystemExit(str(exc)) from None
        self.peak_rss = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._under_way: dict[int, str] = {}  # step number -> kind of step
        self._steps = 0
        self.cpu_by_step: dict[str, float] = {}  # kind of step -> server CPU seconds
        self.cpu_between_steps = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def begin(self, kind: str) -> int:
        """A step of ``kind`` starts; its number, for ``end``."""
        with self._lock:
            self._steps += 1
            self._under_way[self._steps] = kind
            return self._steps

    def end(self, step: int) -> None:
        with self._lock:
            self._under_way.pop(step, None)

    def _watch(self) -> None:
        last_cpu, rss_due = _cpu_seconds(self.proc.pid), 0.0
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                cpu = _cpu_seconds(self.proc.pid)
                if time.monotonic() >= rss_due:
                    self.peak_rss = max(self.peak_rss, _memory(self.proc.pid)["VmRSS"])
                    rss_due = time.monotonic() + 0.25
            except OSError:  # the server has just exited
                break
            with self._lock:
                kinds = list(self._under_way.values())
                if kinds:
                    for kind in kinds:
                        share = (cpu - last_cpu) / len(kinds)
                        self.cpu_by_step[kind] = self.cpu_by_step.get(kind, 0.0) + share
                else:
                    self.cpu_between_steps += cpu - last_cpu
            last_cpu = cpu
            time.sleep(0.1)

    def stop(self) -> dict[str, int]:
        mem = _memory(self.proc.pid)
        self._stop.set()
        try:
            serve.stop(self.proc)
        except subprocess.TimeoutExpired:  # slow to shut down: its figures are taken already
            self.proc.kill()
            self.proc.wait()
        return mem


async def _wait_page(page, heading: str, timeout: float) -> None:
    await page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=timeout)
    await page.wait_for_selector(DONE, timeout=timeout)


async def _session(server, browser, index, rounds, stagger, sign_in, times, errors):
    base = server.base
    await asyncio.sleep(index * stagger)  # people arrive over a few seconds, not in one instant
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    timeout = 300_000
    context.set_default_timeout(timeout)
    page = await context.new_page()
    step = 0
    try:
        started = time.perf_counter()
        step = server.begin("first page")
        await page.goto(base, wait_until="commit")
        if sign_in:
            email, password = sign_in(index)
            await page.get_by_role("textbox", name="E-mail address").fill(email)
            await page.get_by_role("textbox", name="Password").fill(password)
            await page.get_by_role("button", name="Sign in").click()
        await _wait_page(page, PAGES[0][1], timeout)
        server.end(step)
        times["first page"].append(time.perf_counter() - started)
        current = "Last 90 days"  # the default period
        for r in range(rounds):
            for p, (link, heading) in enumerate(PAGES):
                t = time.perf_counter()
                step = server.begin("page switch")
                await page.get_by_role("link", name=link, exact=True).click()
                await _wait_page(page, heading, timeout)
                server.end(step)
                times["page switch"].append(time.perf_counter() - t)
                if heading == "Glossary":
                    continue
                caption = page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']")
                before = await caption.first.inner_text()
                period = PERIODS[(index + p + r) % len(PERIODS)]
                if period == current:  # choosing the period already shown changes nothing
                    period = PERIODS[(PERIODS.index(period) + 1) % len(PERIODS)]
                current = period
                t = time.perf_counter()
                step = server.begin("filter change")
                box = page.locator("[data-testid='stSelectbox']").filter(has_text="Period")
                await box.click()
                await page.get_by_role("option", name=period, exact=True).click()
                await page.wait_for_function(
                    "old => { const c = document.querySelector(\"[data-testid='stMain'] "
                    "[data-testid='stCaptionContainer']\"); return c && c.innerText !== old; }",
                    arg=before,
                    timeout=timeout,
                )
                await page.wait_for_selector(DONE, timeout=timeout)
                server.end(step)
                times["filter change"].append(time.perf_counter() - t)
                shown = await page.locator("[data-testid='stException']").count()
                if shown:
                    errors.append(f"session {index}: an exception on {heading}")
    except Exception as exc:  # a timeout or a broken page counts as an error, not a crash
        errors.append(f"session {index}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        server.end(step)  # a step cut short by an error
        await context.close()


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "p50_s": round(statistics.median(ordered), 2),
        "p95_s": round(p95, 2),
        "max_s": round(ordered[-1], 2),
    }


async def _run(args, server: Server) -> dict:
    times: dict[str, list[float]] = {"first page": [], "page switch": [], "filter change": []}
    errors: list[str] = []
    sign_in = None
    if args.users:
        accounts = [a.split(":", 1) for a in args.account]
        sign_in = lambda i: accounts[i % len(accounts)]  # noqa: E731
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        started = time.perf_counter()
        await asyncio.gather(
            *[
                _session(server, browser, i, args.rounds, args.stagger, sign_in, times, errors)
                for i in range(args.sessions)
            ]
        )
        wall = time.perf_counter() - started
        await browser.close()
    return {"times": times, "errors": errors, "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--stagger", type=float, default=0.5, help="seconds between two sessions' arrivals"
    )
    parser.add_argument("--url", help="database URL (default: the sample database)")
    parser.add_argument("--users", type=Path, help="a users file: sign-in on")
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        help="EMAIL:PASSWORD of a user in --users (repeat; sessions take them in turn)",
    )
    args = parser.parse_args()
    if args.users and not args.account:
        parser.error("--users needs at least one --account EMAIL:PASSWORD")
    log = Path(tempfile.mkdtemp(prefix="cx-load-")) / "server.log"
    server = Server(args.url, args.users, log)
    idle = _memory(server.proc.pid)["VmRSS"]
    cpu_before = _cpu_seconds(server.proc.pid)
    try:
        result = asyncio.run(_run(args, server))
    finally:
        cpu = _cpu_seconds(server.proc.pid) - cpu_before
        memory = server.stop()
    loads = log.read_text().count("cxdashboard.data: loaded")
    clicks = sum(len(v) for v in result["times"].values())
    per_step = {
        kind: round(server.cpu_by_step.get(kind, 0.0) / len(v), 3) if v else None
        for kind, v in result["times"].items()
    }
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "rounds": args.rounds,
                "stagger_s": args.stagger,
                "sign_in": bool(args.users),
                "steps": {k: _summary(v) for k, v in result["times"].items()},
                "errors": result["errors"],
                "wall_s": result["wall_s"],
                "server_cpu_s": round(cpu, 1),
                "server_cpu_per_click_s": round(cpu / clicks, 3) if clicks else None,
                "server_cpu_per_step_s": per_step,
                "server_cpu_between_steps_s": round(server.cpu_between_steps, 1),
                "machine_cores": os.cpu_count(),
                "server_memory_mib": {
                    "idle_before_sessions": idle,
                    "peak_sampled_rss": server.peak_rss,
                    "peak_vmhwm": memory["VmHWM"],
                    "at_end_rss": memory["VmRSS"],
                },
                "data_loads_in_server_log": loads,
                "server_log": str(log),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
