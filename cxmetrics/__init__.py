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
