"""The `opsgenie` sink: create an alert per group (alias), close it when resolved."""

from __future__ import annotations

import hashlib

import pytest

from tests.sinks.support import (
    SECRET,
    deliver,
    message,
    resolved_message,
    settings,
    storm_message,
)
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio

ALIAS = hashlib.sha256(b'{}:{alertname="KubePodCrashLooping", namespace="payments"}').hexdigest()


def opsgenie(recorder: RecordingServer) -> object:
    recorder.default = Reply.json({"result": "Request will be processed"}, status=202)
    return settings(type="opsgenie", api_key=SECRET, api_url=recorder.url)


async def test_a_firing_group_creates_an_alert_with_the_explanation(
    recorder: RecordingServer,
) -> None:
    await deliver(opsgenie(recorder), message())  # type: ignore[arg-type]

    (request,) = recorder.delivered
    assert request.path == "/v2/alerts"
    assert request.headers["Authorization"] == f"GenieKey {SECRET}"
    body = request.json()
    assert body["message"] == "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments"
    assert (body["alias"], body["priority"], body["source"]) == (ALIAS, "P1", "alert-explainer")
    assert body["tags"] == [
        "alertname=KubePodCrashLooping",
        "namespace=payments",
        "alert-explainer",
    ]
    assert body["details"]["headline"] == (
        "Payments API pods are crash looping in namespace payments"
    )
    assert body["description"].startswith(
        "Payments API pods are crash looping in namespace payments\n\n"
    )
    assert "Likely cause\nA bad deploy" in body["description"]


async def test_a_resolved_group_closes_the_alert_by_alias(recorder: RecordingServer) -> None:
    await deliver(opsgenie(recorder), resolved_message())  # type: ignore[arg-type]

    (request,) = recorder.delivered
    assert request.path == f"/v2/alerts/{ALIAS}/close"
    assert request.query == {"identifierType": "alias"}
    assert request.json()["source"] == "alert-explainer"


async def test_a_500_alert_group_with_a_10_kb_explanation_fits_the_field_limits(
    recorder: RecordingServer,
) -> None:
    await deliver(opsgenie(recorder), storm_message())  # type: ignore[arg-type]

    body = recorder.delivered[0].json()
    assert len(body["message"]) <= 130
    assert body["message"].startswith("[FIRING:500] ")
    assert len(body["description"]) <= 15_000
    assert len(body["alias"]) <= 512
    assert len(body["tags"]) <= 20
    assert all(len(t) <= 50 for t in body["tags"])
    assert sum(len(k) + len(v) for k, v in body["details"].items()) <= 8000
    assert body["description"].startswith("Payments API is down for all customers")
    assert "… and 450 more alerts" in body["description"]
    assert "Silence: http://vm:19093/" in body["description"]
