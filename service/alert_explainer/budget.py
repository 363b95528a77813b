"""Spend control for the paid inference API: concurrency, rate and budget, circuit breaker.

A call that finds every concurrency permit taken waits for one, the most urgent
notification first (`Priorities`), for at most `inference.limits.max_wait`: a burst is
explained a little later instead of not at all. A spent budget, the open breaker or a
full wait list refuse at once, so the notification goes out with the fallback text,
which says which limit it was. Rate and budget counters live in the state store (Redis
when configured), so they hold across replicas; permits and the breaker are per process.
Each inference backend has its own guard, named for it in the counters' keys and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import NoReturn

from alert_explainer.alertmanager import Notification
from alert_explainer.config import (
    OTHER_PRIORITY,
    BreakerSettings,
    InferenceLimits,
    PrioritySettings,
)
from alert_explainer.errors import InferenceError
from alert_explainer.metrics import Metrics
from alert_explainer.permits import PermitQueue, WaitersFull
from alert_explainer.store import StateStore

# Failures that say the API is unwell; a 401/402 is a configuration problem, not an outage.
BREAKER_CODES = frozenset(
    {"timeout", "connection_error", "server_error", "rate_limited", "invalid_response"}
)
_WINDOWS = (("per_minute", 60), ("per_hour", 3600), ("per_day", 86400))


@dataclass(frozen=True, slots=True)
class Priority:
    """Where a waiting call stands: lower ranks are served first; `name` labels metrics."""

    rank: int
    name: str


class Priorities:
    """Ranks notifications by the configured label, in the configured order of its values."""

    def __init__(self, settings: PrioritySettings) -> None:
        self._label = settings.label
        self._ranks = {value.casefold(): rank for rank, value in enumerate(settings.order)}
        self.names = [*settings.order, OTHER_PRIORITY]

    def of(self, notification: Notification) -> Priority:
        """The most urgent value among the alerts still firing (all alerts, if none is)."""
        alerts = notification.firing or notification.alerts
        other = len(self._ranks)
        rank = min(
            (self._ranks.get(a.labels.get(self._label, "").casefold(), other) for a in alerts),
            default=other,
        )
        return Priority(rank, self.names[rank])


# For callers that rank nothing: first come, first served.
UNRANKED = Priority(0, OTHER_PRIORITY)


class CircuitBreaker:
    """Closed until `failures` consecutive failures; open for `cooldown`; then one probe."""

    def __init__(
        self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._consecutive = 0
        self._open_until = 0.0
        self._probing = False

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._consecutive

    @property
    def cooldown(self) -> float:
        """Seconds calls are refused once the circuit opens."""
        return self._settings.cooldown

    @property
    def open(self) -> bool:
        """Whether calls are being refused right now."""
        return self._consecutive >= self._settings.failures and (
            self._clock() < self._open_until or self._probing
        )

    def allow(self) -> bool:
        """Whether a call may go ahead; after the cool-down, exactly one probe may."""
        if self._consecutive < self._settings.failures:
            return True
        if self._clock() < self._open_until or self._probing:
            return False
        self._probing = True
        return True

    def record(self, ok: bool) -> None:
        """Count a call's result; a success closes the circuit."""
        self._probing = False
        if ok:
            self._consecutive = 0
            return
        self._consecutive += 1
        if self._consecutive >= self._settings.failures:
            self._open_until = self._clock() + self._settings.cooldown


class SpendGuard:
    """Decides whether, and when, an inference call may be made."""

    def __init__(
        self,
        limits: InferenceLimits,
        breaker: BreakerSettings,
        store: StateStore,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        *,
        backend: str = "clanker",
    ) -> None:
        self.backend = backend
        self._limits = limits
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._permits = PermitQueue(limits.concurrency, limits.max_waiters)
        self.breaker = CircuitBreaker(breaker)

    @contextlib.asynccontextmanager
    async def permit(
        self, priority: Priority = UNRANKED, *, wait: bool = True
    ) -> AsyncIterator[None]:
        """Hold a permit for one call; raise InferenceError when a limit refuses it.

        With all permits taken, wait up to `max_wait` (not at all unless `wait`), behind
        lower priority ranks and earlier arrivals. Limits that waiting cannot help are
        asked first, so nobody waits only to be refused.
        """
        if self.breaker.open:
            self._refuse_circuit()
        await self._check_windows(count=False)
        await self._wait_for_permit(priority, wait)
        try:
            await self._check_windows(count=True)
            # Asked last: after the cool-down this hands out the single probe, which must run.
            if not self.breaker.allow():
                self._refuse_circuit()
            try:
                yield
            except InferenceError as exc:
                self.breaker.record(ok=exc.code not in BREAKER_CODES)
                raise
            else:
                self.breaker.record(ok=True)
            finally:
                circuit = self._metrics.inference_circuit_open.labels(self.backend)
                circuit.set(1 if self.breaker.open else 0)
        finally:
            self._permits.release()

    def end_waits_within(self, seconds: float) -> None:
        """Shutdown: calls still waiting for a permit `seconds` from now give up then."""
        self._permits.end_waits_within(seconds)

    async def _wait_for_permit(self, priority: Priority, wait: bool) -> None:
        waiters = self._metrics.inference_waiters.labels(priority.name)
        wait = wait and self._limits.max_waiters > 0  # no room to wait is no wait
        loop = asyncio.get_running_loop()  # the clock the wait's deadline is on
        started = loop.time()
        waiters.inc()
        try:
            await self._permits.acquire(priority.rank, self._limits.max_wait if wait else 0.0)
        except WaitersFull:
            self._refuse(
                "waiters",
                f"model busy ({self._limits.max_waiters} notifications already waiting)",
                "too_many_waiting",
            )
        except TimeoutError:  # counted as a refusal, not as a wait that ended in a call
            self._refuse("concurrency", self._busy_reason(wait), "model_busy")
        else:
            self._metrics.inference_wait.labels(priority.name).observe(loop.time() - started)
        finally:
            waiters.dec()

    def _busy_reason(self, waited: bool) -> str:
        if self._permits.closing:
            return "model busy (shutting down)"
        if waited and self._limits.max_wait > 0:
            return f"model busy (waited {self._limits.max_wait:g} s)"
        calls = self._limits.concurrency
        return f"model busy ({calls} call{'' if calls == 1 else 's'} in flight)"

    async def _check_windows(self, *, count: bool) -> None:
        """Refuse when a per-minute/hour/day budget is spent; `count` this call against them."""
        for name, seconds in _WINDOWS:
            limit: int | None = getattr(self._limits, name)
            if limit is None:
                continue
            key = f"budget:{self.backend}:{name}:{int(self._clock() // seconds)}"
            if count:
                over = await self._store.incr(key, ttl=seconds + 60) > limit
            else:
                over = int(await self._store.get(key) or 0) >= limit
            if over:
                self._refuse(name, f"inference budget exhausted ({name})", "budget_exhausted")

    def _refuse_circuit(self) -> NoReturn:
        self._refuse(
            "circuit",
            f"inference paused after {self.breaker.failures} consecutive failures "
            f"(retrying after {self.breaker.cooldown:g} s)",
            "circuit_open",
        )

    def _refuse(self, limit: str, reason: str, code: str) -> NoReturn:
        self._metrics.inference_limited.labels(self.backend, limit).inc()
        raise InferenceError(reason, code=code, retryable=False)
