"""End to end with the real Alertmanager 0.25 binary sending real webhooks.

Alertmanager -> alert-explainer (real process) -> Clanker emulator -> recording destination.
Group timings are the shortest Alertmanager allows for a test: group_wait 1s,
group_interval 10s (which is also the deadline of one flush's retries).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import AlertmanagerFactory, ServiceFactory
from tests.support import http
from tests.support.alertmanager import AlertmanagerProcess, ReceiverSpec
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordedRequest, RecordingServer, Reply
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.alertmanager

ANNOTATIONS = {
    "summary": "p99 latency above 2s",
    "description": "p99 latency on web-1 is 3.1s",
    "runbook_url": "https://runbooks.example.com/HighLatency",
}


def start_pair(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    config: dict[str, Any],
    **alertmanager: Any,
) -> tuple[ServiceProcess, AlertmanagerProcess]:
    service = service_factory(config)
    receivers = {"explainer": ReceiverSpec(url=service.webhook_url(), bearer_token="am-token")}
    return service, alertmanager_factory(receivers, **alertmanager)


def fire(am: AlertmanagerProcess) -> None:
    am.fire(
        "HighLatency",
        labels={"severity": "warning", "instance": "web-1:9100", "job": "node"},
        annotations=ANNOTATIONS,
        generator_url="http://prometheus.example/graph?g0.expr=latency",
    )


def settle(seconds: float, condition: Callable[[], bool] = lambda: False) -> None:
    """Give Alertmanager time to (wrongly) send more; stop early if `condition` turns true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.25)


def documents(recorder: RecordingServer) -> list[dict[str, Any]]:
    return [r.json() for r in recorder.delivered]


