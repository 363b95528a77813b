"""Spend control for the paid inference API: concurrency, rate and budget, circuit breaker.

Nothing here queues: when a limit is reached the caller is refused at once, so the
notification goes out with the fallback text while Alertmanager is still waiting.
Rate and budget counters live in the state store (Redis when configured), so they hold
across replicas; concurrency and the breaker are per process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

from alert_explainer.config import BreakerSettings, InferenceLimits
from alert_explainer.errors import InferenceError
from alert_explainer.metrics import Metrics
from alert_explainer.store import StateStore

BUDGET_EXHAUSTED = "inference budget exhausted"
# Failures that say the API is unwell; a 401/402 is a configuration problem, not an outage.
BREAKER_CODES = frozenset(
    {"timeout", "connection_error", "server_error", "rate_limited", "invalid_response"}
)
_WINDOWS = (("per_minute", 60), ("per_hour", 3600), ("per_day", 86400))


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
    """Decides whether an inference call may be made now."""

    def __init__(
        self,
        limits: InferenceLimits,
        breaker: BreakerSettings,
        store: StateStore,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = limits
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._in_flight = 0
        self.breaker = CircuitBreaker(breaker)

    @contextlib.asynccontextmanager
    async def permit(self) -> AsyncIterator[None]:
        """Hold a permit for one call; raise InferenceError when a limit refuses it."""
        if self._in_flight >= self._limits.concurrency:
            self._refuse("concurrency")
            raise InferenceError(BUDGET_EXHAUSTED, code="budget_exhausted", retryable=False)
        for name, seconds in _WINDOWS:
            limit: int | None = getattr(self._limits, name)
            if limit is None:
                continue
            bucket = int(self._clock() // seconds)
            if await self._store.incr(f"budget:{name}:{bucket}", ttl=seconds + 60) > limit:
                self._refuse(name)
                raise InferenceError(BUDGET_EXHAUSTED, code="budget_exhausted", retryable=False)
        # Asked last: after the cool-down this hands out the single probe, which must then run.
        if not self.breaker.allow():
            self._refuse("circuit")
            raise InferenceError(
                f"inference paused after {self.breaker.failures} consecutive failures "
                f"(retrying after {self.breaker.cooldown:g} s)",
                code="circuit_open",
                retryable=False,
            )
        self._in_flight += 1
        try:
            yield
        except InferenceError as exc:
            self.breaker.record(ok=exc.code not in BREAKER_CODES)
            raise
        else:
            self.breaker.record(ok=True)
        finally:
            self._in_flight -= 1
            self._metrics.inference_circuit_open.set(1 if self.breaker.open else 0)

    def _refuse(self, limit: str) -> None:
        self._metrics.inference_limited.labels(limit).inc()
