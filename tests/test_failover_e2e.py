"""Failover end to end: the real Alertmanager -> the service -> Clanker, then an OpenAI-compatible
fallback -> a recording destination.

One Alertmanager serves the whole matrix (a receiver per case, routed by a `case` label, each
posting to its own service), so a case costs one service start and one group_wait. Each case
has its own service, since breakers and budgets are per process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alertmanager import ALERTMANAGER_BIN, AlertmanagerProcess, ReceiverSpec
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.openai_api import DEFAULT_KEY, OpenAIEmulator
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.alertmanager

FALLBACK_TEXT = "Headline: disk almost full on db-1\nLikely cause: WAL growth"


@dataclass(frozen=True)
class Case:
    """How the primary (Clanker) misbehaves, and what the chain is configured with."""

    behaviour: Behaviour | None = None
    primary: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    groups: int = 1  # notifications sent one after the other (the first one spends or trips)


# Each primary failure the fallback must cover; `groups: 2` cases need a first notification
# to spend the budget or open the breaker, and are judged on the second.
FAILOVER = {
    "402": Case(primary={"api_key": "test-free-key"}),
    "5xx": Case(Behaviour.status(503)),
    "hung": Case(Behaviour.hang(30), primary={"timeout": 2}, server={"respond_within": 1}),
    "garbage": Case(Behaviour.garbage()),
    "breaker-open": Case(Behaviour.status(503), primary={"breaker": {"failures": 1}}, groups=2),
    # Budget windows are calendar windows: a per-minute one could turn over between the two
    # groups, seconds apart, and give the second a fresh budget; a day's rarely does.
    "budget-spent": Case(primary={"limits": {"per_day": 1}}, groups=2),
    "no-key": Case(primary={"api_key": None}),
}
OTHERS = ("both-down", "healthy")


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Matrix:
    """The shared Alertmanager and the port each case's service listens on."""

    alertmanager: AlertmanagerProcess
    ports: dict[str, int]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    if not ALERTMANAGER_BIN.exists():
        message = f"{ALERTMANAGER_BIN} is missing (apt-get install prometheus-alertmanager)"
        if _running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    ports = {name: free_port() for name in [*FAILOVER, *OTHERS]}
    receivers = {
        name: ReceiverSpec(url=f"http://127.0.0.1:{port}/webhook") for name, port in ports.items()
    }
    routes = [({"case": name}, name) for name in ports]
    alertmanager = AlertmanagerProcess(
        tmp_path_factory.mktemp("alertmanager"), receivers, routes=routes
    ).start()
    yield Matrix(alertmanager, ports)
    alertmanager.stop()


@dataclass
class Run:
    """One case: its emulators, destination and service."""

    clanker: ClankerEmulator
    fallback: OpenAIEmulator
    destination: RecordingServer
    service: ServiceProcess
    fire: Callable[[str], None]

    def metric(self, line: str) -> bool:
        return line in self.service.metrics_text()

    def answered(self, count: int, timeout: float = 10.0) -> None:
        """Wait until Alertmanager got `count` 200 answers (they follow the delivery)."""
        line = f'webhook_responses_total{{code="200"}} {count:.1f}'
        deadline = time.monotonic() + timeout
        while not self.metric(line):
            assert time.monotonic() < deadline, f"no {line} within {timeout} s"
            time.sleep(0.05)


