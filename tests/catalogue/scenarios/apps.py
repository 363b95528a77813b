"""Workload scenarios (apps.yaml): pods, Deployments, StatefulSets, DaemonSets, Jobs, HPAs."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.shapes import alert, cadvisor, gauge, held, ksm, pod_owner
from tests.support.prometheus import History

FOREIGN_KSM = ("pod", "container", "instance")  # kube-state-metrics' own, on object alerts


def phase(h: History, namespace: str, pod: str, current: str) -> None:
    for name in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
        held(
            h,
            "kube_pod_status_phase",
            ksm(namespace=namespace, pod=pod, phase=name, uid=f"uid-{pod}"),
            1 if name == current else 0,
        )


def ready(h: History, namespace: str, pod: str, is_ready: bool) -> None:
    for condition in ("true", "false", "unknown"):
        value = (condition == "true") == is_ready and condition != "unknown"
        held(
            h,
            "kube_pod_status_ready",
            ksm(namespace=namespace, pod=pod, condition=condition, uid=f"uid-{pod}"),
            1 if value else 0,
        )


def waiting(h: History, namespace: str, pod: str, container: str, reason: str) -> None:
    held(
        h,
        "kube_pod_container_status_waiting_reason",
        ksm(namespace=namespace, pod=pod, container=container, reason=reason, uid=f"uid-{pod}"),
        1,
        start=-1800,
    )


def mounts(h: History, namespace: str, pod: str, claim: str, volume: str = "data") -> None:
    """The pod mounts the claim (kube_pod_spec_volumes_persistentvolumeclaims_info)."""
    held(
        h,
        "kube_pod_spec_volumes_persistentvolumeclaims_info",
        ksm(
            namespace=namespace,
            pod=pod,
            volume=volume,
            persistentvolumeclaim=claim,
            ephemeral="false",
            uid=f"uid-{pod}",
        ),
        1,
    )


def runs_image(h: History, namespace: str, pod: str, container: str, image: str) -> None:
    """The container's image (kube_pod_container_info)."""
    held(
        h,
        "kube_pod_container_info",
        ksm(
            namespace=namespace,
            pod=pod,
            container=container,
            image=image,
            image_spec=image,
            image_id="",
            container_id="",
            uid=f"uid-{pod}",
        ),
        1,
    )


def pod_info(h: History, namespace: str, pod: str, node: str, kind: str, owner: str) -> None:
    held(
        h,
        "kube_pod_info",
        ksm(
            namespace=namespace,
            pod=pod,
            node=node,
            host_ip="10.0.9.9",
            pod_ip="10.244.9.9",
            created_by_kind=kind,
            created_by_name=owner,
            uid=f"uid-{pod}",
            priority_class="",
            host_network="false",
        ),
        1,
    )


def node_ready(h: History, node: str, state: str) -> None:
    """kube_node_status_condition for Ready: one series per status, the current one is 1."""
    for status in ("true", "false", "unknown"):
        held(
            h,
            "kube_node_status_condition",
            ksm(node=node, condition="Ready", status=status),
            1 if status == state else 0,
        )


def counts(h: History, prefix: str, own: dict[str, str], **values: float) -> None:
    for suffix, value in values.items():
        held(h, f"{prefix}_{suffix}", ksm(**own), value)


CRASHING = ksm(
    namespace="checkout",
    pod="cart-7d9f8c6b5-x2l4k",
    container="cart",
    reason="CrashLoopBackOff",
    uid="uid-cart-7d9f8c6b5-x2l4k",
)


