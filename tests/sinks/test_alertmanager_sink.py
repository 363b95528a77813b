"""The `alertmanager` sink against the real Alertmanager: explained alerts arrive there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alert_explainer.sinks import alertmanager
from tests.conftest import AlertmanagerFactory
from tests.sinks.support import (
    EXPLANATION,
    deliver,
    fixture_payload,
    message,
    settings,
    storm_message,
)
from tests.support import http
from tests.support.alertmanager import ReceiverSpec
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


def fresh_payload() -> dict[str, Any]:
    """The fixture as if its alerts had started a minute ago (Alertmanager then keeps them)."""
    payload = fixture_payload()
    started = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for alert in payload["alerts"]:
        alert["startsAt"] = started
    return payload


@pytest.mark.alertmanager
async def test_the_alerts_reach_another_alertmanager_with_the_explanation_annotation(
    alertmanager_factory: AlertmanagerFactory, recorder: RecordingServer
) -> None:
    other = alertmanager_factory({"downstream": ReceiverSpec(url=recorder.url)})

    await deliver(
        settings(type="alertmanager", url=other.base_url, annotation="ai_explanation"),
        message(payload=fresh_payload()),
    )

    answer = http.request("GET", f"{other.base_url}/api/v2/alerts")
    stored = sorted(json.loads(answer.body), key=lambda a: a["labels"]["pod"])
    assert [a["labels"]["pod"] for a in stored] == ["api-7d9f", "api-8e1a"]
    for alert in stored:
        assert alert["annotations"]["ai_explanation"] == EXPLANATION.strip()
    assert stored[0]["annotations"]["summary"] == "Pod payments/api-7d9f is crash looping"
    assert stored[0]["generatorURL"] == "http://prometheus:9090/graph?g0.expr=x"


async def test_the_request_is_the_postable_alerts_shape(recorder: RecordingServer) -> None:
    await deliver(settings(type="alertmanager", url=recorder.url + "/"), message())

    request = recorder.delivered[0]
    assert request.path == "/api/v2/alerts"
    first, second = request.json()
    assert first == {
        "labels": fixture_payload()["alerts"][0]["labels"],
        "annotations": {
            **fixture_payload()["alerts"][0]["annotations"],
            "explanation": EXPLANATION.strip(),
        },
        "startsAt": "2026-11-25T16:19:53.573520Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
    }
    assert "generatorURL" not in second
    assert "endsAt" not in second


async def test_an_unexplained_notification_is_forwarded_without_the_annotation(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="alertmanager", url=recorder.url), message(None))

    assert all("explanation" not in a["annotations"] for a in recorder.delivered[0].json())


async def test_a_500_alert_group_keeps_every_alert_and_a_bounded_annotation(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="alertmanager", url=recorder.url), storm_message())

    request = recorder.delivered[0]
    alerts = request.json()
    assert len(alerts) == 500
    assert len(request.body) <= alertmanager.MAX_BODY_BYTES
    assert all(len(a["annotations"]["explanation"]) <= 8192 for a in alerts)
    assert alerts[0]["annotations"]["explanation"].startswith("Headline: Payments API is down")
