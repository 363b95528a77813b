"""Short-lived shared state: cached explanations and "already delivered" records.

The pipeline talks to the `StateStore` protocol only, so a shared backend (Redis, for
several replicas) can stand in for the in-memory one without touching the pipeline.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class StateStore(Protocol):
    """Key/value records that expire; values are short JSON strings."""

    async def get(self, key: str) -> str | None:
        """The value stored under `key`, or None when absent or expired."""
        ...

    async def put(self, key: str, value: str, ttl: float) -> None:
        """Store `value` under `key` for `ttl` seconds, replacing any earlier value."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    """A per-process StateStore with expiry, bounded in size.

    Expired entries are dropped as they are met, and the oldest ones go first when the
    store is full, so memory stays bounded during an alert storm.
    """

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return value

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        self._prune()

    def _prune(self) -> None:
        now = self._clock()
        while self._entries:
            oldest_key, (expires, _) = next(iter(self._entries.items()))
            if expires > now and len(self._entries) <= self._max_entries:
                break
            del self._entries[oldest_key]

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        self._entries.clear()