@pytest.fixture
def run_case(matrix: Matrix, tmp_path: Path) -> Iterator[Callable[..., Run]]:
    started: list[Any] = []

    def start(name: str, case: Case, fallback: Behaviour | None = None) -> Run:
        clanker, openai, destination = ClankerEmulator(), OpenAIEmulator(), RecordingServer()
        for server in (clanker, openai, destination):
            started.append(server.start())
        if case.behaviour is not None:
            clanker.default = case.behaviour
        openai.default = fallback or Behaviour.ok(content=FALLBACK_TEXT)
        primary = dict(case.primary)
        api_key = primary.pop("api_key", "test-paid-key")
        inference = {
            "timeout": 1,
            **primary,
            "fallbacks": [
                {
                    "name": "in-cluster",
                    "api": "openai",
                    "url": openai.url,
                    "api_key": DEFAULT_KEY,
                    "model": "qwen2.5-7b-instruct",
                    "timeout": 1,
                }
            ],
        }
        config = explainer_config(
            clanker.url,
            {"team": destination.url},
            api_key=api_key,
            server=case.server,
            inference=inference,
        )
        config_path = tmp_path / name / "config.yaml"
        config_path.parent.mkdir(parents=True)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        service = ServiceProcess(config_path, tmp_path / name, port=matrix.ports[name])
        started.append(service.start())

        def fire(alertname: str) -> None:
            matrix.alertmanager.fire(
                alertname,
                labels={"case": name, "severity": "critical", "instance": "db-1"},
                annotations={"summary": "disk 95% full on db-1"},
            )

        return Run(clanker, openai, destination, service, fire)

    yield start
    for server in reversed(started):
        server.stop()


def deliveries(run: Run, groups: int) -> list[dict[str, Any]]:
    """Fire `groups` alert groups one after the other; each destination document, in order."""
    for i in range(groups):
        run.fire(f"DiskAlmostFull{i}")
        run.destination.wait_for(i + 1, timeout=15)
    return [r.json() for r in run.destination.delivered]


@pytest.mark.parametrize("name", list(FAILOVER))
def test_the_fallback_explains_when_the_primary_cannot(
    name: str, run_case: Callable[..., Run]
) -> None:
    case = FAILOVER[name]
    run = run_case(name, case)

    documents = deliveries(run, case.groups)

    last = documents[-1]
    assert last["explained"] is True
    assert last["summary"] == FALLBACK_TEXT  # nothing about failover in the delivered text
    assert (last["backend"], last["model"], last["error"]) == (
        "in-cluster",
        "qwen2.5-7b-instruct",
        None,
    )
    assert run.fallback.violations == []
    run.answered(case.groups)
    if name == "hung":  # slower than respond_within: 503, and Alertmanager's retry joined
        assert run.metric('webhook_responses_total{code="503"}')
    else:  # Alertmanager had its 2xx at once: it sends nothing more before repeat_interval
        assert not run.metric('webhook_responses_total{code="503"}')
    assert len(run.destination.received) == case.groups  # each group once
    if name == "breaker-open":  # the second notification never reached the primary
        assert run.metric('inference_limited_total{backend="clanker",limit="circuit"} 1.0')
        assert run.metric('inference_failures_total{backend="clanker",reason="circuit_open"} 1.0')
    if name == "budget-spent":
        assert [d["backend"] for d in documents] == ["clanker", "in-cluster"]
        assert run.clanker.call_count == 1
    if name == "no-key":
        assert run.clanker.requests == []


def test_with_every_backend_down_the_alert_is_delivered_with_each_reason(
    run_case: Callable[..., Run],
) -> None:
    run = run_case(
        "both-down", Case(primary={"api_key": "test-free-key"}), fallback=Behaviour.status(503)
    )

    (document,) = deliveries(run, 1)

    assert document["explained"] is False
    reason = "clanker: paid account required; in-cluster: unavailable (503)"
    assert document["error"] == reason
    assert document["summary"].startswith(f"explanation unavailable: {reason}\n\n")
    assert "DiskAlmostFull0" in document["summary"]
    assert document["backend"] is None
    assert run.metric('fallbacks_total{reason="server_error",route="default"} 1.0')
    assert run.metric('inference_failures_total{backend="clanker",reason="payment_required"} 1.0')


def test_with_a_healthy_primary_the_fallback_is_never_called(
    run_case: Callable[..., Run],
) -> None:
    run = run_case("healthy", Case())

    (document,) = deliveries(run, 1)

    assert (document["explained"], document["backend"]) == (True, "clanker")
    assert run.clanker.call_count == 1
    assert run.fallback.requests == []
