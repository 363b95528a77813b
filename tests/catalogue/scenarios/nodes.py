"""Node and kubelet scenarios (nodes.yaml)."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import node_ready, pod_info
from tests.catalogue.shapes import (
    alert,
    counter,
    held,
    histogram,
    ksm,
    kubelet,
    node_exporter,
    node_of_exporter,
)
from tests.support.prometheus import History

FOREIGN_NODE = ("namespace", "pod", "container", "instance")  # kube-state-metrics' own


def conditions(h: History, node: str, ready: str, **pressure: bool) -> None:
    node_ready(h, node, ready)
    for condition in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        on = pressure.get(condition, False)
        for status in ("true", "false", "unknown"):
            held(
                h,
                "kube_node_status_condition",
                ksm(node=node, condition=condition, status=status),
                1 if (status == "true") == on and status != "unknown" else 0,
            )


def scrapes(h: History, node: str, ip: str, *, kubelet_up: bool, exporter_up: bool) -> None:
    held(h, "up", kubelet(node, ip), 1 if kubelet_up else 0)
    held(h, "up", node_exporter(node, ip), 1 if exporter_up else 0)
    node_of_exporter(h, node)


def pods_on(h: History, node: str, counts: dict[str, int], kind: str = "ReplicaSet") -> None:
    for namespace, count in counts.items():
        for index in range(count):
            pod_info(h, namespace, f"{namespace}-{node[-5:]}-{index}", node, kind, namespace)


DOWN = ("ip-10-0-6-11", "10.0.6.11")


@scenario(
    alert("KubeNodeNotReady", "warning", ksm(node=DOWN[0], condition="Ready", status="true")),
    {
        "conditions": r"Ready is unknown \(the kubelet has stopped reporting\)",
        "scrapes": r"kubelet on the node: not answering",
        "uptime": r"booted 12 days ago",
        "pods": r"payments: 3 pod\(s\)",
    },
    foreign=FOREIGN_NODE,
)
def node_whose_kubelet_died(h: History) -> None:
    conditions(h, DOWN[0], "unknown")
    scrapes(h, *DOWN, kubelet_up=False, exporter_up=True)
    held(h, "node_boot_time_seconds", node_exporter(*DOWN), h.now - 12 * 86400 - 600)
    pods_on(h, DOWN[0], {"payments": 3, "monitoring": 1})


UNREACHABLE = ("ip-10-0-7-12", "10.0.7.12")


@scenario(
    alert(
        "KubeNodeUnreachable",
        "warning",
        ksm(node=UNREACHABLE[0], key="node.kubernetes.io/unreachable", effect="NoSchedule"),
    ),
    {
        "conditions": r"Ready is unknown",
        "scrapes": r"node-exporter on the node: not answering",
        "unreachable-nodes": r"2 node\(s\) carry the unreachable taint",
        "pods": r"search: 2 pod\(s\)",
    },
    foreign=FOREIGN_NODE,
)
def node_cut_off_with_its_neighbour(h: History) -> None:
    for node, ip in (UNREACHABLE, ("ip-10-0-7-13", "10.0.7.13")):
        conditions(h, node, "unknown")
        scrapes(h, node, ip, kubelet_up=False, exporter_up=False)
        for effect in ("NoSchedule", "NoExecute"):
            held(
                h,
                "kube_node_spec_taint",
                ksm(node=node, key="node.kubernetes.io/unreachable", effect=effect),
                1,
            )
    pods_on(h, UNREACHABLE[0], {"search": 2})


PRESSURED = ("ip-10-0-8-13", "10.0.8.13")


@scenario(
    alert(
        "KubeNodePressure",
        "info",
        ksm(node=PRESSURED[0], condition="MemoryPressure", status="true"),
    ),
    {
        "evictions": r"3 pod\(s\) evicted for memory\.available in the last hour",
        "resource-left": r"memory available: 4\.0%",
        "evicted-pods": r"batch: 2 evicted pod\(s\)",
    },
    foreign=FOREIGN_NODE,
)
def node_evicting_for_memory(h: History) -> None:
    conditions(h, PRESSURED[0], "true", MemoryPressure=True)
    node_of_exporter(h, PRESSURED[0])
    gib = 2**30
    held(h, "node_memory_MemTotal_bytes", node_exporter(*PRESSURED), 16 * gib)
    held(h, "node_memory_MemAvailable_bytes", node_exporter(*PRESSURED), 0.04 * 16 * gib)
    # kubelet_evictions has no _total suffix: a counter as the kubelet names it.
    counter(
        h,
        "kubelet_evictions",
        kubelet(*PRESSURED, eviction_signal="memory.available"),
        3 / 3600,
        step=30,
    )
    for index in range(2):
        pod = f"report-{index}"
        pod_info(h, "batch", pod, PRESSURED[0], "Job", "report")
        held(
            h,
            "kube_pod_status_reason",
            ksm(namespace="batch", pod=pod, reason="Evicted", uid=f"uid-{pod}"),
            1,
        )


FLAPPING = ("ip-10-0-9-14", "10.0.9.14")


@scenario(
    alert("KubeNodeReadinessFlapping", "warning", {"node": FLAPPING[0]}),
    {
        "ready-changes": r"Ready changed 6 times in the last hour",
        "kubelet-restarts": r"the kubelet restarted 3 time\(s\) in the last hour",
        "pleg": r"PLEG relist p99 7\.50 s",
    },
)
def node_flapping_with_a_restarting_kubelet(h: History) -> None:
    # Ready toggles every ten minutes during the last hour.
    h.series(
        "kube_node_status_condition",
        ksm(node=FLAPPING[0], condition="Ready", status="true"),
        lambda t: 1 if t < -3570 else (int((t + 3600) // 600) + 1) % 2,
        start=-7200,
        step=30,
    )
    h.series(
        "process_start_time_seconds",
        kubelet(*FLAPPING),
        lambda t: h.now - 86400 if t < -2700 else h.now + 1200 * ((t + 2700) // 1200) - 2700,
        start=-7200,
        step=30,
    )
    histogram(
        h,
        "kubelet_pleg_relist_duration_seconds",
        kubelet(*FLAPPING),
        {"0.1": 50, "0.5": 80, "1": 90, "2.5": 95, "5": 98, "10": 100, "+Inf": 100},
        start=-3600,
        step=30,
    )


CROWDED = ("ip-10-0-10-15", "10.0.10.15")


@scenario(
    alert(
        "KubeletTooManyPods",
        "info",
        {"cluster": "dense", "instance": f"{CROWDED[1]}:10250", "node": CROWDED[0]},
    ),
    {
        "capacity": r"capacity 110 pods",
        "by-owner": r"80 pod\(s\) created by ReplicaSet",
        "spread": r"emptiest node: 40 pods",
    },
)
def node_full_of_small_pods(h: History) -> None:
    window = {"start": -1800}
    held(
        h,
        "kube_node_status_capacity",
        ksm(node=CROWDED[0], resource="pods", unit="integer", cluster="dense"),
        110,
    )
    for kind, count in (("ReplicaSet", 80), ("DaemonSet", 14), ("StatefulSet", 8), ("Job", 4)):
        for index in range(count):
            pod = f"{kind.lower()}-{index}"
            held(
                h,
                "kube_pod_info",
                ksm(
                    namespace="apps",
                    pod=pod,
                    node=CROWDED[0],
                    created_by_kind=kind,
                    created_by_name=kind.lower(),
                    uid=f"uid-{pod}",
                    cluster="dense",
                ),
                1,
                **window,
            )
    for node, count in (("ip-10-0-10-16", 40), ("ip-10-0-10-17", 55)):
        for index in range(count):
            pod = f"{node[-2:]}-{index}"
            held(
                h,
                "kube_pod_info",
                ksm(
                    namespace="apps",
                    pod=pod,
                    node=node,
                    created_by_kind="ReplicaSet",
                    created_by_name="rs",
                    uid=f"uid-{pod}",
                    cluster="dense",
                ),
                1,
                **window,
            )


@scenario(
    alert("KubeletDown", "critical", {"cluster": "blind"}),
    {
        "targets": r"kubelet targets discovered: 3",
        "nodes": r"kube-state-metrics knows 3 node\(s\)",
        "down-jobs": r"kubelet: 6 target\(s\) down",
    },
)
def kubelets_blocked_from_prometheus(h: History) -> None:
    for index in range(3):
        node, ip = f"ip-10-0-11-{index}", f"10.0.11.{index}"
        for path in ("/metrics", "/metrics/cadvisor"):
            held(h, "up", kubelet(node, ip, metrics_path=path, cluster="blind"), 0)
        held(h, "kube_node_info", ksm(node=node, cluster="blind"), 1)
        held(h, "up", node_exporter(node, ip, cluster="blind"), 1)


EXPIRING = ("ip-10-0-12-16", "10.0.12.16")


def pending_csrs(h: History, cluster: str, count: int) -> None:
    for index in range(count):
        csr = f"csr-{cluster}-{index}"
        for condition in ("approved", "denied"):
            held(
                h,
                "kube_certificatesigningrequest_condition",
                ksm(
                    certificatesigningrequest=csr,
                    condition=condition,
                    cluster=cluster,
                    signer_name="kubernetes.io/kube-apiserver-client-kubelet",
                ),
                0,
            )


@scenario(
    alert("KubeletClientCertificateExpiration", "warning", kubelet(*EXPIRING, cluster="certs")),
    {
        "renew-errors": r"12 failed renewal attempt\(s\) in the last hour",
        "other-kubelets": r"3 kubelet\(s\) affected in the cluster",
        "pending-csrs": r"3 request\(s\) for kubernetes\.io/kube-apiserver-client-kubelet waiting",
    },
    foreign=("instance",),
)
def kubelet_certificate_not_renewed(h: History) -> None:
    for index in range(3):
        node, ip = f"ip-10-0-12-{16 + index}", f"10.0.12.{16 + index}"
        held(
            h,
            "kubelet_certificate_manager_client_ttl_seconds",
            kubelet(node, ip, cluster="certs"),
            (5 + index / 2) * 86400,
        )
    counter(
        h,
        "kubelet_certificate_manager_client_expiration_renew_errors",
        kubelet(*EXPIRING, cluster="certs"),
        12 / 3600,
        step=30,
    )
    pending_csrs(h, "certs", 3)
