"""One gathering's access to the sources: every query under its deadline, counted.

Each query gets the time left before the gathering's deadline (and tells Prometheus, so
an expensive query stops there too). A process-wide limit on queries in flight keeps a
storm of notifications from becoming a storm of queries; waiting for a slot uses the same
deadline. A query every notification of an alertname asks alike can be shared
(shared.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.client import PrometheusClient, QueryApi, QueryResult
from alert_explainer.evidence.shared import SharedAnswers
from alert_explainer.evidence.summary import LabelPolicy
from alert_explainer.transport import HttpResponse

T = TypeVar("T")

# Queries in flight per process, across all notifications.
MAX_CONCURRENT_QUERIES = 16
# Stop each query a little before the gathering's deadline, so its own timeout (with a
# clear reason) fires before the gathering gives up on it.
MARGIN = 0.05

Recorder = Callable[[str, str, float], None]  # (source, outcome, seconds)


@dataclass
class Queries:
    """The sources one gathering reads, its deadline (loop time) and what it counts."""

    prometheus: PrometheusClient
    alertmanager: QueryApi | None
    slots: asyncio.Semaphore
    deadline: float
    policy: LabelPolicy
    record: Recorder
    shared: SharedAnswers
    external: Mapping[str, str] = field(default_factory=dict)  # the API's external labels
    count: int = field(default=0)

    def remaining(self) -> float:
        """Seconds left for the next query."""
        return self.deadline - asyncio.get_running_loop().time() - MARGIN

    async def instant(self, source: str, query: str, at: float) -> QueryResult:
        """An instant query, counted under `source`."""
        return await self._run(
            source, lambda t: self.prometheus.instant(query, at, timeout=t), _outcome
        )

    async def range(
        self,
        source: str,
        query: str,
        start: float,
        end: float,
        step: int,
        *,
        share_for: float = 0.0,
        not_before: float = 0.0,
    ) -> QueryResult:
        """A range query, counted under `source`.

        With `share_for`, the answer another gathering got to the same query (and step)
        ending at most that many seconds before `end`, and not before `not_before`,
        serves, or the one still coming.
        """

        def ask() -> Awaitable[QueryResult]:
            return self._run(
                source,
                lambda t: self.prometheus.range(query, start, end, step, timeout=t),
                _outcome,
            )

        if share_for <= 0:
            return await ask()
        key = ("range", query, step, end - start)
        return await self.shared.get(
            source, key, now=end, not_before=not_before, max_age=share_for, ask=ask
        )

    async def alerts(self, params: Sequence[tuple[str, str]]) -> HttpResponse:
        """GET Alertmanager's /api/v2/alerts with `params`."""
        api = self.alertmanager
        assert api is not None
        return await self._run(
            "alertmanager",
            lambda t: api.call("/api/v2/alerts", params, timeout=t),
            lambda response: "ok" if response.status == 200 else "error",
        )

    async def _run(
        self,
        source: str,
        call: Callable[[float], Awaitable[T]],
        outcome: Callable[[T], str],
    ) -> T:
        started = time.perf_counter()
        self.count += 1
        try:
            async with self.slots:
                left = self.remaining()
                if left <= 0:
                    raise EvidenceError("no time left before the deadline", outcome="timeout")
                result = await call(left)
        except EvidenceError as exc:
            self.record(source, exc.outcome, time.perf_counter() - started)
            raise
        except asyncio.CancelledError:  # the gathering's deadline passed
            self.record(source, "timeout", time.perf_counter() - started)
            raise
        self.record(source, outcome(result), time.perf_counter() - started)
        return result


def _outcome(result: QueryResult) -> str:
    return "ok" if result.series else "empty"
