"""The async-mode worker: delivers queued notifications exactly as the synchronous path does.

An entry leaves the queue once every sink of its route has the message. A failed delivery
is retried with backoff for the sinks that still lack it, until a sink refuses it for good
or the entry is older than `delivery.max_age`: then those sinks' share becomes a dead
letter (deadletters.py), so a dead destination never holds the queue. An entry whose route
has left the configuration, or whose body this version cannot read, becomes a dead letter
at once rather than vanishing. Entries left by a crash are picked up on restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

import structlog

from alert_explainer.alertmanager import PayloadLimits, parse_notification
from alert_explainer.deadletters import (
    EVERY_SINK,
    FINAL_ERROR,
    MAX_AGE,
    ROUTE_GONE,
    UNREADABLE,
    DeadLetter,
    DeadLetterStore,
)
from alert_explainer.errors import PayloadError
from alert_explainer.metrics import Metrics
from alert_explainer.pipeline import DeliveryFailed, Pipeline
from alert_explainer.queue import DurableQueue, Entry
from alert_explainer.retry import backoff
from alert_explainer.routing import Router

logger = structlog.get_logger("alert_explainer.worker")

IDLE_POLL = 0.5  # seconds between looks at an empty queue (a put wakes the worker at once)
MAX_RETRY_DELAY = 60.0
REPORT_EVERY = 5.0  # seconds between refreshes of the queue and dead-letter gauges


class Worker:
    """Claims queued entries and hands them to the pipeline, a few at a time."""

    def __init__(
        self,
        queue: DurableQueue,
        pipeline: Pipeline,
        router: Router,
        *,
        limits: PayloadLimits,
        metrics: Metrics,
        max_age: float,
        concurrency: int = 16,
        lease: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = limits
        self._queue = queue
        self._pipeline = pipeline
        self._router = router
        self._metrics = metrics
        self._max_age = max_age
        self._concurrency = concurrency
        self._lease = lease
        self._clock = clock
        self._wake = asyncio.Event()
        self._active: set[asyncio.Task[None]] = set()
        # Set when dead letters were written or replayed here: the gauges refresh at once.
        self.letters_changed = asyncio.Event()

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
        try:
            await self._attempt(entry, log)
        except Exception as exc:  # the queue failed: the entry's lease runs out, then a retry
            log.error("queue_unavailable", error=type(exc).__name__)

    async def _attempt(self, entry: Entry, log: structlog.typing.FilteringBoundLogger) -> None:
        route = self._router.named(entry.route)
        try:
            notification = parse_notification(entry.body, self._limits)
        except PayloadError as exc:  # validated before queuing; only a changed parser gets here
            await self._undeliverable(entry, UNREADABLE, f"unreadable: {exc}", log)
            return
        if route is None:
            text = f"route {entry.route!r} is no longer configured"
            await self._undeliverable(entry, ROUTE_GONE, text, log)
            return
        every = entry.sinks is None or EVERY_SINK in entry.sinks
        sinks = [s for s in route.settings.sinks if every or s in (entry.sinks or ())]
        try:
            await self._pipeline.submit(route, notification, sinks)
        except DeliveryFailed as exc:
            await self._failed(entry, exc.failures, exc.final, log)
        except Exception as exc:
            log.exception("queued_delivery_crashed")
            crash = f"delivery crashed unexpectedly ({type(exc).__name__})"
            await self._failed(entry, dict.fromkeys(sinks, crash), frozenset(), log)
        else:
            await self._queue.done(entry)

    async def _undeliverable(
        self, entry: Entry, reason: str, error: str, log: structlog.typing.FilteringBoundLogger
    ) -> None:
        """Dead-letter an entry that cannot be tried as queued, for every sink it lacks."""
        sinks = entry.sinks or (EVERY_SINK,)
        await self._bury(entry, dict.fromkeys(sinks, error), reason, (), 0.0, log)

    async def _failed(
        self,
        entry: Entry,
        failures: Mapping[str, str],
        final: frozenset[str],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """Retry the failed sinks later, or give up on those past hope: final, or too old."""
        now = self._clock()
        expired = now - entry.queued_at >= self._max_age
        given_up = dict(failures) if expired else {s: failures[s] for s in failures if s in final}
        retry = sorted(set(failures) - set(given_up))
        delay = min(MAX_RETRY_DELAY, backoff(entry.attempts))
        if not given_up:
            log.warning("queued_delivery_failed", sinks=retry, retry_in=round(delay, 2))
            await self._queue.retry_later(entry, delay, retry)
            return
        reason = MAX_AGE if expired else FINAL_ERROR
        await self._bury(entry, given_up, reason, retry, delay, log)

    async def _bury(
        self,
        entry: Entry,
        errors: Mapping[str, str],
        reason: str,
        retry: Sequence[str],
        delay: float,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """Give up on the sinks in `errors`: a dead letter for them, the rest retried."""
        letter = DeadLetter.create(
            route=entry.route,
            body=entry.body,
            errors=errors,
            reason=reason,
            attempts=entry.attempts,
            queued_at=entry.queued_at,
            first_try=entry.first_try,
            last_try=self._clock(),
        )
        await self._queue.bury(entry, letter, retry, delay)
        self._metrics.dead_lettered.labels(reason).inc()
        self.letters_changed.set()
        log.error(
            "dead_letter",
            reason=reason,
            sinks=list(letter.sinks),
            errors=dict(letter.errors),
            still_retrying=list(retry),
            message="these sinks will not be tried again; see `alert-explainer dead-letters "
            "list`, mend what the error names (the destination, or the route in the config), "
            "then `alert-explainer dead-letters replay`",
        )


async def report(
    queue: DurableQueue,
    dead_letters: DeadLetterStore,
    metrics: Metrics,
    worker: Worker,
    every: float = REPORT_EVERY,
) -> None:
    """Keep the queue and dead-letter gauges current until cancelled.

    Refreshed every `every` seconds (letters replayed or dropped from the command line
    show then), and at once when this process wrote or replayed dead letters.
    """
    shown: set[tuple[str, str]] = set()
    while True:
        try:
            stats = await queue.stats()
            counts = await dead_letters.counts()
        except Exception as exc:  # the backend is down: keep the last values, try again
            logger.warning("queue_stats_unavailable", error=type(exc).__name__)
        else:
            metrics.queue_entries.set(stats.entries)
            metrics.queue_oldest_age.set(stats.oldest_age)
            for route, sink in shown - set(counts):
                metrics.dead_letters.labels(route, sink).set(0)
            for (route, sink), count in counts.items():
                metrics.dead_letters.labels(route, sink).set(count)
            shown |= set(counts)
        worker.letters_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.letters_changed.wait(), every)
