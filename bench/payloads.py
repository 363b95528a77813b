"""Alertmanager webhook payloads for load runs, each notification distinct.

The shape is tests/fixtures/alertmanager-firing.json (a two-alert KubePodCrashLooping
group, webhook version 4); `key` goes into the groupKey, the group labels and every
fingerprint, so no cache or duplicate check in the service can skip work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The placeholder wrk's Lua script replaces with a per-request key (bench/unique.lua).
PLACEHOLDER = "@ID@"


def crashloop_notification(key: str) -> dict[str, Any]:
    """A realistic firing notification whose group and alerts are identified by `key`."""
    namespace = f"payments-{key}"
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "KubePodCrashLooping",
                "namespace": namespace,
                "pod": pod,
                "container": "api",
                "severity": "critical",
            },
            "annotations": {
                "description": f"Pod {namespace}/{pod} (container api) is in waiting state "
                "(reason: CrashLoopBackOff) for 15 minutes.",
                "runbook_url": "https://runbooks.example.com/KubePodCrashLooping",
                "summary": f"Pod {namespace}/{pod} is crash looping",
            },
            "startsAt": "2026-11-25T16:19:53.573520658Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
            "fingerprint": f"{key}-{suffix}",
        }
        for pod, suffix in (("api-7d9f", "a"), ("api-8e1a", "b"))
    ]
    return {
        "receiver": "explain",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "KubePodCrashLooping", "namespace": namespace},
        "commonLabels": {
            "alertname": "KubePodCrashLooping",
            "namespace": namespace,
            "container": "api",
            "severity": "critical",
        },
        "commonAnnotations": {"runbook_url": "https://runbooks.example.com/KubePodCrashLooping"},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="KubePodCrashLooping", namespace="{namespace}"}}',
        "truncatedAlerts": 0,
    }


def encode(payload: dict[str, Any]) -> bytes:
    """The bytes posted: compact JSON, as Alertmanager sends it."""
    return json.dumps(payload, separators=(",", ":")).encode()


def write_template(path: Path) -> Path:
    """Write the payload with PLACEHOLDER for the key, for wrk's Lua script to fill in."""
    path.write_bytes(encode(crashloop_notification(PLACEHOLDER)))
    return path
