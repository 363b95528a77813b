"""Dead letters end to end: the real Alertmanager, the service in async mode, real destinations.

A destination that refuses for good (a revoked webhook's 404) or stays down longer than
`delivery.max_age` turns its share of a notification into a dead letter, which the metrics
and `alert-explainer dead-letters` show, without the URL or its token, and which `replay`
delivers exactly once after the destination is fixed. The other destinations got the
notification once and never again; other routes are never held up. On SQLite and on Redis.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AlertmanagerFactory, ServiceFactory
from tests.support.alertmanager import ReceiverSpec
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer, Reply
from tests.support.service import SERVICE_SRC, ServiceProcess

pytestmark = pytest.mark.alertmanager

TOKEN = "T0KEN-of-the-revoked-hook-0123456789"


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The config keys that put the queue and its dead letters in SQLite or in Redis."""
    if request.param == "sqlite":
        return {"delivery": {"queue_path": str(tmp_path / "queue" / "queue.sqlite3")}}
    return {"state": {"backend": "redis", "url": request.getfixturevalue("redis_server").url}}


def async_config(
    clanker: ClankerEmulator,
    sinks: dict[str, str],
    routes: list[dict[str, Any]],
    backend: dict[str, Any],
    **delivery: Any,
) -> dict[str, Any]:
    config = explainer_config(
        clanker.url,
        sinks,
        routes=routes,
        delivery={"mode": "async", **backend.get("delivery", {}), **delivery},
        **{k: v for k, v in backend.items() if k != "delivery"},
    )
    for sink in config["sinks"]:
        sink["timeout"] = 1
    return config


