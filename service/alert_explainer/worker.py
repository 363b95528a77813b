"""The async-mode worker: delivers queued notifications exactly as the synchronous path does.

An entry leaves the queue only once every sink of its route has the message; a failed
delivery is retried with backoff, and entries left by a crash are picked up on restart.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from alert_explainer.alertmanager import PayloadLimits, parse_notification
from alert_explainer.errors import PayloadError
from alert_explainer.pipeline import DeliveryFailed, Pipeline
from alert_explainer.queue import DurableQueue, Entry
from alert_explainer.retry import backoff
from alert_explainer.routing import Router

logger = structlog.get_logger("alert_explainer.worker")

IDLE_POLL = 0.5  # seconds between looks at an empty queue (a put wakes the worker at once)
MAX_RETRY_DELAY = 60.0


class Worker:
    """Claims queued entries and hands them to the pipeline, a few at a time."""

    def __init__(
        self,
        queue: DurableQueue,
        pipeline: Pipeline,
        router: Router,
        *,
        limits: PayloadLimits,
        concurrency: int = 16,
        lease: float = 120.0,
    ) -> None:
        self._limits = limits
        self._queue = queue
        self._pipeline = pipeline
        self._router = router
        self._concurrency = concurrency
        self._lease = lease
        self._wake = asyncio.Event()
        self._active: set[asyncio.Task[None]] = set()

    def notify(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled."""
        while True:
            free = self._concurrency - len(self._active)
            entries: list[Entry] = []
            if free > 0:
                try:
                    entries = await self._queue.claim(free, self._lease)
                except Exception as exc:  # an unreachable queue must not end the worker
                    logger.error("queue_unavailable", error=type(exc).__name__)
            for entry in entries:
                task = asyncio.create_task(self._deliver(entry))
                self._active.add(task)
                task.add_done_callback(self._finished)
            if not entries:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        self._wake.set()  # a slot is free

    async def _deliver(self, entry: Entry) -> None:
        log = logger.bind(entry=entry.id, route=entry.route, attempt=entry.attempts)
        route = self._router.named(entry.route)
        try:
            notification = parse_notification(entry.body, self._limits)
        except PayloadError as exc:  # validated before queuing; only a changed parser gets here
            log.error("queued_notification_unreadable", error=str(exc))
            await self._queue.done(entry)
            return
        if route is None:
            log.error("queued_notification_route_gone", message="route no longer configured")
            await self._queue.done(entry)
            return
        try:
            await self._pipeline.submit(route, notification)
        except DeliveryFailed as exc:
            delay = min(MAX_RETRY_DELAY, backoff(entry.attempts))
            log.warning("queued_delivery_failed", sinks=sorted(exc.failures), retry_in=delay)
            await self._queue.retry_later(entry, delay)
        except Exception:
            log.exception("queued_delivery_crashed")
            await self._queue.retry_later(entry, MAX_RETRY_DELAY)
        else:
            await self._queue.done(entry)
