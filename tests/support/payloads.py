"""Alertmanager payloads for tests: distinct copies of a sample, and groups built alert by alert."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any


def distinct(payload: dict[str, Any], i: int, name: str = "Distinct") -> dict[str, Any]:
    """A copy of `payload` with its own groupKey and fingerprints: a notification of its own."""
    copied = copy.deepcopy(payload)
    copied["groupKey"] = f'{{}}:{{alertname="{name}{i}"}}'
    for n, alert in enumerate(copied["alerts"]):
        alert["fingerprint"] = f"{i:08x}{n:08x}"
    return copied


def pod_alert(
    pod: str,
    *,
    alertname: str = "KubePodCrashLooping",
    namespace: str = "shop",
    severity: str = "warning",
    status: str = "firing",
) -> dict[str, Any]:
    """One alert as kube-state-metrics' rules raise it for a pod of `namespace`."""
    labels = {
        "alertname": alertname,
        "namespace": namespace,
        "pod": pod,
        "container": "app",
        "job": "kube-state-metrics",
        "severity": severity,
    }
    canonical = json.dumps(sorted(labels.items()))  # Alertmanager fingerprints every label
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"Pod {namespace}/{pod} is crash looping",
            "description": f"Pod {namespace}/{pod} (container app) is restarting 4 times / 10m.",
            "runbook_url": f"https://runbooks.example.com/{alertname}",
        },
        "startsAt": "2026-11-25T10:00:00Z",
        "endsAt": "2026-11-25T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=kube_pod_container_status_waiting",
        "fingerprint": hashlib.sha256(canonical.encode()).hexdigest()[:16],
    }


def group(alerts: list[dict[str, Any]], group_labels: dict[str, str]) -> dict[str, Any]:
    """The webhook body Alertmanager sends for `alerts` grouped by `group_labels`."""
    keys = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    common = {
        k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)
    }
    return {
        "receiver": "explain",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": alerts,
        "groupLabels": group_labels,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": f"{{}}:{{{keys}}}",
        "truncatedAlerts": 0,
    }


CRASHLOOP_GROUP = {"alertname": "KubePodCrashLooping", "namespace": "shop"}


def churning(steps: int, size: int = 5, **alert: Any) -> list[dict[str, Any]]:
    """`steps` notifications of a crash-looping Deployment whose pods are replaced as they fail.

    The first has pods 0..size-1 firing; each later one reports the oldest pod resolved
    and a new one firing, as Alertmanager does at each group_interval.
    """
    notifications = [group([pod_alert(f"web-{i}", **alert) for i in range(size)], CRASHLOOP_GROUP)]
    for step in range(1, steps):
        firing = [pod_alert(f"web-{i}", **alert) for i in range(step, step + size)]
        gone = pod_alert(f"web-{step - 1}", status="resolved", **alert)
        notifications.append(group([gone, *firing], CRASHLOOP_GROUP))
    return notifications