def test_a_firing_alert_is_explained_and_its_resolution_delivered_without_inference(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    clanker.default = Behaviour.ok(content="Headline: web-1 is slow\nLikely cause: load")
    _, am = start_pair(
        service_factory, alertmanager_factory, explainer_config(clanker.url, {"team": recorder.url})
    )

    fire(am)
    first: RecordedRequest = recorder.wait_for(1, timeout=15)[0]
    document = first.json()
    assert document["summary"] == "Headline: web-1 is slow\nLikely cause: load"
    assert document["explained"] is True
    assert document["status"] == "firing"
    assert document["receiver"] == "explainer"
    alert = document["alertmanager"]["alerts"][0]
    assert alert["labels"]["alertname"] == "HighLatency"
    assert alert["annotations"] == ANNOTATIONS
    user_prompt = clanker.calls[0].json()["messages"][1]["content"]
    assert "p99 latency on web-1 is 3.1s" in user_prompt
    assert "Runbook: https://runbooks.example.com/HighLatency" in user_prompt

    am.resolve(
        "HighLatency", labels={"severity": "warning", "instance": "web-1:9100", "job": "node"}
    )
    recorder.wait_for(2, timeout=25)
    resolved = documents(recorder)[1]
    assert resolved["status"] == "resolved"
    assert resolved["explained"] is False
    assert resolved["summary"].startswith("[RESOLVED]")
    assert clanker.call_count == 1
    assert clanker.violations == []


def test_a_destination_failing_twice_gets_the_message_once_with_one_inference_call(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    recorder.script(Reply(status=500, body=b"boom"), Reply(status=500, body=b"boom"))
    config = explainer_config(clanker.url, {"team": recorder.url})
    config["sinks"][0]["timeout"] = 0.1  # no room for our own retry: Alertmanager's retry delivers
    service, am = start_pair(service_factory, alertmanager_factory, config)

    fire(am)
    recorder.wait_for(1, timeout=20)
    settle(8)

    assert len(recorder.received) == 3
    assert len(recorder.delivered) == 1
    assert clanker.call_count == 1
    assert 'webhook_responses_total{code="503"} 2.0' in service.metrics_text()


def test_inference_slower_than_respond_within_ends_in_one_call_and_one_delivery(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    clanker.default = Behaviour.hang(4)
    config = explainer_config(clanker.url, {"team": recorder.url}, server={"respond_within": 1})
    service, am = start_pair(service_factory, alertmanager_factory, config)

    fire(am)
    recorder.wait_for(1, timeout=20)
    settle(8)

    assert clanker.call_count == 1
    assert len(recorder.delivered) == 1
    assert documents(recorder)[0]["explained"] is True
    metrics = service.metrics_text()
    assert 'webhook_responses_total{code="503"}' in metrics  # Alertmanager was told to retry
    assert 'webhook_responses_total{code="200"}' in metrics  # and its retry got the result


def test_a_repeat_interval_resend_is_delivered_again_without_a_new_inference_call(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, delivery={"dedup_window": "5s"})
    _, am = start_pair(service_factory, alertmanager_factory, config, repeat_interval="20s")

    fire(am)
    recorder.wait_for(2, timeout=45)

    first, repeat = documents(recorder)[:2]
    assert repeat["summary"] == first["summary"]
    assert repeat["explained"] is True
    assert clanker.call_count == 1


def test_a_402_still_delivers_the_alert_marked_unexplained(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, api_key="test-free-key")
    _, am = start_pair(service_factory, alertmanager_factory, config)

    fire(am)
    document = recorder.wait_for(1, timeout=15)[0].json()

    assert document["explained"] is False
    assert document["error"] == "paid account required"
    assert document["summary"].startswith("explanation unavailable: paid account required")
    assert "HighLatency" in document["summary"]


def test_two_receivers_reach_two_routes_with_different_sinks(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
) -> None:
    database_chat, platform_chat = make_recorder(), make_recorder()
    config = explainer_config(
        clanker.url,
        {"db-chat": database_chat.url, "platform-chat": platform_chat.url},
        routes=[
            {"name": "database", "sinks": ["db-chat"], "receiver": "database-team"},
            {"name": "platform", "sinks": ["platform-chat"]},
        ],
        auth={"bearer_tokens": ["am-token"]},
    )
    service = service_factory(config)
    am = alertmanager_factory(
        {
            "platform-team": ReceiverSpec(url=service.webhook_url(), bearer_token="am-token"),
            "database-team": ReceiverSpec(url=service.webhook_url(), bearer_token="am-token"),
        },
        routes=[({"team": "db"}, "database-team")],
    )

    am.fire("ReplicationLag", labels={"team": "db", "severity": "critical"})
    am.fire("DiskFull", labels={"team": "web", "severity": "warning"})
    database_chat.wait_for(1, timeout=15)
    platform_chat.wait_for(1, timeout=15)
    settle(2)

    (database_doc,) = documents(database_chat)
    (platform_doc,) = documents(platform_chat)
    assert (database_doc["route"], database_doc["receiver"]) == ("database", "database-team")
    assert database_doc["alertmanager"]["commonLabels"]["alertname"] == "ReplicationLag"
    assert (platform_doc["route"], platform_doc["receiver"]) == ("platform", "platform-team")
    assert platform_doc["alertmanager"]["commonLabels"]["alertname"] == "DiskFull"
    assert clanker.call_count == 2


def test_a_burst_of_groups_in_one_flush_is_explained_in_full_and_once_each(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    clanker.default = Behaviour.ok(delay=1.0)
    # 20 groups on the default 8 permits take three rounds of 1 s: the last round is
    # answered 503 first, and Alertmanager's retries collect it.
    config = explainer_config(clanker.url, {"team": recorder.url}, server={"respond_within": 2})
    service, am = start_pair(service_factory, alertmanager_factory, config)
    names = [f"NodeFailing{i:02d}" for i in range(20)]

    am.post_alerts(
        [{"labels": {"alertname": n, "severity": "critical", "node": "node-7"}} for n in names]
    )
    recorder.wait_for(20, timeout=20)
    settle(2)

    delivered = documents(recorder)
    assert sorted(d["alertmanager"]["commonLabels"]["alertname"] for d in delivered) == names
    assert all(d["explained"] for d in delivered)
    assert clanker.call_count == 20
    answers = dict(
        re.findall(r'webhook_responses_total\{code="(\d+)"\} (\S+)', service.metrics_text())
    )
    assert float(answers["503"]) > 0
    assert float(answers["200"]) == 20  # every group acknowledged once its delivery was done
    seen_by_alertmanager = http.request("GET", f"{am.base_url}/metrics").body.decode()
    assert (
        'alertmanager_notifications_failed_total{integration="webhook"} 0' in seen_by_alertmanager
    )
