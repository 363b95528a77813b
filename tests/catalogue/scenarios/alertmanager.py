"""Alertmanager scenarios (alertmanager.yaml), with both job namings."""

from __future__ import annotations

from collections.abc import Callable

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.apps import waiting
from tests.catalogue.shapes import (
    alert,
    alertmanager_target,
    counter,
    gauge,
    held,
    histogram,
    ksm,
)
from tests.support.prometheus import History

KPS_JOB = "kube-prometheus-stack-alertmanager"
SENDER = alertmanager_target(
    KPS_JOB, "alertmanager-kube-prometheus-stack-alertmanager-0", "10.244.8.30"
)


@scenario(
    alert(
        "AlertmanagerFailedToSendAlerts",
        "warning",
        SENDER | {"integration": "slack", "reason": "clientError"},
    ),
    {
        "failures": r"slack: 45 failed in the last 15 minutes\s+\(reason clientError\)",
        "latency": r"p99 0\.[89] s per attempt",
        "config-changes": r"the configuration changed 1 time\(s\) in the last 6 hours",
    },
)
def slack_token_revoked(h: History) -> None:
    slack = SENDER | {"integration": "slack"}
    counter(h, "alertmanager_notifications_total", slack, 0.1, start=-3600, step=15)
    counter(
        h,
        "alertmanager_notifications_failed_total",
        slack | {"reason": "clientError"},
        0.05,
        start=-3600,
        step=15,
    )
    histogram(
        h,
        "alertmanager_notification_latency_seconds",
        slack,
        {"0.25": 0.095, "1": 0.1, "5": 0.1, "+Inf": 0.1},
        start=-3600,
        step=15,
    )
    h.series(
        "alertmanager_config_hash",
        SENDER,
        lambda t: 1.1e14 if t < -7200 else 2.2e14,
        start=-8 * 3600,
        step=60,
    )


RELOADING = alertmanager_target("alertmanager-main", "alertmanager-main-1", "10.244.9.31")


@scenario(
    alert("AlertmanagerFailedReload", "critical", RELOADING),
    {
        "last-good": r"the configuration in use was loaded 3\.0 hours ago",
        "reloader": r"config-reloader: last reload failed",
        "members-agree": r"2 distinct configuration\(s\) among the members",
    },
)
def alertmanager_rejecting_its_configuration(h: History) -> None:
    held(
        h, "alertmanager_config_last_reload_success_timestamp_seconds", RELOADING, h.now - 3 * 3600
    )
    held(h, "alertmanager_config_last_reload_successful", RELOADING, 0, start=-3600)
    for index, config_hash in ((0, 2.2e14), (1, 1.1e14), (2, 2.2e14)):
        pod = f"alertmanager-main-{index}"
        held(
            h,
            "alertmanager_config_hash",
            alertmanager_target("alertmanager-main", pod, f"10.244.9.{30 + index}"),
            config_hash,
        )
    reloader = RELOADING | {
        "container": "config-reloader",
        "endpoint": "reloader-web",
        "instance": "10.244.9.31:8080",
    }
    held(h, "reloader_last_reload_successful", reloader, 0)


def gossip_member(index: int) -> dict[str, str]:
    return alertmanager_target(
        "alertmanager-main",
        f"alertmanager-main-{index}",
        f"10.244.10.{30 + index}",
        cluster="gossip",
    )


@scenario(
    alert("AlertmanagerMembersInconsistent", "critical", gossip_member(0)),
    {
        "members": r"alertmanager-main-0 sees 1 member\(s\)",
        "failed-peers": r"alertmanager-main-1: 1 failed peer\(s\)",
        "restarts": r"alertmanager-main-0 restarted 2 time\(s\)",
    },
)
def alertmanager_partitioned_from_its_peers(h: History) -> None:
    for index, members, failed in ((0, 1, 0), (1, 2, 1), (2, 2, 1)):
        held(h, "alertmanager_cluster_members", gossip_member(index), members)
        held(h, "alertmanager_cluster_failed_peers", gossip_member(index), failed)
        if index == 0:  # restarted 30 and 15 minutes ago
            h.series(
                "process_start_time_seconds",
                gossip_member(index),
                lambda t: h.now + (-86400 if t < -1800 else -1800 if t < -900 else -900),
                start=-7200,
                step=30,
            )
        else:
            held(h, "process_start_time_seconds", gossip_member(index), h.now - 86400)


def partly_up(share: float) -> Callable[[float], float]:
    return lambda t: 1.0 if (t % 60) < share * 60 else 0.0


AM_NAMESPACE = {"namespace": "alerting", "service": "alertmanager-main"}


@scenario(
    alert("AlertmanagerClusterDown", "critical", AM_NAMESPACE),
    {
        "availability": r"alertmanager-main-1: up 0% of the time",
        "waiting": r"alertmanager-main-1 waiting: CrashLoopBackOff",
        "restarts": r"alertmanager-main-1: 5 restart\(s\) in the last hour",
    },
)
def alertmanagers_crash_looping(h: History) -> None:
    for index, up in ((0, 1.0), (1, 0.0), (2, 0.2)):
        pod = f"alertmanager-main-{index}"
        labels = alertmanager_target(
            "alertmanager-main", pod, f"10.244.11.{30 + index}", namespace="alerting"
        )
        # Scraped successfully for the given share of each minute.
        gauge(h, "up", labels, partly_up(up), start=-3600, step=15)
        counter(
            h,
            "kube_pod_container_status_restarts_total",
            ksm(namespace="alerting", pod=pod, container="alertmanager", uid=f"uid-{pod}"),
            {0: 0, 1: 5, 2: 3}[index] / 3600,
            start=-7200,
        )
    waiting(h, "alerting", "alertmanager-main-1", "alertmanager", "CrashLoopBackOff")
