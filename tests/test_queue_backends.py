"""The queue and its dead letters, on both backends: a real SQLite file and a real Redis.

Every move between the two (burying, replaying) is one step; the letter keeps the sinks
that lack the message, and only those are tried again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.config import Settings
from alert_explainer.deadletters import FINAL_ERROR, DeadLetter, DeadLetterStore
from alert_explainer.queue import (
    DurableQueue,
    Entry,
    QueueError,
    SqliteFile,
    SqliteQueue,
    open_dead_letters,
    open_queue,
)

pytestmark = pytest.mark.anyio

BODY = json.dumps({"version": "4", "status": "firing", "alerts": []}).encode()
LEASE = 30.0

Backend = tuple[DurableQueue, DeadLetterStore, Callable[[], DeadLetterStore]]


def settings_for(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, **delivery: Any
) -> Settings:
    state: dict[str, Any] = {}
    if kind == "redis":
        state = {"backend": "redis", "url": request.getfixturevalue("redis_server").url}
    return Settings.model_validate(
        {
            "delivery": {"mode": "async", "queue_path": str(tmp_path / "q.sqlite3"), **delivery},
            "sinks": [{"type": "log", "name": "a"}, {"type": "log", "name": "b"}],
            "routes": [{"name": "default", "sinks": ["a", "b"]}],
            "state": state,
        }
    )


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The service's queue and dead letters, and a way to open the letters as the CLI does."""
    settings = settings_for(request.param, request, tmp_path, queue_max=3)
    queue, letters = open_queue(settings, consumer="worker-1")
    others: list[DeadLetterStore] = []

    def from_elsewhere() -> DeadLetterStore:
        others.append(open_dead_letters(settings))
        return others[-1]

    yield queue, letters, from_elsewhere
    for store in [letters, *others]:
        await store.aclose()
    await queue.aclose()


async def claim_one(queue: DurableQueue) -> Entry:
    (entry,) = await queue.claim(10, LEASE)
    return entry


def letter_for(entry: Entry, errors: dict[str, str]) -> DeadLetter:
    return DeadLetter.create(
        route=entry.route,
        body=entry.body,
        errors=errors,
        reason=FINAL_ERROR,
        attempts=entry.attempts,
        queued_at=entry.queued_at,
        first_try=entry.first_try,
        last_try=time.time(),
    )


async def test_an_entry_knows_its_attempts_and_when_it_was_queued(backend: Backend) -> None:
    queue, _, _ = backend
    before = time.time()
    await queue.put("default", BODY)

    entry = await claim_one(queue)

    assert (entry.route, entry.body, entry.attempts, entry.sinks) == ("default", BODY, 1, None)
    assert before - 0.01 <= entry.queued_at <= entry.first_try <= time.time()


async def test_a_buried_entry_leaves_the_queue_and_waits_as_a_dead_letter(
    backend: Backend,
) -> None:
    queue, letters, _ = backend
    await queue.put("default", BODY)
    entry = await claim_one(queue)

    await queue.bury(entry, letter_for(entry, {"a": "sink 'a': answered 404: no_service"}))

    assert (await queue.stats()).entries == 0
    (letter,) = await letters.letters()
    assert (letter.route, letter.body, letter.sinks, letter.reason) == (
        "default",
        BODY,
        ("a",),
        FINAL_ERROR,
    )
    assert letter.errors == {"a": "sink 'a': answered 404: no_service"}
    assert letter.attempts == 1
    assert letter.queued_at == pytest.approx(entry.queued_at, abs=0.001)
    assert await letters.get(letter.id) == letter
    assert await letters.counts() == {("default", "a"): 1}


async def test_burying_one_sink_keeps_retrying_the_others(backend: Backend) -> None:
    queue, letters, _ = backend
    await queue.put("default", BODY)
    entry = await claim_one(queue)

    await queue.bury(entry, letter_for(entry, {"a": "refused"}), retry=["b"], delay=0.0)

    retried = await claim_one(queue)
    assert (retried.id, retried.sinks, retried.attempts) == (entry.id, ("b",), 2)
    assert [letter.sinks for letter in await letters.letters()] == [("a",)]


async def test_a_retried_entry_remembers_which_sinks_still_lack_it(backend: Backend) -> None:
    queue, _, _ = backend
    await queue.put("default", BODY)
    entry = await claim_one(queue)

    await queue.retry_later(entry, 0.0, ["b"])

    retried = await claim_one(queue)
    assert (retried.sinks, retried.attempts) == (("b",), 2)
    assert retried.first_try == pytest.approx(entry.first_try, abs=0.001)


