"""The `webhook` sink: the documented JSON document, version 1 or 2."""

from __future__ import annotations

import pytest

from tests.sinks.support import (
    HOSTILE,
    deliver,
    fixture_payload,
    hostile_message,
    message,
    settings,
    storm_message,
)
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


async def test_version_1_is_the_default_and_unchanged(recorder: RecordingServer) -> None:
    await deliver(
        settings(type="webhook", url=recorder.url, headers={"X-Token": "t"}), message("Text.")
    )

    request = recorder.delivered[0]
    assert request.headers["X-Token"] == "t"
    assert request.json() == {
        "version": "1",
        "route": "default",
        "receiver": "explain",
        "status": "firing",
        "groupKey": fixture_payload()["groupKey"],
        "summary": "Text.",
        "explained": True,
        "error": None,
        "model": "test-model",
        "backend": "test-backend",
        "reused": False,
        "explainedAt": None,
        "reuse": None,
        "evidence": [],
        "alertmanager": fixture_payload(),
    }


async def test_version_2_carries_the_explanation_parts_facts_and_links(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="webhook", url=recorder.url, version=2), message())

    document = recorder.delivered[0].json()
    assert set(document) == {
        "version",
        "route",
        "receiver",
        "status",
        "groupKey",
        "title",
        "explained",
        "error",
        "model",
        "backend",
        "reused",
        "explainedAt",
        "reuse",
        "explanation",
        "notes",
        "notice",
        "evidence",
        "facts",
        "links",
        "alertmanager",
    }
    assert document["version"] == "2"
    assert document["title"] == "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments"
    assert document["explanation"] == {
        "text": message().explanation.strip(),  # type: ignore[union-attr]
        "structured": True,
        "shortened": False,
        "headline": "Payments API pods are crash looping in namespace payments",
        "whatIsHappening": "Two api pods restart repeatedly, so part of the payments traffic "
        "fails.",
        "likelyCause": "A bad deploy or a missing secret makes the container exit at start-up.",
        "firstChecks": [
            "kubectl -n payments logs api-7d9f --previous",
            "Check the KubePodCrashLooping runbook",
        ],
    }
    assert document["facts"] == {
        "severity": "critical",
        "firing": 2,
        "resolved": 0,
        "notSent": 0,
        "groupLabels": {"alertname": "KubePodCrashLooping", "namespace": "payments"},
    }
    assert [link["label"] for link in document["links"]] == [
        "Runbook",
        "Source",
        "Alertmanager",
        "Silence",
    ]
    assert document["alertmanager"] == fixture_payload()


async def test_json_text_is_carried_unchanged(recorder: RecordingServer) -> None:
    await deliver(settings(type="webhook", url=recorder.url, version=2), hostile_message())

    assert recorder.delivered[0].json()["explanation"]["headline"] == HOSTILE


async def test_version_2_with_max_bytes_shortens_then_leaves_alerts_out(
    recorder: RecordingServer,
) -> None:
    await deliver(
        settings(type="webhook", url=recorder.url, version=2, max_bytes=65_536), storm_message()
    )

    request = recorder.delivered[0]
    assert len(request.body) <= 65_536
    document = request.json()
    assert document["title"].startswith("[FIRING:500] ")
    assert document["explanation"]["headline"] == "Payments API is down for all customers"
    assert document["explanation"]["shortened"] is True
    kept = len(document["alertmanager"]["alerts"])
    assert 0 < kept < 500
    assert document["alertmanager"]["truncatedAlerts"] == 500 - kept
