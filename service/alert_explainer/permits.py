"""Permits for calls in flight, handed to waiters by priority: a bounded wait, not a refusal.

`asyncio.Semaphore` wakes its waiters first come, first served; here the next free permit
goes to the most urgent waiter (lowest rank), then to the one that came first. A released
permit passes straight to that waiter, so a newcomer cannot take it in between. Waiting is
bounded in time (each waiter's own timeout, shortened for everyone at shutdown) and in
memory (at most `max_waiters` wait; the next is refused at once).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field


class WaitersFull(Exception):
    """`max_waiters` notifications are waiting already; this one is not queued."""


@dataclass(order=True, slots=True)
class _Waiter:
    rank: int
    arrival: int
    granted: asyncio.Future[None] = field(compare=False)


class PermitQueue:
    """`permits` permits; callers beyond them wait in (rank, arrival) order."""

    def __init__(self, permits: int, max_waiters: int) -> None:
        self._free = permits
        self._max_waiters = max_waiters
        self._queue: list[_Waiter] = []  # a heap; given-up waiters stay until popped
        self._waiting = 0  # waiters in the heap that still want a permit
        self._arrivals = itertools.count()
        self._timeouts: set[asyncio.Timeout] = set()
        self._latest: float | None = None  # loop time no wait may outlast (shutdown)

    @property
    def waiting(self) -> int:
        """Callers waiting for a permit right now."""
        return self._waiting

    @property
    def closing(self) -> bool:
        """Whether waits have been cut short for shutdown (see `end_waits_within`)."""
        return self._latest is not None

    async def acquire(self, rank: int, timeout: float) -> None:
        """Take a permit, waiting up to `timeout` seconds behind lower ranks and earlier arrivals.

        Raises TimeoutError when the wait runs out (at once for `timeout` 0), WaitersFull
        when `max_waiters` callers are waiting already.
        """
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._latest is not None:
            deadline = min(deadline, self._latest)
        if deadline <= loop.time():
            raise TimeoutError
        if self._waiting >= self._max_waiters:
            raise WaitersFull
        waiter = _Waiter(rank, next(self._arrivals), loop.create_future())
        heapq.heappush(self._queue, waiter)
        self._waiting += 1
        try:
            async with asyncio.timeout_at(deadline) as scope:
                self._timeouts.add(scope)
                try:
                    await waiter.granted
                finally:
                    self._timeouts.discard(scope)
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.release()  # handed over just as the wait ended: pass it on
            else:
                waiter.granted.cancel()
                self._waiting -= 1
                self._compact()
            raise

    def release(self) -> None:
        """Give a permit back: to the most urgent waiter, else to the pool."""
        while self._queue:
            waiter = heapq.heappop(self._queue)
            if not waiter.granted.done():  # skip those that gave up
                waiter.granted.set_result(None)
                self._waiting -= 1
                return
        self._free += 1

    def end_waits_within(self, seconds: float) -> None:
        """From now on no wait lasts beyond `seconds` from now: for shutdown."""
        latest = asyncio.get_running_loop().time() + max(0.0, seconds)
        self._latest = latest if self._latest is None else min(self._latest, latest)
        for scope in self._timeouts:
            when = scope.when()
            if when is None or when > self._latest:
                scope.reschedule(self._latest)

    def _compact(self) -> None:
        # Given-up waiters are dropped lazily; rebuild before they outnumber the living.
        if len(self._queue) > 2 * self._waiting + 64:
            self._queue = [w for w in self._queue if not w.granted.done()]
            heapq.heapify(self._queue)
