"""Shared state: replicas on one Redis pay and deliver once; without Redis, delivery goes on."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from alert_explainer.redis_store import FallbackStore, RedisStore
from alert_explainer.store import MemoryStore
from tests.conftest import ServiceFactory
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer
from tests.support.redis import RedisProcess
from tests.support.service import PostResult, ServiceProcess


def post_concurrently(services: list[ServiceProcess], payload: dict[str, Any]) -> list[PostResult]:
    results: list[PostResult | None] = [None] * len(services)

    def post(i: int) -> None:
        results[i] = services[i].post_payload(payload)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(services))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def test_two_replicas_sharing_redis_make_one_call_and_one_delivery(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=0.5)  # both requests arrive while the call runs
    config = explainer_config(
        clanker.url, {"team": recorder.url}, state={"backend": "redis", "url": redis_server.url}
    )
    replicas = [service_factory(config), service_factory(config)]

    results = post_concurrently(replicas, sample_payload)  # the HA pair's duplicate
    results += post_concurrently(replicas, sample_payload)  # and Alertmanager's retries

    assert all(r.status in (200, 503) for r in results)
    assert clanker.call_count == 1
    assert len(recorder.delivered) == 1


def test_a_second_replica_reuses_the_first_ones_explanation(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Any,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    chat = make_recorder()
    state = {"backend": "redis", "url": redis_server.url}
    first = service_factory(
        explainer_config(
            clanker.url, {"chat": chat.url}, state=state, delivery={"dedup_window": "1s"}
        )
    )
    second = service_factory(
        explainer_config(
            clanker.url, {"chat": chat.url}, state=state, delivery={"dedup_window": "1s"}
        )
    )

    assert first.post_payload(sample_payload).status == 200
    chat.wait_for(1)
    time.sleep(1.2)  # past the dedup window: a repeat_interval reminder
    result = second.post_payload(sample_payload)

    assert result.json is not None
    assert result.json["reused"] is True
    assert clanker.call_count == 1
    assert len(chat.delivered) == 2


def test_delivery_goes_on_when_redis_dies_and_resumes_when_it_returns(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, state={"backend": "redis", "url": redis_server.url}
    )
    service = service_factory(config)
    assert service.post_payload(sample_payload).status == 200

    redis_server.kill()
    sample_payload["alerts"][1]["status"] = "resolved"  # a new state of the group
    result = service.post_payload(sample_payload)

    assert result.status == 200
    assert len(recorder.delivered) == 2
    assert "alert_explainer_state_backend_errors_total" in service.metrics_text()
    errors = [
        line
        for line in service.metrics_text().splitlines()
        if line.startswith("alert_explainer_state_backend_errors_total")
    ]
    assert float(errors[0].split()[-1]) >= 1
    assert "state_backend_unavailable" in service.output()
    assert service.get("/readyz").status == 200  # readiness never depends on Redis


@pytest.mark.anyio
async def test_the_fallback_store_returns_to_redis_when_it_answers_again(
    redis_server: RedisProcess,
) -> None:
    now = [0.0]
    store = FallbackStore(
        RedisStore(redis_server.url, "t:", timeout=0.5), MemoryStore(), clock=lambda: now[0]
    )
    await store.put("k", "v", 60)
    assert await store.get("k") == "v"
    assert await store.claim("lease", "a", 60)
    assert not await store.claim("lease", "b", 60)
    await store.release("lease", "a")
    assert await store.claim("lease", "b", 60)
    assert await store.incr("n", 60) == 1
    assert await store.incr("n", 60) == 2
    await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def list_store(request: pytest.FixtureRequest) -> Any:
    """Each backend of the StateStore protocol in turn (Redis: a real server)."""
    if request.param == "memory":
        store: MemoryStore | RedisStore = MemoryStore()
    else:
        redis_server = request.getfixturevalue("redis_server")
        store = RedisStore(redis_server.url, "lists:")
    yield store
    await store.aclose()


@pytest.mark.anyio
async def test_a_bounded_list_keeps_the_newest_items_newest_first(list_store: Any) -> None:
    for i in range(5):
        await list_store.push("history", f"id{i}", f"value {i}", max_items=3, ttl=60)

    assert await list_store.items("history", 10) == ["value 4", "value 3", "value 2"]
    assert await list_store.items("history", 2) == ["value 4", "value 3"]
    assert await list_store.item("history", "id3") == "value 3"
    assert await list_store.item("history", "id0") is None  # pushed out by newer items


@pytest.mark.anyio
async def test_rewriting_a_list_item_replaces_its_value_in_place(list_store: Any) -> None:
    for name in ("a", "b", "c"):
        await list_store.push("history", name, f"{name} started", max_items=10, ttl=60)
    await list_store.push("history", "a", "a finished", max_items=10, ttl=60)

    assert await list_store.items("history", 10) == ["c started", "b started", "a finished"]
    assert await list_store.item("history", "a") == "a finished"


@pytest.mark.anyio
async def test_list_items_expire_after_their_ttl(list_store: Any) -> None:
    await list_store.push("history", "old", "old value", max_items=10, ttl=0.2)
    await list_store.push("history", "new", "new value", max_items=10, ttl=60)
    await anyio.sleep(0.3)

    assert await list_store.items("history", 10) == ["new value"]
    assert await list_store.item("history", "old") is None
    assert await list_store.items("absent", 10) == []
    assert await list_store.item("absent", "x") is None


@pytest.mark.anyio
async def test_list_values_keep_spaces_and_unicode(list_store: Any) -> None:
    value = '{"group": "a b  c", "text": "ünïcode ✓ 123 456"}'
    await list_store.push("history", "x", value, max_items=10, ttl=60)

    assert await list_store.items("history", 1) == [value]
    assert await list_store.item("history", "x") == value


@pytest.mark.anyio
async def test_the_fallback_store_keeps_lists_in_memory_while_redis_is_down(
    redis_server: RedisProcess,
) -> None:
    store = FallbackStore(RedisStore(redis_server.url, "t:", timeout=0.5), MemoryStore())
    await store.push("history", "a", "on redis", max_items=10, ttl=60)
    assert await store.items("history", 10) == ["on redis"]
    redis_server.stop()

    await store.push("history", "b", "in memory", max_items=10, ttl=60)

    assert store.degraded
    assert await store.items("history", 10) == ["in memory"]
    assert await store.item("history", "b") == "in memory"
    await store.aclose()
