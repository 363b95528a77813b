"""One real Prometheus per module, holding the cluster history every test reads."""

from collections.abc import Iterator

import pytest

from tests.conftest import require_prometheus
from tests.evidence.support import cluster_history
from tests.support.prometheus import PrometheusProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    """A Prometheus whose TSDB holds `cluster_history()` (written with promtool)."""
    require_prometheus()
    process = PrometheusProcess(tmp_path_factory.mktemp("cluster"), history=cluster_history())
    with process:
        yield process
