"""The `pagerduty` sink: Events API v2 trigger and resolve, one incident per group."""

from __future__ import annotations

import hashlib

import pytest

from tests.sinks.support import (
    HOSTILE,
    SECRET,
    deliver,
    hostile_message,
    message,
    resolved_message,
    settings,
    storm_message,
)
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio

GROUP_KEY = '{}:{alertname="KubePodCrashLooping", namespace="payments"}'
DEDUP_KEY = hashlib.sha256(GROUP_KEY.encode()).hexdigest()


def pagerduty(recorder: RecordingServer, **extra: object) -> object:
    recorder.default = Reply.json({"status": "success"}, status=202)
    return settings(type="pagerduty", routing_key=SECRET, api_url=recorder.url, **extra)


async def test_a_firing_group_triggers_with_the_explanation_in_custom_details(
    recorder: RecordingServer,
) -> None:
    await deliver(pagerduty(recorder), message())  # type: ignore[arg-type]

    (request,) = recorder.delivered
    assert request.path == "/v2/enqueue"
    event = request.json()
    assert set(event) == {"routing_key", "event_action", "dedup_key", "payload", "links", "client"}
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (
        SECRET,
        "trigger",
        DEDUP_KEY,
    )
    payload = event["payload"]
    assert payload["summary"] == (
        "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments: "
        "Payments API pods are crash looping in namespace payments"
    )
    assert (payload["source"], payload["severity"]) == ("alertmanager", "critical")
    details = payload["custom_details"]
    assert details["headline"] == "Payments API pods are crash looping in namespace payments"
    assert details["likely_cause"].startswith("A bad deploy")
    assert details["first_checks"] == [
        "kubectl -n payments logs api-7d9f --previous",
        "Check the KubePodCrashLooping runbook",
    ]
    assert [a["labels"] for a in details["alerts"]] == [
        "namespace=payments, pod=api-7d9f",
        "namespace=payments, pod=api-8e1a",
    ]
    assert event["links"][0] == {
        "href": "https://runbooks.example.com/KubePodCrashLooping",
        "text": "Runbook",
    }


async def test_a_resolved_group_resolves_the_same_incident(recorder: RecordingServer) -> None:
    await deliver(pagerduty(recorder), resolved_message())  # type: ignore[arg-type]

    assert recorder.delivered[0].json() == {
        "routing_key": SECRET,
        "event_action": "resolve",
        "dedup_key": DEDUP_KEY,
    }


@pytest.mark.parametrize(
    ("label", "expected"),
    [("critical", "critical"), ("warn", "warning"), ("info", "info"), ("sev9", "warning")],
)
async def test_severity_comes_from_the_label_or_the_configured_default(
    recorder: RecordingServer, label: str, expected: str
) -> None:
    m = message()
    payload = m.notification.raw | {"commonLabels": {"severity": label}}
    await deliver(
        pagerduty(recorder, default_severity="warning"),  # type: ignore[arg-type]
        message(payload=payload),
    )

    assert recorder.delivered[0].json()["payload"]["severity"] == expected


async def test_text_is_plain_json_carried_unchanged(recorder: RecordingServer) -> None:
    await deliver(pagerduty(recorder), hostile_message())  # type: ignore[arg-type]

    details = recorder.delivered[0].json()["payload"]["custom_details"]
    assert details["what_is_happening"] == HOSTILE


async def test_a_500_alert_group_with_a_10_kb_explanation_stays_within_512_kb(
    recorder: RecordingServer,
) -> None:
    await deliver(pagerduty(recorder), storm_message())  # type: ignore[arg-type]

    request = recorder.delivered[0]
    assert len(request.body) <= 512_000
    payload = request.json()["payload"]
    assert len(payload["summary"]) <= 1024
    assert payload["summary"].startswith("[FIRING:500] ")
    assert payload["custom_details"]["headline"] == "Payments API is down for all customers"
    assert len(payload["custom_details"]["alerts"]) == 500
