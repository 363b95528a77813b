"""Volume scenarios (storage.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import mounts, pod_info
from tests.catalogue.shapes import alert, gauge, held, ksm, kubelet
from tests.support.prometheus import History

GIB = 2**30
POSTGRES = {"namespace": "db", "persistentvolumeclaim": "data-postgres-0"}
POSTGRES_NODE = ("ip-10-0-5-10", "10.0.5.10")


def volume_stats(
    h: History,
    node: tuple[str, str],
    claim: dict[str, str],
    **values: float | Callable[[float], float],
) -> None:
    """kubelet_volume_stats_<name> for each of `values` (capacity_bytes, inodes_free...)."""
    labels = kubelet(*node, **claim)
    for name, value in values.items():
        gauge(h, f"kubelet_volume_stats_{name}", labels, value, start=-8 * 3600)


def mounted(h: History, claim: dict[str, str], pod: str, node: str) -> None:
    mounts(h, claim["namespace"], pod, claim["persistentvolumeclaim"])
    pod_info(h, claim["namespace"], pod, node, "StatefulSet", pod.rsplit("-", 1)[0])


@scenario(
    alert("KubePersistentVolumeFillingUp", "warning", kubelet(*POSTGRES_NODE, **POSTGRES)),
    {
        "time-to-full": r"full in about 2\.[12] hours at the rate of the last 6 hours",
        "free-space": r"free: 8\.00 GiB",
        "inodes": r"85\.0% of inodes free",
        "mounted-by": r"mounted by pod postgres-0 on node ip-10-0-5-10",
    },
    foreign=("instance",),
)
def volume_full_in_two_hours(h: History) -> None:
    # 30 GiB free eight hours ago, losing 11/3 GiB an hour: 8 GiB now, full in 2.2 hours.
    volume_stats(
        h,
        POSTGRES_NODE,
        POSTGRES,
        capacity_bytes=100 * GIB,
        available_bytes=lambda t: (8 - t / 3600 * 11 / 3) * GIB,
        inodes=1_000_000,
        inodes_free=850_000,
    )
    mounted(h, POSTGRES, "postgres-0", POSTGRES_NODE[0])


SPOOL = {"namespace": "mail", "persistentvolumeclaim": "spool-postfix-0"}
SPOOL_NODE = ("ip-10-0-5-11", "10.0.5.11")


@scenario(
    alert("KubePersistentVolumeInodesFillingUp", "warning", kubelet(*SPOOL_NODE, **SPOOL)),
    {
        "time-to-exhaustion": r"out of inodes in about 6\.0 hours",
        "inodes": r"free: 120000 inodes",
        "free-space": r"70% of the space is still free",
        "mounted-by": r"mounted by pod postfix-0 on node ip-10-0-5-11",
    },
    foreign=("instance",),
)
def volume_out_of_inodes(h: History) -> None:
    volume_stats(
        h,
        SPOOL_NODE,
        SPOOL,
        capacity_bytes=50 * GIB,
        available_bytes=35 * GIB,
        inodes=2_000_000,
        inodes_free=lambda t: 120_000 - t / 3600 * 20_000,
    )
    mounted(h, SPOOL, "postfix-0", SPOOL_NODE[0])


FAILED_PV = "pvc-3f1c9a2e-7b4d-4e8a-9c1f-2d6b8e0a5c47"


@scenario(
    alert(
        "KubePersistentVolumeErrors", "critical", ksm(persistentvolume=FAILED_PV, phase="Failed")
    ),
    {
        "claim": r"claimed by analytics/warehouse-data",
        "backend": r"storage class gp3, CSI driver ebs\.csi\.aws\.com",
        "same-class": r"2 volume\(s\) of class gp3 are Failed",
    },
    foreign=("namespace", "pod", "container", "instance"),
)
def volume_failed_at_the_provisioner(h: History) -> None:
    volumes = (
        (FAILED_PV, "Failed", "analytics", "warehouse-data"),
        ("pvc-8b2d4f6a-1c3e-4a5b-8d7f-9e0a1b2c3d4e", "Failed", "analytics", "scratch"),
        ("pvc-0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", "Bound", "web", "uploads"),
    )
    for pv, current, namespace, claim in volumes:
        for name in ("Pending", "Available", "Bound", "Released", "Failed"):
            held(
                h,
                "kube_persistentvolume_status_phase",
                ksm(persistentvolume=pv, phase=name),
                1 if name == current else 0,
            )
        held(
            h,
            "kube_persistentvolume_claim_ref",
            ksm(persistentvolume=pv, claim_namespace=namespace, name=claim),
            1,
        )
        held(
            h,
            "kube_persistentvolume_info",
            ksm(
                persistentvolume=pv,
                storageclass="gp3",
                csi_driver="ebs.csi.aws.com",
                csi_volume_handle=f"vol-{pv[4:12]}",
            ),
            1,
        )
