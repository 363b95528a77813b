"""Alertmanager payloads for tests: copies of a sample made distinct for load and crash tests."""

from __future__ import annotations

import copy
from typing import Any


def distinct(payload: dict[str, Any], i: int, name: str = "Distinct") -> dict[str, Any]:
    """A copy of `payload` with its own groupKey and fingerprints: a notification of its own."""
    copied = copy.deepcopy(payload)
    copied["groupKey"] = f'{{}}:{{alertname="{name}{i}"}}'
    for n, alert in enumerate(copied["alerts"]):
        alert["fingerprint"] = f"{i:08x}{n:08x}"
    return copied
