"""Shared fixtures: the Clanker emulator, recording destinations, Alertmanager and the service."""

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from alert_explainer.transport import HttpClient
from tests.support.alertmanager import (
    ALERTMANAGER_BIN,
    AlertmanagerProcess,
    ReceiverSpec,
    Route,
)
from tests.support.clanker import ClankerEmulator
from tests.support.prometheus import PROMETHEUS_BIN, PROMTOOL_BIN, PrometheusProcess
from tests.support.recorder import RecordingServer
from tests.support.redis import REDIS_BIN, RedisProcess
from tests.support.service import ServiceProcess

FIXTURES = Path(__file__).parent / "fixtures"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def clanker() -> Iterator[ClankerEmulator]:
    """A started Clanker Cloud emulator (paid key ``test-paid-key``, free key ``test-free-key``)."""
    with ClankerEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """The service's outbound HTTP client, closed at teardown (use from anyio tests)."""
    client = HttpClient()
    yield client
    await client.aclose()


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    """A started recording HTTP destination answering 200 ``ok``."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def make_recorder() -> Iterator[Callable[[], RecordingServer]]:
    """Factory for more recording destinations; all are stopped at teardown."""
    servers: list[RecordingServer] = []

    def make() -> RecordingServer:
        server = RecordingServer().start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


AlertmanagerFactory = Callable[..., AlertmanagerProcess]


@pytest.fixture
def alertmanager_factory(tmp_path: Path) -> Iterator[AlertmanagerFactory]:
    """``factory(receivers, routes=..., repeat_interval=...)`` -> a started Alertmanager.

    Skips when the binary is missing, except under CI where that is a failure.
    """
    if not ALERTMANAGER_BIN.exists():
        message = f"{ALERTMANAGER_BIN} is missing (apt-get install prometheus-alertmanager)"
        if _running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    started: list[AlertmanagerProcess] = []

    def factory(
        receivers: Mapping[str, ReceiverSpec],
        *,
        routes: Sequence[Route] = (),
        **kwargs: Any,
    ) -> AlertmanagerProcess:
        tmp_dir = tmp_path / f"alertmanager-{len(started)}"
        process = AlertmanagerProcess(tmp_dir, receivers, routes=routes, **kwargs)
        started.append(process)
        return process.start()

    yield factory
    for process in started:
        process.stop()


ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[ServiceFactory]:
    """``factory(config, env=None)`` writes ``config`` as YAML and starts the service on it."""
    started: list[ServiceProcess] = []

    def factory(config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ServiceProcess:
        tmp_dir = tmp_path / f"service-{len(started)}"
        tmp_dir.mkdir(parents=True)
        config_path = tmp_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        process = ServiceProcess(config_path, tmp_dir, env=env)
        started.append(process)
        return process.start()

    yield factory
    for process in started:
        process.stop()


@pytest.fixture
def sample_payload() -> dict[str, Any]:
    """A fresh copy of a real Alertmanager 0.25 webhook body: one group, two firing alerts."""
    payload: dict[str, Any] = json.loads((FIXTURES / "alertmanager-firing.json").read_text())
    return payload


@pytest.fixture
def resolved_payload() -> dict[str, Any]:
    """The same group as ``sample_payload`` with both alerts resolved."""
    payload: dict[str, Any] = json.loads((FIXTURES / "alertmanager-resolved.json").read_text())
    return payload


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop the service runs on."""
    return "asyncio"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A real redis-server on a free loopback port (fails under CI when not installed)."""
    if not Path(REDIS_BIN).exists():
        message = f"{REDIS_BIN} is missing (apt-get install redis-server)"
        if _running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    server = RedisProcess(tmp_path / "redis").start()
    yield server
    server.stop()


PrometheusFactory = Callable[..., PrometheusProcess]


def require_prometheus() -> None:
    """Skip unless prometheus and promtool are installed (under CI: fail)."""
    for binary in (PROMETHEUS_BIN, PROMTOOL_BIN):
        if not binary.exists():
            message = f"{binary} is missing (apt-get install prometheus)"
            if _running_in_ci():
                pytest.fail(message)
            pytest.skip(message)


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """``factory(history=..., scrape=..., rules=..., alertmanager=...)`` -> a started Prometheus.

    Skips when the binaries are missing, except under CI where that is a failure.
    """
    require_prometheus()
    started: list[PrometheusProcess] = []

    def factory(**kwargs: Any) -> PrometheusProcess:
        process = PrometheusProcess(tmp_path / f"prometheus-{len(started)}", **kwargs)
        started.append(process)
        return process.start()

    yield factory
    for process in started:
        process.stop()
