"""First notifications of one group that race still give one thread: one parent, the rest replies.

Each racer is a sink of its own with its own HTTP client, like separate replicas; with
Redis each also has its own connection, so the claim is decided by Redis, not by a shared
event loop. The destinations are recording servers answering slowly, which opens the race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from alert_explainer.config import SinkSettings
from alert_explainer.errors import SinkError
from alert_explainer.redis_store import RedisStore
from alert_explainer.sinks import build_sink, googlechat
from alert_explainer.sinks.base import Message
from alert_explainer.store import MemoryStore, StateStore
from alert_explainer.transport import HttpClient
from tests.sinks.support import SECRET, fixture_payload, message, settings
from tests.support.recorder import RecordedRequest, RecordingServer, Reply

pytestmark = pytest.mark.anyio

RACERS = 6
ANSWER_DELAY = 0.3  # the destination's time to answer: the window the race needs
SLACK_TS = "1700000000.000100"
CHAT_THREAD = "spaces/AAA/threads/T1"

StoreFactory = Callable[[], StateStore]


@pytest.fixture(params=["memory", "redis"])
async def replica_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """A state store per replica: one shared MemoryStore, or a new Redis connection each."""
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    redis = request.getfixturevalue("redis_server")
    opened: list[RedisStore] = []

    def connect() -> StateStore:
        opened.append(RedisStore(redis.url, "test:"))
        return opened[-1]

    yield connect
    for store in opened:
        await store.aclose()


def first_notifications() -> list[Message]:
    """RACERS messages of one new group, each a different alert state (all "first")."""
    messages = []
    for i in range(RACERS):
        payload = fixture_payload()
        for n, alert in enumerate(payload["alerts"]):
            alert["fingerprint"] = f"{i:08x}{n:08x}"
        messages.append(message(payload=payload))
    return messages


async def race(sink_settings: SinkSettings, stores: StoreFactory) -> list[BaseException | None]:
    """Every racer sends its first notification at once; each racer's error or None."""
    clients = [HttpClient() for _ in range(RACERS)]
    replicas = [stores() for _ in range(RACERS)]
    try:
        sinks = [build_sink(sink_settings, c, s) for c, s in zip(clients, replicas, strict=True)]
        results = await asyncio.gather(
            *(sink.send(m) for sink, m in zip(sinks, first_notifications(), strict=True)),
            return_exceptions=True,
        )
    finally:
        for client in clients:
            await client.aclose()
    return [r if isinstance(r, BaseException) else None for r in results]


def slack_api(recorder: RecordingServer) -> SinkSettings:
    return settings(type="slack_api", token=SECRET, channel="C123", api_url=recorder.url)


def parents(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if "thread_ts" not in r.json()]


async def test_racing_first_slack_posts_give_one_parent_and_replies_under_it(
    recorder: RecordingServer, replica_store: StoreFactory
) -> None:
    recorder.default = Reply.json({"ok": True, "ts": SLACK_TS}, delay=ANSWER_DELAY)

    assert await race(slack_api(recorder), replica_store) == [None] * RACERS

    delivered = recorder.delivered
    assert len(delivered) == RACERS
    assert len(parents(delivered)) == 1
    replies = [r.json()["thread_ts"] for r in delivered if r not in parents(delivered)]
    assert replies == [SLACK_TS] * (RACERS - 1)


async def test_when_the_parent_post_fails_another_racer_posts_the_parent(
    recorder: RecordingServer, replica_store: StoreFactory
) -> None:
    # The first post to arrive is refused for good; the claim must pass to a waiter.
    recorder.script(Reply.json({"ok": False, "error": "invalid_blocks"}, delay=ANSWER_DELAY))
    recorder.default = Reply.json({"ok": True, "ts": SLACK_TS}, delay=ANSWER_DELAY)

    errors = await race(slack_api(recorder), replica_store)

    assert [type(e) for e in errors if e is not None] == [SinkError]
    refused, *accepted = sorted(recorder.received, key=lambda r: r.received_at)
    assert "thread_ts" not in refused.json()
    assert len(accepted) == RACERS - 1
    assert len(parents(accepted)) == 1  # the successor
    assert all(r.json()["thread_ts"] == SLACK_TS for r in accepted if r not in parents(accepted))


def threads_chat_would_start(requests: list[RecordedRequest]) -> int:
    """Chat makes a thread when a key's first message is stored (answered): a message that
    arrives before any earlier one of its key was answered starts a thread of its own."""
    answered = [r.received_at + ANSWER_DELAY for r in requests]
    return sum(1 for r in requests if not any(t <= r.received_at for t in answered))


async def test_racing_first_google_chat_posts_start_one_thread(
    recorder: RecordingServer, replica_store: StoreFactory
) -> None:
    answer: dict[str, Any] = {"name": "spaces/AAA/messages/1", "thread": {"name": CHAT_THREAD}}
    recorder.default = Reply.json(answer, delay=ANSWER_DELAY)
    url = recorder.url_for("/v1/spaces/AAA/messages?key=k&token=t")

    assert await race(settings(type="googlechat", url=url), replica_store) == [None] * RACERS

    delivered = recorder.delivered
    assert len(delivered) == RACERS
    key = googlechat.thread_key(message().notification.group_key)
    assert {r.json()["thread"]["threadKey"] for r in delivered} == {key}
    assert threads_chat_would_start(delivered) == 1
