"""The notification history behind the operator's page, in process on the memory store.

The pipeline only changes records in memory; one writer task puts them in the state
store's bounded lists. These tests drive a `History` directly, as the pipeline does.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import Settings
from alert_explainer.explainer import Outcome
from alert_explainer.prompts import ChatMessage
from alert_explainer.sinks import Rendered
from alert_explainer.store import MemoryStore
from alert_explainer.ui import history as history_module
from alert_explainer.ui.history import History
from alert_explainer.ui.record import masked_json

pytestmark = pytest.mark.anyio


def settings(**ui: Any) -> Settings:
    return Settings.model_validate({"ui": ui, "sinks": [{"name": "log", "type": "log"}]})


def notification(payload: dict[str, Any], group: str = "Distinct") -> Notification:
    copied = copy.deepcopy(payload)
    copied["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    return parse_notification(json.dumps(copied).encode())


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    """The writer tasks a test started; cancelled when it ends."""
    writers: list[asyncio.Task[None]] = []
    yield writers
    for writer in writers:
        writer.cancel()
    await asyncio.gather(*writers, return_exceptions=True)


async def start(history: History, running: list[asyncio.Task[None]]) -> History:
    """`history` with its writer running, as the service's lifespan starts it."""
    running.append(asyncio.get_running_loop().create_task(history.run()))
    return history


class CountingStore(MemoryStore):
    """The memory store, counting list writes."""

    pushes = 0

    async def push(self, key: str, item: str, value: str, *, max_items: int, ttl: float) -> None:
        self.pushes += 1
        await super().push(key, item, value, max_items=max_items, ttl=ttl)


