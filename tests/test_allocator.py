"""Polars' allocator as the package starts it: memory freed goes back to the system soon
(``cxmetrics.ALLOCATOR``), unless the user set ``_RJEM_MALLOC_CONF`` themselves; glibc's,
which holds NumPy's arrays, as a load and the dashboard set it
(``cxmetrics.contract.memory``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cxmetrics
from cxmetrics.contract import store

# 200 frames of 1 MB (each below jemalloc's threshold for a dedicated arena) freed; then
# small allocations (the allocator gives memory back as it is used) for up to 2 seconds,
# until the process is back near where it started
CODE = """
import gc, json, os, time
import cxmetrics
import polars as pl

def rss():
    status = open("/proc/self/status").read().split("VmRSS:")[1]
    return int(status.split()[0]) // 1024

before = rss()
parts = [pl.Series("x", range(i, i + 125_000)) * 2 for i in range(200)]
held = rss()
del parts
gc.collect()
t0 = time.monotonic()
while rss() - before >= 30 and time.monotonic() - t0 < 2.0:
    pl.Series("y", range(1000)).sum()
print(json.dumps({"before": before, "held": held, "after": rss(),
                  "conf": os.environ.get("_RJEM_MALLOC_CONF")}))
"""


def _child(code: str, env: dict, *args: str) -> dict:
    """What a fresh interpreter running ``code`` prints as JSON on its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=store.REPO_DIR,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run(conf: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != cxmetrics.ALLOCATOR_ENV}
    if conf is not None:
        env[cxmetrics.ALLOCATOR_ENV] = conf
    return _child(CODE, env)


def test_memory_polars_frees_goes_back_soon():
    found = _run(None)
    assert found["conf"].endswith(cxmetrics.ALLOCATOR)  # Polars puts its own defaults first
    assert found["held"] - found["before"] > 150  # the 200 MB were there
    assert found["after"] - found["before"] < 30


def test_a_setting_of_the_user_wins():
    # never purged (-1): with a 10 s decay, jemalloc's smooth decay had given back 68 of
    # the 200 MB within the 2 s the child waits, on a busy machine
    found = _run("dirty_decay_ms:-1,muzzy_decay_ms:-1")
    assert cxmetrics.ALLOCATOR not in found["conf"]
    assert found["after"] - found["before"] > 150  # kept for reuse, as the user asked


# A 24 MB array freed, then a 16 MB one made, written and freed with small blocks made
# after it: where glibc's threshold moved up to 24 MB, the second came from its heap, below
# the small blocks, and stays the process's until the heap is trimmed
NUMPY = """
import json, sys
from cxmetrics.contract import memory
import numpy as np

def rss():
    status = open("/proc/self/status").read().split("VmRSS:")[1]
    return int(status.split()[0]) // 1024

def steps():
    first = np.ones(3_000_000)
    del first
    second = np.ones(2_000_000)
    pinned = [bytearray(4000) for _ in range(200)]  # small blocks after it
    held = rss()
    del second
    return held, pinned

before = rss()
if sys.argv[1] == "loading":
    with memory.loading():
        held, pinned = steps()
        after = rss()
else:
    held, pinned = steps()
    after = rss()
    if sys.argv[1] == "given back":
        memory.give_back()
        after = rss()
print(json.dumps({"before": before, "held": held, "after": after}))
"""


def _numpy(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    return _child(NUMPY, env, mode)


def test_memory_numpy_frees_goes_back_in_a_load_or_when_given_back():
    plain, loading, given = _numpy("plain"), _numpy("loading"), _numpy("given back")
    for run in (plain, loading, given):
        assert run["held"] - run["before"] > 12  # the 16 MB were there
    assert plain["after"] - plain["before"] > 12  # glibc left to itself keeps them
    assert loading["after"] - loading["before"] < 5  # a load's threshold: given back at once
    assert given["after"] - given["before"] < 5  # a trimmed heap: given back
