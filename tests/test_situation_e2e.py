"""Pay once per situation: a group's notifications share one explanation while it holds.

The service runs as a real process with the Clanker emulator as inference API and a
recording webhook destination. Notifications are posted directly, or sent by the real
Alertmanager from alerts posted to it; replicas share a real Redis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import AlertmanagerFactory, ServiceFactory
from tests.support.alertmanager import AlertmanagerProcess, ReceiverSpec
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import churning, group, pod_alert
from tests.support.recorder import RecordingServer
from tests.support.redis import RedisProcess
from tests.support.service import ServiceProcess

SHOP = {"namespace": "shop"}


def start(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    **config: Any,
) -> ServiceProcess:
    return service_factory(explainer_config(clanker.url, {"team": recorder.url}, **config))


def post_all(service: ServiceProcess, payloads: Sequence[dict[str, Any]]) -> list[Any]:
    answers = [service.post_payload(p) for p in payloads]
    assert [a.status for a in answers] == [200] * len(payloads), [a.json for a in answers]
    return [a.json for a in answers]


def documents(recorder: RecordingServer) -> list[dict[str, Any]]:
    return [r.json() for r in recorder.delivered]


def metric(service: ServiceProcess, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"alert_explainer_{name}{{{selector}}} "
    lines = [line for line in service.metrics_text().splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


def pods(*names: str, **alert: Any) -> dict[str, Any]:
    return group([pod_alert(name, **alert) for name in names], SHOP)


def test_twelve_notifications_of_a_churning_group_make_one_call(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = start(service_factory, clanker, recorder)

    answers = post_all(service, churning(12))

    assert clanker.call_count == 1
    first, *later = documents(recorder)
    assert len(later) == 11
    assert (first["reused"], first["reuse"]) == (False, None)
    for answer, document in zip(answers[1:], later, strict=True):
        assert answer["reused"] is True
        assert answer["explained_at"] == answers[0]["explained_at"] == first["explainedAt"]
        assert document["reused"] is True
        assert document["explainedAt"] == first["explainedAt"]
        assert document["summary"] == f"{document['reuse']['note']}\n\n{first['summary']}"
    assert later[-1]["reuse"]["note"].endswith(
        "still applies: 5 pods firing now, 5 new since, 5 resolved"
    )
    assert later[-1]["reuse"] | {"note": ""} == {
        "note": "",
        "noun": "pods",
        "firing": 5,
        "firingThen": 5,
        "new": 5,
        "resolved": 5,
    }
    assert (
        metric(service, "explanations_reused_total", route="default", reason="members_changed")
        == 11
    )


def test_a_churning_group_is_explained_again_once_the_window_passes(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = start(service_factory, clanker, recorder, inference={"reexplain_after": "3s"})
    notifications = churning(12)

    started = time.monotonic()
    post_all(service, notifications[:6])
    time.sleep(max(0.0, started + 3.5 - time.monotonic()))
    post_all(service, notifications[6:])

    assert time.monotonic() - started < 6.5, "too slow to tell the window apart"
    assert clanker.call_count == 2
    assert [d["reused"] for d in documents(recorder)] == [False] + [True] * 5 + [False] + [True] * 5
    assert metric(service, "reexplanations_total", route="default", trigger="expired") == 1


def join_alertname(base: dict[str, Any]) -> dict[str, Any]:
    return group([*base["alerts"], pod_alert("web-1", alertname="KubePodNotReady")], SHOP)


def escalate(base: dict[str, Any]) -> dict[str, Any]:
    return group([*base["alerts"], pod_alert("web-9", severity="critical")], SHOP)


def grow(base: dict[str, Any]) -> dict[str, Any]:
    return pods(*(f"web-{i}" for i in range(5)))  # 5 > 2 x 2


@pytest.mark.parametrize(
    ("change", "trigger"),
    [(join_alertname, "alertname"), (escalate, "severity"), (grow, "growth")],
    ids=["a new alertname joins", "the severity escalates", "the count grows past 2x"],
)
def test_a_changed_situation_causes_exactly_one_new_call(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    trigger: str,
) -> None:
    service = start(service_factory, clanker, recorder)
    explained, replaced = pods("web-0", "web-1"), pods("web-1", "web-2")
    changed = change(replaced)
    after = group([*changed["alerts"][1:], pod_alert("web-3")], SHOP)  # churn goes on

    post_all(service, [explained, replaced, changed, after])

    assert clanker.call_count == 2
    assert [d["reused"] for d in documents(recorder)] == [False, True, False, True]
    assert metric(service, "reexplanations_total", route="default", trigger=trigger) == 1


def test_a_group_that_resolves_and_fires_again_is_explained_again(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = start(service_factory, clanker, recorder)
    firing = pods("web-0", "web-1")
    resolved = pods("web-0", "web-1", status="resolved")

    post_all(service, [firing, resolved, pods("web-2", "web-3")])

    assert clanker.call_count == 2
    assert [d["status"] for d in documents(recorder)] == ["firing", "resolved", "firing"]
    assert documents(recorder)[2]["reused"] is False
    assert metric(service, "reexplanations_total", route="default", trigger="refired") == 1


def test_a_refire_of_a_state_already_explained_is_not_paid_for_again(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = start(service_factory, clanker, recorder)
    firing = pods("web-0", "web-1")

    post_all(service, [firing, pods("web-0", "web-1", status="resolved"), firing])

    assert clanker.call_count == 1  # the same alert state is never explained twice
    assert documents(recorder)[2]["reused"] is True
    assert documents(recorder)[2]["reuse"] is None  # made for exactly this state: no note


def test_reexplain_after_zero_explains_every_distinct_state(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = start(service_factory, clanker, recorder, inference={"reexplain_after": 0})

    post_all(service, churning(4))

    assert clanker.call_count == 4
    assert [d["reused"] for d in documents(recorder)] == [False] * 4


def test_replicas_on_one_redis_share_the_situation(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
) -> None:
    clanker.default = Behaviour.ok(delay=0.5)  # the second state arrives during the call
    config = explainer_config(
        clanker.url, {"team": recorder.url}, state={"backend": "redis", "url": redis_server.url}
    )
    replicas = [service_factory(config), service_factory(config)]
    notifications = churning(4)

    threads = [
        threading.Thread(target=replicas[i].post_payload, args=(notifications[i],))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    post_all(replicas[1], notifications[2:3])
    post_all(replicas[0], notifications[3:])

    assert clanker.call_count == 1
    assert len(recorder.delivered) == 4
    assert sorted(d["reused"] for d in documents(recorder)) == [False, True, True, True]


# Through the real Alertmanager: alerts posted to it, its webhooks to the service.


class Cluster:
    """Pods' alerts in a real Alertmanager, changed one step (one notification) at a time."""

    def __init__(
        self, am: AlertmanagerProcess, recorder: RecordingServer, clanker: ClankerEmulator
    ) -> None:
        self.am = am
        self.recorder = recorder
        self.clanker = clanker
        self.firing: dict[tuple[str, str, str], dict[str, Any]] = {}

    def step(
        self,
        fire: Sequence[tuple[str, str, str]] = (),
        resolve: Sequence[tuple[str, str, str]] = (),
    ) -> dict[str, Any]:
        """Fire and resolve (pod, alertname, severity) alerts; the notification that follows."""
        now = datetime.now(UTC)
        sent = len(self.recorder.delivered)
        alerts = []
        for key in resolve:
            alert = self.firing.pop(key)
            alerts.append({**alert, "endsAt": _rfc3339(now)})
        for pod, alertname, severity in fire:
            labels = pod_alert(pod, alertname=alertname, severity=severity)["labels"]
            self.firing[(pod, alertname, severity)] = alert = {
                "labels": labels,
                "annotations": {"summary": f"Pod shop/{pod} is crash looping"},
                "startsAt": _rfc3339(now),
                "endsAt": _rfc3339(now + timedelta(hours=1)),
            }
            alerts.append(alert)
        self.am.post_alerts(alerts)
        return self.recorder.wait_for(sent + 1, timeout=15)[sent].json()  # type: ignore[no-any-return]


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def crashloop(*pods: int, severity: str = "warning") -> list[tuple[str, str, str]]:
    return [(f"web-{i}", "KubePodCrashLooping", severity) for i in pods]


