"""The situation rule: when a group's explanation still applies, and what changed since."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import InferenceSettings
from alert_explainer.metrics import Metrics
from alert_explainer.since import Since, member_noun
from alert_explainer.situation import Record, Rule, Situation, Situations, escalated
from alert_explainer.store import MemoryStore
from tests.support.payloads import CRASHLOOP_GROUP, churning, group, pod_alert

RULE = Rule(window=3600.0, growth=2.0)
T0 = datetime(2026, 11, 25, 10, 5, tzinfo=UTC).timestamp()


def parsed(payload: dict[str, Any]) -> Notification:
    return parse_notification(json.dumps(payload).encode())


def situation(payload: dict[str, Any]) -> Situation:
    return Situation.of("default", parsed(payload))


def pods(*names: str, **alert: Any) -> dict[str, Any]:
    return group([pod_alert(name, **alert) for name in names], CRASHLOOP_GROUP)


def record_of(payload: dict[str, Any], at: float = T0) -> Record:
    return Record.made(situation(payload), '{"text": "explained"}', at, at)


def since(explained: dict[str, Any], now: dict[str, Any], at: float = T0) -> Since:
    """What changed from the state an explanation was made for to `now`, seen at `at`."""
    seen = situation(now).seen(at)
    return Since.between(record_of(explained).seen, seen, member_noun(parsed(now)))


def test_pods_replaced_in_the_same_situation_reuse_the_explanation() -> None:
    first, *later = churning(12)
    record = record_of(first)

    decisions = [RULE.decide(record, situation(p), T0 + 60 * i) for i, p in enumerate(later)]

    assert all(d.reuse for d in decisions)
    assert {d.reason for d in decisions} == {"members_changed"}


def test_the_same_alerts_with_other_annotation_values_reuse_it_as_details_changed() -> None:
    payload = pods("web-0", "web-1")
    record = record_of(payload)
    payload["alerts"][0]["annotations"]["description"] = "restarting 9 times / 10m"

    decision = RULE.decide(record, situation(payload), T0 + 60)

    assert (decision.reuse, decision.reason) == (True, "details_changed")


def test_a_group_without_a_record_is_explained_without_a_trigger() -> None:
    decision = RULE.decide(None, situation(pods("web-0")), T0)

    assert (decision.reuse, decision.trigger) == (False, None)


@pytest.mark.parametrize(
    ("later", "trigger"),
    [
        (
            group(
                [pod_alert("web-0"), pod_alert("web-1", alertname="KubePodNotReady")],
                {"namespace": "shop"},
            ),
            "alertname",
        ),
        (pods("web-0", "web-1", severity="critical"), "severity"),
        (pods(*(f"web-{i}" for i in range(5))), "growth"),
    ],
    ids=["alertname", "severity", "growth"],
)
def test_a_changed_situation_is_explained_again_with_its_trigger(
    later: dict[str, Any], trigger: str
) -> None:
    record = record_of(group([pod_alert("web-0"), pod_alert("web-1")], {"namespace": "shop"}))

    decision = RULE.decide(record, situation(later), T0 + 60)

    assert (decision.reuse, decision.trigger) == (False, trigger)


def test_growth_up_to_the_factor_is_the_same_situation_and_past_it_is_not() -> None:
    record = record_of(pods("web-0", "web-1"))

    at_factor = RULE.decide(record, situation(pods("web-0", "web-1", "web-2", "web-3")), T0)
    past_it = RULE.decide(record, situation(pods(*(f"web-{i}" for i in range(5)))), T0)

    assert at_factor.reuse
    assert (past_it.reuse, past_it.trigger) == (False, "growth")


def test_fewer_alertnames_and_a_lower_severity_still_reuse_it() -> None:
    record = record_of(
        group(
            [pod_alert("web-0", severity="critical"), pod_alert("web-1", alertname="PodNotReady")],
            {"namespace": "shop"},
        )
    )

    decision = RULE.decide(record, situation(pods("web-0", severity="warning")), T0 + 60)

    assert decision.reuse


def test_an_explanation_older_than_the_window_is_made_again() -> None:
    record = record_of(pods("web-0"))

    assert RULE.decide(record, situation(pods("web-1")), T0 + 3599).reuse
    late = RULE.decide(record, situation(pods("web-1")), T0 + 3600)
    assert (late.reuse, late.trigger) == (False, "expired")


def test_a_group_that_resolved_since_is_explained_again_when_it_fires() -> None:
    ended = replace(record_of(pods("web-0")), resolved=True)

    decision = RULE.decide(ended, situation(pods("web-1")), T0 + 60)

    assert (decision.reuse, decision.trigger) == (False, "refired")


@pytest.mark.parametrize(
    ("before", "now", "escalates"),
    [
        ("warning", "critical", True),
        ("critical", "warning", False),
        ("info", "WARNING", True),
        ("", "info", True),
        ("warning", "sev-x", True),  # unknown: counted as a rise
        ("sev-x", "critical", False),
        ("sev-x", "sev-y", True),
        ("sev-x", "SEV-X", False),
    ],
)
def test_severity_escalation(before: str, now: str, escalates: bool) -> None:
    assert escalated(before, now) is escalates


def test_the_note_tells_the_age_and_what_changed_since() -> None:
    explained = pods("web-0", "web-1", "web-2", "web-3")
    now = pods("web-2", "web-3", "web-4", "web-5", "web-6")
    at = T0 + 35 * 60

    assert since(explained, now, at).note == (
        "explanation from 10:05 UTC (35 min ago), still applies: "
        "5 pods firing now, 3 new since, 2 resolved"
    )


@pytest.mark.parametrize(
    ("explained", "now", "changes"),
    [
        (("web-0",), ("web-0",), "1 pod firing now, the same as then"),
        (("web-0",), ("web-0", "web-1"), "2 pods firing now, 1 new since"),
        (("web-0", "web-1"), ("web-1",), "1 pod firing now, 1 resolved since"),
    ],
)
def test_the_note_counts_in_singular_and_plural(
    explained: tuple[str, ...], now: tuple[str, ...], changes: str
) -> None:
    note = since(pods(*explained), pods(*now)).note

    assert note == f"explanation from 10:05 UTC (under a minute ago), still applies: {changes}"


def test_the_note_of_an_older_explanation_gives_its_date_and_hours() -> None:
    at = T0 + 26 * 3600 + 7 * 60

    note = since(pods("web-0"), pods("web-1"), at).note

    assert note.startswith("explanation from 2026-11-25 10:05 UTC (1 d 2 h ago), ")


def test_with_alerts_left_out_the_note_compares_counts_only() -> None:
    payload = pods("web-0", "web-1", "web-2")
    payload["truncatedAlerts"] = 7

    assert since(pods("web-0"), payload).changes == "10 pods firing now, 1 then"


@pytest.mark.parametrize(
    ("labels", "noun"),
    [
        ([{"pod": "a", "instance": "ksm:8080"}, {"pod": "b", "instance": "ksm:8080"}], "pods"),
        (
            [{"instance": "n1:9100", "job": "node"}, {"instance": "n2:9100", "job": "node"}],
            "instances",
        ),
        ([{"queue": "orders"}, {"queue": "refunds"}], "queues"),
        ([{"queue": "a", "topic": "x"}, {"queue": "b", "topic": "y"}], "alerts"),
        ([{"Queue_Name": "a"}, {"Queue_Name": "b"}], "alerts"),  # not a plain word
        ([{"mountpoint": "/"}, {"mountpoint": "/var"}], "mount points"),
        ([{"x": "same"}, {"x": "same"}], "alerts"),
        ([{"pod": "a", "job": "kube-state-metrics"}], "pods"),  # one alert: its best label
    ],
)
def test_the_noun_is_the_label_that_tells_the_alerts_apart(
    labels: list[dict[str, str]], noun: str
) -> None:
    alerts = [
        {"status": "firing", "labels": {"alertname": "A", "namespace": "shop", **extra}}
        for extra in labels
    ]
    payload = {"status": "firing", "alerts": alerts, "groupLabels": {"namespace": "shop"}}

    assert member_noun(parsed(payload)).plural == noun


def test_a_record_survives_the_state_store_and_an_unreadable_one_is_none() -> None:
    record = record_of(pods("web-0", "web-1"))

    assert Record.loads(record.dumps()) == record
    assert Record.loads('{"explained_at": "soon"}') is None
    assert Record.loads(replace(record, outcome='{"text": null}').dumps()) is None
    assert Record.loads(replace(record, outcome="[").dumps()) is None
    assert Record.loads("not json") is None
    assert Record.loads(None) is None


def situations(window: str = "1h") -> Situations:
    settings = InferenceSettings.model_validate({"reexplain_after": window})
    return Situations(settings, MemoryStore(), Metrics(["default"], [], {}), ["default"])


@pytest.mark.anyio
async def test_notifications_of_one_group_wait_for_its_explanation_and_reuse_it() -> None:
    service = situations()
    first, second = (parsed(p) for p in churning(2))
    calls = 0

    async def explain(notification: Notification) -> bool:
        nonlocal calls
        async with service.consult("default", "m", "v", notification) as consulted:
            if consulted.reusable() is not None:
                return True
            calls += 1
            await asyncio.sleep(0.2)  # the call; the other notification waits meanwhile
            await service.remember(consulted, '{"text": "x"}', service.now())
            return False

    reused = await asyncio.gather(explain(first), explain(second))

    assert calls == 1
    assert sorted(reused) == [False, True]


@pytest.mark.anyio
async def test_reuse_off_consults_nothing_and_remembers_nothing() -> None:
    service = situations(window="0")
    first, second = (parsed(p) for p in churning(2))

    for notification in (first, second):
        async with service.consult("default", "m", "v", notification) as consulted:
            assert consulted.reusable() is None
            await service.remember(consulted, "{}", service.now())


@pytest.mark.anyio
async def test_a_resolution_during_a_call_does_not_wait_for_it_and_still_counts() -> None:
    service = situations()
    first, later = (parsed(p) for p in churning(2))
    resolved = parsed(pods("web-0", "web-1", status="resolved"))

    async with service.consult("default", "m", "v", first) as consulted:
        await asyncio.wait_for(service.end("default", "m", "v", resolved), timeout=1.0)
        await service.remember(consulted, '{"text": "x"}', service.now())
    async with service.consult("default", "m", "v", later) as consulted:
        decision = consulted.decision

    assert (decision.reuse, decision.trigger) == (False, "refired")
