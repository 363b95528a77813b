"""Gathering against a real Prometheus holding a cluster's history (TSDB blocks by promtool)."""

from __future__ import annotations

import re

import pytest

from alert_explainer.config import RedactionSettings
from tests.evidence.support import (
    crash_loop_alert,
    disk_alert,
    gather,
    item,
    lines,
    notification,
)
from tests.support.prometheus import History, PrometheusProcess

pytestmark = pytest.mark.anyio


async def test_a_crash_looping_pod_shows_oomkilled_restarts_and_memory_against_its_limit(
    cluster: PrometheusProcess,
) -> None:
    evidence = await gather(cluster.url, notification(crash_loop_alert()))

    assert item(evidence, "Last termination reason") == ["api: OOMKilled"]
    assert item(evidence, "Restarts in the last hour") == ["api: 5 restarts"]
    memory = item(evidence, "Memory working set vs limit")
    assert "memory limit: 256 MiB" in memory
    (peak,) = [line for line in memory if line.startswith("peak working set (1h): ")]
    assert re.fullmatch(r"peak working set \(1h\): 2[45]\d MiB", peak)


async def test_the_crash_loop_expression_is_queried_without_its_threshold(
    cluster: PrometheusProcess,
) -> None:
    evidence = await gather(cluster.url, notification(crash_loop_alert()))

    query, window, series = item(evidence, "Alert expression")
    assert query.startswith("query: max_over_time(kube_pod_container_status_waiting_reason{")
    assert query.endswith("[5m]) (alert when >= 1)")
    assert window.startswith("window: ")
    # The alert's one series, waiting in CrashLoopBackOff for the last 25 minutes.
    assert series.startswith("now 1, min 1, max 1")
    assert ">= 1 since" in series


async def test_a_filling_disk_shows_the_current_value_the_trend_and_the_threshold(
    cluster: PrometheusProcess,
) -> None:
    evidence = await gather(cluster.url, notification(disk_alert("node-1", started=-3600)))

    query, _, series = item(evidence, "Alert expression")
    assert "(alert when < 15%)" in query
    assert "; and predict_linear(" in query  # the rule's other conditions are named
    # Only node-1's filesystem: the alert's labels are pinned into the query.
    assert "node-2" not in series
    assert "node-3" not in series
    assert re.search(r"now 4(\.\d)?%", series)
    assert re.search(r"-6(\.0)?%/h", series)  # losing 6 % of the disk an hour
    # It crossed the threshold 110 minutes ago (16 % two hours ago).
    assert re.search(r"< 15% since \d\d:\d\dZ \(1 h (4[89]|5[01]) min ago\)", series)
    assert "▁" in series  # the sparkline falls from high to low
    assert "█" in series


async def test_a_group_over_several_filesystems_lists_each_apart(
    cluster: PrometheusProcess,
) -> None:
    note = notification(disk_alert("node-1"), disk_alert("node-3"))

    evidence = await gather(cluster.url, note)

    series = item(evidence, "Alert expression")[2:]
    assert [line.split(":")[0] for line in series] == ['instance="node-1"', 'instance="node-3"']


async def test_history_counts_the_firing_periods_of_the_last_seven_days(
    cluster: PrometheusProcess,
) -> None:
    evidence = await gather(cluster.url, notification(crash_loop_alert()))

    (history,) = item(evidence, "Alert history")
    assert history.startswith("KubePodCrashLooping: fired 4 times in the last 7 days")
    assert "firing now since" in history
    assert "last resolved" in history
    assert "(23 h ago)" in history


async def test_an_alert_that_never_fired_before_says_so(cluster: PrometheusProcess) -> None:
    evidence = await gather(cluster.url, notification(disk_alert("node-1")))

    assert item(evidence, "Alert history") == [
        "NodeFilesystemSpaceFillingUp: no firing recorded in the last 7 days"
    ]


async def test_an_empty_result_is_no_samples_not_an_error(cluster: PrometheusProcess) -> None:
    gone = crash_loop_alert(labels={"pod": "api-gone", "container": "api"})

    evidence = await gather(cluster.url, notification(gone))

    assert item(evidence, "Last termination reason") == [
        "no termination recorded by kube-state-metrics"
    ]
    assert not [line for line in lines(evidence) if "unavailable" in line]


async def test_a_recipe_is_skipped_for_an_alert_without_the_labels_it_needs(
    cluster: PrometheusProcess,
) -> None:
    bare = crash_loop_alert()
    del bare["labels"]["container"]

    evidence = await gather(cluster.url, notification(bare))

    titles = [i.title for i in evidence]
    assert "Last termination reason" not in titles
    assert not [line for line in lines(evidence) if "unavailable" in line]


async def test_series_labels_are_redacted_and_denied_names_never_shown(
    prometheus_factory: object,
) -> None:
    history = History().constant(
        "kube_pod_container_status_last_terminated_reason",
        {
            "namespace": "shop",
            "pod": "api",
            "container": "api",
            "reason": "Error",
            "dsn": "postgres://app:hunter2@db.shop:5432/orders",
            "customer": "alice@example.com",
        },
        1,
        start=-600,
    )
    prometheus = prometheus_factory(history=history)  # type: ignore[operator]
    recipe = {
        "name": "terminations",
        "title": "Terminations",
        "matchers": ['alertname="Crash"'],
        "query": "kube_pod_container_status_last_terminated_reason{pod={{ labels.pod }}}",
    }
    note = notification(
        crash_loop_alert(labels={"alertname": "Crash", "pod": "api", "container": "api"})
    )

    evidence = await gather(
        prometheus.url,
        note,
        recipes=[recipe],
        redaction=RedactionSettings(deny=["customer"]),
    )

    (line,) = item(evidence, "Terminations")
    assert "hunter2" not in line
    assert "postgres://app:[REDACTED:url_credentials]@db.shop" in line
    assert "customer" not in line
    assert "alice" not in line
