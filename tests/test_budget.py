"""Spend control: waiting for a permit by priority, rate and budget windows, the breaker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from alert_explainer.alertmanager import parse_notification
from alert_explainer.budget import CircuitBreaker, Priorities, Priority, SpendGuard
from alert_explainer.config import BreakerSettings, InferenceLimits, PrioritySettings
from alert_explainer.errors import InferenceError
from alert_explainer.metrics import Metrics
from alert_explainer.permits import PermitQueue
from alert_explainer.store import MemoryStore

pytestmark = pytest.mark.anyio

CRITICAL, WARNING, INFO = Priority(0, "critical"), Priority(1, "warning"), Priority(2, "info")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock | None = None, metrics: Metrics | None = None, **limits: Any) -> SpendGuard:
    return SpendGuard(
        InferenceLimits(**limits),
        BreakerSettings(failures=3, cooldown=30),
        MemoryStore(),
        metrics or Metrics(routes=["r"], sinks=["s"], backends={"clanker": ["m"]}),
        clock=clock or Clock(),
    )


async def failing_call(g: SpendGuard, code: str = "server_error") -> None:
    with pytest.raises(InferenceError):
        async with g.permit():
            raise InferenceError("down", code=code, retryable=True)


class Holders:
    """Tasks holding permits of a guard until `release()`."""

    def __init__(self, g: SpendGuard) -> None:
        self._guard = g
        self._release = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def hold(self, count: int) -> None:
        for _ in range(count):
            self._tasks.append(asyncio.create_task(self._hold()))
        await asyncio.sleep(0)

    async def _hold(self) -> None:
        async with self._guard.permit():
            await self._release.wait()

    async def release(self) -> None:
        self._release.set()
        await asyncio.gather(*self._tasks)


async def call(g: SpendGuard, served: list[str], name: str, priority: Priority) -> None:
    async with g.permit(priority):
        served.append(name)
        await asyncio.sleep(0.01)


async def test_a_call_beyond_the_concurrency_limit_waits_for_a_permit() -> None:
    g = guard(concurrency=2)
    holders = Holders(g)
    await holders.hold(2)
    served: list[str] = []
    waiting = asyncio.create_task(call(g, served, "third", INFO))
    await asyncio.sleep(0.05)
    assert served == []
    await holders.release()
    await waiting
    assert served == ["third"]


async def test_a_wait_that_runs_out_says_the_model_was_busy_and_for_how_long() -> None:
    g = guard(concurrency=1, max_wait=0.05)
    holders = Holders(g)
    await holders.hold(1)
    with pytest.raises(InferenceError) as caught:
        async with g.permit(CRITICAL):
            pass
    assert caught.value.code == "model_busy"
    assert caught.value.reason == "model busy (waited 0.05 s)"
    await holders.release()


@pytest.mark.parametrize("no_wait", [{"max_wait": 0}, {"max_waiters": 0}], ids=str)
async def test_without_room_to_wait_a_call_is_refused_at_once_as_busy_not_as_budget(
    no_wait: dict[str, Any],
) -> None:
    g = guard(concurrency=1, **no_wait)
    holders = Holders(g)
    await holders.hold(1)
    with pytest.raises(InferenceError) as caught:
        async with g.permit():
            pass
    assert (caught.value.code, caught.value.reason) == (
        "model_busy",
        "model busy (1 call in flight)",
    )
    await holders.release()


async def test_a_call_that_may_not_wait_is_refused_at_once() -> None:
    g = guard(concurrency=1, max_wait=30)
    holders = Holders(g)
    await holders.hold(1)
    started = asyncio.get_running_loop().time()
    with pytest.raises(InferenceError, match="model busy"):
        async with g.permit(INFO, wait=False):
            pass
    assert asyncio.get_running_loop().time() - started < 1
    await holders.release()


async def test_waiters_are_served_by_priority_then_by_arrival() -> None:
    g = guard(concurrency=1)
    holders = Holders(g)
    await holders.hold(1)
    served: list[str] = []
    order = [("info-1", INFO), ("warning-1", WARNING), ("critical-1", CRITICAL)]
    order += [("info-2", INFO), ("critical-2", CRITICAL), ("warning-2", WARNING)]
    tasks = []
    for name, priority in order:
        tasks.append(asyncio.create_task(call(g, served, name, priority)))
        await asyncio.sleep(0)
    await holders.release()
    await asyncio.gather(*tasks)
    assert served == ["critical-1", "critical-2", "warning-1", "warning-2", "info-1", "info-2"]


async def test_beyond_the_waiter_cap_the_fallback_comes_at_once_with_its_own_reason() -> None:
    g = guard(concurrency=1, max_waiters=2)
    holders = Holders(g)
    await holders.hold(1)
    served: list[str] = []
    waiting = [asyncio.create_task(call(g, served, f"w{i}", INFO)) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(InferenceError) as caught:
        async with g.permit(CRITICAL):
            pass
    assert caught.value.code == "too_many_waiting"
    assert caught.value.reason == "model busy (2 notifications already waiting)"
    await holders.release()
    await asyncio.gather(*waiting)
    assert served == ["w0", "w1"]


async def test_a_waiter_that_gives_up_or_is_cancelled_costs_no_permit() -> None:
    g = guard(concurrency=1, max_wait=0.02)
    holders = Holders(g)
    await holders.hold(1)
    cancelled = asyncio.create_task(call(g, [], "cancelled", CRITICAL))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(InferenceError, match="model busy"):
        async with g.permit(INFO):
            pass
    await holders.release()
    served: list[str] = []
    await asyncio.wait_for(call(g, served, "later", INFO), 1)  # the permit came back
    assert served == ["later"]


async def test_a_permit_handed_to_a_waiter_that_is_cancelled_passes_on() -> None:
    permits = PermitQueue(1, max_waiters=10)
    await permits.acquire(0, timeout=1)
    waiter = asyncio.create_task(permits.acquire(0, timeout=10))
    await asyncio.sleep(0)
    permits.release()  # handed to the waiter...
    waiter.cancel()  # ...which gives up before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(permits.acquire(0, timeout=1), 1)
    assert permits.waiting == 0


async def test_shutdown_ends_waits_early_with_its_own_reason() -> None:
    g = guard(concurrency=1, max_wait=30)
    holders = Holders(g)
    await holders.hold(1)
    waiting = asyncio.create_task(call(g, [], "waiting", INFO))
    await asyncio.sleep(0)
    g.end_waits_within(0.02)
    with pytest.raises(InferenceError) as caught:
        await asyncio.wait_for(waiting, 1)
    assert caught.value.reason == "model busy (shutting down)"
    await holders.release()


async def test_waiting_shows_in_the_waiters_gauge_and_the_wait_histogram() -> None:
    metrics = Metrics(routes=["r"], sinks=["s"], backends={"clanker": ["m"]})
    g = guard(metrics=metrics, concurrency=1)
    holders = Holders(g)
    await holders.hold(1)
    waiting = asyncio.create_task(call(g, [], "waiting", WARNING))
    await asyncio.sleep(0.05)
    assert (
        metrics.registry.get_sample_value(
            "alert_explainer_inference_waiters", {"severity": "warning"}
        )
        == 1
    )
    await holders.release()
    await waiting
    sample = metrics.registry.get_sample_value
    assert sample("alert_explainer_inference_waiters", {"severity": "warning"}) == 0
    assert sample("alert_explainer_inference_wait_seconds_count", {"severity": "warning"}) == 1
    waited = sample("alert_explainer_inference_wait_seconds_sum", {"severity": "warning"})
    assert (waited or 0) >= 0.04


async def test_no_one_waits_for_a_permit_when_the_budget_is_already_spent() -> None:
    g = guard(concurrency=1, per_hour=1, max_wait=30)
    holders = Holders(g)
    await holders.hold(1)  # the hour's only call, still in flight
    started = asyncio.get_running_loop().time()
    with pytest.raises(InferenceError) as caught:
        async with g.permit():
            pass
    assert caught.value.reason == "inference budget exhausted (per_hour)"
    assert asyncio.get_running_loop().time() - started < 1
    await holders.release()


def priority_of(*values: str, settings: PrioritySettings | None = None) -> Priority:
    """The priority of a firing group whose alerts carry `values` of the priority label."""
    settings = settings or PrioritySettings()
    alerts = [
        {"status": "firing", "labels": {"alertname": "A", **({settings.label: v} if v else {})}}
        for v in values
    ]
    body = json.dumps({"status": "firing", "alerts": alerts}).encode()
    return Priorities(settings).of(parse_notification(body))


def test_a_group_ranks_as_its_most_urgent_firing_alert() -> None:
    assert priority_of("info", "critical", "warning") == Priority(0, "critical")
    assert priority_of("info") == Priority(2, "info")


def test_a_missing_or_unlisted_value_ranks_after_every_listed_one() -> None:
    assert priority_of("") == Priority(3, "other")
    assert priority_of("page-me") == Priority(3, "other")


def test_the_label_and_order_are_configurable_and_case_is_ignored() -> None:
    settings = PrioritySettings(label="priority", order=["P1", "P2"])
    assert priority_of("p2", settings=settings) == Priority(1, "P2")
    assert priority_of("critical", settings=settings) == Priority(2, "other")


async def test_the_per_minute_limit_resets_with_the_next_minute() -> None:
    clock = Clock()
    g = guard(clock, per_minute=2)
    for _ in range(2):
        async with g.permit():
            pass
    with pytest.raises(InferenceError, match=r"inference budget exhausted \(per_minute\)"):
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
    with pytest.raises(InferenceError, match=r"inference budget exhausted \(per_day\)"):
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
