"""Prometheus server scenarios (prometheus.yaml), with both job namings.

kube-prometheus calls the job prometheus-k8s, kube-prometheus-stack <release>-prometheus.
"""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import ready
from tests.catalogue.shapes import alert, counter, held, kubelet, prometheus_target
from tests.support.prometheus import History

KPS_JOB = "kube-prometheus-stack-prometheus"
RULE_FILE = "/etc/prometheus/rules/prometheus-kube-prometheus-stack-prometheus-rulefiles-0"
APP_GROUP = f"{RULE_FILE}/monitoring-app-rules-3f2e.yaml;app.rules"
K8S_GROUP = f"{RULE_FILE}/monitoring-k8s-rules-1a2b.yaml;k8s.rules"

RULES = prometheus_target(KPS_JOB, "prometheus-kube-prometheus-stack-prometheus-0", "10.244.5.10")


@scenario(
    alert("PrometheusRuleFailures", "critical", RULES | {"rule_group": APP_GROUP}),
    {
        "failing-groups": r"monitoring-app-rules-3f2e\.yaml;app\.rules: 60 failed evaluations",
        "slow-groups": r"k8s\.rules: the last evaluation took 85% of its interval",
        "missed": r"k8s\.rules: 4 evaluations skipped",
    },
)
def rule_group_failing(h: History) -> None:
    counter(
        h,
        "prometheus_rule_evaluation_failures_total",
        RULES | {"rule_group": APP_GROUP},
        1 / 60,
        step=30,
    )
    counter(
        h,
        "prometheus_rule_evaluation_failures_total",
        RULES | {"rule_group": K8S_GROUP},
        0,
        step=30,
    )
    for group, duration in ((APP_GROUP, 0.2), (K8S_GROUP, 25.5)):
        held(
            h,
            "prometheus_rule_group_last_duration_seconds",
            RULES | {"rule_group": group},
            duration,
        )
        held(h, "prometheus_rule_group_interval_seconds", RULES | {"rule_group": group}, 30)
    counter(
        h,
        "prometheus_rule_group_iterations_missed_total",
        RULES | {"rule_group": K8S_GROUP},
        4 / 3600,
        step=30,
    )


BAD_CONFIG = prometheus_target("prometheus-k8s", "prometheus-k8s-1", "10.244.6.11")


@scenario(
    alert("PrometheusBadConfig", "critical", BAD_CONFIG),
    {
        "last-good": r"the configuration in use was loaded 5\.5 hours ago",
        "reloader": r"config-reloader: last reload failed",
        "restarts": r"Prometheus restarted 0 time\(s\)",
    },
)
def prometheus_rejecting_its_configuration(h: History) -> None:
    held(
        h, "prometheus_config_last_reload_success_timestamp_seconds", BAD_CONFIG, h.now - 5.5 * 3600
    )
    held(h, "prometheus_config_last_reload_successful", BAD_CONFIG, 0, start=-3600)
    held(h, "process_start_time_seconds", BAD_CONFIG, h.now - 9 * 86400)
    reloader = BAD_CONFIG | {
        "container": "config-reloader",
        "endpoint": "reloader-web",
        "instance": "10.244.6.11:8080",
    }
    held(h, "reloader_last_reload_successful", reloader, 0)


LONELY = prometheus_target(
    "prometheus-k8s", "prometheus-k8s-0", "10.244.6.10", namespace="monitoring-dr"
)


@scenario(
    alert("PrometheusNotConnectedToAlertmanagers", "warning", LONELY),
    {
        "discovered": r"0 Alertmanager\(s\) discovered",
        "dropped": r"320 alert notification\(s\) dropped",
        "alertmanager-pods": r"alertmanager-main-0: not Ready",
    },
)
def prometheus_without_alertmanagers(h: History) -> None:
    held(h, "prometheus_notifications_alertmanagers_discovered", LONELY, 0)
    counter(h, "prometheus_notifications_dropped_total", LONELY, 320 / 3600, step=30)
    for pod in ("alertmanager-main-0", "alertmanager-main-1"):
        ready(h, "monitoring-dr", pod, False)


