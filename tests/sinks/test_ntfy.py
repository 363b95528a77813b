"""The `ntfy` sink: a plain-text push within 4,096 bytes, priority from severity."""

from __future__ import annotations

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
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


async def test_a_message_is_published_to_the_topic_at_the_server_root(
    recorder: RecordingServer,
) -> None:
    await deliver(
        settings(type="ntfy", server=recorder.url, topic="ops-alerts", token=SECRET), message()
    )

    (request,) = recorder.delivered
    assert request.path == "/"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    body = request.json()
    assert body["topic"] == "ops-alerts"
    assert body["title"] == (
        "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments "
        "Payments API pods are crash looping in namespace payments"
    )
    assert (body["priority"], body["tags"], body["markdown"]) == (5, ["rotating_light"], False)
    assert body["click"] == "https://runbooks.example.com/KubePodCrashLooping"
    assert [a["label"] for a in body["actions"]] == ["Source", "Alertmanager", "Silence"]
    assert body["message"].startswith("Payments API pods are crash looping in namespace payments")


async def test_a_resolution_is_low_priority_and_needs_no_token(recorder: RecordingServer) -> None:
    await deliver(settings(type="ntfy", server=recorder.url, topic="t"), resolved_message())

    request = recorder.delivered[0]
    assert "Authorization" not in request.headers
    assert (request.json()["priority"], request.json()["tags"]) == (2, ["white_check_mark"])


async def test_text_is_sent_as_plain_text_unchanged(recorder: RecordingServer) -> None:
    await deliver(settings(type="ntfy", server=recorder.url, topic="t"), hostile_message())

    body = recorder.delivered[0].json()
    assert body["markdown"] is False
    assert HOSTILE in body["message"]


async def test_a_500_alert_group_with_a_10_kb_explanation_fits_4096_bytes(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="ntfy", server=recorder.url, topic="t"), storm_message())

    body = recorder.delivered[0].json()
    assert len(body["message"].encode()) <= 4096
    assert body["title"].startswith("[FIRING:500] ")
    assert "Payments API is down for all customers" in body["title"]
    assert "… [shortened]" in body["message"]
    assert "more alerts" in body["message"]
    assert "Silence: http://vm:19093/#/silences/new" in body["message"]
