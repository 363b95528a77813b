"""The SQLite backend: the queue and its dead letters in one file, used by one service process.

The file belongs on a persistent volume (the Helm chart's `persistence`). Every change is
one transaction, fsynced before it returns. WAL mode lets `alert-explainer dead-letters`
read and change the letters from another process while the service runs; each side waits
for the other's short transactions instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alert_explainer.deadletters import DeadLetter, decode_sinks, encode_errors
from alert_explainer.queue.base import Entry, QueueError, QueueStats

T = TypeVar("T")

BUSY_TIMEOUT = 10.0  # seconds to wait for another process's transaction
SCHEMA_VERSION = 2
_QUEUE = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    route TEXT NOT NULL,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL
)
"""
# Version 1 had the queue table alone; its files are upgraded in place.
_TO_VERSION_2 = (
    "ALTER TABLE queue ADD COLUMN sinks TEXT",  # JSON list; NULL: every sink of the route
    "ALTER TABLE queue ADD COLUMN first_try REAL",
    """
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        route TEXT NOT NULL,
        body BLOB NOT NULL,
        sinks TEXT NOT NULL,
        errors TEXT NOT NULL,
        reason TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        queued_at REAL NOT NULL,
        first_try REAL NOT NULL,
        last_try REAL NOT NULL
    )
    """,
)
_SELECT_LETTERS = (
    "SELECT id, route, body, sinks, errors, reason, attempts, queued_at, first_try, last_try "
    "FROM dead_letters"
)


def unwritable_message(path: Path, problem: str) -> str:
    """What to tell the user when the queue file cannot be written, and what to change."""
    return (
        f"delivery.queue_path {path} is not writable ({problem}). delivery.mode async keeps "
        f"its queue in that file: give the service a writable, persistent directory at "
        f"{path.parent} (Helm chart: persistence.enabled=true mounts a volume there), set "
        "delivery.queue_path to one, or keep the queue in Redis (state.backend: redis)"
    )


def check_writable(path: Path) -> None:
    """Raise QueueError naming `path` unless its directory and the file can be written.

    SQLite writes journal files beside the database, so the directory must be writable.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent, prefix=".alert-explainer-"):
            pass
        if path.exists():
            with path.open("r+b"):
                pass
    except OSError as exc:
        raise QueueError(unwritable_message(path, exc.strerror or type(exc).__name__)) from None


class SqliteFile:
    """The open database, shared by the queue and the dead letters of one process."""

    def __init__(self, path: Path) -> None:
        check_writable(path)
        self._lock = threading.Lock()  # one transaction at a time across threads
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self.run(_migrate)
        except sqlite3.DatabaseError as exc:
            raise QueueError(f"delivery.queue_path {path} cannot be used: {exc}") from None
        self._closed = False

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one write transaction, rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    async def transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`run` in a worker thread, so the event loop never waits on the disk."""
        return await asyncio.to_thread(self.run, work)

    def close(self) -> None:
        """Close the file (again: nothing)."""
        with self._lock:
            if not self._closed:
                self._db.close()
                self._closed = True


def _migrate(db: sqlite3.Connection) -> None:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    db.execute(_QUEUE)
    if version < 2:
        for statement in _TO_VERSION_2:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _enqueue(
    db: sqlite3.Connection, route: str, body: bytes, sinks: str | None, max_entries: int
) -> None:
    (count,) = db.execute("SELECT COUNT(*) FROM queue").fetchone()
    if count >= max_entries:
        raise QueueError(f"delivery queue is full ({count} entries)")
    now = time.time()
    db.execute(
        "INSERT INTO queue (route, body, enqueued_at, available_at, sinks) VALUES (?,?,?,?,?)",
        (route, body, now, now, sinks),
    )