@pytest.mark.alertmanager
def test_through_alertmanager_a_churning_group_pays_once_per_situation(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    service = start(service_factory, clanker, recorder)
    receivers = {"explainer": ReceiverSpec(url=service.webhook_url())}
    am = alertmanager_factory(
        receivers, group_by=["namespace"], group_wait="500ms", group_interval="500ms"
    )
    cluster = Cluster(am, recorder, clanker)

    notes = [cluster.step(fire=crashloop(0, 1, 2, 3, 4))]
    for i in range(1, 12):  # a pod fails and its replacement crash-loops too
        notes.append(cluster.step(fire=crashloop(i + 4), resolve=crashloop(i - 1)))
    assert clanker.call_count == 1
    assert [n["reused"] for n in notes] == [False] + [True] * 11
    assert all(n["reuse"]["note"] in n["summary"] for n in notes[1:])

    joined = cluster.step(fire=[("web-15", "KubePodNotReady", "warning")])
    assert (clanker.call_count, joined["reused"]) == (2, False)
    escalated = cluster.step(fire=crashloop(16, severity="critical"))
    assert (clanker.call_count, escalated["reused"]) == (3, False)
    reused = cluster.step(fire=crashloop(17), resolve=crashloop(11))
    assert (clanker.call_count, reused["reused"]) == (3, True)
    grown = cluster.step(fire=crashloop(*range(18, 26)))  # 7 firing -> 15, past 2x
    assert (clanker.call_count, grown["reused"]) == (4, False)

    resolved = cluster.step(resolve=list(cluster.firing))
    assert resolved["status"] == "resolved"
    refired = cluster.step(fire=crashloop(30, 31))
    assert (clanker.call_count, refired["reused"]) == (5, False)
    assert len(recorder.delivered) == len(notes) + 6
    assert clanker.violations == []


@pytest.mark.alertmanager
def test_through_alertmanager_the_window_passing_makes_a_second_call(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    service = start(service_factory, clanker, recorder, inference={"reexplain_after": "4s"})
    receivers = {"explainer": ReceiverSpec(url=service.webhook_url())}
    am = alertmanager_factory(
        receivers,
        group_by=["alertname", "namespace"],
        group_wait="500ms",
        group_interval="500ms",
    )
    cluster = Cluster(am, recorder, clanker)

    first = cluster.step(fire=crashloop(0, 1, 2))
    churn = [cluster.step(fire=crashloop(i + 2), resolve=crashloop(i - 1)) for i in (1, 2)]
    time.sleep(4.2)
    late = [cluster.step(fire=crashloop(i + 2), resolve=crashloop(i - 1)) for i in (3, 4)]

    assert clanker.call_count == 2
    assert [n["reused"] for n in [first, *churn, *late]] == [False, True, True, False, True]
