"""The Redis backend: the queue in a Stream shared by every replica, the dead letters in another.

Keys, under `state.key_prefix`:

    queue                 Stream of entries (route, body; sinks for a replayed one), read
                          through one consumer group by all replicas
    queue:progress        Hash: entry id -> JSON {attempts, first_try, sinks still lacking it}
    dead-letters          Stream of dead letters
    dead-letters:counts   Hash: "<route>\\n<sink>" -> letters lacking that sink (for the gauge)

An entry stays pending in the group while a replica works on it; one that crashed is
reclaimed by any replica once idle for a lease. An entry to retry later stays pending too,
with its idle time set so that it is reclaimed when the delay is over. Moving an entry to
the dead letters, or a letter back to the queue, is one MULTI transaction or Lua script,
so a notification is never in both places nor in neither.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError

from alert_explainer.deadletters import DeadLetter, decode_sinks, encode_errors
from alert_explainer.queue.base import Entry, QueueError, QueueStats

GROUP = "alert-explainer"
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# KEYS[1] progress hash; ARGV[1] now, ARGV[2..] claimed entry ids -> their progress, counted.
_COUNT_ATTEMPT = """
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local progress
  if raw then progress = cjson.decode(raw) else progress = {attempts = 0, first_try = now} end
  progress.attempts = progress.attempts + 1
  raw = cjson.encode(progress)
  redis.call('HSET', KEYS[1], ARGV[i], raw)
  out[#out + 1] = raw
end
return out
"""
# KEYS[1] dead letters, KEYS[2] counts; ARGV[1] letter id -> 1 when removed, 0 when absent.
# With KEYS[3] (the queue) and ARGV[2] (its limit), the letter is queued again first: -1
# when the queue is full.
_REMOVE_LETTER = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return 0 end
local letter = {}
local flat = found[1][2]
for i = 1, #flat, 2 do letter[flat[i]] = flat[i + 1] end
if KEYS[3] then
  if redis.call('XLEN', KEYS[3]) >= tonumber(ARGV[2]) then return -1 end
  redis.call('XADD', KEYS[3], '*', 'route', letter.route, 'body', letter.body,
             'sinks', letter.sinks)
end
redis.call('XDEL', KEYS[1], ARGV[1])
for _, sink in ipairs(cjson.decode(letter.sinks)) do
  redis.call('HINCRBY', KEYS[2], letter.route .. '\\n' .. sink, -1)
end
return 1
"""


class _Keys:
    def __init__(self, prefix: str) -> None:
        self.queue = f"{prefix}queue"
        self.progress = f"{prefix}queue:progress"
        self.dead = f"{prefix}dead-letters"
        self.counts = f"{prefix}dead-letters:counts"


def _connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


def _stream_time(entry_id: str) -> float:
    """When Redis added the entry: its id is "<milliseconds>-<sequence>"."""
    return int(entry_id.split("-", 1)[0]) / 1000


class RedisStreamQueue:
    """A queue in a Redis Stream with one consumer group shared by all replicas."""

    GROUP = GROUP

    def __init__(self, url: str, prefix: str, consumer: str, max_entries: int) -> None:
        self._redis = _connect(url)
        self._keys = _Keys(prefix)
        self._consumer = consumer
        self._max_entries = max_entries
        self._lease = 120.0
        self._group_ready = False
        self._count_attempt = self._redis.register_script(_COUNT_ATTEMPT)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._keys.queue, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def put(self, route: str, body: bytes) -> None:
        try:
            await self._ensure_group()
            if await self._redis.xlen(self._keys.queue) >= self._max_entries:
                raise QueueError("delivery queue is full")
            await self._redis.xadd(self._keys.queue, {"route": route, "body": body})
        except (RedisError, OSError) as exc:
            raise QueueError(f"cannot write to the delivery queue ({type(exc).__name__})") from None

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        self._lease = lease
        await self._ensure_group()
        # Entries idle longer than a lease: their claimer died, or their retry delay is over.
        _, reclaimed, *_ = await self._redis.xautoclaim(
            self._keys.queue, GROUP, self._consumer, int(lease * 1000), "0-0", count=limit
        )
        fresh: list[tuple[bytes, dict[bytes, bytes]]] = []
        if len(reclaimed) < limit:
            # RESP2 shape: [[stream, [(id, fields), ...]]]; the client's stubs cover RESP3 too.
            answer: Any = await self._redis.xreadgroup(
                GROUP, self._consumer, {self._keys.queue: ">"}, count=limit - len(reclaimed)
            )
            fresh = answer[0][1] if answer else []
        # A deleted entry can still be listed as pending, without fields.
        found = [(i.decode(), fields) for i, fields in [*reclaimed, *fresh] if fields]
        if not found:
            return []
        progress = await self._count_attempt(
            keys=[self._keys.progress], args=[time.time(), *(i for i, _ in found)]
        )
        entries = []
        for (entry_id, fields), raw in zip(found, progress, strict=True):
            state = json.loads(raw)
            sinks = state.get("sinks") or decode_sinks(fields.get(b"sinks"))
            entries.append(
                Entry(
                    entry_id,
                    fields[b"route"].decode(),
                    fields[b"body"],
                    int(state["attempts"]),
                    _stream_time(entry_id),
                    float(state["first_try"]),
                    tuple(sinks) if sinks else None,
                )
            )
        return entries

    async def done(self, entry: Entry) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._remove(pipe, entry)
            await pipe.execute()

    async def retry_later(self, entry: Entry, delay: float, sinks: Sequence[str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._postpone(pipe, entry, delay, sinks)
            await pipe.execute()

    async def bury(
        self, entry: Entry, letter: DeadLetter, retry: Sequence[str] = (), delay: float = 0.0
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._keys.dead, _letter_fields(letter))
            for sink in letter.sinks:
                pipe.hincrby(self._keys.counts, f"{letter.route}\n{sink}", 1)
            if retry:
                self._postpone(pipe, entry, delay, retry)
            else:
                self._remove(pipe, entry)
            await pipe.execute()

    def _remove(self, pipe: Pipeline, entry: Entry) -> None:
        pipe.xack(self._keys.queue, GROUP, entry.id)
        pipe.xdel(self._keys.queue, entry.id)
        pipe.hdel(self._keys.progress, entry.id)

    def _postpone(self, pipe: Pipeline, entry: Entry, delay: float, sinks: Sequence[str]) -> None:
        progress = {
            "attempts": entry.attempts,
            "first_try": entry.first_try,
            "sinks": sorted(sinks),
        }
        pipe.hset(self._keys.progress, entry.id, json.dumps(progress))
        # Reclaimed once idle for a lease: pretend it has been idle for all but `delay`.
        idle = max(0, int((self._lease - delay) * 1000))
        pipe.xclaim(self._keys.queue, GROUP, self._consumer, 0, [entry.id], idle=idle, justid=True)

    async def stats(self) -> QueueStats:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self._keys.queue)
            pipe.xrange(self._keys.queue, count=1)
            count, oldest = await pipe.execute()
        if not oldest:
            return QueueStats(int(count), 0.0)
        return QueueStats(int(count), max(0.0, time.time() - _stream_time(oldest[0][0].decode())))

    async def aclose(self) -> None:
        await self._redis.aclose()


def _letter_fields(letter: DeadLetter) -> dict[Any, Any]:
    return {
        "route": letter.route,
        "body": letter.body,
        "sinks": json.dumps(list(letter.sinks)),
        "errors": encode_errors(letter.errors),
        "reason": letter.reason,
        "attempts": str(letter.attempts),
        "queued_at": repr(letter.queued_at),
        "first_try": repr(letter.first_try),
        "last_try": repr(letter.last_try),
    }


def _letter(letter_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    text = {k.decode(): v for k, v in fields.items()}
    return DeadLetter(
        id=letter_id.decode(),
        route=text["route"].decode(),
        body=text["body"],
        sinks=decode_sinks(text["sinks"]) or (),
        errors=json.loads(text["errors"]),
        reason=text["reason"].decode(),
        attempts=int(text["attempts"]),
        queued_at=float(text["queued_at"]),
        first_try=float(text["first_try"]),
        last_try=float(text["last_try"]),
    )


class RedisDeadLetters:
    """The dead-letter Stream, and moving its letters back to the queue."""

    def __init__(self, url: str, prefix: str, queue_max: int) -> None:
        self._redis = _connect(url)
        self._keys = _Keys(prefix)
        self._queue_max = queue_max
        self._remove = self._redis.register_script(_REMOVE_LETTER)

    async def letters(self) -> list[DeadLetter]:
        found: Any = await self._redis.xrange(self._keys.dead)
        return [_letter(i, fields) for i, fields in found]

    async def get(self, letter_id: str) -> DeadLetter | None:
        if not _STREAM_ID.match(letter_id):
            return None
        found: Any = await self._redis.xrange(self._keys.dead, letter_id, letter_id)
        return _letter(*found[0]) if found else None

    async def replay(self, letter_ids: Sequence[str]) -> list[str]:
        replayed: list[str] = []
        for letter_id in filter(_STREAM_ID.match, letter_ids):
            keys = [self._keys.dead, self._keys.counts, self._keys.queue]
            outcome = await self._remove(keys=keys, args=[letter_id, self._queue_max])
            if outcome == -1:
                raise QueueError(f"delivery queue is full; {len(replayed)} letter(s) replayed")
            if outcome == 1:
                replayed.append(letter_id)
        return replayed

    async def drop(self, letter_ids: Sequence[str]) -> list[str]:
        dropped: list[str] = []
        for letter_id in filter(_STREAM_ID.match, letter_ids):
            keys = [self._keys.dead, self._keys.counts]
            if await self._remove(keys=keys, args=[letter_id]) == 1:
                dropped.append(letter_id)
        return dropped

    async def counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        stored: Any = await self._redis.hgetall(self._keys.counts)
        for field, value in stored.items():
            route, _, sink = field.decode().partition("\n")
            if int(value) > 0:
                counts[(route, sink)] = int(value)
        return counts

    async def aclose(self) -> None:
        await self._redis.aclose()