@scenario(
    alert("KubePodCrashLooping", "warning", CRASHING),
    {
        "last-termination": (r"^cart: OOMKilled$", r"cart: exit code 137 \(SIGKILL: out of mem"),
        "restarts": r"cart: [67] restarts",
        "memory-vs-limit": (r"peak working set \(1h\): 50\d MiB", r"memory limit: 512 MiB"),
        "revision-age": r"cart-7d9f8c6b5 \(this pod's revision\) was created 2[123] minutes ago",
    },
)
def crash_looping_out_of_memory(h: History) -> None:
    own = {k: CRASHING[k] for k in ("namespace", "pod", "container", "uid")}
    waiting(h, "checkout", "cart-7d9f8c6b5-x2l4k", "cart", "CrashLoopBackOff")
    held(h, "kube_pod_container_status_last_terminated_reason", ksm(**own, reason="OOMKilled"), 1)
    held(h, "kube_pod_container_status_last_terminated_exitcode", ksm(**own), 137)
    # A restart every ten minutes for the last hour, none before.
    h.series(
        "kube_pod_container_status_restarts",
        ksm(**own),
        lambda t: 0 if t < -3600 else 1 + (t + 3600) // 600,
        start=-3 * 3600,
        step=60,
        kind="counter",
    )
    limit = 512 * 2**20
    # The working set climbs to the limit within each ten-minute run, then the kernel kills it.
    h.series(
        "container_memory_working_set_bytes",
        cadvisor(
            "ip-10-0-1-12",
            "10.0.1.12",
            namespace="checkout",
            pod=own["pod"],
            container="cart",
            image="registry.example.com/shop/cart:3.2.0",
            id="/kubepods/burstable/pod1/abc",
            name="abc",
        ),
        lambda t: limit * (0.55 + 0.44 * (((t % 600) + 600) % 600) / 570),
        start=-3600,
        step=30,
    )
    held(
        h,
        "kube_pod_container_resource_limits",
        ksm(**own, resource="memory", unit="byte", node="ip-10-0-1-12"),
        limit,
    )
    pod_owner(
        h,
        "checkout",
        own["pod"],
        "cart",
        "deployment",
        owner_kind="ReplicaSet",
        owner_name="cart-7d9f8c6b5",
    )
    held(
        h,
        "kube_replicaset_created",
        ksm(namespace="checkout", replicaset="cart-7d9f8c6b5"),
        h.now - 1260,
    )


@scenario(
    alert(
        "KubePodNotReady",
        "warning",
        {"namespace": "ledger", "pod": "reports-5f6c7d8e9-abcde", "job": "kube-state-metrics"},
    ),
    {
        "phase": r"phase Pending",
        "unschedulable": r"unschedulable",
        "unbound-claims": r"claim reports-cache is Pending",
    },
    name="KubePodNotReady-unbound-claim",
)
def pod_pending_on_an_unbound_claim(h: History) -> None:
    pod = "reports-5f6c7d8e9-abcde"
    phase(h, "ledger", pod, "Pending")
    ready(h, "ledger", pod, False)
    held(h, "kube_pod_status_unschedulable", ksm(namespace="ledger", pod=pod, uid=f"uid-{pod}"), 1)
    mounts(h, "ledger", pod, "reports-cache", volume="cache")
    for claim, current in (("reports-cache", "Pending"), ("reports-archive", "Bound")):
        for name in ("Pending", "Bound", "Lost"):
            held(
                h,
                "kube_persistentvolumeclaim_status_phase",
                ksm(namespace="ledger", persistentvolumeclaim=claim, phase=name),
                1 if name == current else 0,
            )


@scenario(
    alert(
        "KubePodNotReady",
        "warning",
        {"namespace": "search", "pod": "indexer-6d5c4b3a2-zz9qp", "job": "kube-state-metrics"},
    ),
    {
        "phase": r"phase Pending",
        "waiting-containers": r"init container fetch-model waiting: ImagePullBackOff",
    },
    name="KubePodNotReady-init-container",
)
def pod_pending_on_an_init_container(h: History) -> None:
    pod = "indexer-6d5c4b3a2-zz9qp"
    phase(h, "search", pod, "Pending")
    ready(h, "search", pod, False)
    held(
        h,
        "kube_pod_init_container_status_waiting_reason",
        ksm(
            namespace="search",
            pod=pod,
            container="fetch-model",
            reason="ImagePullBackOff",
            uid=f"uid-{pod}",
        ),
        1,
        start=-1800,
    )


@scenario(
    alert(
        "KubeContainerWaiting",
        "warning",
        ksm(
            namespace="media",
            pod="transcoder-6b8d9f7c5-m4n7p",
            container="transcoder",
            reason="ImagePullBackOff",
            uid="uid-transcoder-6b8d9f7c5-m4n7p",
        ),
    ),
    {
        "image": r"transcoder: image registry\.example\.com/media/transcoder:2\.4\.1-rc1",
        "placement": r"on node ip-10-0-2-31, created by ReplicaSet transcoder-6b8d9f7c5",
        "same-reason-elsewhere": r"media: 1 container\(s\) waiting with the same reason",
    },
    starts=-4000,
)
def container_waiting_on_an_image(h: History) -> None:
    pod = "transcoder-6b8d9f7c5-m4n7p"
    waiting(h, "media", pod, "transcoder", "ImagePullBackOff")
    runs_image(h, "media", pod, "transcoder", "registry.example.com/media/transcoder:2.4.1-rc1")
    pod_info(h, "media", pod, "ip-10-0-2-31", "ReplicaSet", "transcoder-6b8d9f7c5")