async def test_a_retry_waits_for_its_delay(backend: Backend) -> None:
    queue, _, _ = backend
    await queue.put("default", BODY)
    entry = await claim_one(queue)

    await queue.retry_later(entry, 0.5, ["a", "b"])

    assert await queue.claim(10, LEASE) == []
    await asyncio.sleep(0.7)
    assert [e.id for e in await queue.claim(10, LEASE)] == [entry.id]


async def test_replay_queues_a_letter_again_for_its_sinks_only(backend: Backend) -> None:
    queue, letters, elsewhere = backend
    await queue.put("default", BODY)
    entry = await claim_one(queue)
    await queue.bury(entry, letter_for(entry, {"a": "refused"}))
    (letter,) = await letters.letters()

    cli = elsewhere()  # as `alert-explainer dead-letters replay` would, in another process
    assert await cli.replay([letter.id, "999999", "not-an-id"]) == [letter.id]

    replayed = await claim_one(queue)
    assert (replayed.body, replayed.sinks, replayed.attempts) == (BODY, ("a",), 1)
    assert await letters.letters() == []
    assert await letters.counts() == {}


async def test_replay_into_a_full_queue_is_refused_and_keeps_the_letter(backend: Backend) -> None:
    queue, letters, _ = backend
    await queue.put("default", BODY)
    await queue.bury(first := await claim_one(queue), letter_for(first, {"a": "refused"}))
    for _ in range(3):  # queue_max
        await queue.put("default", BODY)
    (letter,) = await letters.letters()

    with pytest.raises(QueueError, match="full"):
        await letters.replay([letter.id])

    assert [kept.id for kept in await letters.letters()] == [letter.id]


async def test_drop_deletes_letters_for_good(backend: Backend) -> None:
    queue, letters, elsewhere = backend
    for _ in range(2):
        await queue.put("default", BODY)
    for entry in await queue.claim(10, LEASE):
        await queue.bury(entry, letter_for(entry, {"a": "refused", "b": "refused"}))
    first, second = await letters.letters()

    assert await elsewhere().drop([first.id, first.id]) == [first.id]

    assert await letters.letters() == [second]
    assert await letters.counts() == {("default", "a"): 1, ("default", "b"): 1}
    assert (await queue.stats()).entries == 0


async def test_stats_count_entries_and_age_the_oldest(backend: Backend) -> None:
    queue, _, _ = backend
    assert (await queue.stats()).entries == 0
    assert (await queue.stats()).oldest_age == 0.0
    await queue.put("default", BODY)
    await asyncio.sleep(0.2)
    await queue.put("default", BODY)

    stats = await queue.stats()

    assert stats.entries == 2
    assert 0.15 <= stats.oldest_age < 5


async def test_without_a_queue_file_the_command_line_sees_no_letters(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"delivery": {"mode": "async", "queue_path": str(tmp_path / "none" / "q.sqlite3")}}
    )
    letters = open_dead_letters(settings)

    assert await letters.letters() == []
    assert await letters.replay(["1"]) == []
    await letters.aclose()
    assert not (tmp_path / "none").exists()


async def test_a_queue_file_of_the_previous_version_is_upgraded_with_its_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, route TEXT NOT NULL, "
        "body BLOB NOT NULL, enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        "available_at REAL NOT NULL)"
    )
    old.execute(
        "INSERT INTO queue (route, body, enqueued_at, available_at) VALUES (?,?,?,?)",
        ("default", BODY, 1000.0, 1000.0),
    )
    old.commit()
    old.close()

    queue = SqliteQueue(SqliteFile(path), max_entries=10)
    entry = await claim_one(queue)
    await queue.bury(entry, letter_for(entry, {"a": "refused"}))
    await queue.aclose()

    assert (entry.route, entry.body, entry.queued_at, entry.sinks) == (
        "default",
        BODY,
        1000.0,
        None,
    )


def test_a_dead_letter_never_keeps_a_url_in_its_errors() -> None:
    letter = DeadLetter.create(
        route="default",
        body=BODY,
        errors={"hook": "cannot reach https://hooks.example.com/services/T0/B0/abcdef: refused"},
        reason=FINAL_ERROR,
        attempts=3,
        queued_at=1.0,
        first_try=0.0,
        last_try=2.0,
    )
    assert letter.errors == {"hook": "cannot reach [url] refused"}
    assert letter.first_try == 1.0  # never tried: the time it was queued
