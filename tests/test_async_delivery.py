"""delivery.mode async: 202 only once queued durably; a crash loses nothing and repeats nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ServiceFactory
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import distinct
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer
from tests.support.redis import RedisProcess
from tests.support.service import SERVICE_SRC


def group_keys(recorder: RecordingServer) -> list[str]:
    return sorted(r.json()["groupKey"] for r in recorder.delivered)


def test_async_mode_answers_202_and_delivers_from_the_queue(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    delivery = {"mode": "async", "queue_path": str(tmp_path / "queue.sqlite3")}
    service = service_factory(
        explainer_config(clanker.url, {"team": recorder.url}, delivery=delivery)
    )

    result = service.post_payload(sample_payload)

    assert result.status == 202
    assert result.json == {"status": "queued", "route": "default"}
    assert recorder.wait_for(1)[0].json()["explained"] is True


def test_a_full_queue_answers_503_so_alertmanager_retries(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    clanker.default = Behaviour.hang(3)
    delivery = {"mode": "async", "queue_path": str(tmp_path / "q.sqlite3"), "queue_max": 2}
    service = service_factory(
        explainer_config(clanker.url, {"team": recorder.url}, delivery=delivery)
    )

    statuses = [service.post_payload(distinct(sample_payload, i)).status for i in range(3)]

    assert statuses == [202, 202, 503]


def test_entries_queued_when_the_process_is_killed_are_delivered_once_after_restart(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    clanker.default = Behaviour.hang(30)  # nothing can finish before the kill
    delivery = {"mode": "async", "queue_path": str(tmp_path / "queue.sqlite3")}
    config = explainer_config(clanker.url, {"team": recorder.url}, delivery=delivery)
    first = service_factory(config)
    payloads = [distinct(sample_payload, i) for i in range(5)]
    assert [first.post_payload(p).status for p in payloads] == [202] * 5

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    clanker.default = Behaviour.ok()
    service_factory(config)  # the restarted process, same queue file
    recorder.wait_for(5, timeout=20)
    time.sleep(1)

    assert group_keys(recorder) == sorted(p["groupKey"] for p in payloads)


def test_with_redis_another_replica_finishes_a_dead_replicas_entries(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.hang(30)
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        delivery={"mode": "async"},
        state={"backend": "redis", "url": redis_server.url},
        inference={"timeout": 2},  # keeps the lease (and so the takeover) short
    )
    first = service_factory(config)
    payloads = [distinct(sample_payload, i) for i in range(3)]
    assert [first.post_payload(p).status for p in payloads] == [202] * 3
    clanker.wait_for_calls(3)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    clanker.default = Behaviour.ok()
    service_factory(config)  # another replica
    recorder.wait_for(3, timeout=90)
    time.sleep(1)

    assert group_keys(recorder) == sorted(p["groupKey"] for p in payloads)


def read_only(directory: Path, command: list[str]) -> list[str]:
    """`command` run with `directory` read-only: a read-only bind mount in a mount namespace
    of its own as root (whom permission bits do not stop), else plain permission bits."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return command
    remount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", remount, "sh", str(directory), *command]


def test_a_read_only_queue_directory_stops_the_service_at_start_up(tmp_path: Path) -> None:
    queue_dir = tmp_path / "queue"
    queue_dir.mkdir()
    config = tmp_path / "config.yaml"
    queue_path = queue_dir / "queue.sqlite3"
    config.write_text(f"delivery: {{mode: async, queue_path: {queue_path}}}\n")
    serve = [sys.executable, "-m", "alert_explainer", "serve", "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(SERVICE_SRC)}

    result = subprocess.run(
        read_only(queue_dir, [*serve, "--port", str(free_port())]),
        capture_output=True,
        text=True,
        env=env,
        timeout=30,  # it must exit on its own, not serve and fail on the first notification
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"delivery.queue_path {queue_path} is not writable" in result.stderr
    assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr
    assert "persistence.enabled=true" in result.stderr
    assert "state.backend: redis" in result.stderr
