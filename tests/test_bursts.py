"""Bursts through real HTTP: a wave of new groups waits its turn for the model, none is dropped.

The service runs as a real process with its default limits (8 calls in flight, a 60 s wait);
the Clanker emulator answers slowly, as a real model does during an incident.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from tests.conftest import ServiceFactory
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import distinct
from tests.support.recorder import RecordingServer
from tests.support.service import PostResult, ServiceProcess


def with_severity(payload: dict[str, Any], severity: str) -> dict[str, Any]:
    """A copy of `payload` whose alerts (and common labels) carry `severity`."""
    copied = copy.deepcopy(payload)
    for alert in copied["alerts"]:
        alert["labels"]["severity"] = severity
    copied["commonLabels"]["severity"] = severity
    return copied


def post_all(service: ServiceProcess, payloads: Sequence[dict[str, Any]]) -> Callable[[], Any]:
    """Post each payload from its own thread as Alertmanager would; `join()` -> the answers."""
    answers: dict[int, list[PostResult]] = {}

    def post(i: int) -> None:
        answers[i] = service.post_like_alertmanager(payloads[i], deadline=20)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()

    def join() -> list[list[PostResult]]:
        for thread in threads:
            thread.join()
        return [answers[i] for i in range(len(payloads))]

    return join


def gauge(service: ServiceProcess, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{selector}\}} (\S+)$", service.metrics_text(), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


def test_twenty_groups_at_once_are_all_explained_with_the_default_limits(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=2.0)
    chat, archive = make_recorder(), make_recorder()
    service = service_factory(
        explainer_config(clanker.url, {"chat": chat.url, "archive": archive.url})
    )
    payloads = [distinct(sample_payload, i, name="Burst") for i in range(20)]

    answers = post_all(service, payloads)()

    # 20 x 2 s on 8 permits: the last round ends after respond_within (5 s); those got a
    # 503, and their retries joined the waiting work instead of starting it again.
    assert any(a[0].status == 503 for a in answers), "no notification waited past a 503"
    for i, tries in enumerate(answers):
        final = tries[-1]
        assert final.status == 200, f"group {i}: {[t.status for t in tries]}"
        assert final.json["explained"] is True, f"group {i}: {final.json}"
    assert clanker.call_count == 20
    groups = sorted(p["groupKey"] for p in payloads)
    for destination in (chat, archive):
        assert sorted(r.json()["groupKey"] for r in destination.delivered) == groups
        assert all(r.json()["explained"] for r in destination.delivered)


def test_critical_groups_are_explained_before_info_groups_that_waited_longer(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    # The first two calls hold both permits while everything else queues behind them.
    clanker.script(Behaviour.ok(delay=2.0), Behaviour.ok(delay=2.0))
    clanker.default = Behaviour.ok(delay=0.2)
    config = explainer_config(
        clanker.url, {"team": recorder.url}, inference={"limits": {"concurrency": 2}}
    )
    service = service_factory(config)
    info = [with_severity(distinct(sample_payload, i, "Info"), "info") for i in range(12)]
    critical = [with_severity(distinct(sample_payload, i, "Crit"), "critical") for i in range(6)]

    join_info = post_all(service, info)
    wait_until(
        lambda: gauge(service, "alert_explainer_inference_waiters", severity="info") == 10,
        timeout=2,
        what="10 info groups waiting",
    )
    join_critical = post_all(service, critical)
    wait_until(
        lambda: gauge(service, "alert_explainer_inference_waiters", severity="critical") == 6,
        timeout=2,
        what="6 critical groups waiting",
    )
    answers = join_info() + join_critical()

    order = [re.findall(r"severity=(\w+)", c.user_content)[0] for c in clanker.calls]
    assert order == ["info"] * 2 + ["critical"] * 6 + ["info"] * 10
    assert all(tries[-1].json["explained"] for tries in answers)
    assert Counter(r.json()["groupKey"] for r in recorder.delivered) == Counter(
        p["groupKey"] for p in info + critical
    )
