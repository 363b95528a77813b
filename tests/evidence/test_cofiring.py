"""Co-firing alerts from a real Alertmanager (API v2), by the group's namespace, node, ..."""

from __future__ import annotations

import pytest

from tests.conftest import AlertmanagerFactory
from tests.evidence.support import crash_loop_alert, gather, item, notification
from tests.support.alertmanager import AlertmanagerProcess, ReceiverSpec
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess

pytestmark = pytest.mark.anyio

HOSTILE = 'shop",namespace=~".*'


@pytest.fixture
def alertmanager(alertmanager_factory: AlertmanagerFactory) -> AlertmanagerProcess:
    # Nothing is delivered in these tests: the receiver only has to exist.
    receiver = ReceiverSpec(f"http://127.0.0.1:{free_port()}/")
    return alertmanager_factory({"nowhere": receiver}, repeat_interval="24h")


async def test_alerts_firing_in_the_same_namespace_are_counted_by_alertname(
    cluster: PrometheusProcess, alertmanager: AlertmanagerProcess
) -> None:
    own = crash_loop_alert()
    alertmanager.fire("KubePodCrashLooping", own["labels"])
    for pod in ("web-1", "web-2"):
        alertmanager.fire("KubePodNotReady", {"namespace": "shop", "pod": pod})
    alertmanager.fire("CPUThrottlingHigh", {"namespace": "shop", "pod": "web-1"})
    alertmanager.fire("KubePodNotReady", {"namespace": "elsewhere", "pod": "x"})
    alertmanager.fire("TargetDown", {"service": "kube-state-metrics", "job": "kube-state-metrics"})

    evidence = await gather(cluster.url, notification(own), alertmanager=alertmanager.base_url)

    assert item(evidence, "Other alerts firing now") == [
        'KubePodNotReady: 2 (namespace="shop")',
        'CPUThrottlingHigh: 1 (namespace="shop")',
        'TargetDown: 1 (service="kube-state-metrics")',
    ]


async def test_a_hostile_namespace_cannot_widen_the_filter(
    cluster: PrometheusProcess, alertmanager: AlertmanagerProcess
) -> None:
    own = crash_loop_alert(labels={"namespace": HOSTILE, "service": "own"})
    alertmanager.fire("KubePodNotReady", {"namespace": HOSTILE, "pod": "same-place"})
    alertmanager.fire("KubePodNotReady", {"namespace": "shop", "pod": "elsewhere"})

    evidence = await gather(cluster.url, notification(own), alertmanager=alertmanager.base_url)

    (line,) = item(evidence, "Other alerts firing now")
    assert line.startswith("KubePodNotReady: 1 (namespace=")


async def test_no_other_alerts_is_said_plainly(
    cluster: PrometheusProcess, alertmanager: AlertmanagerProcess
) -> None:
    own = crash_loop_alert(labels={"namespace": "quiet", "service": "quiet"})

    evidence = await gather(cluster.url, notification(own), alertmanager=alertmanager.base_url)

    assert item(evidence, "Other alerts firing now") == ["none"]


async def test_an_unreachable_alertmanager_is_one_line_and_prometheus_evidence_stays(
    cluster: PrometheusProcess,
) -> None:
    down = f"http://127.0.0.1:{free_port()}"

    evidence = await gather(cluster.url, notification(crash_loop_alert()), alertmanager=down)

    assert item(evidence, "Evidence unavailable") == [
        "evidence unavailable: alertmanager: cannot connect: connection refused"
    ]
    assert item(evidence, "Last termination reason") == ["api: OOMKilled"]