def deployment_pod(
    h: History,
    namespace: str,
    deployment: str,
    replicaset: str,
    pod: str,
    current: str,
    *,
    image: str = "",
) -> None:
    phase(h, namespace, pod, current)
    pod_owner(
        h, namespace, pod, deployment, "deployment", owner_kind="ReplicaSet", owner_name=replicaset
    )
    if image:
        runs_image(h, namespace, pod, deployment, image)


ORDERS = {"namespace": "orders", "deployment": "orders-api"}


@scenario(
    alert("KubeDeploymentReplicasMismatch", "warning", ksm(**ORDERS)),
    {
        "replicas": r"available: 2",
        "pod-phases": r"1 pod\(s\) Pending",
        "waiting-reasons": r"1 container\(s\) waiting: CrashLoopBackOff",
        "unschedulable": r"1 pod\(s\) cannot be scheduled",
    },
    foreign=FOREIGN_KSM,
)
def deployment_short_of_replicas(h: History) -> None:
    counts(
        h,
        "kube_deployment",
        ORDERS,
        spec_replicas=4,
        status_replicas_available=2,
        status_replicas_updated=4,
    )
    rs = "orders-api-5c8d7b9f4"
    for pod, current in (
        (f"{rs}-a1b2c", "Running"),
        (f"{rs}-d3e4f", "Running"),
        (f"{rs}-g5h6i", "Running"),
        (f"{rs}-j7k8l", "Pending"),
    ):
        deployment_pod(h, "orders", "orders-api", rs, pod, current)
    waiting(h, "orders", f"{rs}-g5h6i", "orders-api", "CrashLoopBackOff")
    held(
        h,
        "kube_pod_status_unschedulable",
        ksm(namespace="orders", pod=f"{rs}-j7k8l", uid=f"uid-{rs}-j7k8l"),
        1,
    )


CATALOG = {"namespace": "catalog", "deployment": "catalog-web"}


@scenario(
    alert(
        "KubeDeploymentRolloutStuck",
        "warning",
        ksm(**CATALOG, condition="Progressing", status="false", reason="ProgressDeadlineExceeded"),
    ),
    {
        "replicas": r"updated \(new version\): 1",
        "images": r"1 container\(s\) run registry\.example\.com/catalog-web:1\.9\.0",
        "waiting-reasons": r"1 container\(s\) waiting: CrashLoopBackOff",
        "terminations": r"1 container\(s\) last terminated: Error",
    },
    foreign=FOREIGN_KSM,
)
def rollout_stuck_on_a_crashing_version(h: History) -> None:
    counts(
        h,
        "kube_deployment",
        CATALOG,
        spec_replicas=3,
        status_replicas_updated=1,
        status_replicas_available=3,
    )
    held(
        h,
        "kube_deployment_status_condition",
        ksm(**CATALOG, condition="Progressing", status="false", reason="ProgressDeadlineExceeded"),
        1,
    )
    old, new = "catalog-web-7f6e5d4c3", "catalog-web-8a9b0c1d2"
    for suffix in ("q1w2e", "r3t4y", "u5i6o"):
        deployment_pod(
            h,
            "catalog",
            "catalog-web",
            old,
            f"{old}-{suffix}",
            "Running",
            image="registry.example.com/catalog-web:1.8.2",
        )
    pod = f"{new}-p7a8s"
    deployment_pod(
        h,
        "catalog",
        "catalog-web",
        new,
        pod,
        "Running",
        image="registry.example.com/catalog-web:1.9.0",
    )
    waiting(h, "catalog", pod, "catalog-web", "CrashLoopBackOff")
    held(
        h,
        "kube_pod_container_status_last_terminated_reason",
        ksm(
            namespace="catalog", pod=pod, container="catalog-web", reason="Error", uid=f"uid-{pod}"
        ),
        1,
    )


def statefulset_pod(
    h: History, namespace: str, sts: str, ordinal: int, current: str, is_ready: bool
) -> str:
    pod = f"{sts}-{ordinal}"
    phase(h, namespace, pod, current)
    ready(h, namespace, pod, is_ready)
    pod_owner(h, namespace, pod, sts, "statefulset", owner_kind="StatefulSet", owner_name=sts)
    claim = f"data-{sts}-{ordinal}"
    mounts(h, namespace, pod, claim)
    return claim


