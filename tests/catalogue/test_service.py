"""The catalogue in the running service: the prompt's reference notes, alerts never explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ServiceFactory
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import group
from tests.support.recorder import RecordingServer

SAMPLE = Path(__file__).parent.parent.parent / "examples" / "alertmanager-payload.json"


def watchdog() -> dict[str, Any]:
    alert = {
        "status": "firing",
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "An alert that should always be firing."},
        "startsAt": "2026-11-25T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "1111111111111111",
    }
    return group([alert], {"alertname": "Watchdog"})


def test_the_prompt_carries_the_notes_as_reference_after_the_alert_data(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    assert service.post_payload(json.loads(SAMPLE.read_text())).status == 200

    (call,) = clanker.calls
    system, user = (m["content"] for m in call.json()["messages"])
    assert "Reference notes after the alert data describe such alerts in general" in system
    data_ends = user.index("</alert-data>")
    notes = user.index("Reference notes from alert-explainer's catalogue")
    assert notes > data_ends  # our own text, outside the untrusted block
    assert "KubePodCrashLooping: The container has exited again and again" in user[notes:]
    assert "Usual causes: the process runs out of memory" in user[notes:]
    # The model reads the labels itself: the checks keep their placeholders.
    assert "First checks: kubectl -n <namespace> describe pod <pod>" in user[notes:]


def test_watchdog_is_delivered_as_it_is_without_a_call_and_counted(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    result = service.post_payload(watchdog())

    assert result.status == 200
    assert result.json["explained"] is False
    assert result.json["error"] is None
    assert clanker.calls == []
    (delivered,) = recorder.delivered
    document = delivered.json()
    assert document["error"] is None
    assert not document["summary"].startswith("explanation unavailable")
    metrics = service.metrics_text()
    assert 'alert_explainer_explanations_not_needed_total{route="default"} 1.0' in metrics
    assert "alert_explainer_watchdog_last_received_timestamp_seconds 0.0" not in metrics


def test_a_402_delivers_the_notes_in_place_of_the_explanation(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, api_key="test-free-key")
    service = service_factory(config)

    result = service.post_payload(json.loads(SAMPLE.read_text()))

    assert result.json["error"] == "paid account required"
    summary = recorder.delivered[0].json()["summary"]
    assert summary.startswith(
        "explanation unavailable: paid account required\n\n"
        "Not written by a model: alert-explainer's built-in catalogue on KubePodCrashLooping.\n\n"
        "What it means: The container has exited again and again"
    )
    assert "First checks:\n- kubectl -n payments describe pod <pod>" in summary
