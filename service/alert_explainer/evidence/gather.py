"""Gathering: every source for one notification at once, under one deadline and budget.

Parts run in parallel: the alert expression (per distinct expression), the recipes (per
alert and recipe), the history (per alertname) and the co-firing alerts. A part that
fails, is refused or runs out of time becomes one line, "evidence unavailable: <source>:
<reason>"; when every Prometheus part fails alike, that is said once for "prometheus".
The result is redacted like the alert (label names the redaction drops never appear) and
fitted to `max_bytes`. It never raises: evidence is an enhancement, never in the way.

In a storm, a gathering beyond `concurrency` at once is skipped at once, with one line
saying so: evidence is the step that costs the service most CPU (a dozen queries and their
answers), and thousands of gatherings would saturate the event loop, hold memory and
mostly time out in the queue for the query slots.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.catalogue import shipped
from alert_explainer.config.evidence import EvidenceSettings
from alert_explainer.errors import EvidenceError
from alert_explainer.evidence import cofiring, expression, history, recipes
from alert_explainer.evidence.client import PrometheusClient, QueryApi
from alert_explainer.evidence.external import ExternalLabels
from alert_explainer.evidence.model import Evidence, EvidenceItem, unavailable
from alert_explainer.evidence.queries import MAX_CONCURRENT_QUERIES, Queries
from alert_explainer.evidence.recipes import MatchedRecipes, RecipeSource
from alert_explainer.evidence.shared import SharedAnswers
from alert_explainer.metrics import Metrics
from alert_explainer.redact import NAMED_CREDENTIAL_RULE, Redactor
from alert_explainer.transport import HttpClient

logger = structlog.get_logger("alert_explainer.evidence")

MAX_EXPRESSIONS = 3
MAX_ALERTNAMES = 3
MAX_RECIPE_RUNS = 12
_SECRET = f"[REDACTED:{NAMED_CREDENTIAL_RULE}]"


@dataclass(frozen=True, slots=True)
class Part:
    """One thing to gather: `label` names it in an "unavailable" line."""

    source: str
    label: str
    run: Callable[[], Awaitable[EvidenceItem | None]]
    prometheus: bool = True


class Gatherer:
    """Gathers the evidence for notifications; one per process, shared by every route."""

    def __init__(
        self,
        settings: EvidenceSettings,
        http: HttpClient,
        *,
        redactor: Redactor,
        metrics: Metrics | None = None,
        sources: Sequence[RecipeSource] | None = None,
    ) -> None:
        self._settings = settings
        prometheus = QueryApi(http, settings.prometheus, "prometheus")
        self._prometheus = PrometheusClient(prometheus)
        self._external = ExternalLabels(prometheus)
        self._alertmanager = (
            QueryApi(http, settings.alertmanager, "alertmanager")
            if settings.alertmanager is not None
            else None
        )
        self._redactor = redactor
        self._metrics = metrics
        configured = MatchedRecipes.from_settings(settings.recipes)
        # By default the configured recipes, then the shipped catalogue's (the app passes the
        # catalogue in effect instead, with the configured entries).
        default: list[RecipeSource] = [configured, shipped()]
        self._sources = list(sources) if sources is not None else default
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)
        self._shared = SharedAnswers(self._record_shared)
        self._window = promql_duration(settings.lookback)
        self._gatherings = 0

    async def gather(self, notification: Notification, now: datetime) -> Evidence:
        """The evidence for `notification` as of `now`, within the timeout and byte budget."""
        limit = self._settings.concurrency
        if self._gatherings >= limit:
            if self._metrics is not None:
                self._metrics.evidence_skipped.inc()
            busy = f"skipped, {limit} notifications are gathering evidence already"
            logger.info("evidence_skipped", group_key=notification.group_key, reason=busy)
            return Evidence((unavailable("evidence", "all sources", busy),))
        self._gatherings += 1
        try:
            return await self._gather(notification, now)
        finally:
            self._gatherings -= 1

    async def external_labels(self) -> Mapping[str, str]:
        """The query API's external labels, once its first reading has ended."""
        return await self._external.read()

    async def _gather(self, notification: Notification, now: datetime) -> Evidence:
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self._settings.timeout
        queries = Queries(
            self._prometheus,
            self._alertmanager,
            self._slots,
            deadline,
            self._policy,
            self._record,
            self._shared,
            external=self._external.known(),
        )
        parts = self._parts(queries, notification, now.timestamp())
        items = await self._run(parts)
        evidence, counts = Evidence(tuple(_collapsed(items, parts))).redacted(self._redactor)
        evidence = evidence.fitted(self._settings.max_bytes)
        seconds = time.perf_counter() - started
        self._count(evidence, counts, seconds)
        logger.info(
            "evidence",
            group_key=notification.group_key,
            items=len(evidence),
            unavailable=[line for i in evidence if i.unavailable for line in i.lines],
            queries=queries.count,
            bytes=evidence.size,
            seconds=round(seconds, 3),
        )
        return evidence

    def _parts(self, queries: Queries, notification: Notification, now: float) -> list[Part]:
        alerts = notification.firing or notification.alerts
        at = _moment(notification, now)
        lookback = self._settings.lookback
        parts: list[Part] = []
        by_expression: dict[str, list[Alert]] = {}
        for alert in alerts:
            found = expression.expression_of(alert.generator_url)
            if found is not None:
                by_expression.setdefault(found, []).append(alert)
        for expr, members in list(by_expression.items())[:MAX_EXPRESSIONS]:
            parts.append(
                Part(
                    expression.SOURCE,
                    "alert expression",
                    _bind(expression.expression_item, queries, expr, members, lookback, at, now),
                )
            )
        chosen, failed = recipes.runs(self._sources, alerts, self._window, limit=MAX_RECIPE_RUNS)
        for run in chosen:
            parts.append(
                Part(
                    recipes.SOURCE,
                    f"recipe {run.recipe.name}",
                    _bind_recipe(queries, run, at, lookback, now),
                )
            )
        for recipe, reason in failed:
            parts.append(Part(recipes.SOURCE, f"recipe {recipe.name}", _fails(reason)))
        names: dict[str, list[Alert]] = {}
        for alert in alerts:
            names.setdefault(alert.name, []).append(alert)
        for name, members in list(names.items())[:MAX_ALERTNAMES]:
            parts.append(
                Part(history.SOURCE, "history", _bind_history(queries, name, members, now))
            )
        if self._alertmanager is not None:
            parts.append(
                Part(
                    cofiring.SOURCE,
                    "alertmanager",
                    lambda: cofiring.cofiring_item(queries, alerts),
                    prometheus=False,
                )
            )
        return parts

    async def _run(self, parts: Sequence[Part]) -> list[EvidenceItem | None]:
        tasks = [asyncio.create_task(self._attempt(part)) for part in parts]
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks, timeout=self._settings.timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        timeout = f"timed out after {self._settings.timeout:g} s"
        return [
            unavailable(p.source, p.label, timeout) if t in pending else t.result()
            for p, t in zip(parts, tasks, strict=True)
        ]

    async def _attempt(self, part: Part) -> EvidenceItem | None:
        try:
            return await part.run()
        except EvidenceError as exc:
            return unavailable(part.source, part.label, exc.reason)
        except Exception:  # a bug in one part must not lose the others' evidence
            logger.exception("evidence_part_crashed", part=part.label)
            return unavailable(part.source, part.label, "internal error")

    def _policy(self, labels: Mapping[str, str]) -> dict[str, str]:
        """Series labels as the redaction allows them: names dropped or values masked."""
        shown = {}
        for name, value in labels.items():
            if not self._redactor.keeps(name):
                continue
            shown[name] = _SECRET if self._redactor.is_secret_name(name) else value
        return shown

    def _record(self, source: str, outcome: str, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.evidence_queries.labels(source, outcome).inc()
            self._metrics.evidence_query_duration.labels(source).observe(seconds)

    def _record_shared(self, source: str) -> None:
        if self._metrics is not None:
            self._metrics.evidence_answers_shared.labels(source).inc()

    def _count(self, evidence: Evidence, counts: Counter[str], seconds: float) -> None:
        if self._metrics is None:
            return
        self._metrics.evidence_bytes.inc(evidence.size)
        self._metrics.evidence_duration.observe(seconds)
        for rule, count in counts.items():
            self._metrics.redactions.labels(rule).inc(count)


def _collapsed(items: Sequence[EvidenceItem | None], parts: Sequence[Part]) -> list[EvidenceItem]:
    """The items, with one "prometheus: <reason>" line when every Prometheus part failed alike."""
    kept = [(item, part) for item, part in zip(items, parts, strict=True) if item is not None]
    from_prometheus = [(i, p) for i, p in kept if p.prometheus]
    reasons = {_reason(i) for i, _ in from_prometheus if i.unavailable}
    if (
        len(from_prometheus) > 1
        and len(reasons) == 1
        and all(i.unavailable for i, _ in from_prometheus)
    ):
        (reason,) = reasons
        first = True
        result = []
        for item, part in kept:
            if part.prometheus:
                if first:
                    result.append(unavailable("prometheus", "prometheus", reason))
                    first = False
            else:
                result.append(item)
        return result
    return [item for item, _ in kept]


def _reason(item: EvidenceItem) -> str:
    # "evidence unavailable: <label>: <reason>" -> "<reason>"
    return item.lines[0].split(": ", 2)[-1]


def _moment(notification: Notification, now: float) -> float:
    """When to look: now, or when a resolved group ended."""
    if notification.status != "resolved":
        return now
    ends = [a.ends_at.timestamp() for a in notification.alerts if a.ends_at is not None]
    return min(max(ends), now) if ends else now


def promql_duration(seconds: float) -> str:
    whole = max(1, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _bind(
    function: Callable[..., Awaitable[EvidenceItem]],
    queries: Queries,
    expr: str,
    alerts: list[Alert],
    lookback: float,
    at: float,
    now: float,
) -> Callable[[], Awaitable[EvidenceItem]]:
    return lambda: function(queries, expr, alerts, lookback=lookback, end=at, now=now)


def _bind_recipe(
    queries: Queries, run: recipes.RecipeRun, at: float, lookback: float, now: float
) -> Callable[[], Awaitable[EvidenceItem]]:
    return lambda: recipes.recipe_item(queries, run, at=at, lookback=lookback, now=now)


def _bind_history(
    queries: Queries, name: str, alerts: list[Alert], now: float
) -> Callable[[], Awaitable[EvidenceItem]]:
    return lambda: history.history_item(queries, name, alerts, now=now)


def _fails(reason: str) -> Callable[[], Awaitable[EvidenceItem]]:
    async def fail() -> EvidenceItem:
        raise EvidenceError(reason, outcome="invalid")

    return fail
