"""Spend control: concurrency, rate and budget windows, and the circuit breaker."""

from __future__ import annotations

import asyncio

import pytest

from alert_explainer.budget import BUDGET_EXHAUSTED, CircuitBreaker, SpendGuard
from alert_explainer.config import BreakerSettings, InferenceLimits
from alert_explainer.errors import InferenceError
from alert_explainer.metrics import Metrics
from alert_explainer.store import MemoryStore

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock | None = None, **limits: int) -> SpendGuard:
    return SpendGuard(
        InferenceLimits(**limits),
        BreakerSettings(failures=3, cooldown=30),
        MemoryStore(),
        Metrics(routes=["r"], sinks=["s"], models=["m"]),
        clock=clock or Clock(),
    )


async def failing_call(g: SpendGuard, code: str = "server_error") -> None:
    with pytest.raises(InferenceError):
        async with g.permit():
            raise InferenceError("down", code=code, retryable=True)


async def test_calls_beyond_the_concurrency_limit_are_refused_at_once() -> None:
    g = guard(concurrency=2)
    release = asyncio.Event()

    async def hold() -> None:
        async with g.permit():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(InferenceError, match=BUDGET_EXHAUSTED) as caught:
        async with g.permit():
            pass
    assert caught.value.code == "budget_exhausted"
    release.set()
    await asyncio.gather(*holders)
    async with g.permit():  # capacity is back
        pass


async def test_the_per_minute_limit_resets_with_the_next_minute() -> None:
    clock = Clock()
    g = guard(clock, per_minute=2)
    for _ in range(2):
        async with g.permit():
            pass
    with pytest.raises(InferenceError, match=BUDGET_EXHAUSTED):
        async with g.permit():
            pass
    clock.now += 60
    async with g.permit():
        pass


async def test_a_daily_budget_counts_across_hours() -> None:
    clock = Clock()
    g = guard(clock, per_day=3, per_hour=100)
    for _ in range(3):
        async with g.permit():
            pass
        clock.now += 3600
    with pytest.raises(InferenceError, match=BUDGET_EXHAUSTED):
        async with g.permit():
            pass


async def test_the_circuit_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    clock = Clock()
    g = guard()
    g.breaker = CircuitBreaker(BreakerSettings(failures=3, cooldown=30), clock=clock)
    for _ in range(3):
        await failing_call(g)
    with pytest.raises(InferenceError) as caught:
        async with g.permit():
            pass
    assert caught.value.code == "circuit_open"
    assert "after 3 consecutive failures" in caught.value.reason

    clock.now += 31
    async with g.permit():  # the single probe succeeds and closes the circuit
        pass
    async with g.permit():
        pass
    assert not g.breaker.open


async def test_a_failed_probe_reopens_the_circuit() -> None:
    clock = Clock()
    g = guard()
    g.breaker = CircuitBreaker(BreakerSettings(failures=3, cooldown=30), clock=clock)
    for _ in range(3):
        await failing_call(g)
    clock.now += 31
    await failing_call(g)
    with pytest.raises(InferenceError, match="consecutive failures"):
        async with g.permit():
            pass


async def test_configuration_errors_do_not_open_the_circuit() -> None:
    g = guard()
    for _ in range(5):
        await failing_call(g, code="payment_required")
    assert not g.breaker.open
