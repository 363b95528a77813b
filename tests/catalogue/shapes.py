"""Label shapes of the series kube-prometheus-stack scrapes, traps included.

What a series carries is its exporter's labels plus the target labels the Prometheus
Operator adds (job, instance, namespace, pod, container, service, endpoint). Where both
have a label, `honorLabels` decides: kube-state-metrics and the kubelet are scraped with
`honorLabels: true`, so their own labels win and only the missing ones come from the target.
That is why a Deployment's series (no pod label of its own) carries the kube-state-metrics
pod, and a Node's series carries namespace="monitoring".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tests.support.prometheus import History

Labels = dict[str, str]

RELEASE = "kube-prometheus-stack"
# Prometheus' external labels, which the Operator adds to every alert it sends.
EXTERNAL = {"prometheus": f"monitoring/{RELEASE}-prometheus"}

KSM_POD = f"{RELEASE}-kube-state-metrics-7c9d8b6f5-q2wzl"
_KSM_TARGET = {
    "job": "kube-state-metrics",
    "instance": "10.244.3.17:8080",
    "endpoint": "http",
    "service": f"{RELEASE}-kube-state-metrics",
    "namespace": "monitoring",
    "pod": KSM_POD,
    "container": "kube-state-metrics",
}


def ksm(**own: str) -> Labels:
    """A kube-state-metrics series: its own labels win, the target fills in the rest."""
    return _KSM_TARGET | own


def kubelet(node: str, ip: str, **own: str) -> Labels:
    """A series from a kubelet's /metrics endpoint (volume stats, evictions, certificates)."""
    target = {
        "job": "kubelet",
        "metrics_path": "/metrics",
        "instance": f"{ip}:10250",
        "node": node,
        "endpoint": "https-metrics",
        "service": f"{RELEASE}-kubelet",
        "namespace": "kube-system",
    }
    return target | own


def cadvisor(node: str, ip: str, **own: str) -> Labels:
    """A cAdvisor series, scraped through the kubelet at /metrics/cadvisor."""
    return kubelet(node, ip, metrics_path="/metrics/cadvisor") | own


def node_exporter_pod(node: str) -> str:
    """The node-exporter pod of a node (a DaemonSet pod name ends in a random suffix)."""
    return f"{RELEASE}-prometheus-node-exporter-{node[-5:]}"


def node_exporter(node: str, ip: str, **own: str) -> Labels:
    """A node-exporter series: no node label at all, instance is IP:9100 in the chart."""
    target = {
        "job": "node-exporter",
        "instance": f"{ip}:9100",
        "namespace": "monitoring",
        "pod": node_exporter_pod(node),
        "container": "node-exporter",
        "endpoint": "http-metrics",
        "service": f"{RELEASE}-prometheus-node-exporter",
    }
    return target | own


def prometheus_target(job: str, pod: str, ip: str, **own: str) -> Labels:
    """A Prometheus server's own metrics (job differs: prometheus-k8s in kube-prometheus)."""
    target = {
        "job": job,
        "instance": f"{ip}:9090",
        "namespace": "monitoring",
        "pod": pod,
        "container": "prometheus",
        "endpoint": "http-web",
        "service": job,
    }
    return target | own


def alertmanager_target(job: str, pod: str, ip: str, **own: str) -> Labels:
    """An Alertmanager's own metrics."""
    target = {
        "job": job,
        "instance": f"{ip}:9093",
        "namespace": "monitoring",
        "pod": pod,
        "container": "alertmanager",
        "endpoint": "http-web",
        "service": job,
    }
    return target | own


def apiserver(ip: str, **own: str) -> Labels:
    """A kube-apiserver series (the `kubernetes` Service in the default namespace)."""
    target = {
        "job": "apiserver",
        "instance": f"{ip}:6443",
        "namespace": "default",
        "service": "kubernetes",
        "endpoint": "https",
    }
    return target | own


def etcd(ip: str, node: str, **own: str) -> Labels:
    """An etcd member scraped through the chart's kube-etcd Service."""
    target = {
        "job": "kube-etcd",
        "instance": f"{ip}:2381",
        "namespace": "kube-system",
        "pod": f"etcd-{node}",
        "service": f"{RELEASE}-kube-etcd",
        "endpoint": "http-metrics",
    }
    return target | own


def alert(name: str, severity: str, labels: Mapping[str, str]) -> Labels:
    """The labels Alertmanager sends: the rule's result, its severity and Prometheus' own."""
    return {"alertname": name, "severity": severity, **labels, **EXTERNAL}