SENDING = prometheus_target(KPS_JOB, "prometheus-kube-prometheus-stack-prometheus-1", "10.244.5.11")


@scenario(
    alert("PrometheusErrorSendingAlertsToAnyAlertmanager", "critical", SENDING),
    {
        "errors-by-alertmanager": r"http://10\.244\.7\.21:9093/api/v2/alerts: 100% of sends fail",
        "queue": r"the queue is 10% full",
        "dropped": r"40 alert notification\(s\) dropped",
    },
)
def prometheus_failing_to_send(h: History) -> None:
    for address, failing in (("10.244.7.20", 0.5), ("10.244.7.21", 1.0)):
        labels = SENDING | {"alertmanager": f"http://{address}:9093/api/v2/alerts"}
        counter(h, "prometheus_notifications_sent_total", labels, 2, start=-3600, step=15)
        counter(
            h, "prometheus_notifications_errors_total", labels, 2 * failing, start=-3600, step=15
        )
    held(h, "prometheus_notifications_queue_length", SENDING, 1000)
    held(h, "prometheus_notifications_queue_capacity", SENDING, 10000)
    counter(h, "prometheus_notifications_dropped_total", SENDING, 40 / 3600, step=30)


REMOTE = prometheus_target("prometheus-k8s", "prometheus-k8s-0", "10.244.6.12")
MIMIR = {"remote_name": "mimir", "url": "https://mimir.example.com/api/v1/push"}


@scenario(
    alert("PrometheusRemoteWriteBehind", "critical", REMOTE | MIMIR),
    {
        "shards": r"shards desired: 60",
        "failures": r"samples sent: 25000 per second",
        "pending": r"1200000 samples pending",
    },
)
def remote_write_short_of_shards(h: History) -> None:
    labels = REMOTE | MIMIR
    for name, value in (
        ("shards_desired", 60),
        ("shards_max", 50),
        ("shards", 50),
        ("samples_pending", 1_200_000),
    ):
        held(h, f"prometheus_remote_storage_{name}", labels, value)
    for name, per_second in (
        ("samples_total", 25_000),
        ("samples_failed_total", 0),
        ("samples_retried_total", 0),
    ):
        counter(h, f"prometheus_remote_storage_{name}", labels, per_second, start=-3600, step=15)


COMPACTING = prometheus_target(
    "platform-prometheus",
    "prometheus-platform-prometheus-0",
    "10.244.5.12",
    namespace="observability",
)
DATA_CLAIM = "prometheus-platform-prometheus-db-prometheus-platform-prometheus-0"


@scenario(
    alert("PrometheusTSDBCompactionsFailing", "warning", COMPACTING),
    {
        "failures": r"6 failed compaction\(s\) in the last 6 hours",
        "volume": rf"{DATA_CLAIM}: 1\.2% free",
        "head": r"3100000 series in the head block",
    },
)
def compactions_failing_on_a_full_volume(h: History) -> None:
    counter(
        h,
        "prometheus_tsdb_compactions_failed_total",
        COMPACTING,
        1 / 3600,
        start=-8 * 3600,
        step=60,
    )
    held(h, "prometheus_tsdb_head_series", COMPACTING, 3_100_000)
    claim = {"namespace": "observability", "persistentvolumeclaim": DATA_CLAIM}
    held(
        h,
        "kubelet_volume_stats_capacity_bytes",
        kubelet("ip-10-0-5-40", "10.0.5.40", **claim),
        100 * 2**30,
    )
    held(
        h,
        "kubelet_volume_stats_available_bytes",
        kubelet("ip-10-0-5-40", "10.0.5.40", **claim),
        1.2 * 2**30,
    )
