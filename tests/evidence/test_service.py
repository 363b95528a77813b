"""The running service with evidence: in the prompt, cached with the explanation, never late."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServiceFactory
from tests.evidence.support import crash_loop_alert, payload
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess
from tests.support.recorder import RecordingServer, Reply
from tests.support.silent import SilentServer


def user_message(clanker: ClankerEmulator) -> str:
    (call,) = clanker.calls
    content: str = call.json()["messages"][1]["content"]
    return content


def metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_the_prompt_carries_the_evidence_inside_the_alert_data(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    cluster: PrometheusProcess,
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, evidence={"prometheus": {"url": cluster.url}}
    )
    service = service_factory(config)

    status, body, _ = service.post_payload(payload(crash_loop_alert()))

    assert status == 200
    assert body["explained"] is True
    prompt = user_message(clanker)
    data = prompt[prompt.index("<alert-data>") : prompt.index("</alert-data>")]
    assert "Last termination reason:\n  api: OOMKilled" in data
    assert "Restarts in the last hour:\n  api: 5 restarts" in data
    assert "memory limit: 256 MiB" in data
    assert "KubePodCrashLooping: fired 4 times in the last 7 days" in data
    metrics = service.metrics_text()
    assert (
        metric(metrics, 'alert_explainer_evidence_queries_total{outcome="ok",source="recipe"}') == 3
    )
    assert metric(metrics, "alert_explainer_evidence_bytes_total") > 200


def test_the_same_state_reuses_the_cached_evidence_without_querying_again(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    cluster: PrometheusProcess,
) -> None:
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        delivery={"dedup_window": 1},
        evidence={"prometheus": {"url": cluster.url}},
    )
    service = service_factory(config)
    notification = payload(crash_loop_alert())
    service.post_payload(notification)
    queries = metric(service.metrics_text(), "alert_explainer_evidence_queries_total")

    time.sleep(1.2)  # past the dedup window: a reminder is delivered again
    status, body, _ = service.post_payload(notification)

    assert status == 200
    assert body["reused"] is True
    assert clanker.call_count == 1
    assert metric(service.metrics_text(), "alert_explainer_evidence_queries_total") == queries
    assert len(recorder.delivered) == 2


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.parametrize(
    ("peer", "reason"),
    [
        ("down", "cannot connect: connection refused"),
        ("hung", "timed out after"),
        ("slow", "timed out after"),
        ("500", "answered 500"),
        ("not-json", "answer is not JSON"),
        ("huge", "answer larger than 4 MiB"),
    ],
)
def test_a_broken_prometheus_never_stops_the_explanation_or_delays_it_past_the_budget(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Any,
    silent: SilentServer,
    peer: str,
    reason: str,
) -> None:
    prometheus: RecordingServer = make_recorder()
    url = {"down": f"http://127.0.0.1:{free_port()}", "hung": silent.url}.get(peer, prometheus.url)
    prometheus.default = {
        "slow": Reply(200, b"{}", delay=5),
        "500": Reply(500, b"oops"),
        "not-json": Reply(200, b"<html>"),
        "huge": Reply(200, b"[" + b"1," * 3_000_000 + b"1]"),
    }.get(peer, Reply())
    sink: RecordingServer = make_recorder()
    config = explainer_config(
        clanker.url, {"team": sink.url}, evidence={"prometheus": {"url": url}, "timeout": 1}
    )
    service = service_factory(config)

    started = time.monotonic()
    status, body, _ = service.post_payload(payload(crash_loop_alert()))

    assert time.monotonic() - started < 2.5  # the 1 s evidence budget, then the usual work
    assert status == 200
    assert body["explained"] is True
    assert len(sink.delivered) == 1
    prompt = user_message(clanker)
    (line,) = [line for line in prompt.splitlines() if "evidence unavailable" in line]
    assert line.strip().startswith("evidence unavailable: prometheus: ")
    assert reason in line
    assert json.dumps(url) not in prompt


def test_a_reused_situation_queries_nothing_and_a_new_call_gathers_again(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    cluster: PrometheusProcess,
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, evidence={"prometheus": {"url": cluster.url}}
    )
    service = service_factory(config)

    def queries() -> float:
        return metric(service.metrics_text(), "alert_explainer_evidence_queries_total")

    service.post_payload(payload(crash_loop_alert()))
    made = queries()
    replaced = service.post_payload(payload(crash_loop_alert(labels={"pod": "api-7d9f-x2"})))
    after_reuse = queries()
    grown = [crash_loop_alert(labels={"pod": f"api-7d9f-y{i}"}) for i in range(3)]
    service.post_payload(payload(*grown))  # 3 pods: past twice the one explained

    assert made > 0
    assert replaced.json["reused"] is True
    assert after_reuse == made  # the reused explanation brings the evidence it was made with
    assert clanker.call_count == 2
    assert queries() > made
