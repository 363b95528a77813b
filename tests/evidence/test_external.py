"""External labels: on the alert, never in the TSDB, so never pinned into a query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alert_explainer.evidence import external
from alert_explainer.metrics import Metrics
from alert_explainer.transport import HttpClient
from tests.conftest import require_prometheus
from tests.evidence.support import (
    cluster_history,
    crash_loop_alert,
    gatherer,
    item,
    notification,
)
from tests.support.prometheus import PrometheusProcess
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio

# What prometheus-operator gives every Prometheus, so every kube-prometheus-stack alert.
OPERATOR_LABEL = {"prometheus": "monitoring/kube-prometheus-stack-prometheus"}
SENT = "alert_explainer_evidence_queries_total"


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    """The cluster's history in a Prometheus with the operator's external label."""
    require_prometheus()
    process = PrometheusProcess(
        tmp_path_factory.mktemp("operated"),
        history=cluster_history(),
        external_labels=OPERATOR_LABEL,
    )
    with process:
        yield process


def sent(metrics: Metrics, source: str, outcome: str) -> float:
    return metrics.registry.get_sample_value(SENT, {"source": source, "outcome": outcome}) or 0


async def test_the_external_labels_are_read_from_the_query_api(
    operated: PrometheusProcess, http: HttpClient
) -> None:
    found = await gatherer(operated.url, http).external_labels()

    assert found == OPERATOR_LABEL


async def test_an_alert_carrying_an_external_label_gets_its_own_series_at_the_first_query(
    operated: PrometheusProcess, http: HttpClient
) -> None:
    metrics = Metrics([], [], {})
    evidence_of = gatherer(operated.url, http, metrics=metrics)
    await evidence_of.external_labels()

    evidence = await evidence_of.gather(
        notification(crash_loop_alert(labels=OPERATOR_LABEL)), datetime.now(UTC)
    )

    expression = item(evidence, "Alert expression")
    assert expression[2].startswith("now 1, min 1, max 1")  # the alert's own series
    assert "no series carries the alert's labels" not in expression
    (history,) = item(evidence, "Alert history")
    assert history.startswith("KubePodCrashLooping: fired 4 times in the last 7 days")
    assert sent(metrics, "expression", "empty") == 0  # never asked for the whole cluster
    assert sent(metrics, "history", "empty") == 0
    assert sent(metrics, "history", "ok") == 1


async def test_until_they_are_known_the_queries_fall_back_as_before(
    operated: PrometheusProcess, http: HttpClient
) -> None:
    metrics = Metrics([], [], {})

    evidence = await gatherer(operated.url, http, metrics=metrics).gather(
        notification(crash_loop_alert(labels=OPERATOR_LABEL)), datetime.now(UTC)
    )

    (history,) = item(evidence, "Alert history")
    assert history.startswith("KubePodCrashLooping: fired 4 times in the last 7 days")
    assert sent(metrics, "history", "empty") == 1  # pinned with the label: nothing
    assert sent(metrics, "history", "ok") == 1  # then by alertname


async def test_the_label_with_another_value_than_this_prometheus_own_stays_pinned(
    operated: PrometheusProcess, http: HttpClient
) -> None:
    # As from a Prometheus that remote-writes or is federated into this one: the alert
    # got the value from its series, so only those series are the alert's.
    metrics = Metrics([], [], {})
    evidence_of = gatherer(operated.url, http, metrics=metrics)
    await evidence_of.external_labels()

    await evidence_of.gather(
        notification(crash_loop_alert(labels={"prometheus": "edge/prometheus"})),
        datetime.now(UTC),
    )

    assert sent(metrics, "expression", "empty") == 1  # pinned: no such series here
    assert sent(metrics, "history", "empty") == 1


async def test_a_failed_refresh_keeps_the_last_reading(
    recorder: RecordingServer, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(external, "REFRESH", 0.0)  # every read is due at once
    monkeypatch.setattr(external, "RETRY", 0.0)
    config = "global:\n  external_labels:\n    cluster: eu-1\n"
    recorder.default = Reply.json({"status": "success", "data": {"yaml": config}})
    evidence_of = gatherer(recorder.url, http)
    assert await evidence_of.external_labels() == {"cluster": "eu-1"}

    recorder.default = Reply(status=503, body=b"restarting")

    assert await evidence_of.external_labels() == {"cluster": "eu-1"}
    assert len(recorder.received) == 2


async def test_an_api_without_the_config_endpoint_has_none(
    recorder: RecordingServer, http: HttpClient
) -> None:
    recorder.default = Reply(status=404, body=b"404 page not found")  # Thanos Query

    found = await gatherer(recorder.url, http).external_labels()

    assert found == {}
    assert [r.path for r in recorder.received] == ["/api/v1/status/config"]


@pytest.mark.parametrize("config", ["global: [1, 2", "- a list", "", "global: [1, 2]"])
async def test_a_config_answer_that_is_not_prometheus_config_means_none(
    recorder: RecordingServer, http: HttpClient, config: str
) -> None:
    recorder.default = Reply.json({"status": "success", "data": {"yaml": config}})

    found = await gatherer(recorder.url, http).external_labels()

    assert found == {}


async def test_the_config_is_read_with_the_apis_credentials_and_headers(
    recorder: RecordingServer, http: HttpClient
) -> None:
    recorder.default = Reply(status=404, body=b"404 page not found")
    api = {"url": recorder.url, "bearer_token": "s3cret-token", "headers": {"X-Scope-OrgID": "t1"}}

    await gatherer(recorder.url, http, prometheus=api).external_labels()

    (request,) = recorder.received
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    assert request.headers["X-Scope-OrgID"] == "t1"
