"""Host scenarios (node-exporter.yaml): filesystems, memory, conntrack, clocks, NICs, CPU, disks.

node-exporter series carry instance=IP:9100 and the exporter pod, never `node`; the
Kubernetes node comes from node_namespace_pod:kube_pod_info:, written by `node_of_exporter`.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.catalogue.scenarios import scenario
from tests.catalogue.shapes import (
    alert,
    cadvisor,
    counter,
    gauge,
    held,
    ksm,
    node_exporter,
    node_of_exporter,
)
from tests.support.prometheus import History

GIB = 2**30
Gauge = float | Callable[[float], float]


def filesystem(
    h: History,
    node: tuple[str, str],
    mount: dict[str, str],
    *,
    size: float,
    avail: Gauge,
    files: float,
    files_free: Gauge,
    **window: float,
) -> None:
    labels = node_exporter(*node, **mount)
    window = {"start": -8 * 3600.0} | window
    gauge(h, "node_filesystem_size_bytes", labels, size, **window)
    gauge(h, "node_filesystem_avail_bytes", labels, avail, **window)
    gauge(h, "node_filesystem_files", labels, files, **window)
    gauge(h, "node_filesystem_files_free", labels, files_free, **window)
    gauge(h, "node_filesystem_readonly", labels, 0, **window)


def disk_pressure(h: History, node: str, on: bool) -> None:
    for status in ("true", "false", "unknown"):
        held(
            h,
            "kube_node_status_condition",
            ksm(node=node, condition="DiskPressure", status=status),
            1 if (status == "true") == on and status != "unknown" else 0,
        )


def host_alert(name: str, severity: str, node: tuple[str, str], **own: str) -> dict[str, str]:
    return alert(name, severity, node_exporter(*node, **own))


ROOT = {"device": "/dev/nvme0n1p1", "fstype": "xfs", "mountpoint": "/"}
FILLING = ("ip-10-0-20-21", "10.0.20.21")
# The exporter's pod and namespace lead to the node (node_namespace_pod:kube_pod_info:);
# only its container is about the exporter alone.
EXPORTER = ("container",)


@scenario(
    host_alert("NodeFilesystemSpaceFillingUp", "warning", FILLING, **ROOT),
    {
        "time-to-full": r"full in about 4\.9 hours at the rate of the last 6 hours",
        "free-space": r"/ free: 9\.00 GiB",
        "node": r"node ip-10-0-20-21: DiskPressure not yet",
        "inodes": r"92\.0% of inodes free",
    },
    foreign=EXPORTER,
)
def root_filesystem_full_in_five_hours(h: History) -> None:
    # 20 GiB free six hours ago, 9 GiB now: 11/6 GiB an hour, empty in 4.9 hours.
    filesystem(
        h,
        FILLING,
        ROOT,
        size=100 * GIB,
        avail=lambda t: (9 - t / 3600 * 11 / 6) * GIB,
        files=5_000_000,
        files_free=4_600_000,
    )
    node_of_exporter(h, FILLING[0])
    disk_pressure(h, FILLING[0], False)


CONTAINERD = {"device": "/dev/nvme1n1", "fstype": "ext4", "mountpoint": "/var/lib/containerd"}
NEARLY_FULL = ("ip-10-0-21-22", "10.0.21.22")


@scenario(
    host_alert("NodeFilesystemAlmostOutOfSpace", "critical", NEARLY_FULL, **CONTAINERD),
    {
        "free-space": r"/var/lib/containerd free: 6\.00 GiB",
        "change": r"24\.\d\d GiB used up\s+in the last 24 hours",
        "node": r"node ip-10-0-21-22: DiskPressure yes, the kubelet is evicting",
    },
    foreign=EXPORTER,
)
def image_filesystem_nearly_full(h: History) -> None:
    filesystem(
        h,
        NEARLY_FULL,
        CONTAINERD,
        size=200 * GIB,
        avail=lambda t: (6 - t / 86400 * 24) * GIB,
        files=13_000_000,
        files_free=12_000_000,
        start=-26 * 3600,
        step=120,
    )
    node_of_exporter(h, NEARLY_FULL[0])
    disk_pressure(h, NEARLY_FULL[0], True)


INODES = ("ip-10-0-22-23", "10.0.22.23")


@scenario(
    host_alert("NodeFilesystemFilesFillingUp", "warning", INODES, **ROOT),
    {
        "inodes": r"/: 18\.5% of inodes free",
        "time-to-exhaustion": r"out of inodes in about 9\.0 hours",
        "free-space": r"55% of the space is still free",
    },
    foreign=EXPORTER,
)
def root_filesystem_losing_inodes(h: History) -> None:
    filesystem(
        h,
        INODES,
        ROOT,
        size=80 * GIB,
        avail=44 * GIB,
        files=6_500_000,
        files_free=lambda t: 1_200_000 - t / 3600 * 133_333.3,
    )


DATA = {"device": "/dev/sdb1", "fstype": "ext4", "mountpoint": "/data"}
NO_INODES = ("ip-10-0-23-24", "10.0.23.24")


@scenario(
    host_alert("NodeFilesystemAlmostOutOfFiles", "critical", NO_INODES, **DATA),
    {
        "inodes": r"/data: 3\.0% of inodes free",
        "time-to-exhaustion": r"out of inodes in about 30\.0 hours",
        "free-space": r"80% of the space is still free",
    },
    foreign=EXPORTER,
)
def data_filesystem_out_of_inodes(h: History) -> None:
    filesystem(
        h,
        NO_INODES,
        DATA,
        size=500 * GIB,
        avail=400 * GIB,
        files=1_000_000,
        files_free=lambda t: 30_000 - t / 3600 * 1_000,
    )


def pod_usage(h: History, node: tuple[str, str], usage: dict[str, float], metric: str) -> None:
    """Per-pod cAdvisor series on `node`: memory in GiB, or CPU in cores."""
    for namespace_pod, value in usage.items():
        namespace, pod = namespace_pod.split("/")
        labels = cadvisor(
            *node,
            namespace=namespace,
            pod=pod,
            container="main",
            image=f"registry.example.com/{pod}:1",
        )
        if metric == "memory":
            held(h, "container_memory_working_set_bytes", labels, value * GIB)
        elif metric == "cpu":
            counter(h, "container_cpu_usage_seconds_total", labels, value, start=-3600, step=15)
        else:
            counter(
                h,
                "container_network_receive_packets_total",
                labels | {"interface": "eth0"},
                value,
                start=-3600,
                step=15,
            )


MEMORY = ("ip-10-0-24-25", "10.0.24.25")


@scenario(
    host_alert("NodeMemoryHighUtilization", "warning", MEMORY),
    {
        "available": r"available: 2\.1 GiB",
        "oom-kills": r"3 process\(es\) killed by the kernel",
        "top-pods": r"analytics/spark-exec-1: 14\.00 GiB",
        "major-faults": r"850 major page faults per second",
    },
    foreign=EXPORTER,
)
def node_out_of_memory(h: History) -> None:
    labels = node_exporter(*MEMORY)
    held(h, "node_memory_MemTotal_bytes", labels, 32 * GIB)
    held(h, "node_memory_MemAvailable_bytes", labels, 2.1 * GIB)
    counter(h, "node_vmstat_oom_kill", labels, 3 / 3600, step=30)
    counter(h, "node_vmstat_pgmajfault", labels, 850, step=15, start=-3600)
    node_of_exporter(h, MEMORY[0])
    pod_usage(
        h,
        MEMORY,
        {"analytics/spark-exec-1": 14, "analytics/spark-exec-2": 9, "web/api-1": 1.5},
        "memory",
    )
    # A pod of another node using even more: the join must leave it out.
    pod_usage(h, ("ip-10-0-24-99", "10.0.24.99"), {"analytics/spark-driver": 20}, "memory")


CONNTRACK = ("ip-10-0-25-26", "10.0.25.26")


@scenario(
    host_alert("NodeHighNumberConntrackEntriesUsed", "warning", CONNTRACK),
    {
        "usage": r"limit: 262144",
        "growth": r"\+500 entries per minute",
        "drops": r"40 connection\(s\) dropped in the last hour",
        "top-pods": r"dns/coredns-5d4c3-abcde: 12000 packets per second",
    },
    foreign=EXPORTER,
)
def conntrack_table_filling(h: History) -> None:
    labels = node_exporter(*CONNTRACK)
    gauge(h, "node_nf_conntrack_entries", labels, lambda t: 200_000 + t / 60 * 500, start=-3600)
    gauge(h, "node_nf_conntrack_entries_limit", labels, 262_144, start=-3600)
    counter(h, "node_nf_conntrack_stat_drop", labels, 30 / 3600, step=30)
    counter(h, "node_nf_conntrack_stat_early_drop", labels, 10 / 3600, step=30)
    node_of_exporter(h, CONNTRACK[0])
    pod_usage(h, CONNTRACK, {"dns/coredns-5d4c3-abcde": 12_000, "web/api-2": 800}, "packets")


def timex(
    h: History, node: tuple[str, str], cluster: str, *, offset: Gauge, maxerror: float, synced: bool
) -> None:
    labels = node_exporter(*node, cluster=cluster)
    gauge(h, "node_timex_offset_seconds", labels, offset, start=-7200)
    gauge(h, "node_timex_maxerror_seconds", labels, maxerror, start=-7200)
    gauge(h, "node_timex_sync_status", labels, 1 if synced else 0, start=-7200)


UNSYNCED = ("ip-10-0-26-27", "10.0.26.27")


@scenario(
    host_alert("NodeClockNotSynchronising", "warning", UNSYNCED, cluster="clocks"),
    {
        "offset": r"offset \+2\.345 s",
        "error-estimate": r"maximum error 16\.0 s",
        "unsynchronised-nodes": r"2 node\(s\) not synchronised",
        "uptime": r"booted 40 minutes ago",
    },
    foreign=EXPORTER,
)
def clock_without_time_source(h: History) -> None:
    timex(h, UNSYNCED, "clocks", offset=2.345, maxerror=16, synced=False)
    timex(h, ("ip-10-0-26-28", "10.0.26.28"), "clocks", offset=0.9, maxerror=16, synced=False)
    timex(h, ("ip-10-0-26-29", "10.0.26.29"), "clocks", offset=0.001, maxerror=0.2, synced=True)
    held(
        h,
        "node_boot_time_seconds",
        node_exporter(*UNSYNCED, cluster="clocks"),
        h.now - 2400,
        start=-2400,
    )


SKEWED = ("ip-10-0-27-28", "10.0.27.28")


@scenario(
    host_alert("NodeClockSkewDetected", "warning", SKEWED, cluster="skew"),
    {
        "offset": r"change per hour: \+0\.030 s",
        "sync-status": r"^synchronised",
        "skewed-nodes": r"1 node\(s\) in the cluster are more than 50 ms off",
    },
    foreign=EXPORTER,
)
def clock_drifting_away(h: History) -> None:
    timex(h, SKEWED, "skew", offset=lambda t: 0.12 + t / 3600 * 0.03, maxerror=0.5, synced=True)
    timex(h, ("ip-10-0-27-29", "10.0.27.29"), "skew", offset=0.002, maxerror=0.1, synced=True)


def nic(
    h: History,
    node: tuple[str, str],
    device: str,
    direction: str,
    rates: dict[str, float],
    *,
    speed: float,
    carrier_changes: int,
    **extra: str,
) -> None:
    labels = node_exporter(*node, device=device, **extra)
    for kind, per_second in rates.items():
        counter(
            h, f"node_network_{direction}_{kind}_total", labels, per_second, start=-3600, step=15
        )
    counter(
        h,
        "node_network_carrier_changes_total",
        labels,
        carrier_changes / 3600,
        step=15,
        start=-7200,
    )
    held(h, "node_network_speed_bytes", labels, speed)


NIC_RX = ("ip-10-0-28-29", "10.0.28.29")


@scenario(
    host_alert("NodeNetworkReceiveErrs", "warning", NIC_RX, device="eth0", cluster="nics"),
    {
        "error-kinds": r"eth0 FIFO overruns: 850\.0 per second",
        "carrier-changes": r"went down or up 4 time\(s\)",
        "utilisation": r"receiving at 80% of the link speed",
        "hosts-affected": r"1 interface\(s\) above 1% receive errors",
    },
    foreign=EXPORTER,
)
def nic_overrunning_its_ring_buffer(h: History) -> None:
    nic(
        h,
        NIC_RX,
        "eth0",
        "receive",
        {"packets": 50_000, "errs": 900, "drop": 10, "fifo": 850, "frame": 50, "bytes": 1e9},
        speed=1.25e9,
        carrier_changes=4,
        cluster="nics",
    )
    nic(
        h,
        ("ip-10-0-28-30", "10.0.28.30"),
        "eth0",
        "receive",
        {"packets": 40_000, "errs": 0, "bytes": 2e8},
        speed=1.25e9,
        carrier_changes=0,
        cluster="nics",
    )


NIC_TX = ("ip-10-0-29-30", "10.0.29.30")


@scenario(
    host_alert("NodeNetworkTransmitErrs", "warning", NIC_TX, device="ens5"),
    {
        "error-kinds": r"ens5 carrier errors: 590\.0 per second",
        "carrier-changes": r"went down or up 12 time\(s\)",
        "utilisation": r"sending at 24% of the link speed",
    },
    foreign=EXPORTER,
)
def nic_losing_its_carrier(h: History) -> None:
    nic(
        h,
        NIC_TX,
        "ens5",
        "transmit",
        {"packets": 40_000, "errs": 600, "drop": 0, "carrier": 590, "bytes": 3e8},
        speed=1.25e9,
        carrier_changes=12,
    )


def cpus(h: History, node: tuple[str, str], count: int, modes: dict[str, float]) -> None:
    labels = node_exporter(*node)
    idle = 1 - sum(modes.values())
    for cpu in range(count):
        for mode, share in {**modes, "idle": idle}.items():
            counter(
                h,
                "node_cpu_seconds_total",
                labels | {"cpu": str(cpu), "mode": mode},
                share,
                start=-3600,
                step=15,
            )


BUSY = ("ip-10-0-30-31", "10.0.30.31")


@scenario(
    host_alert("NodeCPUHighUsage", "info", BUSY),
    {
        "by-mode": r"user: 70%",
        "top-pods": r"ml/trainer-7f8c9-abcde: 4\.20 cores",
        "load": r"load 1\.35 per CPU",
    },
    foreign=EXPORTER,
)
def node_cpu_saturated_by_one_pod(h: History) -> None:
    cpus(h, BUSY, 8, {"user": 0.70, "system": 0.15, "iowait": 0.02, "steal": 0.06})
    held(h, "node_load1", node_exporter(*BUSY), 10.8)
    node_of_exporter(h, BUSY[0])
    pod_usage(h, BUSY, {"ml/trainer-7f8c9-abcde": 4.2, "web/api-3": 1.1}, "cpu")


SATURATED = ("ip-10-0-31-32", "10.0.31.32")


@scenario(
    host_alert("NodeSystemSaturation", "warning", SATURATED),
    {
        "load": r"load 2\.60 per CPU over 1 minute",
        "by-mode": r"iowait: 45%",
        "pressure": r"tasks waited for I/O 62% of the time",
        "top-pods": r"db/mysql-0: 0\.80 cores",
    },
    foreign=EXPORTER,
)
def node_waiting_on_its_disk(h: History) -> None:
    labels = node_exporter(*SATURATED)
    cpus(h, SATURATED, 4, {"user": 0.20, "system": 0.10, "iowait": 0.45})
    held(h, "node_load1", labels, 10.4)
    held(h, "node_load15", labels, 9.2)
    counter(h, "node_pressure_io_waiting_seconds_total", labels, 0.62, start=-3600, step=15)
    counter(h, "node_pressure_cpu_waiting_seconds_total", labels, 0.15, start=-3600, step=15)
    node_of_exporter(h, SATURATED[0])
    pod_usage(h, SATURATED, {"db/mysql-0": 0.8}, "cpu")


DISK = ("ip-10-0-32-33", "10.0.32.33")


@scenario(
    host_alert("NodeDiskIOSaturation", "warning", DISK, device="nvme1n1"),
    {
        "busy": r"nvme1n1 busy 98% of the time",
        "throughput": r"written: 120\.0 MiB/s",
        "latency": r"20\.0 ms per write",
    },
    foreign=EXPORTER,
)
def disk_saturated_by_writes(h: History) -> None:
    labels = node_exporter(*DISK, device="nvme1n1")
    for name, per_second in (
        ("io_time_seconds", 0.98),
        ("io_time_weighted_seconds", 14),
        ("read_bytes", 5 * 2**20),
        ("written_bytes", 120 * 2**20),
        ("write_time_seconds", 30),
        ("writes_completed", 1500),
    ):
        counter(h, f"node_disk_{name}_total", labels, per_second, start=-3600, step=15)
