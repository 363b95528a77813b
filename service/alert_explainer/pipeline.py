"""Receive, explain, deliver: the one place that decides what happens to a notification.

Alertmanager retries only 5xx answers (prometheus/alertmanager notify/util.go,
Retrier.Check), and all tries of one flush share a deadline of max(10 s, group_interval).
So each notification identity (route, group, alert states) is worked on by exactly one
task that is not cancelled when the sender hangs up; a retry of the same notification
attaches to that task. Sinks that already have the notification are skipped, and a
cached explanation is reused, so retries never pay or post twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from alert_explainer.alertmanager import Notification
from alert_explainer.catalogue import Catalogue
from alert_explainer.config import RouteSettings, Settings
from alert_explainer.errors import DeliveryError, SinkError
from alert_explainer.evidence import Gatherer
from alert_explainer.explainer import Explainer, Outcome
from alert_explainer.inference import FailoverChain
from alert_explainer.metrics import Metrics
from alert_explainer.prompts import timestamp
from alert_explainer.routing import CompiledRoute
from alert_explainer.sinks import Message, Sink
from alert_explainer.store import StateStore
from alert_explainer.ui.history import History
from alert_explainer.ui.record import Record

logger = structlog.get_logger("alert_explainer.pipeline")


class DeliveryFailed(DeliveryError):
    """Some sinks did not take the message; Alertmanager should retry (answer 5xx).

    `failures` holds each failed sink's error; `final` names those that refused it for
    good (a 4xx such as a revoked webhook's 404), where trying again cannot help.
    """

    def __init__(self, failures: dict[str, str], final: frozenset[str] = frozenset()) -> None:
        self.failures = failures
        self.final = final
        names = ", ".join(sorted(failures))
        super().__init__(f"delivery failed for sink(s): {names}", retryable=True)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What processing a notification did; the body of the 200 answer."""

    route: str
    explained: bool
    reused: bool
    error: str | None
    sinks: dict[str, str] = field(default_factory=dict)
    explained_at: datetime | None = None  # when the explanation delivered was made
    backend: str | None = None  # the inference backend that explained it

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "status": "delivered",
            "route": self.route,
            "explained": self.explained,
            "reused": self.reused,
            "explained_at": timestamp(self.explained_at) if self.explained_at else None,
            "error": self.error,
            "backend": self.backend,
            "sinks": self.sinks,
        }