class SqliteQueue:
    """The queue table. This process is its only worker: claims of a previous run are void."""

    def __init__(self, database: SqliteFile, max_entries: int) -> None:
        self._file = database
        self._max_entries = max_entries
        database.run(lambda db: db.execute("UPDATE queue SET available_at = 0"))

    async def put(self, route: str, body: bytes) -> None:
        try:
            await self._file.transact(lambda db: _enqueue(db, route, body, None, self._max_entries))
        except sqlite3.Error as exc:
            raise QueueError(f"cannot write to the delivery queue: {exc}") from None

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        def claim(db: sqlite3.Connection) -> list[Entry]:
            now = time.time()
            rows = db.execute(
                "SELECT id, route, body, attempts, enqueued_at, first_try, sinks FROM queue "
                "WHERE available_at <= ? ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE queue SET available_at = ?, attempts = attempts + 1, "
                "first_try = COALESCE(first_try, ?) WHERE id = ?",
                [(now + lease, now, row[0]) for row in rows],
            )
            return [
                Entry(
                    str(i), route, bytes(body), tries + 1, queued, first or now, decode_sinks(sinks)
                )
                for i, route, body, tries, queued, first, sinks in rows
            ]

        return await self._file.transact(claim)

    async def done(self, entry: Entry) -> None:
        await self._file.transact(lambda db: _remove(db, entry))

    async def retry_later(self, entry: Entry, delay: float, sinks: Sequence[str]) -> None:
        await self._file.transact(lambda db: _postpone(db, entry, delay, sinks))

    async def bury(
        self, entry: Entry, letter: DeadLetter, retry: Sequence[str] = (), delay: float = 0.0
    ) -> None:
        def bury(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO dead_letters (route, body, sinks, errors, reason, attempts, "
                "queued_at, first_try, last_try) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    letter.route,
                    letter.body,
                    json.dumps(list(letter.sinks)),
                    encode_errors(letter.errors),
                    letter.reason,
                    letter.attempts,
                    letter.queued_at,
                    letter.first_try,
                    letter.last_try,
                ),
            )
            if retry:
                _postpone(db, entry, delay, retry)
            else:
                _remove(db, entry)

        await self._file.transact(bury)

    async def stats(self) -> QueueStats:
        def stats(db: sqlite3.Connection) -> QueueStats:
            count, oldest = db.execute("SELECT COUNT(*), MIN(enqueued_at) FROM queue").fetchone()
            return QueueStats(int(count), max(0.0, time.time() - oldest) if oldest else 0.0)

        return await self._file.transact(stats)

    async def aclose(self) -> None:
        self._file.close()


def _remove(db: sqlite3.Connection, entry: Entry) -> None:
    db.execute("DELETE FROM queue WHERE id = ?", (int(entry.id),))


def _postpone(db: sqlite3.Connection, entry: Entry, delay: float, sinks: Sequence[str]) -> None:
    db.execute(
        "UPDATE queue SET available_at = ?, sinks = ? WHERE id = ?",
        (time.time() + delay, json.dumps(sorted(sinks)), int(entry.id)),
    )


class SqliteDeadLetters:
    """The dead_letters table; `database` None means no queue file exists (no letters)."""

    def __init__(self, database: SqliteFile | None, queue_max: int) -> None:
        self._file = database
        self._queue_max = queue_max

    async def _transact(self, work: Callable[[sqlite3.Connection], T], empty: T) -> T:
        return empty if self._file is None else await self._file.transact(work)

    async def letters(self) -> list[DeadLetter]:
        def rows(db: sqlite3.Connection) -> list[DeadLetter]:
            found = db.execute(_SELECT_LETTERS + " ORDER BY id")
            return [_letter(row) for row in found.fetchall()]

        return await self._transact(rows, [])

    async def get(self, letter_id: str) -> DeadLetter | None:
        if not letter_id.isdigit():
            return None

        def row(db: sqlite3.Connection) -> DeadLetter | None:
            found = db.execute(_SELECT_LETTERS + " WHERE id = ?", (int(letter_id),)).fetchone()
            return None if found is None else _letter(found)

        return await self._transact(row, None)

    async def replay(self, letter_ids: Sequence[str]) -> list[str]:
        def replay(db: sqlite3.Connection, letter_id: int) -> bool:
            found = db.execute(
                "SELECT route, body, sinks FROM dead_letters WHERE id = ?", (letter_id,)
            ).fetchone()
            if found is None:
                return False
            _enqueue(db, found[0], bytes(found[1]), found[2], self._queue_max)
            db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))
            return True

        return await self._each(letter_ids, replay)

    async def drop(self, letter_ids: Sequence[str]) -> list[str]:
        def drop(db: sqlite3.Connection, letter_id: int) -> bool:
            deleted = db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))
            return deleted.rowcount > 0

        return await self._each(letter_ids, drop)

    async def _each(
        self, letter_ids: Sequence[str], work: Callable[[sqlite3.Connection, int], bool]
    ) -> list[str]:
        """`work` on each letter in its own transaction; the ids it was done for."""
        done: list[str] = []
        for letter_id in filter(str.isdigit, letter_ids):
            number = int(letter_id)
            if await self._transact(lambda db: work(db, number), False):  # noqa: B023
                done.append(letter_id)
        return done

    async def counts(self) -> dict[tuple[str, str], int]:
        def counts(db: sqlite3.Connection) -> dict[tuple[str, str], int]:
            rows = db.execute(
                "SELECT route, sink.value, COUNT(*) FROM dead_letters, json_each(sinks) AS sink "
                "GROUP BY route, sink.value"
            ).fetchall()
            return {(str(route), str(sink)): int(n) for route, sink, n in rows}

        return await self._transact(counts, {})

    async def aclose(self) -> None:
        if self._file is not None:
            self._file.close()


def _letter(row: Any) -> DeadLetter:
    letter_id, route, body, sinks, errors, reason, attempts, queued, first, last = row
    return DeadLetter(
        id=str(letter_id),
        route=route,
        body=bytes(body),
        sinks=decode_sinks(sinks) or (),
        errors=json.loads(errors),
        reason=reason,
        attempts=attempts,
        queued_at=queued,
        first_try=first,
        last_try=last,
    )
