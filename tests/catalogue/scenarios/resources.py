"""Resource scenarios (resources.yaml): throttling, overcommit, quotas."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import phase
from tests.catalogue.shapes import alert, cadvisor, counter, gauge, held, ksm
from tests.support.prometheus import History

GATEWAY = {"namespace": "api-gateway", "pod": "gateway-6c5d4b3a2-k8j7h", "container": "envoy"}
GATEWAY_NODE = ("ip-10-0-4-21", "10.0.4.21")


@scenario(
    alert(
        "CPUThrottlingHigh",
        "info",
        {**GATEWAY, "instance": "10.0.4.21:10250", "service": "kube-prometheus-stack-kubelet"},
    ),
    {
        "cpu-settings": r"CPU limit: 0\.5 cores",
        "usage-vs-limit": r"average over 5 minutes: (5[5-9]|6[0-5])% of the CPU limit",
        "throttled-time": r"envoy: held back 0\.8\d CPU-seconds per second",
    },
    foreign=("instance",),
)
def throttled_in_bursts(h: History) -> None:
    own = {**GATEWAY, "uid": "uid-gateway"}
    held(
        h,
        "kube_pod_container_resource_limits",
        ksm(**own, resource="cpu", unit="core", node=GATEWAY_NODE[0]),
        0.5,
    )
    held(
        h,
        "kube_pod_container_resource_requests",
        ksm(**own, resource="cpu", unit="core", node=GATEWAY_NODE[0]),
        0.25,
    )
    series = cadvisor(
        *GATEWAY_NODE,
        **GATEWAY,
        image="envoyproxy/envoy:v1.31.0",
        id="/kubepods/burstable/pod2/def",
        name="def",
    )
    # 0.25 cores, and the whole limit one minute in five: 0.3 on average, bursts at 0.5.
    counter(
        h,
        "container_cpu_usage_seconds_total",
        series,
        lambda t: 0.5 if int(t // 60) % 5 == 0 else 0.25,
        start=-7200,
        step=15,
    )
    counter(h, "container_cpu_cfs_throttled_seconds_total", series, 0.8, start=-7200, step=15)


def running_pod(
    h: History, namespace: str, pod: str, resource: str, unit: str, request: float, **cluster: str
) -> None:
    held(
        h,
        "kube_pod_container_resource_requests",
        ksm(
            namespace=namespace,
            pod=pod,
            container="main",
            resource=resource,
            unit=unit,
            node="n1",
            uid=f"uid-{pod}",
            **cluster,
        ),
        request,
    )
    for name in ("Pending", "Running"):
        held(
            h,
            "kube_pod_status_phase",
            ksm(namespace=namespace, pod=pod, phase=name, uid=f"uid-{pod}", **cluster),
            1 if name == "Running" else 0,
        )


def nodes(h: History, cluster: str, resource: str, allocatable: float, lost: str) -> None:
    """Three nodes now; a fourth one (`lost`) that left the cluster 20 hours ago."""
    unit = "core" if resource == "cpu" else "byte"
    for node in ("n1", "n2", "n3", lost):
        window = {"start": -26 * 3600, "end": -20 * 3600 if node == lost else 0, "step": 300}
        h.constant(
            "kube_node_info",
            ksm(
                node=node,
                cluster=cluster,
                kernel_version="6.1.0",
                container_runtime_version="containerd://1.7.20",
            ),
            1,
            **window,
        )
        h.constant(
            "kube_node_status_allocatable",
            ksm(node=node, cluster=cluster, resource=resource, unit=unit),
            allocatable,
            **window,
        )
        if node != lost:
            held(h, "kube_node_spec_unschedulable", ksm(node=node, cluster=cluster), 0)


@scenario(
    alert("KubeCPUOvercommit", "warning", {"cluster": "edge-1"}),
    {
        "capacity": r"requested by pods: 11\.0 cores",
        "top-requesters": r"ml: 6\.0 cores requested",
        "idle-reservations": r"ml: 5\.0 cores requested but not used",
        "nodes": r"4 node\(s\) a day ago",
    },
)
def cpu_requests_above_one_node_less(h: History) -> None:
    nodes(h, "edge-1", "cpu", 4, "n4")
    for namespace, pods, request, used in (
        ("ml", 2, 3.0, 0.5),
        ("web", 3, 1.0, 0.8),
        ("batch", 1, 2.0, 1.8),
    ):
        for index in range(pods):
            pod = f"{namespace}-{index}"
            running_pod(h, namespace, pod, "cpu", "core", request, cluster="edge-1")
            counter(
                h,
                "container_cpu_usage_seconds_total",
                cadvisor(
                    "n1",
                    "10.9.0.1",
                    namespace=namespace,
                    pod=pod,
                    container="main",
                    image="x",
                    cluster="edge-1",
                ),
                used,
                start=-3600,
                step=30,
            )


@scenario(
    alert("KubeMemoryOvercommit", "warning", {"cluster": "edge-2"}),
    {
        "capacity": r"requested by pods: 88\.0 GiB",
        "top-requesters": r"cache: 48\.0 GiB requested",
        "idle-reservations": r"cache: 40\.0 GiB requested but not used",
        "nodes": r"3 node\(s\) now",
    },
)
def memory_requests_above_one_node_less(h: History) -> None:
    gib = 2**30
    nodes(h, "edge-2", "memory", 32 * gib, "n5")
    for namespace, pods, request, used in (
        ("cache", 3, 16, 8 / 3),
        ("web", 4, 6, 4),
        ("batch", 2, 8, 7),
    ):
        for index in range(pods):
            pod = f"{namespace}-{index}"
            running_pod(h, namespace, pod, "memory", "byte", request * gib, cluster="edge-2")
            held(
                h,
                "container_memory_working_set_bytes",
                cadvisor(
                    "n1",
                    "10.9.0.2",
                    namespace=namespace,
                    pod=pod,
                    container="main",
                    image="x",
                    cluster="edge-2",
                ),
                used * gib,
            )


# A week back for `delta(...[7d])`: sparse, then minute samples for the last two hours.
WEEK = {"start": -(7 * 86400 + 3600.0), "dense": -7200.0}


def quota(
    h: History,
    namespace: str,
    name: str,
    resource: str,
    hard: float,
    used: float,
    used_a_week_ago: float,
) -> None:
    held(
        h,
        "kube_resourcequota",
        ksm(namespace=namespace, resourcequota=name, resource=resource, type="hard"),
        hard,
        **WEEK,
    )
    # Usage steps up from last week's level two days ago.
    gauge(
        h,
        "kube_resourcequota",
        ksm(namespace=namespace, resourcequota=name, resource=resource, type="used"),
        lambda t: used if t > -2 * 86400 else used_a_week_ago,
        **WEEK,
    )


def quota_labels(namespace: str, name: str, resource: str) -> dict[str, str]:
    labels = ksm(namespace=namespace, resourcequota=name, resource=resource)
    del labels["instance"], labels["job"]  # `max without (instance, job, type)` in the rule
    return labels


@scenario(
    alert("KubeQuotaAlmostFull", "info", quota_labels("team-a", "compute", "requests.cpu")),
    {
        "usage": r"used: 18\.5",
        "growth": r"used changed by \+6\.0 in the last 7 days",
        "top-consumers": r"trainer-0: 8",
    },
    foreign=("pod", "container"),
)
def cpu_quota_almost_full(h: History) -> None:
    quota(h, "team-a", "compute", "requests.cpu", 20, 18.5, 12.5)
    for pod, request in (
        ("trainer-0", 8.0),
        ("trainer-1", 6.0),
        ("api-5d4c3-x1", 2.5),
        ("api-5d4c3-x2", 2.0),
    ):
        running_pod(h, "team-a", pod, "cpu", "core", request)


@scenario(
    alert("KubeQuotaFullyUsed", "info", quota_labels("team-b", "memory", "limits.memory")),
    {
        "usage": r"hard: 64\.0 GiB",
        "growth": r"used changed by \+16\.0 GiB in the last 7 days",
        "top-consumers": r"cache-0: 24\.0 GiB",
    },
    foreign=("pod", "container"),
)
def memory_quota_fully_used(h: History) -> None:
    gib = 2**30
    quota(h, "team-b", "memory", "limits.memory", 64 * gib, 64 * gib, 48 * gib)
    for pod, limit in (("cache-0", 24), ("cache-1", 24), ("worker-7b6a5-q1", 16)):
        held(
            h,
            "kube_pod_container_resource_limits",
            ksm(
                namespace="team-b",
                pod=pod,
                container="main",
                resource="memory",
                unit="byte",
                node="n1",
                uid=f"uid-{pod}",
            ),
            limit * gib,
        )
        phase(h, "team-b", pod, "Running")


@scenario(
    alert("KubeQuotaExceeded", "warning", quota_labels("team-c", "mem", "requests.memory")),
    {
        "usage": r"hard: 32\.0 GiB",
        "growth": r"used changed by \+0\.0 GiB in the last 7 days",
        "top-consumers": r"search-0: 12\.0 GiB",
    },
    foreign=("pod", "container"),
)
def memory_quota_lowered_below_usage(h: History) -> None:
    gib = 2**30
    gauge(
        h,
        "kube_resourcequota",
        ksm(namespace="team-c", resourcequota="mem", resource="requests.memory", type="hard"),
        lambda t: 32 * gib if t > -86400 else 48 * gib,
        **WEEK,
    )
    held(
        h,
        "kube_resourcequota",
        ksm(namespace="team-c", resourcequota="mem", resource="requests.memory", type="used"),
        40 * gib,
        **WEEK,
    )
    for pod, request in (("search-0", 12), ("search-1", 12), ("search-2", 12), ("ui-1", 4)):
        running_pod(h, "team-c", pod, "memory", "byte", request * gib)
