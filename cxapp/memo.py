"""The memo shared by every session of the server (defined in :mod:`cxmetrics.stats.memo`, where
a dataset also keeps its views' intermediate results)."""

from cxmetrics.stats.memo import Memo

__all__ = ["Memo"]