def claim_phase(h: History, namespace: str, claim: str, current: str) -> None:
    for name in ("Pending", "Bound", "Lost"):
        held(
            h,
            "kube_persistentvolumeclaim_status_phase",
            ksm(namespace=namespace, persistentvolumeclaim=claim, phase=name),
            1 if name == current else 0,
        )


ZOOKEEPER = {"namespace": "coordination", "statefulset": "zookeeper"}


@scenario(
    alert("KubeStatefulSetReplicasMismatch", "warning", ksm(**ZOOKEEPER)),
    {
        "replicas": r"ready: 2",
        "pods-not-ready": r"zookeeper-2 is not ready",
        "claims": r"claim data-zookeeper-2 is Pending",
    },
    foreign=FOREIGN_KSM,
    name="KubeStatefulSetReplicasMismatch-claim",
)
def statefulset_member_without_its_volume(h: History) -> None:
    counts(
        h,
        "kube_statefulset",
        ZOOKEEPER,
        replicas=3,
        status_replicas_ready=2,
        status_replicas_updated=3,
    )
    for ordinal, current, is_ready in (
        (0, "Running", True),
        (1, "Running", True),
        (2, "Pending", False),
    ):
        claim = statefulset_pod(h, "coordination", "zookeeper", ordinal, current, is_ready)
        claim_phase(h, "coordination", claim, "Pending" if ordinal == 2 else "Bound")
    # Another StatefulSet's unbound claim whose name a pattern would confuse with ours.
    claim_phase(h, "coordination", "data-old-zookeeper-0", "Pending")


KAFKA = {"namespace": "streaming", "statefulset": "kafka"}


@scenario(
    alert("KubeStatefulSetReplicasMismatch", "warning", ksm(**KAFKA)),
    {
        "replicas": r"ready: 2",
        "pods-not-ready": r"kafka-1 is not ready",
        "waiting-reasons": r"kafka-1/kafka waiting: CrashLoopBackOff",
    },
    foreign=FOREIGN_KSM,
    name="KubeStatefulSetReplicasMismatch-crash",
)
def statefulset_member_crashing(h: History) -> None:
    counts(
        h, "kube_statefulset", KAFKA, replicas=3, status_replicas_ready=2, status_replicas_updated=3
    )
    for ordinal in range(3):
        claim = statefulset_pod(h, "streaming", "kafka", ordinal, "Running", ordinal != 1)
        claim_phase(h, "streaming", claim, "Bound")
    waiting(h, "streaming", "kafka-1", "kafka", "CrashLoopBackOff")


FLUENT_BIT = {"namespace": "logging", "daemonset": "fluent-bit"}


@scenario(
    alert("KubeDaemonSetRolloutStuck", "warning", ksm(**FLUENT_BIT)),
    {
        "counts": r"available: 4",
        "pods-not-ready": r"fluent-bit-x9k2l on node ip-10-0-3-44 is not ready",
        "waiting-reasons": r"1 container\(s\) waiting: ContainerCreating",
        "nodes-not-ready": r"node ip-10-0-3-44 is not Ready",
    },
    foreign=FOREIGN_KSM,
)
def daemonset_stuck_on_a_broken_node(h: History) -> None:
    counts(
        h,
        "kube_daemonset",
        FLUENT_BIT,
        status_desired_number_scheduled=5,
        status_updated_number_scheduled=5,
        status_number_available=4,
        status_number_misscheduled=0,
        status_current_number_scheduled=5,
    )
    for node, pod in (
        ("ip-10-0-3-40", "fluent-bit-b7c2d"),
        ("ip-10-0-3-41", "fluent-bit-f4g8h"),
        ("ip-10-0-3-42", "fluent-bit-j1k5m"),
        ("ip-10-0-3-43", "fluent-bit-n6p3q"),
        ("ip-10-0-3-44", "fluent-bit-x9k2l"),
    ):
        broken = node == "ip-10-0-3-44"
        pod_info(h, "logging", pod, node, "DaemonSet", "fluent-bit")
        ready(h, "logging", pod, not broken)
        pod_owner(
            h,
            "logging",
            pod,
            "fluent-bit",
            "daemonset",
            owner_kind="DaemonSet",
            owner_name="fluent-bit",
        )
        node_ready(h, node, "false" if broken else "true")
    waiting(h, "logging", "fluent-bit-x9k2l", "fluent-bit", "ContainerCreating")


INVOICES = {"namespace": "billing", "job_name": "invoice-export-29034120"}


