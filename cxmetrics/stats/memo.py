"""A bounded, thread-safe memo shared by every session of the server.

A key's value is computed once: a second caller asking for the same key while it is being
computed waits for that computation instead of running its own (one lock per key being
computed). At most ``max_entries`` values are kept, the least recently used leaving first,
and none longer than ``ttl_seconds``. Values are handed to every caller as they are, so
callers must treat them as read-only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Memo:
    def __init__(
        self,
        max_entries: int = 256,
        ttl_seconds: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards _entries and _computing
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) when ``key`` holds a value younger than the TTL; call under _lock."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        stored, value = entry
        if self._clock() - stored > self.ttl_seconds:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, value

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, running ``compute()`` only when no caller has it yet."""
        with self._lock:
            found, value = self._fresh(key)
            if found:
                return value
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:  # one computation per key; the others wait here
            with self._lock:
                found, value = self._fresh(key)
            if found:
                return value
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:
                self._entries[key] = (self._clock(), value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                self._computing.pop(key, None)
            return value

    def values(self) -> list:
        """The values held now, least recently used first."""
        with self._lock:
            return [value for _, value in self._entries.values()]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
