"""Memory the process gives back to the system: glibc's malloc, which holds NumPy's arrays
and Python's objects (Polars has its own allocator, set up in ``cxmetrics/__init__.py``).

glibc gives a block at or above its ``mmap`` threshold a mapping of its own, handed back
when freed, and takes smaller blocks from its heap, where memory freed stays the process's
until the heap is trimmed. Left to itself it raises the threshold to the size of the first
large block freed (up to 32 MB), so after a few steps every array of a load stays in the
heap. A load therefore runs with a fixed, small threshold (:func:`loading`: arrays of a
million rows come and go as mappings, about 25 MB less at the peak of 1M responses), and a
dashboard that has loaded runs with a large one (mappings made and unmade at every filter
change cost it about a quarter of its time) and trims its heap after each step that freed
much (:func:`give_back`). ``MALLOC_MMAP_THRESHOLD_`` set by the user is left as it is.
Elsewhere than glibc (macOS, musl) these do nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator

#: The threshold while a load runs, and after it (glibc's own largest)
LOADING_THRESHOLD = 128 * 1024
SERVING_THRESHOLD = 32 * 2**20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
_LOCK = threading.Lock()
_loads = 0  # loads running now (sessions load in threads of one process)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both must be there: glibc)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def _threshold(size: int) -> None:
    if _LIBC is not None and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, size)


def give_back() -> None:
    """Hand the free memory of glibc's heap back to the system (``malloc_trim``)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Run a load with the small threshold; afterwards the large one, the heap trimmed."""
    global _loads
    with _LOCK:
        _loads += 1
        _threshold(LOADING_THRESHOLD)
    try:
        yield
    finally:
        with _LOCK:
            _loads -= 1
            if not _loads:
                _threshold(SERVING_THRESHOLD)
        give_back()
