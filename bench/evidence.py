"""Issue 9: what gathering evidence adds to a notification, against a local Prometheus.

A real Prometheus holds a cluster's last two hours (TSDB blocks written by promtool): 1,000
pods over 50 namespaces with kube-state-metrics and cAdvisor series, 100 nodes' file
systems, and a week of ALERTS for the crash-looping pods; a real Alertmanager holds 200
active alerts. The same service runs twice, without and with `evidence`, and each gets
the same distinct crash-loop notifications (each for an existing pod, with the rule's
expression in its generatorURL) one after another, alternating between the two. The
figure is the p50 of the time to the webhook's answer, with evidence minus without;
target: at most 150 ms. The service's own evidence_duration histogram and the queries
per notification are reported too.

    flock /tmp/alert-explainer-bench.lock \\
        .venv/bin/python -m bench.evidence --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.support.alertmanager import AlertmanagerProcess, ReceiverSpec
from tests.support.prometheus import History, PrometheusProcess

from bench.cpu import wait_quiet
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
    Endpoint,
    http,
    metric,
    metric_by,
    service_config,
    step,
    table,
    verdict,
    write_results,
)
from bench.payloads import encode

ADDED_P50_MAX_MS = 150.0
NAMESPACES = 50
PODS_PER_NAMESPACE = 20
NODES = 100
CRASH_LOOP_EXPR = (
    'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",'
    'job="kube-state-metrics"}[5m]) >= 1'
)
KSM = {"job": "kube-state-metrics", "instance": "10.0.0.5:8080"}


def _restarts(offset: float, first: int) -> float:
    return float(first + (offset + 7200) // 900)


def _working_set(offset: float) -> float:
    return float(200 * 2**20 + (offset % 600) * 2**16)


def cluster() -> History:
    """Two hours of a 1,000-pod cluster, and a week of firings for its crash-looping pods."""
    history = History()
    start, step = -7200.0, 30.0
    for n in range(NAMESPACES):
        for p in range(PODS_PER_NAMESPACE):
            pod = {"namespace": f"ns-{n}", "pod": f"pod-{p}", "container": "app"}
            labels = {**KSM, **pod}
            history.series(
                "kube_pod_container_status_restarts_total",
                labels,
                partial(_restarts, first=p),
                start=start,
                step=step,
            )
            history.constant(
                "kube_pod_container_status_last_terminated_reason",
                {**labels, "reason": "OOMKilled" if p % 2 else "Error"},
                1,
                start=start,
                step=step,
            )
            history.constant(
                "kube_pod_container_resource_limits",
                {**labels, "resource": "memory", "unit": "byte"},
                256 * 2**20,
                start=start,
                step=step,
            )
            history.series(
                "container_memory_working_set_bytes",
                {"job": "kubelet", "metrics_path": "/metrics/cadvisor", **pod},
                _working_set,
                start=start,
                step=step,
            )
            if p < 4:  # four crash-looping pods per namespace
                history.constant(
                    "kube_pod_container_status_waiting_reason",
                    {**labels, "reason": "CrashLoopBackOff"},
                    1,
                    start=start,
                    step=step,
                )
    for node in range(NODES):
        fs = {"job": "node-exporter", "instance": f"node-{node}", "mountpoint": "/"}
        history.constant("node_filesystem_avail_bytes", fs, 40e9, start=start, step=step)
        history.constant("node_filesystem_size_bytes", fs, 100e9, start=start, step=step)
    for n in range(NAMESPACES):
        for p in range(4):
            firing = {
                "alertname": "KubePodCrashLooping",
                "alertstate": "firing",
                "severity": "warning",
                "reason": "CrashLoopBackOff",
                **KSM,
                "namespace": f"ns-{n}",
                "pod": f"pod-{p}",
                "container": "app",
            }
            for day in (6, 3, 1):
                history.add("ALERTS", firing, [(-day * 86400 + m * 60, 1) for m in range(30)])
    return history


def start_cluster(
    bench: Bench, not_ready: Sequence[tuple[int, int]]
) -> tuple[PrometheusProcess, AlertmanagerProcess]:
    """A real Prometheus holding `cluster()` and a real Alertmanager with a KubePodNotReady
    alert firing for each (namespace, pod) number, both stopped when the run ends."""
    with step("writing two hours of a 1,000-pod cluster into Prometheus' TSDB"):
        prometheus = PrometheusProcess(bench.work_dir / "prometheus", history=cluster())
        bench.on_exit(prometheus.stop)
        prometheus.start()
    with step(f"starting Alertmanager with {len(not_ready)} active alerts"):
        alertmanager = AlertmanagerProcess(
            bench.work_dir / "alertmanager",
            {"nowhere": ReceiverSpec("http://127.0.0.1:9/")},
            repeat_interval="24h",
        )
        bench.on_exit(alertmanager.stop)
        alertmanager.start()
        for n, p in not_ready:
            alertmanager.fire("KubePodNotReady", {"namespace": f"ns-{n}", "pod": f"pod-{p}"})
    return prometheus, alertmanager


def notification(key: str, namespace: int, pod: int) -> dict[str, Any]:
    """A KubePodCrashLooping notification for an existing pod, distinct by `key`."""
    labels = {
        "alertname": "KubePodCrashLooping",
        "severity": "warning",
        "reason": "CrashLoopBackOff",
        **KSM,
        "namespace": f"ns-{namespace}",
        "pod": f"pod-{pod}",
        "container": "app",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"Pod ns-{namespace}/pod-{pod} is crash looping"},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 900)),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={quote(CRASH_LOOP_EXPR)}",
        "fingerprint": f"{key}",
    }
    return {
        "version": "4",
        "status": "firing",
        "receiver": "explain",
        "groupKey": f'{{}}:{{alertname="KubePodCrashLooping", key="{key}"}}',
        "groupLabels": {"alertname": "KubePodCrashLooping", "key": key},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def post_timed(service: Endpoint, body: bytes) -> float:
    """Seconds from posting a notification to the webhook's answer."""
    started = time.perf_counter()
    http("POST", service.url("/webhook"), body, timeout=30.0)
    return time.perf_counter() - started


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.evidence", description="Latency added by gathering evidence."
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--notifications", type=int, default=200, help="per service")
    args = parser.parse_args(argv)

    with Bench("evidence", args.service_src) as bench:
        not_ready = [(n, p) for n in range(NAMESPACES) for p in range(4, 8)]
        prometheus, alertmanager = start_cluster(bench, not_ready)
        emulator = bench.peer("emulator")
        sink = bench.peer("sink")
        plain = service_config(emulator, sink)
        gathering = {
            **plain,
            "evidence": {
                "prometheus": {"url": prometheus.url},
                "alertmanager": {"url": alertmanager.base_url},
            },
        }
        services = {
            "without": bench.service(plain, name="without"),
            "with": bench.service(gathering, name="with"),
        }
        times: dict[str, list[float]] = {"without": [], "with": []}
        wait_quiet()
        with step(f"{args.notifications} notifications to each, alternating"):
            for i in range(args.notifications + 10):
                namespace, pod = i % NAMESPACES, (i // NAMESPACES) % 4
                for name, service in services.items():
                    body = encode(notification(f"{name}-{i}", namespace, pod))
                    elapsed = post_timed(service, body)
                    if i >= 10:  # the first ones warm connections and caches
                        times[name].append(elapsed)
        exposition = http("GET", services["with"].url("/metrics")).decode()

    without, with_ = percentiles(times["without"]), percentiles(times["with"])
    added = round(with_["p50_ms"] - without["p50_ms"], 2)
    gatherings = metric(exposition, "alert_explainer_evidence_duration_seconds_count")
    queries = metric(exposition, "alert_explainer_evidence_queries_total")
    outcomes = metric_by(exposition, "alert_explainer_evidence_queries_total", "outcome")
    # "empty" is an answer (no samples: a pod that never fired has no ALERTS history).
    failed = sum(n for outcome, n in outcomes.items() if outcome not in ("ok", "empty"))
    mean_ms = (
        metric(exposition, "alert_explainer_evidence_duration_seconds_sum") / gatherings * 1000
    )
    checks = {"added_p50": added <= ADDED_P50_MAX_MS, "no_failed_queries": failed == 0}
    rows: list[list[object]] = [
        ["without evidence", without["p50_ms"], without["p90_ms"], without["p99_ms"], "", ""],
        ["with evidence", with_["p50_ms"], with_["p90_ms"], with_["p99_ms"], "", ""],
        [
            "added (p50)",
            added,
            "",
            "",
            f"<= {ADDED_P50_MAX_MS:g}",
            verdict(checks["added_p50"]),
        ],
    ]
    print(f"\nTime to the webhook's answer, ms, {args.notifications} notifications each")
    print(table(["service", "p50", "p90", "p99", "target", "verdict"], rows))
    print(
        f"gathering inside the service: {gatherings:.0f} gatherings, mean {mean_ms:.1f} ms, "
        f"{queries / gatherings:.1f} queries each; queries by outcome "
        f"{ {k: int(v) for k, v in outcomes.items() if v} }"
    )
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "without": without,
            "with": with_,
            "added_p50_ms": added,
            "gathering_mean_ms": round(mean_ms, 2),
            "queries_per_gathering": round(queries / gatherings, 2),
            "queries_by_outcome": outcomes,
            "queries_failed": failed,
            "checks": checks,
            "all_met": all(checks.values()),
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
