"""Short-lived shared state: cached explanations, "already delivered" records, leases, counters,
and bounded lists (the operator's page keeps its notification history in two of them).

The pipeline talks to the `StateStore` protocol only. `MemoryStore` serves one process;
redis_store.py holds the store that several replicas share.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class StateStore(Protocol):
    """Key/value records that expire. Values are short strings (JSON where structured)."""

    async def get(self, key: str) -> str | None:
        """The value stored under `key`, or None when absent or expired."""
        ...

    async def put(self, key: str, value: str, ttl: float) -> None:
        """Store `value` under `key` for `ttl` seconds, replacing any earlier value."""
        ...

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take `key` for `owner` for `ttl` seconds unless someone else holds it."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Give `key` back, only if `owner` still holds it."""
        ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter that expires `ttl` seconds after its first increment."""
        ...

    async def push(self, key: str, item: str, value: str, *, max_items: int, ttl: float) -> None:
        """Store `value` as `item` of the bounded list `key`, newest first.

        A new item goes to the front; writing an existing item replaces its value and keeps
        its place. Each item expires `ttl` seconds after its last write, and beyond
        `max_items` the oldest items go.
        """
        ...

    async def items(self, key: str, limit: int) -> list[str]:
        """The values of the newest `limit` items of the list `key`, newest first."""
        ...

    async def item(self, key: str, item: str) -> str | None:
        """The value of one item of the list `key`, or None when absent or expired."""
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
        # Bounded lists: item -> (expiry, value), oldest first.
        self._lists: dict[str, OrderedDict[str, tuple[float, str]]] = {}

    async def get(self, key: str) -> str | None:
        return self._get(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    # The operations made of others call the plain methods: no coroutine per step.
    def _get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        self._prune()

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        holder = self._get(key)
        if holder is not None and holder != owner:
            return False
        self._put(key, owner, ttl)
        return True

    async def release(self, key: str, owner: str) -> None:
        if self._get(key) == owner:
            del self._entries[key]

    async def incr(self, key: str, ttl: float) -> int:
        current = self._get(key)
        if current is None:
            self._put(key, "1", ttl)
            return 1
        expires, _ = self._entries[key]
        count = int(current) + 1
        self._entries[key] = (expires, str(count))
        return count

    def _prune(self) -> None:
        now = self._clock()
        while self._entries:
            oldest_key, (expires, _) = next(iter(self._entries.items()))
            if expires > now and len(self._entries) <= self._max_entries:
                break
            del self._entries[oldest_key]

    async def push(self, key: str, item: str, value: str, *, max_items: int, ttl: float) -> None:
        entries = self._lists.setdefault(key, OrderedDict())
        entries[item] = (self._clock() + ttl, value)  # an existing item keeps its place
        now = self._clock()
        while entries:
            oldest, (expires, _) = next(iter(entries.items()))
            if expires > now and len(entries) <= max_items:
                break
            del entries[oldest]

    async def items(self, key: str, limit: int) -> list[str]:
        now = self._clock()
        values: list[str] = []
        for expires, value in reversed(self._lists.get(key, {}).values()):
            if len(values) >= limit:
                break
            if expires > now:
                values.append(value)
        return values

    async def item(self, key: str, item: str) -> str | None:
        entries = self._lists.get(key)
        entry = entries.get(item) if entries is not None else None
        return entry[1] if entry is not None and entry[0] > self._clock() else None

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        self._entries.clear()
        self._lists.clear()