def dead_letters(service: ServiceProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`alert-explainer dead-letters ARGS --config <the service's>`, as an operator runs it."""
    env = {**os.environ, "PYTHONPATH": str(SERVICE_SRC)}
    command = [sys.executable, "-m", "alert_explainer", "dead-letters", *args]
    return subprocess.run(
        [*command, "--config", str(service.config_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def metric(service: ServiceProcess, name: str, **labels: str) -> float:
    """One sample's value from /metrics (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    found = re.search(pattern, service.metrics_text(), re.M)
    return float(found.group(1)) if found else 0.0


def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def test_a_final_404_is_a_dead_letter_at_once_and_replay_delivers_it_once(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    backend: dict[str, Any],
) -> None:
    team, revoked = make_recorder(), make_recorder()
    revoked_url = revoked.url_for(f"/hooks/{TOKEN}")
    # The destination echoes its own URL, token included, in the error it answers.
    revoked.default = Reply(status=404, body=f"no such hook: {revoked_url}".encode())
    service = service_factory(
        async_config(
            clanker,
            {"team": team.url, "revoked": revoked_url},
            [{"name": "default", "sinks": ["team", "revoked"]}],
            backend,
        )
    )
    am = alertmanager_factory({"explainer": ReceiverSpec(url=service.webhook_url())})

    am.fire("DiskFull", labels={"severity": "critical", "instance": "db-1"})

    team.wait_for(1, timeout=20)
    eventually(
        lambda: (
            metric(service, "alert_explainer_dead_letters", route="default", sink="revoked") == 1
        ),
        10,
        "the dead letter in the gauge",
    )
    assert len(revoked.received) == 1  # final: not tried again
    assert metric(
        service, "alert_explainer_notifications_dead_lettered_total", reason="final_error"
    ) == (1)
    assert metric(service, "alert_explainer_queue_entries") == 0  # nothing left retrying

    listing = dead_letters(service, "list")
    assert listing.returncode == 0, listing.stderr
    assert "revoked" in listing.stdout
    assert "final_error" in listing.stdout
    assert "answered 404: no such hook: [secret]" in listing.stdout
    assert "firing, 1 alert(s): alertname=DiskFull" in listing.stdout
    (letter,) = json.loads(dead_letters(service, "list", "--json").stdout)
    assert (letter["sinks"], letter["attempts"], letter["route"]) == (["revoked"], 1, "default")
    shown = dead_letters(service, "show", letter["id"])
    assert shown.returncode == 0, shown.stderr
    assert '"alertname": "DiskFull"' in shown.stdout  # the notification, ready to replay
    for output in (listing.stdout, shown.stdout, json.dumps(letter), service.metrics_text()):
        assert TOKEN not in output
        assert revoked_url not in output

    revoked.default = Reply()  # the destination is fixed
    replay = dead_letters(service, "replay", "--all")
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.startswith("1 dead letter(s) replayed")

    revoked.wait_for(1, timeout=10)
    eventually(
        lambda: (
            metric(service, "alert_explainer_dead_letters", route="default", sink="revoked") == 0
        ),
        10,
        "the gauge back at zero",
    )
    time.sleep(1)  # room for a wrong second delivery
    assert len(revoked.delivered) == 1
    assert len(team.delivered) == 1  # had it already: not sent again
    assert (
        revoked.delivered[0].json()["alertmanager"]["groupKey"].endswith('{alertname="DiskFull"}')
    )
    assert clanker.call_count == 1  # the replay reused the explanation
    assert dead_letters(service, "list").stdout.strip() == "no dead letters"


def test_a_destination_down_past_max_age_is_a_dead_letter_and_other_routes_go_on(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    backend: dict[str, Any],
) -> None:
    down, healthy = make_recorder(), make_recorder()
    down.default = Reply(status=503, body=b"upstream unavailable")
    service = service_factory(
        async_config(
            clanker,
            {"down": down.url, "healthy": healthy.url},
            [
                {"name": "other", "sinks": ["healthy"], "receiver": "other"},
                {"name": "default", "sinks": ["down"]},
            ],
            backend,
            max_age="3s",
        )
    )
    am = alertmanager_factory(
        {
            "explainer": ReceiverSpec(url=service.webhook_url()),
            "other": ReceiverSpec(url=service.webhook_url()),
        },
        routes=[({"team": "other"}, "other")],
    )

    for name in ("DiskFull", "NodeDown", "HighLatency"):
        am.fire(name, labels={"severity": "critical"})
    am.fire("CertExpiring", labels={"severity": "warning", "team": "other"})

    down.wait_for_received(1, timeout=20)
    healthy.wait_for(1, timeout=20)
    # Delivered while the other route's entries were still failing in the queue.
    assert (
        metric(service, "alert_explainer_notifications_dead_lettered_total", reason="max_age") == 0
    )
    eventually(
        lambda: metric(service, "alert_explainer_dead_letters", route="default", sink="down") == 3,
        20,
        "three dead letters for the destination that stayed down",
    )
    assert metric(
        service, "alert_explainer_notifications_dead_lettered_total", reason="max_age"
    ) == (3)
    eventually(lambda: metric(service, "alert_explainer_queue_entries") == 0, 10, "an empty queue")
    assert len(down.received) >= 6  # each was retried before it was given up on
    (letter, *_) = json.loads(dead_letters(service, "list", "--json").stdout)
    assert letter["reason"] == "max_age"
    assert letter["errors"]["down"].startswith("sink 'down': answered 503")
    assert letter["attempts"] >= 2
    assert len(healthy.delivered) == 1


def test_a_queued_notification_whose_route_is_removed_waits_as_a_dead_letter_until_replayed(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    backend: dict[str, Any],
    sample_payload: dict[str, Any],
) -> None:
    team = make_recorder()
    team.default = Reply(status=503, body=b"upstream unavailable")
    routes = [{"name": "default", "sinks": ["team"]}]
    before = service_factory(async_config(clanker, {"team": team.url}, routes, backend))
    assert before.post_payload(sample_payload).status == 202
    team.wait_for_received(1, timeout=20)
    before.terminate()  # queued, still lacking its sink, when the operator edits the config

    renamed = [{"name": "renamed", "sinks": ["team"]}]
    edited = service_factory(async_config(clanker, {"team": team.url}, renamed, backend))
    eventually(
        lambda: metric(edited, "alert_explainer_dead_letters", route="default", sink="team") == 1,
        30,
        "a dead letter for the sink the route that is gone still owed it",
    )
    assert metric(
        edited, "alert_explainer_notifications_dead_lettered_total", reason="route_gone"
    ) == (1)
    (letter,) = json.loads(dead_letters(edited, "list", "--json").stdout)
    assert (letter["reason"], letter["sinks"]) == ("route_gone", ["team"])
    assert letter["errors"]["team"] == "route 'default' is no longer configured"
    edited.terminate()

    team.default = Reply()
    restored = service_factory(async_config(clanker, {"team": team.url}, routes, backend))
    replay = dead_letters(restored, "replay", "--all")
    assert replay.returncode == 0, replay.stderr
    team.wait_for(1, timeout=20)
    time.sleep(1)  # room for a wrong second delivery
    assert len(team.delivered) == 1
    assert dead_letters(restored, "list").stdout.strip() == "no dead letters"