class Pipeline:
    """Explains notifications and delivers them to their route's sinks, exactly once each."""

    def __init__(
        self,
        settings: Settings,
        *,
        inference: FailoverChain,
        sinks: dict[str, Sink],
        metrics: Metrics,
        state: StateStore,
        evidence: Gatherer | None = None,
        history: History,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._settings = settings
        self._sinks = sinks
        self._history = history
        self._metrics = metrics
        self._state = state
        self._catalogue = catalogue or Catalogue.from_settings(settings)
        self._explainer = Explainer(
            settings,
            inference=inference,
            metrics=metrics,
            state=state,
            evidence=evidence,
            catalogue=self._catalogue,
        )
        # Identifies this process's leases (and queue consumer); other replicas see them held.
        self.owner = uuid.uuid4().hex
        # A lease outlives the slowest possible processing (evidence, every inference backend
        # with its waits for a permit, then sinks in parallel), so a crashed holder's work is
        # taken over soon after it could have ended.
        slowest_sink = max((getattr(s, "timeout", 0.0) for s in settings.sinks), default=0.0)
        gathering = settings.evidence.timeout if settings.evidence is not None else 0.0
        self._lease_ttl = gathering + inference.longest + slowest_sink + 10.0
        self._in_progress: dict[str, asyncio.Task[DeliveryReport]] = {}
        self._records: dict[str, Record] = {}  # what the operator's page shows, per task

    @property
    def lease_ttl(self) -> float:
        """How long one notification's processing may take at most."""
        return self._lease_ttl

    @property
    def in_progress(self) -> int:
        """Notifications being worked on right now."""
        return len(self._in_progress)

    def submit(
        self,
        compiled: CompiledRoute,
        notification: Notification,
        sinks: Collection[str] | None = None,
    ) -> asyncio.Task[DeliveryReport]:
        """The task working on this notification: a running one when it is a retry.

        `sinks` limits delivery to those of the route's sinks (a queued entry's remainder).
        """
        route = compiled.settings
        identity = notification.identity(route.name)
        task = self._in_progress.get(identity)
        if task is None:
            explain = compiled.worth_explaining(notification)
            if explain and not self._catalogue.worth_explaining(notification):
                explain = False  # Watchdog, InfoInhibitor: delivered as they are
                self._metrics.explanations_not_needed.labels(route.name).inc()
            self._records[identity] = self._history.begin(
                route.name, route.sinks, notification, identity
            )
            targets = [s for s in route.sinks if sinks is None or s in sinks]
            task = asyncio.create_task(
                self._process(route, notification, identity, explain, targets)
            )
            self._in_progress[identity] = task
            self._metrics.notifications_in_progress.inc()
            task.add_done_callback(lambda t: self._finished(identity, t))
        else:
            self._records[identity].joined(time.time())
        return task

    def _finished(self, identity: str, task: asyncio.Task[DeliveryReport]) -> None:
        self._in_progress.pop(identity, None)
        record = self._records.pop(identity)
        if record.outcome == "in_progress":  # crashed or cancelled before it could say
            record.finish("failed")
        self._metrics.notifications_in_progress.dec()
        if not task.cancelled():
            task.exception()  # retrieved here, so a sender that hung up leaves no warning

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` for work in progress; return how many did not finish.

        Notifications waiting for an inference permit are work in progress too: they may
        still get one while a call could end within `timeout`, then go out with the fallback.
        """
        self._explainer.end_waits_within(timeout)
        pending = list(self._in_progress.values())
        if pending:
            _, still_running = await asyncio.wait(pending, timeout=timeout)
            return len(still_running)
        return 0

    async def _process(
        self,
        route: RouteSettings,
        notification: Notification,
        identity: str,
        explain: bool,
        targets: list[str],
    ) -> DeliveryReport:
        """Hold the notification's lease (other replicas wait), then explain and deliver."""
        lease = f"lease:{identity}"
        # Another replica may hold it; no local event can say when it ends, so poll. Its
        # delivery records show once we get the lease.
        while not await self._state.claim(lease, self.owner, self._lease_ttl):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        try:
            return await self._explain_and_deliver(route, notification, identity, explain, targets)
        finally:
            await self._state.release(lease, self.owner)

    async def _explain_and_deliver(
        self,
        route: RouteSettings,
        notification: Notification,
        identity: str,
        explain: bool,
        targets: list[str],
    ) -> DeliveryReport:
        started = time.perf_counter()
        log = logger.bind(
            route=route.name,
            group_key=notification.group_key,
            receiver=notification.receiver,
            status=notification.status,
            alerts=len(notification.alerts),
        )
        group = notification.group_identity(route.name)
        record = self._records[identity]
        pending = [s for s in targets if not await self._already_delivered(group, identity, s)]
        for sink in set(targets) - set(pending):
            self._metrics.deliveries.labels(sink, "duplicate").inc()
            record.delivered(sink, "duplicate")
        if not pending:
            record.finish("duplicate", time.perf_counter() - started)
            self._metrics.notifications_processed.labels(route.name, "duplicate").inc()
            log.info("notification", outcome="duplicate", sinks=dict.fromkeys(targets, "duplicate"))
            return DeliveryReport(
                route.name, False, False, None, dict.fromkeys(targets, "duplicate")
            )

        outcome = await self._explainer.explain(route, notification) if explain else Outcome()
        explained_at = time.perf_counter()
        record.explained(outcome, explained_at - started)
        made = outcome.explained_at
        message = Message(
            route.name,
            notification,
            outcome.text,
            outcome.error,
            outcome.model,
            reused=outcome.reused,
            explained_at=None if made is None else datetime.fromtimestamp(made, UTC),
            since=outcome.since,
            evidence=outcome.evidence,
            backend=outcome.backend,
            notes=self._catalogue.notes(notification),
        )
        if len(pending) == 1:  # the usual case: no task to start, no loop turn to wait for
            results = [await self._deliver(pending[0], message, group, identity)]
        else:
            results = await asyncio.gather(
                *(self._deliver(s, message, group, identity) for s in pending)
            )
        outcomes = dict(zip(pending, results, strict=True))
        sinks = dict.fromkeys(targets, "duplicate") | {s: r for s, (r, _) in outcomes.items()}
        failures = {s: r for s, r in sinks.items() if r not in ("delivered", "duplicate")}
        log.info(
            "notification",
            outcome="failed" if failures else "delivered",
            explained=outcome.text is not None,
            reused=outcome.reused,
            error=outcome.error,
            backend=outcome.backend,
            model=outcome.model,
            sinks=sinks,
            explain_seconds=round(explained_at - started, 3),
            total_seconds=round(time.perf_counter() - started, 3),
        )
        self._metrics.notifications_processed.labels(
            route.name, "failed" if failures else "delivered"
        ).inc()
        record.finish("failed" if failures else "delivered", time.perf_counter() - started)
        if failures:
            raise DeliveryFailed(failures, frozenset(s for s, (_, f) in outcomes.items() if f))
        return DeliveryReport(
            route.name,
            outcome.text is not None,
            outcome.reused,
            outcome.error,
            sinks,
            message.explained_at,
            outcome.backend,
        )

    async def _already_delivered(self, group: str, identity: str, sink: str) -> bool:
        # Only the group's last delivered state counts: a retry or the HA peer's copy matches
        # it, while a flap back to an earlier state (firing, resolved, firing...) does not.
        return await self._state.get(f"delivered:{sink}:{group}") == identity

    async def _deliver(
        self, sink_name: str, message: Message, group: str, identity: str
    ) -> tuple[str, bool]:
        """Send to one sink: "delivered" or why it failed, and whether that failure is final.

        Never raises.
        """
        sink = self._sinks[sink_name]
        record = self._records[identity]
        started = time.perf_counter()
        try:
            rendered = sink.render(message)
            record.rendered(sink_name, rendered)
            await sink.send(message, rendered)
        except SinkError as exc:
            logger.warning(
                "delivery_failed", sink=sink_name, error=str(exc), retryable=exc.retryable
            )
            result, final = str(exc), not exc.retryable
        except Exception as exc:  # a bug in one sink must not lose the others' deliveries
            logger.exception("delivery_crashed", sink=sink_name)
            result, final = f"sink {sink_name!r} failed unexpectedly ({type(exc).__name__})", False
        else:
            await self._state.put(
                f"delivered:{sink_name}:{group}", identity, self._settings.delivery.dedup_window
            )
            result, final = "delivered", False
        seconds = time.perf_counter() - started
        record.delivered(sink_name, result, seconds)
        self._metrics.delivery_duration.labels(sink_name).observe(seconds)
        self._metrics.deliveries.labels(
            sink_name, "ok" if result == "delivered" else "failed"
        ).inc()
        return result, final
