"""etcd scenarios (etcd.yaml): three members each, every cluster under its own `cluster`
label (the job is kube-etcd in each, as kube-prometheus-stack names it)."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.shapes import alert, counter, etcd, held, histogram
from tests.support.prometheus import History

MEMBER_IDS = ("8e9e05c52164694d", "91bc3c398fb3c146", "fd422379fda50e48")


def members(cluster: str, subnet: int) -> list[dict[str, str]]:
    return [
        etcd(f"10.0.{subnet}.{i + 1}", f"cp-{subnet}-{i + 1}", cluster=cluster) for i in range(3)
    ]


def group_labels(cluster: str, subnet: int, *drop: str) -> dict[str, str]:
    """The labels an aggregating etcd alert keeps: the member's minus `drop`."""
    labels = members(cluster, subnet)[0]
    return {k: v for k, v in labels.items() if k not in drop}


def up(h: History, cluster: str, subnet: int, *states: bool) -> None:
    for labels, is_up in zip(members(cluster, subnet), states, strict=True):
        held(h, "up", labels, 1 if is_up else 0)


def has_leader(h: History, cluster: str, subnet: int, *states: bool | None) -> None:
    for labels, state in zip(members(cluster, subnet), states, strict=True):
        if state is not None:  # a member that is down reports nothing
            held(h, "etcd_server_has_leader", labels, 1 if state else 0)


def peer_failures(h: History, cluster: str, subnet: int, towards: int, per_second: float) -> None:
    for index, labels in enumerate(members(cluster, subnet)):
        if index != towards:
            counter(
                h,
                "etcd_network_peer_sent_failures_total",
                labels | {"To": MEMBER_IDS[towards]},
                per_second,
                start=-3600,
                step=15,
            )


def leader_changes(h: History, cluster: str, subnet: int, per_hour: float) -> None:
    for labels in members(cluster, subnet):
        counter(h, "etcd_server_leader_changes_seen_total", labels, per_hour / 3600, step=30)


def slow_disk(h: History, cluster: str, subnet: int, metric: str, *p99: str) -> None:
    """Per member, buckets whose 99th percentile is the given one (p99 of {le: rate})."""
    shapes = {
        "8ms": {"0.004": 90, "0.008": 99, "0.016": 100, "+Inf": 100},
        "768ms": {"0.256": 90, "0.512": 98, "1.024": 100, "+Inf": 100},
        "256ms": {"0.128": 90, "0.256": 99, "0.512": 100, "+Inf": 100},
        "384ms": {"0.256": 98, "0.512": 100, "+Inf": 100},
    }
    for labels, quantile in zip(members(cluster, subnet), p99, strict=True):
        histogram(h, metric, labels, shapes[quantile], start=-3600, step=15)


@scenario(
    alert(
        "etcdMembersDown", "warning", group_labels("etcd-down", 40, "instance", "pod", "endpoint")
    ),
    {
        "members-up": r"10\.0\.40\.3:2381: down",
        "peer-failures": r"10\.0\.40\.1:2381 cannot reach peer fd422379fda50e48",
        "has-leader": r"10\.0\.40\.1:2381: has a leader",
    },
)
def etcd_member_lost(h: History) -> None:
    up(h, "etcd-down", 40, True, True, False)
    has_leader(h, "etcd-down", 40, True, True, None)
    peer_failures(h, "etcd-down", 40, 2, 2.0)


@scenario(
    alert(
        "etcdInsufficientMembers", "critical", group_labels("etcd-quorum", 41, "instance", "pod")
    ),
    {
        "members-up": r"10\.0\.41\.2:2381: down",
        "has-leader": r"10\.0\.41\.1:2381: NO leader",
    },
)
def etcd_without_quorum(h: History) -> None:
    up(h, "etcd-quorum", 41, True, False, False)
    has_leader(h, "etcd-quorum", 41, False, None, None)


@scenario(
    alert("etcdNoLeader", "critical", members("etcd-leader", 42)[1]),
    {
        "has-leader": r"10\.0\.42\.2:2381: NO leader",
        "leader-changes": r"10\.0\.42\.1:2381: 5 leader change\(s\) seen in the last hour",
        "peer-failures": r"cannot reach peer 91bc3c398fb3c146",
    },
)
def etcd_member_partitioned(h: History) -> None:
    up(h, "etcd-leader", 42, True, True, True)
    has_leader(h, "etcd-leader", 42, True, False, True)
    leader_changes(h, "etcd-leader", 42, 5)
    peer_failures(h, "etcd-leader", 42, 1, 1.5)


@scenario(
    alert("etcdHighFsyncDurations", "warning", members("etcd-disk", 43)[0]),
    {
        "fsync-by-member": r"10\.0\.43\.1:2381: WAL fsync p99 768 ms",
        "commit-by-member": r"10\.0\.43\.1:2381: backend commit p99 384 ms",
        "leader-changes": r"2 leader change\(s\) in the last hour",
    },
)
def etcd_member_on_a_slow_disk(h: History) -> None:
    slow_disk(h, "etcd-disk", 43, "etcd_disk_wal_fsync_duration_seconds", "768ms", "8ms", "8ms")
    slow_disk(
        h, "etcd-disk", 43, "etcd_disk_backend_commit_duration_seconds", "384ms", "8ms", "8ms"
    )
    leader_changes(h, "etcd-disk", 43, 2)


@scenario(
    alert("etcdDatabaseQuotaLowSpace", "critical", members("etcd-quota", 44)[0]),
    {
        "size-vs-quota": r"10\.0\.44\.1:2381: 98% of the quota",
        "in-use": r"10\.0\.44\.1:2381: 31% in use",
        "growth": r"in-use size changed by \+40 MiB in the last 6 hours",
    },
)
def etcd_database_fragmented(h: History) -> None:
    mib = 2**20
    for labels in members("etcd-quota", 44):
        held(h, "etcd_server_quota_backend_bytes", labels, 2048 * mib, start=-8 * 3600)
        held(h, "etcd_mvcc_db_total_size_in_bytes", labels, 2007 * mib, start=-8 * 3600)
        h.series(
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            labels,
            lambda t: (622 + t / 3600 * 40 / 6) * mib,
            start=-8 * 3600,
            step=60,
        )


@scenario(
    alert(
        "etcdHighNumberOfLeaderChanges",
        "warning",
        group_labels("etcd-elect", 45, "instance", "pod"),
    ),
    {
        "leader-changes": r"10\.0\.45\.1:2381: 6 leader change\(s\) seen",
        "fsync-by-member": r"10\.0\.45\.2:2381: WAL fsync p99 256 ms",
        "peer-latency": r"10\.0\.45\.1:2381 to 91bc3c398fb3c146: 256 ms",
    },
)
def etcd_electing_on_slow_disks(h: History) -> None:
    leader_changes(h, "etcd-elect", 45, 6)
    slow_disk(
        h, "etcd-elect", 45, "etcd_disk_wal_fsync_duration_seconds", "256ms", "256ms", "256ms"
    )
    for index, labels in enumerate(members("etcd-elect", 45)):
        for peer in range(3):
            if peer != index:
                histogram(
                    h,
                    "etcd_network_peer_round_trip_time_seconds",
                    labels | {"To": MEMBER_IDS[peer]},
                    {"0.128": 90, "0.256": 99, "0.512": 100, "+Inf": 100},
                    start=-3600,
                    step=15,
                )
