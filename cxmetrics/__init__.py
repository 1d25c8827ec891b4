"""Metrics for the executive customer-experience dashboard. Never imports Streamlit.

Imported before Polars (the dashboard, the command line and the scripts all import it
first), the package starts Polars' allocator (jemalloc) with :data:`ALLOCATOR`: memory a
step frees goes back to the system after 0.1 s (Polars' own setting: 0.5 s, then kept
another second as pages the system may take back but still counts as the process's), so
what one step of a load freed is not still held while the next one allocates (see *Memory*
in the README). A value of ``_RJEM_MALLOC_CONF`` already set is left as it is.
"""

import os
import sys

ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
#: 0 ms gives memory back sooner still (about 30 MB less at the peak of 1M responses) but
#: makes every filter change pay for it (p95 twice as long)
ALLOCATOR = "dirty_decay_ms:100,muzzy_decay_ms:0"

if "polars" not in sys.modules:  # read once, when Polars' library first allocates
    os.environ.setdefault(ALLOCATOR_ENV, ALLOCATOR)

#: glibc's malloc (NumPy's arrays, Python's objects) gives a block of this size or more a
#: mapping of its own, handed back to the system when freed. Left to itself, glibc raises
#: the threshold to the size of the first such block freed (up to 32 MB) and keeps later
#: blocks below it in its heap, where memory freed stays the process's: fixed here, about
#: 25 MB less at the peak of 1M responses. ``MALLOC_MMAP_THRESHOLD_`` set by the user wins.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def _fix_mmap_threshold() -> bool:
    """Fix glibc's threshold (:data:`MMAP_THRESHOLD`); False where there is no glibc."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


_fix_mmap_threshold()