@scenario(
    alert("KubeJobFailed", "warning", ksm(**INVOICES, condition="true")),
    {
        "failed-pods": r"7 pod\(s\) failed, reason BackoffLimitExceeded",
        "pod-terminations": r"invoice-export-29034120-[a-z0-9]{5}/export: OOMKilled",
        "cronjob-last-success": r"CronJob invoice-export, whose last successful run was 26\.\d h",
    },
    foreign=FOREIGN_KSM,
)
def job_failed_out_of_memory(h: History) -> None:
    held(h, "kube_job_failed", ksm(**INVOICES, condition="true"), 1)
    held(h, "kube_job_failed", ksm(**INVOICES, condition="false"), 0)
    held(h, "kube_job_status_failed", ksm(**INVOICES, reason="BackoffLimitExceeded"), 7)
    held(
        h,
        "kube_job_owner",
        ksm(
            **INVOICES,
            owner_kind="CronJob",
            owner_name="invoice-export",
            owner_is_controller="true",
        ),
        1,
    )
    held(
        h,
        "kube_cronjob_status_last_successful_time",
        ksm(namespace="billing", cronjob="invoice-export"),
        h.now - 26.2 * 3600,
    )
    for suffix in ("h2k4m", "p9r3s"):
        pod = f"invoice-export-29034120-{suffix}"
        held(
            h,
            "kube_pod_owner",
            ksm(
                namespace="billing",
                pod=pod,
                owner_kind="Job",
                owner_name=INVOICES["job_name"],
                owner_is_controller="true",
                uid=f"uid-{pod}",
            ),
            1,
        )
        held(
            h,
            "kube_pod_container_status_terminated_reason",
            ksm(
                namespace="billing",
                pod=pod,
                container="export",
                reason="OOMKilled",
                uid=f"uid-{pod}",
            ),
            1,
        )


ROLLUP = {"namespace": "etl", "job_name": "nightly-rollup-29033400"}


@scenario(
    alert("KubeJobNotCompleted", "warning", ROLLUP),
    {
        "active": r"active: 1",
        "pod-phases": r"nightly-rollup-29033400-q8w2c: Pending",
        "waiting-reasons": r"nightly-rollup-29033400-q8w2c/rollup waiting: ContainerCreating",
    },
)
def job_stuck_creating_its_container(h: History) -> None:
    held(h, "kube_job_status_active", ksm(**ROLLUP), 1)
    held(h, "kube_job_status_succeeded", ksm(**ROLLUP), 0)
    held(h, "kube_job_status_failed", ksm(**ROLLUP), 0)
    held(h, "kube_job_status_start_time", ksm(**ROLLUP), h.now - 13 * 3600)
    pod = "nightly-rollup-29033400-q8w2c"
    phase(h, "etl", pod, "Pending")
    held(
        h,
        "kube_pod_owner",
        ksm(
            namespace="etl",
            pod=pod,
            owner_kind="Job",
            owner_name=ROLLUP["job_name"],
            owner_is_controller="true",
            uid=f"uid-{pod}",
        ),
        1,
    )
    waiting(h, "etl", pod, "rollup", "ContainerCreating")


STOREFRONT = {"namespace": "frontend", "horizontalpodautoscaler": "storefront"}


@scenario(
    alert("KubeHpaMaxedOut", "warning", ksm(**STOREFRONT)),
    {
        "bounds": r"max: 10",
        "metric-vs-target": r"cpu \(utilization\): 193% of its target",
        "time-at-max": r"at its maximum for (5\.8|5\.9|6\.0|6\.1|6\.2) of the last 24 hours",
    },
    foreign=FOREIGN_KSM,
)
def hpa_at_its_ceiling_for_six_hours(h: History) -> None:
    window = {"start": -26 * 3600, "step": 300}
    for suffix, value in (
        ("spec_min_replicas", 2),
        ("spec_max_replicas", 10),
        ("status_desired_replicas", 10),
    ):
        held(h, f"kube_horizontalpodautoscaler_{suffix}", ksm(**STOREFRONT), value, **window)
    gauge(
        h,
        "kube_horizontalpodautoscaler_status_current_replicas",
        ksm(**STOREFRONT),
        lambda t: 10 if t > -6 * 3600 else 6,
        start=-26 * 3600,
        step=300,
    )
    metric = {"metric_name": "cpu", "metric_target_type": "utilization"}
    held(h, "kube_horizontalpodautoscaler_spec_target_metric", ksm(**STOREFRONT, **metric), 70)
    held(h, "kube_horizontalpodautoscaler_status_target_metric", ksm(**STOREFRONT, **metric), 135)
