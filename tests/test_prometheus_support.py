"""The real-Prometheus test peer: history written with promtool is what queries read."""

from tests.conftest import PrometheusFactory
from tests.support.prometheus import History


def test_history_written_with_promtool_is_read_back_by_an_instant_query(
    prometheus_factory: PrometheusFactory,
) -> None:
    history = History().series(
        "node_filesystem_avail_bytes",
        {"instance": "node-1:9100", "mountpoint": "/"},
        lambda offset: 50e9 + offset * 1e6,
        start=-7200,
        step=60,
    )

    prometheus = prometheus_factory(history=history)

    [sample] = prometheus.query("node_filesystem_avail_bytes")
    assert sample["metric"]["instance"] == "node-1:9100"
    assert float(sample["value"][1]) == 50e9


def test_history_reaches_back_days_for_alert_history(prometheus_factory: PrometheusFactory) -> None:
    history = History()
    for day in (6, 4, 1):
        history.add(
            "ALERTS",
            {"alertname": "DiskFull", "alertstate": "firing"},
            [(-day * 86400 + minute * 60, 1) for minute in range(10)],
        )

    prometheus = prometheus_factory(history=history)

    [sample] = prometheus.query("count_over_time(ALERTS[7d])")
    assert float(sample["value"][1]) == 30
