"""Parsing Alertmanager's webhook payload (version 4) and identifying notifications."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.alertmanager import parse_notification
from alert_explainer.errors import PayloadError

SAMPLE = Path(__file__).parent.parent / "examples" / "alertmanager-payload.json"


@pytest.fixture
def payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text())
    return data


def encode(data: object) -> bytes:
    return json.dumps(data).encode()


def test_the_real_alertmanager_sample_parses(payload: dict[str, Any]) -> None:
    n = parse_notification(encode(payload))
    assert n.status == "firing"
    assert n.receiver == "explain"
    assert [a.fingerprint for a in n.alerts] == ["36459e5e9803c685", "48cfde8f6cb42e6e"]
    assert n.alerts[0].name == "KubePodCrashLooping"
    assert n.alerts[0].severity == "critical"
    assert n.group_labels == {"alertname": "KubePodCrashLooping", "namespace": "payments"}
    assert n.raw == payload


def test_nanosecond_timestamps_parse_and_the_go_zero_time_means_unset(
    payload: dict[str, Any],
) -> None:
    alert = parse_notification(encode(payload)).alerts[0]
    assert alert.starts_at is not None
    assert alert.starts_at.isoformat() == "2026-11-25T16:19:53.573520+00:00"
    assert alert.ends_at is None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe{}", 400, "not valid"),
        (b"[]", 422, "expected a JSON object"),
        (b'{"status": "firing"}', 422, "alerts: Field required"),
        (b'{"status": "firing", "alerts": {}}', 422, "alerts: Input should be a valid list"),
        (b'{"status": "burning", "alerts": []}', 422, "status: Input should be 'firing' or"),
        (
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}}]}',
            422,
            "alerts.0.labels.a: Input should be a valid string",
        ),
        (b'{"version": "3", "status": "firing", "alerts": []}', 422, "unsupported webhook version"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(body: bytes, status: int, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(body)
    assert caught.value.status == status
    assert message in str(caught.value)


def test_deeply_nested_json_is_a_clear_400_not_a_crash() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(b"[" * 100_000 + b"]" * 100_000)
    assert caught.value.status in (400, 422)


def test_retries_and_repeats_share_an_identity(payload: dict[str, Any]) -> None:
    first = parse_notification(encode(payload))
    reordered = copy.deepcopy(payload)
    reordered["alerts"].reverse()
    assert first.identity("r") == parse_notification(encode(reordered)).identity("r")


def test_a_new_alert_or_a_resolution_is_a_new_identity(payload: dict[str, Any]) -> None:
    first = parse_notification(encode(payload)).identity("r")
    resolved = copy.deepcopy(payload)
    resolved["alerts"][1]["status"] = "resolved"
    grown = copy.deepcopy(payload)
    grown["alerts"].append({**payload["alerts"][0], "fingerprint": "aaaaaaaaaaaaaaaa"})
    assert parse_notification(encode(resolved)).identity("r") != first
    assert parse_notification(encode(grown)).identity("r") != first


def test_the_same_group_on_another_route_is_another_identity(payload: dict[str, Any]) -> None:
    n = parse_notification(encode(payload))
    assert n.identity("team-a") != n.identity("team-b")


def test_changed_annotations_change_the_explanation_key(payload: dict[str, Any]) -> None:
    n = parse_notification(encode(payload))
    edited = copy.deepcopy(payload)
    edited["alerts"][0]["annotations"]["description"] = "now it is worse"
    changed = parse_notification(encode(edited))
    assert changed.identity("r") == n.identity("r")
    assert changed.state_key("r", "m", "t") != n.state_key("r", "m", "t")
    assert n.state_key("r", "m", "t") != n.state_key("r", "other-model", "t")