SPARSE_STEP = 12 * 3600.0  # older history: one sample every 12 h (each sample costs a block)


def timeline(
    start: float, end: float = 0.0, step: float = 60.0, dense: float | None = None
) -> list[float]:
    """Sample offsets from `start` to `end` every `step`, the last one exactly at `end`.

    With `dense`, samples before it are SPARSE_STEP apart (on multiples of it, so -24 h is
    one of them for `offset 1d`): promtool writes one TSDB block per 2 hours that holds a
    sample, so a week of minute samples would cost 84 blocks where 14 do.
    """
    first = dense if dense is not None else start
    regular = [end - i * step for i in range(int((end - first) // step) + 1)]
    older: list[float] = []
    if dense is not None:
        moment = (dense // SPARSE_STEP) * SPARSE_STEP
        if moment == dense:
            moment -= SPARSE_STEP
        while moment >= start:
            older.append(moment)
            moment -= SPARSE_STEP
    return sorted(older + regular)


def gauge(
    history: History,
    name: str,
    labels: Mapping[str, str],
    value: float | Callable[[float], float],
    *,
    start: float = -3 * 3600,
    end: float = 0,
    step: float = 60,
    dense: float | None = None,
) -> None:
    """A gauge over `timeline(start, end, step, dense)`: a constant, or a function of time."""
    at = value if callable(value) else (lambda _: value)
    history.add(name, labels, [(t, at(t)) for t in timeline(start, end, step, dense)])


def held(
    history: History, name: str, labels: Mapping[str, str], value: float, **window: float
) -> None:
    """A gauge that holds `value` (a kube-state-metrics state series) over the window."""
    gauge(history, name, labels, value, **window)


def counter(
    history: History,
    name: str,
    labels: Mapping[str, str],
    per_second: float | Callable[[float], float],
    *,
    start: float = -3 * 3600,
    end: float = 0,
    step: float = 60,
    dense: float | None = None,
    base: float = 0,
) -> None:
    """A counter growing at `per_second` (a rate, or a rate as a function of time).

    `name` is the sample name as the exporter writes it (x_total, x_bucket, kubelet_evictions).
    """
    rate = per_second if callable(per_second) else (lambda _: per_second)
    points: list[tuple[float, float]] = []
    value = base
    previous: float | None = None
    for moment in timeline(start, end, step, dense):
        if previous is not None:
            value += rate(previous) * (moment - previous)
        points.append((moment, value))
        previous = moment
    # Untyped, under its full name: a counter family "x" would clash with a gauge "x"
    # (aggregator_unavailable_apiservice and aggregator_unavailable_apiservice_total).
    history.add(name, labels, points, kind="unknown")


def histogram(
    history: History,
    name: str,
    labels: Mapping[str, str],
    cumulative: Mapping[str, float],
    **window: float,
) -> None:
    """A histogram's `name_bucket` counters; `cumulative` maps each `le` to its rate per second.

    With rates cumulative over buckets (and "+Inf" the total), histogram_quantile over
    rate() gives a known answer: p99 of {"0.1": 98, "1": 100, "+Inf": 100} is 0.55.
    """
    for le, per_second in cumulative.items():
        counter(history, f"{name}_bucket", {**labels, "le": le}, per_second, **window)


def pod_owner(
    history: History,
    namespace: str,
    pod: str,
    workload: str,
    workload_type: str,
    *,
    owner_kind: str,
    owner_name: str,
) -> None:
    """kube_pod_owner, and kube-prometheus' namespace_workload_pod:kube_pod_owner:relabel.

    The recording rule is evaluated by Prometheus from live data only, never over backfilled
    history, so a test TSDB has to be given its results too.
    """
    held(
        history,
        "kube_pod_owner",
        ksm(
            namespace=namespace,
            pod=pod,
            owner_kind=owner_kind,
            owner_name=owner_name,
            owner_is_controller="true",
            uid=f"uid-{pod}",
        ),
        1,
    )
    held(
        history,
        "namespace_workload_pod:kube_pod_owner:relabel",
        {"namespace": namespace, "pod": pod, "workload": workload, "workload_type": workload_type},
        1,
    )


def node_of_exporter(history: History, node: str, **extra: str) -> None:
    """kube-prometheus' node_namespace_pod:kube_pod_info: for a node-exporter pod: its node."""
    held(
        history,
        "node_namespace_pod:kube_pod_info:",
        {"namespace": "monitoring", "pod": node_exporter_pod(node), "node": node, **extra},
        1,
    )
