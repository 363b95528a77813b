"""Scrape scenarios (meta.yaml): TargetDown. Watchdog and InfoInhibitor have no recipes."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import ready
from tests.catalogue.shapes import alert, held
from tests.support.prometheus import History

PAYMENTS = {"job": "payments-api", "namespace": "payments", "service": "payments-api"}


def target(pod: str, ip: str) -> dict[str, str]:
    return {
        **PAYMENTS,
        "instance": f"{ip}:8080",
        "pod": pod,
        "container": "api",
        "endpoint": "metrics",
    }


@scenario(
    alert("TargetDown", "warning", PAYMENTS),
    {
        "down-targets": r"10\.244\.3\.11:8080 \(pod payments-api-7c6b5d4f3-aaaaa\) is down",
        "scrape-duration": r"10\.244\.3\.11:8080: the last scrape failed after 10\.00 s \(no ans",
        "ready-but-down": r"payments/payments-api-7c6b5d4f3-aaaaa is Ready yet cannot be scraped",
    },
)
def targets_blocked_by_a_network_policy(h: History) -> None:
    pods = (
        ("payments-api-7c6b5d4f3-aaaaa", "10.244.3.11", False, True, 10.0),
        ("payments-api-7c6b5d4f3-bbbbb", "10.244.3.12", False, False, 0.003),
        ("payments-api-7c6b5d4f3-ccccc", "10.244.3.13", True, True, 0.04),
    )
    for pod, ip, up, is_ready, duration in pods:
        held(h, "up", target(pod, ip), 1 if up else 0, start=-3600, step=15)
        held(h, "scrape_duration_seconds", target(pod, ip), duration, start=-3600, step=15)
        ready(h, "payments", pod, is_ready)
