"""The failover chain over real HTTP: the order, the one deadline, each backend's own guard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alert_explainer.config import InferenceSettings
from alert_explainer.inference import ChainFailed, Explanation, FailoverChain, build_chain
from alert_explainer.metrics import Metrics
from alert_explainer.store import MemoryStore
from alert_explainer.transport import HttpClient
from tests.support.chat import MESSAGES, METADATA
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.openai_api import DEFAULT_KEY, OpenAIEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def vllm() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as emulator:
        emulator.default = Behaviour.ok(content="Explained in the cluster.")
        yield emulator


def settings_for(
    clanker: ClankerEmulator,
    server: OpenAIEmulator,
    *,
    fallback: dict[str, Any] | None = None,
    **primary: Any,
) -> InferenceSettings:
    """Clanker first (1 s), then an OpenAI-compatible server "in-cluster" (2 s)."""
    fallback_settings = {
        "name": "in-cluster",
        "api": "openai",
        "url": server.url,
        "api_key": DEFAULT_KEY,
        "model": "qwen2.5-7b-instruct",
        "timeout": 2,
        **(fallback or {}),
    }
    return InferenceSettings.model_validate(
        {
            "url": clanker.url,
            "api_key": "test-paid-key",
            "timeout": 1,
            "fallbacks": [fallback_settings],
            **primary,
        }
    )


class Chain:
    """A chain with its metrics, asked like the explainer asks it."""

    def __init__(self, http: HttpClient, settings: InferenceSettings) -> None:
        self.metrics = Metrics(
            routes=["default"],
            sinks=["log"],
            backends={b.name: [b.model] for b in settings.backends},
        )
        self.chain: FailoverChain = build_chain(http, settings, MemoryStore(), self.metrics)

    async def explain(self, model: str = "gemini-3.5-flash") -> Explanation:
        return await self.chain.explain(MESSAGES, route="default", model=model, metadata=METADATA)

    def metric(self, line: str) -> bool:
        return line in self.metrics.exposition().decode()


async def test_a_healthy_primary_answers_and_the_fallback_is_never_called(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    result = await Chain(http, settings_for(clanker, vllm)).explain()
    assert result.backend == "clanker"
    assert clanker.call_count == 1
    assert vllm.requests == []


@pytest.mark.parametrize(
    ("primary", "behaviour", "code"),
    [
        ({"api_key": "test-free-key"}, None, "payment_required"),
        ({"api_key": "wrong"}, None, "unauthorized"),
        ({}, Behaviour.status(503), "server_error"),
        ({}, Behaviour.status(429), "rate_limited"),
        ({}, Behaviour.hang(5), "timeout"),
        ({}, Behaviour.garbage(), "invalid_response"),
        ({}, Behaviour.status(400), "bad_request"),
        ({"api_key": None}, None, "no_api_key"),
    ],
    ids=["402", "401", "5xx", "429", "hung", "garbage", "400", "no-key"],
)
async def test_the_fallback_answers_whatever_the_primary_failed_with(
    http: HttpClient,
    clanker: ClankerEmulator,
    vllm: OpenAIEmulator,
    primary: dict[str, Any],
    behaviour: Behaviour | None,
    code: str,
) -> None:
    if behaviour is not None:
        clanker.default = behaviour
    chain = Chain(http, settings_for(clanker, vllm, **primary))

    result = await chain.explain()

    assert (result.backend, result.text) == ("in-cluster", "Explained in the cluster.")
    assert result.requested == "qwen2.5-7b-instruct"  # the fallback asks for its own model
    assert vllm.calls[0].json()["model"] == "qwen2.5-7b-instruct"
    assert chain.metric(f'inference_failures_total{{backend="clanker",reason="{code}"}} 1.0')
    assert chain.metric('inference_failures_total{backend="in-cluster",reason="timeout"} 0.0')
    if code == "no_api_key":
        assert clanker.requests == []


async def test_when_every_backend_fails_the_reason_names_each(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    vllm.default = Behaviour.hang(5)
    chain = Chain(http, settings_for(clanker, vllm, api_key="test-free-key"))

    with pytest.raises(ChainFailed) as caught:
        await chain.explain()

    assert caught.value.reason == "clanker: paid account required; in-cluster: timed out after 2 s"
    assert caught.value.code == "timeout"
    assert [name for name, _ in caught.value.failures] == ["clanker", "in-cluster"]


async def test_the_code_of_a_failed_chain_is_the_last_real_failure_not_a_missing_key(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    settings = settings_for(clanker, vllm, api_key="test-free-key", fallback={"api_key": None})
    with pytest.raises(ChainFailed) as caught:
        await Chain(http, settings).explain()
    assert caught.value.code == "payment_required"
    assert (
        caught.value.reason == "clanker: paid account required; in-cluster: no API key configured"
    )
    assert vllm.requests == []


async def test_a_single_backend_keeps_its_own_reason(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    settings = InferenceSettings.model_validate({"url": clanker.url, "api_key": "test-free-key"})
    with pytest.raises(ChainFailed) as caught:
        await Chain(http, settings).explain()
    assert caught.value.reason == "paid account required"
    assert caught.value.code == "payment_required"
    assert caught.value.sent  # a 402 is an answer: the request left


async def test_the_whole_chain_keeps_to_one_deadline(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.hang(5)
    vllm.default = Behaviour.hang(5)
    settings = settings_for(clanker, vllm, deadline=1.5)  # primary 1 s + fallback 2 s > 1.5 s
    started = time.monotonic()

    with pytest.raises(ChainFailed) as caught:
        await Chain(http, settings).explain()

    assert time.monotonic() - started < 2.0
    assert caught.value.reason.endswith("in-cluster: timed out after 0.5 s")


async def test_a_fallback_left_no_time_is_not_called(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.hang(5)
    with pytest.raises(ChainFailed) as caught:
        await Chain(http, settings_for(clanker, vllm, deadline=1)).explain()
    assert "in-cluster: no time left before the deadline" in caught.value.reason
    assert vllm.requests == []


async def test_an_open_breaker_skips_the_primary_without_a_request(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.status(503)
    chain = Chain(http, settings_for(clanker, vllm, breaker={"failures": 1, "cooldown": 60}))
    await chain.explain()  # the primary fails once: its circuit opens
    requests_so_far = len(clanker.requests)
    started = time.monotonic()

    result = await chain.explain()

    assert result.backend == "in-cluster"
    assert len(clanker.requests) == requests_so_far
    assert time.monotonic() - started < 0.5
    assert chain.metric('inference_circuit_open{backend="clanker"} 1.0')
    assert chain.metric('inference_circuit_open{backend="in-cluster"} 0.0')
    assert chain.metric('inference_limited_total{backend="clanker",limit="circuit"} 1.0')


async def test_each_backend_spends_its_own_budget(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    settings = settings_for(
        clanker, vllm, limits={"per_minute": 1}, fallback={"limits": {"per_minute": 1}}
    )
    chain = Chain(http, settings)

    answers = [(await chain.explain()).backend for _ in range(2)]
    with pytest.raises(ChainFailed) as caught:
        await chain.explain()

    assert answers == ["clanker", "in-cluster"]
    assert caught.value.reason == (
        "clanker: inference budget exhausted (per_minute); "
        "in-cluster: inference budget exhausted (per_minute)"
    )
    assert (clanker.call_count, vllm.call_count) == (1, 1)
    assert chain.metric('inference_limited_total{backend="in-cluster",limit="per_minute"} 1.0')


async def test_a_route_model_is_asked_of_the_primary_only(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    chain = Chain(http, settings_for(clanker, vllm, api_key="test-free-key"))
    await chain.explain(model="gemini-3.5-pro")
    assert clanker.requests[0].json()["model"] == "gemini-3.5-pro"
    assert vllm.calls[0].json()["model"] == "qwen2.5-7b-instruct"


async def test_calls_are_counted_per_backend_asked(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.status(503)
    chain = Chain(http, settings_for(clanker, vllm))
    await chain.explain()
    calls = "alert_explainer_inference_calls_total"
    assert chain.metric(
        f'{calls}{{backend="clanker",model="gemini-3.5-flash",route="default"}} 1.0'
    )
    assert chain.metric(
        f'{calls}{{backend="in-cluster",model="qwen2.5-7b-instruct",route="default"}} 1.0'
    )


async def test_a_busy_primary_that_will_not_wait_hands_over_to_the_fallback(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.hang(0.8)
    chain = Chain(http, settings_for(clanker, vllm, limits={"concurrency": 1, "max_wait": 0}))
    first = asyncio.create_task(chain.explain())
    await asyncio.to_thread(clanker.wait_for_calls, 1)

    second = await chain.explain()

    assert second.backend == "in-cluster"
    assert (await first).backend == "clanker"
    assert chain.metric('inference_failures_total{backend="clanker",reason="model_busy"} 1.0')


async def test_waiting_for_a_busy_backend_does_not_use_up_the_deadline(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.hang(0.8)
    settings = settings_for(clanker, vllm, deadline=1.2, limits={"concurrency": 1, "max_wait": 5})
    chain = Chain(http, settings)
    first = asyncio.create_task(chain.explain())
    await asyncio.to_thread(clanker.wait_for_calls, 1)

    second = await chain.explain()  # waits ~0.8 s for the permit, then still has 1.2 s

    assert (second.backend, (await first).backend) == ("clanker", "clanker")
    assert vllm.requests == []


async def test_at_shutdown_a_waiting_call_gives_up_in_time_for_the_fallback(
    http: HttpClient, clanker: ClankerEmulator, vllm: OpenAIEmulator
) -> None:
    clanker.default = Behaviour.hang(3)
    chain = Chain(http, settings_for(clanker, vllm, limits={"concurrency": 1, "max_wait": 60}))
    first = asyncio.create_task(chain.explain())
    await asyncio.to_thread(clanker.wait_for_calls, 1)
    waiting = asyncio.create_task(chain.explain())
    await asyncio.sleep(0.05)

    chain.chain.end_waits_within(1.0)  # the primary's timeout is 1 s: it gives up now

    assert (await asyncio.wait_for(waiting, 3)).backend == "in-cluster"
    first.cancel()
