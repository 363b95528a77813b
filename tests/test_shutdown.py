"""Graceful shutdown: on SIGTERM nothing that was acknowledged is lost."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from tests.conftest import ServiceFactory
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import distinct
from tests.support.recorder import RecordingServer
from tests.support.service import PostResult


def test_sigterm_with_twenty_notifications_in_flight_loses_none(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=2.0)
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        server={"respond_within": 5, "shutdown_delay": 1, "shutdown_grace": 10},
        inference={"limits": {"concurrency": 50}},
    )
    service = service_factory(config)
    payloads = [distinct(sample_payload, i) for i in range(20)]
    results: dict[int, PostResult | Exception] = {}

    def post(i: int) -> None:
        try:
            results[i] = service.post_payload(payloads[i], timeout=20)
        except Exception as exc:  # a dropped connection is an answer Alertmanager retries
            results[i] = exc

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    clanker.wait_for_calls(20, timeout=10)
    service.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    readiness = service.get("/readyz").status  # still listening during shutdown_delay
    for t in threads:
        t.join()
    service.wait(timeout=30)

    assert readiness == 503
    delivered = {r.json()["groupKey"] for r in recorder.delivered}
    for i, result in results.items():
        acknowledged = isinstance(result, PostResult) and 200 <= result.status < 300
        assert acknowledged, f"notification {i} was not acknowledged: {result}"
        assert payloads[i]["groupKey"] in delivered, f"notification {i} acknowledged but lost"
    assert len(recorder.delivered) == 20
    assert clanker.call_count == 20


def test_sigterm_delivers_notifications_still_waiting_for_the_model_before_exit(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=2.5)
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        server={"respond_within": 1, "shutdown_delay": 0, "shutdown_grace": 4},
        inference={"timeout": 3, "limits": {"concurrency": 1}},
    )
    service = service_factory(config)
    payloads = [distinct(sample_payload, i) for i in range(6)]
    threads = [
        threading.Thread(target=service.post_payload, args=(p,), kwargs={"timeout": 10})
        for p in payloads
    ]
    for t in threads:
        t.start()
    clanker.wait_for_calls(1, timeout=5)
    service.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    service.wait(timeout=10)

    # One call was in flight; the five waiting could not have a call that ends within the
    # grace (4 s - inference.timeout 3 s): they went out with the fallback instead of never.
    documents = [r.json() for r in recorder.delivered]
    assert sorted(d["groupKey"] for d in documents) == sorted(p["groupKey"] for p in payloads)
    assert [d["explained"] for d in documents].count(True) == 1
    unexplained = [d["error"] for d in documents if not d["explained"]]
    assert unexplained == ["model busy (shutting down)"] * 5
    assert clanker.call_count == 1
    assert '"event":"stopped"' in service.output()
    assert "shutdown_abandoned" not in service.output()
