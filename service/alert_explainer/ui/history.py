"""The notification history: records kept in the state store, written in the background.

Two bounded lists of the state store (`push`, `items`, `item` in store.py), so replicas on
Redis show the same history: `ui:summaries` holds the rows of the list (small) and
`ui:details` what one notification's page shows. Both keep the newest `ui.history`
notifications for at most `ui.max_age`. With the memory backend the history is the
process's own.

Recording never waits on the store. The pipeline changes records in memory and marks
them; one writer task writes each marked record once, oldest mark first, however often it
changed meanwhile. A notification still in progress is first written after
IN_PROGRESS_DELAY, so the many that finish within milliseconds are written once, finished.
Beyond MAX_PENDING unwritten records (a store far slower than the alert rate) the oldest
marks are dropped rather than holding memory. What is written is the record as it came;
display.py redacts it when it is read.

When Alertmanager retries a notification whose last attempt failed (a destination did
not take it), the retry continues that notification's record instead of starting a row of
its own, so a failing destination shows as one row with its attempts, not dozens of rows.

In `delivery.mode: async` the webhook records a notification as "queued" and the worker
later handles it: the worker's record takes over the queued one's id (found by the
notification's identity), so one row goes from queued to delivered.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import OrderedDict
from typing import Any

import structlog

from alert_explainer.alertmanager import Notification
from alert_explainer.config import Settings
from alert_explainer.jsonout import encode_json
from alert_explainer.redact import Redactor
from alert_explainer.store import StateStore
from alert_explainer.ui.display import Display
from alert_explainer.ui.record import Destination, OutcomeName, Record

logger = structlog.get_logger("alert_explainer.ui.history")

SUMMARIES = "ui:summaries"
DETAILS = "ui:details"
QUEUED = "ui:queued:"
MAX_PENDING = 10_000
MAX_FAILED = 1_000  # recently failed records a retry may continue
IN_PROGRESS_DELAY = 1.0  # seconds before a notification still in progress is written


def new_id(moment: float) -> str:
    """A record id: milliseconds in hex (sorts by time), then 8 random hex digits.

    Not a secret (the page's auth protects records), so no system call per notification.
    """
    return f"{int(moment * 1000):011x}{random.getrandbits(32):08x}"


class History:
    """Creates records, writes them to the state store, and reads them back for the page."""

    def __init__(self, settings: Settings, state: StateStore) -> None:
        self._enabled = settings.ui.enabled
        self._max_items = settings.ui.history
        self._ttl = settings.ui.max_age
        self._adopt_queued = settings.delivery.mode == "async"
        self._sink_types = {s.name: s.type for s in settings.sinks}
        # Alertmanager retries a failed notification within one flush and again at later
        # flushes; past the dedup window a notification counts as new anyway.
        self._retry_window = settings.delivery.dedup_window
        self._failed: OrderedDict[str, Record] = OrderedDict()  # identity -> record
        self._state = state
        self.display = Display(
            Redactor.from_settings(settings.redaction, settings.server.limits.max_value_length)
        )
        self._pending: dict[str, Record] = {}  # marked, not yet written; oldest first
        self._starting: dict[str, Record] = {}  # in progress, written if still so soon
        self._writing: Record | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._dropped = 0

    @property
    def enabled(self) -> bool:
        """Whether notifications are recorded at all (`ui.enabled`)."""
        return self._enabled

    # --- recording ---------------------------------------------------------------------

    def begin(
        self,
        route: str,
        sinks: list[str],
        notification: Notification,
        identity: str,
        outcome: OutcomeName = "in_progress",
    ) -> Record:
        """The record for a notification about to be handled (or queued).

        New, unless this is Alertmanager retrying a notification whose last attempt on
        this process failed: then that record, with the attempt noted.
        """
        now = time.time()
        failed = self._failed.pop(identity, None)
        if failed is not None and now - (failed.finished_at or 0.0) < self._retry_window:
            failed.attempted_again(now)
            return failed
        record = Record(
            id=new_id(now),
            route=route,
            identity=identity,
            notification=notification,
            received=now,
            destinations={s: Destination(s, self._sink_types.get(s, "")) for s in sinks},
            changed=self._mark,
            outcome=outcome,
        )
        self._mark(record)
        return record

    def _mark(self, record: Record) -> None:
        if not self._enabled:
            return
        if record.outcome == "failed":
            self._failed[record.identity] = record
            self._failed.move_to_end(record.identity)
            if len(self._failed) > MAX_FAILED:
                self._failed.popitem(last=False)
        if record.outcome == "in_progress" and not record.written:
            if record.id not in self._starting:
                self._starting[record.id] = record
                loop = asyncio.get_running_loop()
                loop.call_later(IN_PROGRESS_DELAY, self._still_in_progress, record)
            return
        self._starting.pop(record.id, None)
        self._queue(record)

    def _still_in_progress(self, record: Record) -> None:
        if self._starting.pop(record.id, None) is not None:
            self._queue(record)

    def _queue(self, record: Record) -> None:
        self._pending[record.id] = record  # a record marked again keeps its turn
        if len(self._pending) > MAX_PENDING:
            dropped = self._pending.pop(next(iter(self._pending)))
            self._dropped += 1
            if self._dropped % 1000 == 1:  # the first, then one line per thousand
                logger.warning(
                    "history_behind",
                    dropped=self._dropped,
                    record=dropped.id,
                    message="the state store takes the history slower than notifications "
                    "arrive; the oldest unwritten records are dropped from the page",
                )
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        """The writer: until cancelled, write every marked record to the store."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                record = self._pending.pop(next(iter(self._pending)))
                self._writing = record
                try:
                    await self._write(record)
                except Exception:  # the history must never take the service down
                    logger.exception("history_write_failed", record=record.id)
                finally:
                    self._writing = None
            self._idle.set()

    async def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` for the writer to catch up; whether it did."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _write(self, record: Record) -> None:
        if record.outcome == "queued":
            await self._state.put(
                QUEUED + record.identity, f"{record.id} {record.received}", self._ttl
            )
        elif self._adopt_queued and not record.written:
            await self._adopt(record)
        record.written = True
        # Serialised before any await below: a change meanwhile marks the record again.
        row = record.summary()
        summary = encode_json(self.display.summary(row)).decode()
        detail = encode_json(record.stored(row)).decode()
        for key, value in ((SUMMARIES, summary), (DETAILS, detail)):
            await self._state.push(key, record.id, value, max_items=self._max_items, ttl=self._ttl)

    async def _adopt(self, record: Record) -> None:
        """Take over the id and receipt time of this notification's queued record."""
        key = QUEUED + record.identity
        queued = await self._state.get(key)
        if queued is None:
            return
        queued_id, _, received = queued.partition(" ")
        await self._state.release(key, queued)
        record.id = queued_id
        record.received = float(received)

    # --- reading -------------------------------------------------------------------------

    async def summaries(self) -> list[dict[str, Any]]:
        """Every kept notification's row, newest first (this process's unwritten ones too)."""
        rows = {}
        for raw in await self._state.items(SUMMARIES, self._max_items):
            row = json.loads(raw)
            rows[row["id"]] = row
        unwritten = [*self._unwritten()]
        if unwritten:
            rows.update({r.id: self.display.summary(r.summary()) for r in unwritten})
            ordered = sorted(rows.values(), key=lambda row: row["received"], reverse=True)
            return ordered[: self._max_items]
        return list(rows.values())

    async def detail(self, record_id: str) -> dict[str, Any] | None:
        """One notification's page data, or None when it is not (or no longer) kept."""
        unwritten = next((r for r in self._unwritten() if r.id == record_id), None)
        if unwritten is not None:
            return self.display.detail(unwritten.stored())
        raw = await self._state.item(DETAILS, record_id)
        return None if raw is None else self.display.detail(json.loads(raw))

    def _unwritten(self) -> list[Record]:
        """This process's records not (or not yet again) in the store."""
        writing = [self._writing] if self._writing is not None else []
        return [*self._starting.values(), *self._pending.values(), *writing]