async def test_a_notification_handled_quickly_is_written_once_finished(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    store = CountingStore()
    history = await start(History(settings(), store), running)

    record = history.begin("default", ["log"], notification(sample_payload), "identity-1")
    record.explained(Outcome(), 0.001)
    record.finish("delivered", 0.002)
    await history.flush(2)
    await asyncio.sleep(0.1)

    assert store.pushes == 2  # its row and its page, each once
    (row,) = await history.summaries()
    assert row["outcome"] == "delivered"


async def test_a_notification_still_in_progress_is_written_in_progress(
    sample_payload: dict[str, Any],
    running: list[asyncio.Task[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history_module, "IN_PROGRESS_DELAY", 0.05)
    store = MemoryStore()
    history = await start(History(settings(), store), running)

    history.begin("default", ["log"], notification(sample_payload), "identity-1")
    await asyncio.sleep(0.2)
    await history.flush(2)

    (raw,) = await store.items("ui:summaries", 10)  # other replicas see it
    assert json.loads(raw)["outcome"] == "in_progress"


async def test_a_notification_is_listed_while_handled_and_then_with_its_outcome(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    store = MemoryStore()
    history = await start(History(settings(), store), running)
    record = history.begin("default", ["log"], notification(sample_payload), "identity-1")
    await history.flush(2)
    (row,) = await history.summaries()
    assert row["outcome"] == "in_progress"
    assert row["destinations"] == {"log": None}

    record.explained(Outcome(text="Headline: it is down", model="m1"), 0.25)
    record.delivered("log", "delivered", 0.01)
    record.finish("delivered", 0.3)
    await history.flush(2)

    (row,) = await history.summaries()
    assert row["id"] == record.id
    assert (row["outcome"], row["explained"], row["model"]) == ("delivered", True, "m1")
    assert (row["inference_seconds"], row["total_seconds"]) == (0.25, 0.3)
    assert row["destinations"] == {"log": "delivered"}
    assert len(await store.items("ui:summaries", 10)) == 1  # rewritten in place


async def test_the_history_keeps_the_newest_notifications_up_to_its_size(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    history = await start(History(settings(history=3), MemoryStore()), running)
    records = [
        history.begin("default", ["log"], notification(sample_payload, f"G{i}"), f"id-{i}")
        for i in range(5)
    ]
    for record in records:
        record.finish("delivered", 0.01)
    await history.flush(2)

    rows = await history.summaries()

    assert [r["id"] for r in rows] == [r.id for r in reversed(records[2:])]
    assert await history.detail(records[0].id) is None
    assert (await history.detail(records[4].id) or {})["id"] == records[4].id


async def test_notifications_older_than_max_age_leave_the_history(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    history = await start(History(settings(max_age=0.2), MemoryStore()), running)
    history.begin("default", ["log"], notification(sample_payload), "id-1").finish("delivered")
    await history.flush(2)
    assert len(await history.summaries()) == 1

    await asyncio.sleep(0.3)

    assert await history.summaries() == []


async def test_a_disabled_page_records_nothing(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    store = MemoryStore()
    history = await start(History(settings(enabled=False), store), running)

    record = history.begin("default", ["log"], notification(sample_payload), "id-1")
    record.finish("delivered", 0.1)
    await history.flush(2)

    assert await store.items("ui:summaries", 10) == []


async def test_the_detail_holds_the_prompt_the_answer_and_each_destinations_message(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    history = await start(History(settings(), MemoryStore()), running)
    record = history.begin("default", ["log"], notification(sample_payload), "id-1")
    prompt = (ChatMessage("system", "be brief"), ChatMessage("user", "[REDACTED:jwt] is down"))
    record.explained(
        Outcome(
            text="Headline: it is down",
            model="m1",
            prompt=prompt,
            redactions=(("jwt", 1),),
            sent=True,
            answer="Headline: it is down @channel",
        ),
        0.2,
    )
    record.rendered("log", Rendered({"text": "Headline: it is down"}))
    record.delivered("log", "delivered", 0.01)
    record.joined(1_700_000_000.0)
    record.finish("delivered", 0.25)
    await history.flush(2)

    detail = await history.detail(record.id)

    assert detail is not None
    assert detail["prompt"] == {
        "sent": True,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "[REDACTED:jwt] is down"},
        ],
        "redactions": {"jwt": 1},
    }
    assert detail["answer"] == {
        "received": "Headline: it is down @channel",
        "delivered": "Headline: it is down",
    }
    (message,) = detail["destination_messages"]
    assert message["name"] == "log"
    assert json.loads(message["body"]) == {"text": "Headline: it is down"}
    assert detail["retry_calls"] == [{"at": "2023-11-14T22:13:20.000Z", "kind": "joined"}]
    assert detail["retries"] == 1


async def test_destination_bodies_are_masked_redacted_and_bounded(
    sample_payload: dict[str, Any],
) -> None:
    history = History(settings(), MemoryStore())
    body = {
        "routing_key": "R0UT1NGKEY-very-secret",
        "text": "login with password=hunter2 on web-1",
        "labels": {"api_key": "abc123", "pod": "web-1"},
        "alerts": list(range(80)),
        "long": "x" * 10_000,
    }

    kept = masked_json(Rendered(body, secrets=("R0UT1NGKEY-very-secret",)))
    assert "R0UT1NGKEY-very-secret" not in kept  # masked before it is ever written
    shown = json.loads(history.display.body(kept))

    assert shown["routing_key"] == "[secret]"
    assert "hunter2" not in shown["text"]
    assert "[REDACTED:secret_pair]" in shown["text"]
    assert shown["labels"] == {"api_key": "[REDACTED:secret_label]", "pod": "web-1"}
    assert shown["alerts"][:50] == list(range(50))
    assert shown["alerts"][50] == "… 30 more items not shown"
    assert len(shown["long"]) <= 4001


async def test_alerts_are_shown_as_the_model_was_shown_them(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    sample_payload["alerts"][0]["annotations"]["description"] = "token=ghp_" + "a" * 36
    history = await start(History(settings(), MemoryStore()), running)
    record = history.begin("default", ["log"], notification(sample_payload), "id-1")
    await history.flush(2)

    detail = await history.detail(record.id)

    assert detail is not None
    text = json.dumps(detail)
    assert "ghp_" + "a" * 36 not in text
    assert detail["alerts"][0]["annotations"]["description"] == "token=[REDACTED:github_token]"
    assert detail["alert_redactions"] == {"github_token": 1}


async def test_a_queued_notification_and_its_delivery_are_one_row(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    config = settings()
    config = config.model_copy(
        update={"delivery": config.delivery.model_copy(update={"mode": "async"})}
    )
    store = MemoryStore()
    webhook = await start(History(config, store), running)
    worker = await start(History(config, store), running)  # another replica, same store
    queued = webhook.begin("default", ["log"], notification(sample_payload), "id-1", "queued")
    await webhook.flush(2)

    handled = worker.begin("default", ["log"], notification(sample_payload), "id-1")
    handled.finish("delivered", 0.1)
    await worker.flush(2)

    (row,) = await worker.summaries()
    assert row["id"] == queued.id
    assert row["outcome"] == "delivered"


async def test_a_later_notification_of_the_same_state_gets_a_row_of_its_own(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    history = await start(History(settings(), MemoryStore()), running)
    first = history.begin("default", ["log"], notification(sample_payload), "id-1")
    first.finish("delivered", 0.1)
    second = history.begin("default", ["log"], notification(sample_payload), "id-1")
    second.finish("duplicate", 0.01)
    await history.flush(2)

    rows = await history.summaries()

    assert [(r["id"], r["outcome"]) for r in rows] == [
        (second.id, "duplicate"),
        (first.id, "delivered"),
    ]


async def test_a_retry_after_a_failed_attempt_continues_the_same_record(
    sample_payload: dict[str, Any], running: list[asyncio.Task[None]]
) -> None:
    history = await start(History(settings(), MemoryStore()), running)
    sinks = ["log", "pager"]
    first = history.begin("default", sinks, notification(sample_payload), "id-1")
    first.explained(Outcome(text="Headline: x", prompt=(ChatMessage("user", "u"),), sent=True), 0.2)
    first.delivered("log", "delivered", 0.01)
    first.delivered("pager", "answered 503: busy", 0.01)
    first.finish("failed", 0.3)

    again = history.begin("default", sinks, notification(sample_payload), "id-1")
    again.explained(Outcome(text="Headline: x", reused=True), 0.0)
    again.delivered("log", "duplicate")
    again.delivered("pager", "delivered", 0.01)
    again.finish("delivered", 0.05)
    await history.flush(2)

    assert again is first
    (row,) = await history.summaries()
    assert row["outcome"] == "delivered"
    assert row["destinations"] == {"log": "delivered", "pager": "delivered"}
    assert row["retries"] == 1
    detail = await history.detail(first.id)
    assert detail is not None
    assert detail["prompt"]["sent"] is True  # what the first attempt sent, still shown
    assert [c["kind"] for c in detail["retry_calls"]] == ["attempt"]
