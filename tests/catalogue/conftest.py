"""One real Prometheus for the catalogue's tests, holding every scenario's history at once."""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import tests.catalogue.scenarios as scenarios
from tests.conftest import require_prometheus
from tests.support.prometheus import PrometheusProcess

for _module in pkgutil.iter_modules(scenarios.__path__):
    importlib.import_module(f"{scenarios.__name__}.{_module.name}")


@dataclass(frozen=True)
class Cluster:
    """The Prometheus, and the moment its history ends (every scenario's "now")."""

    prometheus: PrometheusProcess
    now: float


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_prometheus()
    now = time.time()
    history = scenarios.merged(scenarios.SCENARIOS, now)
    with PrometheusProcess(tmp_path_factory.mktemp("catalogue"), history=history) as process:
        yield Cluster(process, now)
