"""Durable queues for `delivery.mode: async`: a notification is stored before the 202.

`SqliteQueue` is the embedded default (one file, on a volume, used by one process).
`RedisStreamQueue` keeps entries in a Redis Stream with a consumer group, so any replica
can finish another's work: entries a crashed replica had claimed are reclaimed once idle.
An entry is removed only after every sink of its route has the message.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from alert_explainer.errors import AlertExplainerError


class QueueError(AlertExplainerError):
    """The queue cannot take the notification now; answer 503 so Alertmanager retries."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued notification: its route and the webhook body as received."""

    id: str
    route: str
    body: bytes
    attempts: int = 0


class DurableQueue(Protocol):
    """Where async-mode notifications wait for delivery."""

    async def put(self, route: str, body: bytes) -> None:
        """Store durably; raise QueueError when full or unwritable."""
        ...

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        """Up to `limit` entries nobody is working on, hidden from others for `lease` s."""
        ...

    async def done(self, entry: Entry) -> None:
        """Remove a delivered entry."""
        ...

    async def retry_later(self, entry: Entry, delay: float) -> None:
        """Make an undelivered entry claimable again after `delay` seconds."""
        ...

    async def aclose(self) -> None:
        """Release the file or connection."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    route TEXT NOT NULL,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL
)
"""


class SqliteQueue:
    """A queue in one SQLite file, written with full fsync before put() returns."""

    def __init__(self, path: Path, max_entries: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # one statement sequence at a time across threads
        self._max_entries = max_entries
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            # Only this process uses the file: claims left by a previous run are void.
            self._db.execute("UPDATE queue SET available_at = 0")

    async def put(self, route: str, body: bytes) -> None:
        await asyncio.to_thread(self._put, route, body)

    def _put(self, route: str, body: bytes) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                (count,) = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()
                if count >= self._max_entries:
                    self._db.execute("ROLLBACK")
                    raise QueueError(f"delivery queue is full ({count} entries)")
                now = time.time()
                self._db.execute(
                    "INSERT INTO queue (route, body, enqueued_at, available_at) VALUES (?,?,?,?)",
                    (route, body, now, now),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise QueueError(f"cannot write to the delivery queue: {exc}") from None

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        return await asyncio.to_thread(self._claim, limit, lease)

    def _claim(self, limit: int, lease: float) -> list[Entry]:
        with self._lock:
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute(
                "SELECT id, route, body, attempts FROM queue WHERE available_at <= ? "
                "ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE queue SET available_at = ?, attempts = attempts + 1 WHERE id = ?",
                [(now + lease, row[0]) for row in rows],
            )
            self._db.execute("COMMIT")
        return [
            Entry(str(i), route, bytes(body), attempts + 1) for i, route, body, attempts in rows
        ]

    async def done(self, entry: Entry) -> None:
        await asyncio.to_thread(self._execute, "DELETE FROM queue WHERE id = ?", (int(entry.id),))

    async def retry_later(self, entry: Entry, delay: float) -> None:
        await asyncio.to_thread(
            self._execute,
            "UPDATE queue SET available_at = ? WHERE id = ?",
            (time.time() + delay, int(entry.id)),
        )

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def size(self) -> int:
        """Entries waiting or being worked on."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()
        return int(count)

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()


class RedisStreamQueue:
    """A queue in a Redis Stream with one consumer group shared by all replicas."""

    GROUP = "alert-explainer"

    def __init__(self, url: str, prefix: str, consumer: str, max_entries: int) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._stream = f"{prefix}queue"
        self._consumer = consumer
        self._max_entries = max_entries
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._stream, self.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def put(self, route: str, body: bytes) -> None:
        try:
            await self._ensure_group()
            if await self._redis.xlen(self._stream) >= self._max_entries:
                raise QueueError("delivery queue is full")
            await self._redis.xadd(self._stream, {"route": route, "body": body})
        except (RedisError, OSError) as exc:
            raise QueueError(f"cannot write to the delivery queue ({type(exc).__name__})") from None

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        await self._ensure_group()
        # Entries another consumer claimed and left idle longer than a lease: it died.
        _, reclaimed, *_ = await self._redis.xautoclaim(
            self._stream, self.GROUP, self._consumer, int(lease * 1000), "0-0", count=limit
        )
        fresh: list[tuple[bytes, dict[bytes, bytes]]] = []
        if len(reclaimed) < limit:
            # RESP2 shape: [[stream, [(id, fields), ...]]]; the client's stubs cover RESP3 too.
            answer: Any = await self._redis.xreadgroup(
                self.GROUP, self._consumer, {self._stream: ">"}, count=limit - len(reclaimed)
            )
            fresh = answer[0][1] if answer else []
        return [
            Entry(
                entry_id.decode(),
                fields[b"route"].decode(),
                fields[b"body"],
            )
            for entry_id, fields in [*reclaimed, *fresh]
            if fields  # a deleted entry can still be listed as pending, without fields
        ]

    async def done(self, entry: Entry) -> None:
        await self._redis.xack(self._stream, self.GROUP, entry.id)
        await self._redis.xdel(self._stream, entry.id)

    async def retry_later(self, entry: Entry, delay: float) -> None:
        # Left pending: xautoclaim hands it out again once it has been idle for a lease.
        return None

    async def aclose(self) -> None:
        await self._redis.aclose()
