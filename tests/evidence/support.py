"""Alerts, notifications and cluster history for the evidence tests.

The history is what a kube-prometheus cluster's Prometheus holds: kube-state-metrics and
cAdvisor series for a crash-looping pod (OOMKilled, restarting, memory near its limit),
node-exporter filesystems (one filling up), and the ALERTS series of past firings.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import EvidenceSettings, RedactionSettings
from alert_explainer.evidence import Evidence, Gatherer
from alert_explainer.metrics import Metrics
from alert_explainer.redact import Redactor
from alert_explainer.transport import HttpClient
from tests.support.prometheus import History

# What Prometheus puts in generatorURL for the kube-prometheus rules.
CRASH_LOOP_EXPR = (
    'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",'
    'job="kube-state-metrics"}[5m]) >= 1'
)
DISK_EXPR = (
    '(node_filesystem_avail_bytes{job="node-exporter",fstype!=""} / '
    'node_filesystem_size_bytes{job="node-exporter",fstype!=""} * 100 < 15 and '
    'predict_linear(node_filesystem_avail_bytes{job="node-exporter",fstype!=""}[6h], '
    '4 * 60 * 60) < 0 and node_filesystem_readonly{job="node-exporter",fstype!=""} == 0)'
)
KSM = {"job": "kube-state-metrics", "instance": "10.0.0.5:8080", "service": "kube-state-metrics"}
POD = {"namespace": "shop", "pod": "api-7d9f-x2k4p", "container": "api"}
NODE_EXPORTER = {"job": "node-exporter", "fstype": "ext4", "device": "/dev/sda1"}
MIB = 1024 * 1024
GIB = 1024 * MIB


def generator_url(expr: str) -> str:
    """A generatorURL as Prometheus writes it."""
    return f"http://prometheus.example:9090/graph?g0.expr={quote(expr)}&g0.tab=1"


def alert(
    labels: Mapping[str, str],
    *,
    expr: str | None = None,
    started: float = -900,
    status: str = "firing",
    fingerprint: str = "",
) -> dict[str, Any]:
    """An alert as Alertmanager posts it; `started` seconds relative to now."""
    starts = datetime.fromtimestamp(time.time() + started, UTC)
    result: dict[str, Any] = {
        "status": status,
        "labels": dict(labels),
        "annotations": {"summary": "s"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint
        or hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16],
    }
    if expr is not None:
        result["generatorURL"] = generator_url(expr)
    return result


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """A webhook body with these alerts, grouped by the first one's alertname."""
    first = alerts[0]["labels"]
    return {
        "version": "4",
        "status": status,
        "receiver": "team",
        "groupKey": '{}:{alertname="' + first.get("alertname", "") + '"}',
        "groupLabels": {"alertname": first.get("alertname", "")},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }


def notification(*alerts: dict[str, Any], status: str = "firing") -> Notification:
    """The notification a webhook body with these alerts parses to."""
    return parse_notification(json.dumps(payload(*alerts, status=status)).encode())


def crash_loop_alert(**overrides: Any) -> dict[str, Any]:
    """KubePodCrashLooping as kube-prometheus fires it (the KSM series' labels)."""
    labels = {
        "alertname": "KubePodCrashLooping",
        "severity": "warning",
        "reason": "CrashLoopBackOff",
        **KSM,
        **POD,
        **overrides.pop("labels", {}),
    }
    return alert(labels, expr=CRASH_LOOP_EXPR, **overrides)


def disk_alert(instance: str = "node-1", **overrides: Any) -> dict[str, Any]:
    """NodeFilesystemSpaceFillingUp for / on `instance`."""
    labels = {
        "alertname": "NodeFilesystemSpaceFillingUp",
        "severity": "critical",
        "instance": instance,
        "mountpoint": "/",
        **NODE_EXPORTER,
    }
    return alert(labels, expr=DISK_EXPR, **overrides)


def _climbing(offset: float, begin: float) -> float:
    """A container's working set from its start: 120 MiB, up by 135 MiB in 700 s."""
    return 120 * MIB + (offset - begin) / 700 * 135 * MIB


def _free_bytes(offset: float, now_free: float, per_hour: float) -> float:
    """Free bytes of a 100 GiB filesystem with `now_free` % free now, losing `per_hour` %."""
    return (now_free - per_hour * offset / 3600) / 100 * 100 * GIB


