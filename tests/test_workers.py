"""`serve --workers N`: several processes on one port, sharing state through Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Gauge

from alert_explainer.cli import main
from alert_explainer.metrics import Metrics
from tests.conftest import ServiceFactory
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import distinct
from tests.support.recorder import RecordingServer
from tests.support.redis import RedisProcess
from tests.support.service import PostResult, ServiceProcess

SAMPLE_LINE = "alert_explainer_notifications_received_total"


def two_workers(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    **server: Any,
) -> ServiceProcess:
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        server={"workers": 2, **server},
        inference={"limits": {"concurrency": 50}},
        state={"backend": "redis", "url": redis_server.url},
    )
    service = service_factory(config)  # ready when one worker is
    wait_for_events(service, "started", 2)
    return service


def wait_for_events(service: ServiceProcess, event: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(log_events(service, event)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} {event!r} events in the log"
        time.sleep(0.02)


def log_events(service: ServiceProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of `event`, from the supervisor and every worker."""
    lines = (json.loads(x) for x in service.output().splitlines() if x.startswith("{"))
    return [line for line in lines if line.get("event") == event]


def post_all(service: ServiceProcess, payloads: list[dict[str, Any]]) -> list[PostResult]:
    """Post every payload at once, each on its own connection (the kernel picks a worker)."""
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(lambda p: service.post_payload(p, timeout=20), payloads))


def received_total(exposition: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith(SAMPLE_LINE)
    )


def test_two_workers_explain_and_deliver_each_notification_once(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=0.3)  # copies arrive while the first is in progress
    service = two_workers(service_factory, clanker, recorder, redis_server)
    notifications = [distinct(sample_payload, i) for i in range(20)]

    # Each notification three times at once, as Alertmanager's retries and its HA peer do.
    results = post_all(service, notifications * 3)

    assert all(r.status == 200 for r in results), [r for r in results if r.status != 200]
    delivered = [r.json()["groupKey"] for r in recorder.delivered]
    assert sorted(delivered) == sorted(n["groupKey"] for n in notifications)
    assert clanker.call_count == 20
    handled_by = {e["worker"] for e in log_events(service, "notification")}
    assert handled_by == {0, 1}, "the kernel should have spread 60 connections over both"


def test_metrics_from_any_worker_count_every_workers_notifications(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    service = two_workers(service_factory, clanker, recorder, redis_server)
    post_all(service, [distinct(sample_payload, i) for i in range(30)])

    scrapes = [service.metrics_text() for _ in range(10)]  # new connections: both workers

    for text in scrapes:
        assert received_total(text) == 30.0
        assert "alert_explainer_requests_in_flight 0.0" in text
        assert "alert_explainer_notifications_in_progress 0.0" in text
        assert 'alert_explainer_deliveries_total{outcome="ok",sink="team"} 30.0' in text
        assert "alert_explainer_build_info{" in text
        assert "python_gc_" not in text  # per process: not meaningful summed
        (rss,) = [x for x in text.splitlines() if x.startswith("process_resident_memory_bytes ")]
        assert float(rss.split()[1]) > 100e6  # the supervisor and both workers together


def test_metrics_list_the_same_families_with_one_worker_or_two(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
) -> None:
    state = {"backend": "redis", "url": redis_server.url}
    one = service_factory(explainer_config(clanker.url, {"team": recorder.url}, state=state))
    two = two_workers(service_factory, clanker, recorder, redis_server)

    def families(service: ServiceProcess) -> set[str]:
        lines = service.metrics_text().splitlines()
        return {x.split()[2] for x in lines if x.startswith("# TYPE ")}

    assert families(two) == {f for f in families(one) if not f.startswith("python_gc_")}


def test_sigterm_drains_every_worker_and_loses_nothing(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=2.0)
    service = two_workers(
        service_factory,
        clanker,
        recorder,
        redis_server,
        respond_within=5,
        shutdown_delay=1,
        shutdown_grace=10,
    )
    payloads = [distinct(sample_payload, i) for i in range(16)]
    results: list[PostResult] = []
    poster = threading.Thread(target=lambda: results.extend(post_all(service, payloads)))
    poster.start()
    clanker.wait_for_calls(16, timeout=10)

    service.send_signal(signal.SIGTERM)
    wait_for_events(service, "shutdown_requested", 2)
    readiness = {service.get("/readyz").status for _ in range(6)}  # still listening
    poster.join()
    exit_code = service.wait(timeout=30)

    assert readiness == {503}
    assert [r.status for r in results] == [200] * 16
    assert len(recorder.delivered) == 16
    assert exit_code == 0


def test_a_worker_that_dies_is_replaced(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    service = two_workers(service_factory, clanker, recorder, redis_server)
    post_all(service, [distinct(sample_payload, i) for i in range(10)])
    (started,) = log_events(service, "workers_started")

    os.kill(started["pids"][0], signal.SIGKILL)
    wait_for_events(service, "started", 3)  # two workers, then the replacement
    results = post_all(service, [distinct(sample_payload, i) for i in range(10, 30)])

    (died,) = log_events(service, "worker_died")
    assert died["pid"] == started["pids"][0]
    assert died["exit_code"] == -signal.SIGKILL
    assert all(r.status == 200 for r in results)
    assert received_total(service.metrics_text()) == 30.0  # the dead worker's are kept
    assert len(recorder.delivered) == 30


def test_check_config_names_server_workers_when_redis_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server: {workers: 3}\n")

    assert main(["check-config", "--config", str(path)]) == 1
    assert "server.workers is 3, which needs state.backend: redis" in capsys.readouterr().err


def test_serve_workers_flag_is_checked_like_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2"]) == 1  # built-in defaults: memory state
    assert "server.workers is 2, which needs state.backend: redis" in capsys.readouterr().err


def test_a_worker_that_cannot_listen_stops_the_service_with_an_error(
    tmp_path: Path, clanker: ClankerEmulator, recorder: RecordingServer, redis_server: RedisProcess
) -> None:
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        server={"workers": 2},
        state={"backend": "redis", "url": redis_server.url},
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(json.dumps(config))
    with socket.create_server(("127.0.0.1", 0)) as taken:  # no SO_REUSEPORT: nobody may share
        service = ServiceProcess(config_path, tmp_path, port=taken.getsockname()[1])

        with pytest.raises(RuntimeError) as refused, service:
            pass

    assert "service exited with 1" in str(refused.value)
    assert "Address already in use" in str(refused.value)


def test_every_gauge_says_how_the_workers_values_combine() -> None:
    metrics = Metrics(routes=["default"], sinks=["log"], backends={"clanker": ["m"]})
    gauges = [m for m in vars(metrics).values() if isinstance(m, Gauge)]

    assert gauges
    for gauge in gauges:
        # "all" (the default) would list every worker's value under a pid label.
        assert gauge._multiprocess_mode != "all", f"{gauge._name}: set multiprocess_mode"
