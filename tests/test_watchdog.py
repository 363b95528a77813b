"""Watchdog as a dead man's switch: its arrivals and their interval become metrics."""

from __future__ import annotations

from typing import Any

from alert_explainer.alertmanager import Notification
from alert_explainer.metrics import Metrics
from alert_explainer.watchdog import WatchdogClock
from tests.support.payloads import group


def watchdog(status: str = "firing", alertname: str = "Watchdog") -> Notification:
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": alertname, "severity": "none"},
        "annotations": {"summary": "An alert that should always be firing."},
        "startsAt": "2026-11-25T10:00:00Z",
        "fingerprint": "aaaaaaaaaaaaaaaa",
    }
    return Notification.model_validate(group([alert], {"alertname": alertname}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def gauges(metrics: Metrics) -> tuple[float | None, float | None]:
    sample = metrics.registry.get_sample_value
    return (
        sample("alert_explainer_watchdog_last_received_timestamp_seconds"),
        sample("alert_explainer_watchdog_interval_seconds"),
    )


def test_each_arrival_is_recorded_and_the_gaps_give_the_interval() -> None:
    metrics, clock = Metrics([], [], {}), Clock()
    recorder = WatchdogClock(metrics, clock)

    recorder.saw(watchdog())
    assert gauges(metrics) == (clock.now, 0.0)  # one arrival tells no interval yet
    clock.now += 300
    recorder.saw(watchdog())

    assert gauges(metrics) == (clock.now, 300.0)


def test_a_retry_moves_the_last_arrival_but_not_the_interval() -> None:
    metrics, clock = Metrics([], [], {}), Clock()
    recorder = WatchdogClock(metrics, clock)
    recorder.saw(watchdog())
    clock.now += 300
    recorder.saw(watchdog())
    clock.now += 4  # Alertmanager retrying the same notification, or its HA peer's copy
    recorder.saw(watchdog())
    clock.now += 296
    recorder.saw(watchdog())

    assert gauges(metrics) == (clock.now, 300.0)


def test_other_alerts_and_a_resolved_watchdog_are_not_arrivals() -> None:
    metrics, clock = Metrics([], [], {}), Clock()
    recorder = WatchdogClock(metrics, clock)

    recorder.saw(watchdog(alertname="KubePodCrashLooping"))
    recorder.saw(watchdog(status="resolved"))

    assert gauges(metrics) == (0.0, 0.0)