def cluster_history() -> History:
    """A crash-looping pod, a filling disk on node-1 (node-2 and node-3 fine), past firings."""
    history = History()
    pod = {**KSM, **POD}
    history.series(
        "kube_pod_container_status_waiting_reason",
        {**pod, "reason": "CrashLoopBackOff"},
        lambda _: 1,
        start=-1500,
    )
    history.series(
        "kube_pod_container_status_last_terminated_reason",
        {**pod, "reason": "OOMKilled"},
        lambda _: 1,
        start=-1500,
    )
    # Five restarts in the last hour: the counter steps up every 12 minutes.
    history.series(
        "kube_pod_container_status_restarts_total",
        pod,
        lambda t: 3 + (t + 3600) // 720,
        start=-3600,
    )
    cadvisor = {"job": "kubelet", "metrics_path": "/metrics/cadvisor", **POD}
    for restart in range(5):  # cAdvisor: one series per container instance, climbing to the limit
        begin = -3600 + restart * 720
        history.series(
            "container_memory_working_set_bytes",
            {**cadvisor, "id": f"/kubepods/pod/{restart}"},
            partial(_climbing, begin=begin),
            start=begin,
            end=begin + 690,
        )
    history.constant(
        "kube_pod_container_resource_limits",
        {**pod, "resource": "memory", "unit": "byte", "node": "node-1"},
        256 * MIB,
        start=-3600,
    )
    # node-1's root filesystem loses 6 % of 100 GiB an hour: 4 % left now.
    for node, now_free, per_hour in (
        ("node-1", 4.0, 6.0),
        ("node-2", 62.0, 0.0),
        ("node-3", 48.0, 0.1),
    ):
        labels = {**NODE_EXPORTER, "instance": node, "mountpoint": "/"}
        history.series(
            "node_filesystem_avail_bytes",
            labels,
            partial(_free_bytes, now_free=now_free, per_hour=per_hour),
            start=-7200,
            step=60,
        )
        history.constant("node_filesystem_size_bytes", labels, 100 * GIB, start=-7200, step=60)
        history.constant("node_filesystem_readonly", labels, 0, start=-7200, step=60)
    # KubePodCrashLooping fired for this pod 6, 4 and 1 days ago, and is firing now.
    firing = {
        "alertname": "KubePodCrashLooping",
        "alertstate": "firing",
        "severity": "warning",
        "reason": "CrashLoopBackOff",
        **pod,
    }
    for day in (6, 4, 1):
        history.add("ALERTS", firing, [(-day * 86400 + m * 60, 1) for m in range(40)])
    history.add("ALERTS", firing, [(-600 + s * 30, 1) for s in range(21)])
    return history


async def gather(
    prometheus_url: str,
    note: Notification,
    *,
    alertmanager: str | None = None,
    redaction: RedactionSettings | None = None,
    **evidence: Any,
) -> Evidence:
    """Gather the evidence for `note` with a real HTTP client against these URLs."""
    if alertmanager is not None:
        evidence["alertmanager"] = {"url": alertmanager}
    http = HttpClient()
    try:
        found = gatherer(prometheus_url, http, redaction=redaction, **evidence)
        return await found.gather(note, datetime.now(UTC))
    finally:
        await http.aclose()


def gatherer(
    prometheus_url: str,
    http: HttpClient,
    *,
    metrics: Metrics | None = None,
    redaction: RedactionSettings | None = None,
    **evidence: Any,
) -> Gatherer:
    """A gatherer reading this Prometheus, for a test that gathers more than once."""
    settings = EvidenceSettings.model_validate({"prometheus": {"url": prometheus_url}, **evidence})
    redactor = Redactor.from_settings(redaction or RedactionSettings(), 4096)
    return Gatherer(settings, http, redactor=redactor, metrics=metrics)


def lines(evidence: Evidence, source: str | None = None) -> list[str]:
    """Every line (of one source's items), for assertions."""
    return [line for item in evidence if source in (None, item.source) for line in item.lines]


def item(evidence: Evidence, title: str) -> list[str]:
    """The lines of the item whose title starts with `title`."""
    (found,) = [i for i in evidence if i.title.startswith(title)]
    return list(found.lines)
