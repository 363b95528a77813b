"""Shared answers: a query every group of an alertname asks alike is sent once for all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.client import QueryResult
from alert_explainer.evidence.shared import MAX_ENTRIES, SharedAnswers
from alert_explainer.evidence.summary import Series
from alert_explainer.metrics import Metrics
from alert_explainer.transport import HttpClient
from tests.evidence.support import crash_loop_alert, gatherer, item, notification
from tests.support.prometheus import PrometheusProcess

pytestmark = pytest.mark.anyio

ANSWER = QueryResult([Series({"alertname": "X"}, ((1.0, 1.0),))])


class Asker:
    """An `ask` that counts its calls and answers when released."""

    def __init__(self, answer: QueryResult | Exception = ANSWER) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self._answer = answer

    async def __call__(self) -> QueryResult:
        self.calls += 1
        await self.release.wait()
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_groups_of_one_alertname_send_its_unpinned_history_query_once(
    cluster: PrometheusProcess, http: HttpClient
) -> None:
    # An external label Prometheus adds when sending is on the alert, not on ALERTS: the
    # pinned history finds nothing, and every group falls back to the alertname alone.
    external = {"prometheus": "monitoring/k8s"}
    groups = [
        notification(crash_loop_alert(labels=external, fingerprint=f"{n:016x}")) for n in range(3)
    ]
    metrics = Metrics(["default"], [], {})
    evidence_of = gatherer(cluster.url, http, metrics=metrics)

    now = datetime.now(UTC)
    found = await asyncio.gather(*(evidence_of.gather(group, now) for group in groups))

    for evidence in found:
        (history,) = item(evidence, "Alert history")
        assert history.startswith("KubePodCrashLooping: fired 4 times in the last 7 days")
    sent = "alert_explainer_evidence_queries_total"
    assert value(metrics, sent, source="history", outcome="empty") == 3  # each pinned query
    assert value(metrics, sent, source="history", outcome="ok") == 1  # one unpinned for all
    shared = "alert_explainer_evidence_answers_shared_total"
    assert value(metrics, shared, source="history") == 2


async def test_askers_while_a_query_is_in_flight_wait_for_its_answer() -> None:
    answers, ask = SharedAnswers(), Asker()

    waiting = [
        asyncio.create_task(answers.get("history", "q", now=100.0, max_age=60, ask=ask))
        for _ in range(3)
    ]
    await asyncio.sleep(0)
    ask.release.set()

    assert await asyncio.gather(*waiting) == [ANSWER] * 3
    assert ask.calls == 1


async def test_an_answer_serves_askers_within_max_age_and_no_later() -> None:
    answers, ask = SharedAnswers(), Asker()
    ask.release.set()

    await answers.get("history", "q", now=100.0, max_age=60, ask=ask)
    await answers.get("history", "q", now=160.0, max_age=60, ask=ask)
    assert ask.calls == 1
    await answers.get("history", "q", now=160.1, max_age=60, ask=ask)
    assert ask.calls == 2


async def test_each_answer_served_again_is_reported_with_its_source() -> None:
    reported: list[str] = []
    answers, ask = SharedAnswers(reported.append), Asker()
    ask.release.set()

    for _ in range(3):
        await answers.get("history", "q", now=100.0, max_age=60, ask=ask)

    assert reported == ["history", "history"]


async def test_an_answer_asked_before_an_alert_of_the_asker_began_firing_is_not_shared() -> None:
    answers, ask = SharedAnswers(), Asker()
    ask.release.set()

    await answers.get("history", "q", now=100.0, max_age=60, ask=ask)
    await answers.get("history", "q", now=120.0, max_age=60, ask=ask, not_before=110.0)

    assert ask.calls == 2  # the first answer cannot hold a firing that began at 110


async def test_an_asker_the_shared_query_failed_for_asks_again_with_its_own_time() -> None:
    answers = SharedAnswers()
    short = Asker(EvidenceError("timed out after 0.1 s", outcome="timeout"))
    patient = Asker()
    first = asyncio.create_task(answers.get("history", "q", now=100.0, max_age=60, ask=short))
    second = asyncio.create_task(answers.get("history", "q", now=100.0, max_age=60, ask=patient))
    await asyncio.sleep(0)
    short.release.set()
    patient.release.set()

    with pytest.raises(EvidenceError):
        await first
    assert await second == ANSWER
    assert (short.calls, patient.calls) == (1, 1)


async def test_a_failed_query_is_not_kept() -> None:
    answers = SharedAnswers()
    failing = Asker(EvidenceError("timed out after 3.0 s", outcome="timeout"))
    failing.release.set()
    with pytest.raises(EvidenceError):
        await answers.get("history", "q", now=100.0, max_age=60, ask=failing)

    healthy = Asker()
    healthy.release.set()
    assert await answers.get("history", "q", now=101.0, max_age=60, ask=healthy) == ANSWER
    assert healthy.calls == 1


async def test_an_asker_giving_up_does_not_cancel_the_answer_others_wait_for() -> None:
    answers, ask = SharedAnswers(), Asker()
    first = asyncio.create_task(answers.get("history", "q", now=100.0, max_age=60, ask=ask))
    second = asyncio.create_task(answers.get("history", "q", now=100.0, max_age=60, ask=ask))
    await asyncio.sleep(0)

    first.cancel()  # its gathering's deadline passed
    await asyncio.sleep(0)
    ask.release.set()

    assert await second == ANSWER
    assert first.cancelled()
    assert ask.calls == 1


async def test_only_the_newest_queries_are_kept() -> None:
    answers, ask = SharedAnswers(), Asker()
    ask.release.set()

    for n in range(MAX_ENTRIES + 1):
        await answers.get("history", f"q{n}", now=100.0, max_age=60, ask=ask)
    await answers.get("history", f"q{MAX_ENTRIES}", now=100.0, max_age=60, ask=ask)
    assert ask.calls == MAX_ENTRIES + 1  # the newest is still kept
    await answers.get("history", "q0", now=100.0, max_age=60, ask=ask)
    assert ask.calls == MAX_ENTRIES + 2  # the oldest was let go
