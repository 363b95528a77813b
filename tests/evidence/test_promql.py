"""The alert expression taken apart: printed faithfully, labels pinned only where safe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

import pytest
from promql_parser import VectorSelector

from alert_explainer.evidence.expression import expression_of, plan
from alert_explainer.evidence.history import selector
from alert_explainer.evidence.promql import Unprintable, faithful, parse, render, threshold
from alert_explainer.evidence.units import Unit, format_value, infer
from tests.conftest import require_prometheus
from tests.evidence.support import generator_url
from tests.support.prometheus import History, PrometheusProcess

ROUND_TRIPS = [
    'up{job="a\\"b",instance=~"x.*\\\\d"} offset 5m',
    "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum without (instance) (rate(x_total[5m] offset 1h)) / ignoring(a) group_left() sum(y)",
    'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    "topk(3, x) or bottomk by (job) (2, x)",
    'count_values("version", build_info)',
    "rate(x[5m:30s] @ 1700000000)",
    "x @ start() - x @ end()",
    "-x > bool 1e-07",
    "a / on(x) group_right(y, z) b",
    "quantile_over_time(0.9, x[1h]) unless on() vector(1)",
    '{__name__="up", job="a"} == 1',
]


@pytest.mark.parametrize("expr", ROUND_TRIPS)
def test_the_printed_expression_parses_back_to_the_same_tree(expr: str) -> None:
    tree = parse(expr)

    assert str(parse(faithful(tree))) == str(tree)


def test_values_are_escaped_where_the_parsers_own_printer_would_not() -> None:
    tree = parse('up{job="a\\"b"}')

    assert str(tree) == 'up{job="a"b"}'  # what promql-parser prints: not PromQL
    assert render(tree) == 'up{job="a\\"b"}'


def test_a_hostile_pinned_value_stays_inside_its_matcher() -> None:
    hostile = 'x"} or vector(1) or up{a="'

    pinned = plan("up == 0", {"pod": frozenset({hostile}), "job": frozenset({hostile, "b"})})

    tree = parse(pinned.pinned)
    assert isinstance(tree, VectorSelector)
    values = {m.name: m.value for m in tree.matchers.matchers}
    assert values["pod"] == hostile
    assert re.fullmatch(values["job"], hostile)  # a regex of the escaped alternatives
    assert not re.fullmatch(values["job"], "x")


def test_a_hostile_value_stays_inside_the_alerts_history_selector() -> None:
    hostile = 'x"} or vector(1) or up{a="'

    tree = parse(selector(hostile, {"pod": frozenset({hostile})}))

    assert isinstance(tree, VectorSelector)
    values = {m.name: m.value for m in tree.matchers.matchers}
    assert values == {"alertname": hostile, "alertstate": "firing", "pod": hostile}


def test_a_negative_offset_is_not_printed_but_queried_as_written() -> None:
    with pytest.raises(Unprintable):
        faithful(parse("x offset -5m"))
    assert plan("x offset -5m > 1", {}).plain == "x offset -5m > 1"


@pytest.mark.parametrize(
    ("expr", "value", "op", "limit"),
    [
        ("x > 0.9", "x", ">", 0.9),
        ("5 < x", "x", ">", 5.0),
        ("(x <= 4 * 60 * 60)", "x", "<=", 14400.0),
        ("a / b * 100 < 15 and c < 0 and d == 0", "a / b * 100", "<", 15.0),
        ("x != 0 unless y", "x", "!=", 0.0),
    ],
)
def test_the_threshold_of_a_top_level_comparison(
    expr: str, value: str, op: str, limit: float
) -> None:
    rule = threshold(parse(expr))

    assert rule is not None
    assert (render(rule.value), rule.op, rule.threshold) == (value, op, limit)


@pytest.mark.parametrize("expr", ["x > bool 1", "x > y", "x or y > 1", "rate(x[5m])"])
def test_no_threshold_where_nothing_is_compared_with_a_number(expr: str) -> None:
    assert threshold(parse(expr)) is None


def test_the_expression_comes_from_the_generator_url_query_or_fragment() -> None:
    expr = 'sum(rate(x{a="b c"}[5m])) > 0.5'

    assert expression_of(generator_url(expr)) == expr
    assert (
        expression_of("https://grafana/x#g0.expr=" + generator_url(expr).split("=", 1)[1]) == expr
    )
    assert expression_of("https://prometheus/graph?g0.expr=&g0.tab=1") is None
    assert expression_of("") is None


@pytest.mark.parametrize(
    ("expr", "unit"),
    [
        ("node_filesystem_avail_bytes / node_filesystem_size_bytes * 100", "percent"),
        ("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "ratio"),
        ("rate(node_network_receive_bytes_total[5m])", "bytes/s"),
        ("histogram_quantile(0.9, sum by (le) (rate(x_seconds_bucket[5m])))", "seconds"),
        ("increase(kube_pod_container_status_restarts_total[1h])", "count"),
        ("max_over_time(container_memory_working_set_bytes[1h])", "bytes"),
        ("rate(node_cpu_seconds_total[5m])", "none"),
        ("x_bytes / 1024", "none"),
    ],
)
def test_the_unit_comes_from_the_metric_names(expr: str, unit: str) -> None:
    assert str(infer(parse(expr))) == unit


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (4.4e9, "bytes", "4.1 GiB"),
        (1023.9 * 1024, "bytes", "1 MiB"),
        (0.35, "seconds", "350 ms"),
        (5400.0, "seconds", "90 min"),
        (0.932, "ratio", "93.2%"),
        (4.0, "percent", "4%"),
        (2.97, "count", "3"),
        (15234.0, "count", "15.2k"),
        (float("nan"), "bytes", "NaN"),
    ],
)
def test_numbers_are_shown_in_their_unit(value: float, unit: str, shown: str) -> None:
    assert format_value(value, Unit(unit)) == shown


# --- pinning, checked against a real Prometheus ------------------------------------------

PINNED = [
    (
        "node_filesystem_avail_bytes / node_filesystem_size_bytes * 100 < 90",
        ["instance", "mountpoint"],
    ),
    ("sum by (namespace) (kube_pod_container_status_restarts_total) > 0", ["namespace"]),
    ("max without (mountpoint) (node_filesystem_avail_bytes) > 0", ["instance"]),
    ("rate(http_requests_total[5m]) >= 0", ["instance", "job"]),
    (
        "histogram_quantile(0.9, sum by (le, job) "
        "(rate(http_request_duration_seconds_bucket[5m]))) > 0",
        ["job"],
    ),
    (
        "kube_pod_container_status_restarts_total * on(namespace, pod) group_left(node) "
        "kube_pod_info > 0",
        ["namespace", "pod", "node"],
    ),
    ('label_replace(up, "host", "$1", "instance", "(.*):.*") == 1', ["host", "instance", "job"]),
    ("count by (job) (up == 1) / count by (job) (up) > 0", ["job"]),
    ('up == 1 unless on(job) up{job="gone"}', ["instance", "job"]),
]


def _bucket(offset: float, share: float) -> float:
    return (offset + 900) * share


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    history = History()
    for node in ("n1", "n2"):
        for mount in ("/", "/var"):
            labels = {"instance": f"{node}:9100", "mountpoint": mount}
            history.constant("node_filesystem_avail_bytes", labels, 40e9, start=-900)
            history.constant("node_filesystem_size_bytes", labels, 100e9, start=-900)
    for ns, pod, node in (("a", "p1", "n1"), ("a", "p2", "n2"), ("b", "p3", "n1")):
        history.series(
            "kube_pod_container_status_restarts_total",
            {"namespace": ns, "pod": pod, "container": "c"},
            lambda t: (t + 900) // 60,
            start=-900,
        )
        history.constant(
            "kube_pod_info", {"namespace": ns, "pod": pod, "node": node}, 1, start=-900
        )
    for job, instance in (("api", "a:80"), ("api", "b:80"), ("web", "c:80")):
        labels = {"job": job, "instance": instance}
        history.constant("up", labels, 1, start=-900)
        history.series("http_requests", labels, lambda t: t + 900, start=-900, kind="counter")
        for le in ("0.1", "1", "+Inf"):
            history.series(
                "http_request_duration_seconds_bucket",
                {**labels, "le": le},
                partial(_bucket, share=1.0 if le == "+Inf" else 0.5),
                start=-900,
            )
    require_prometheus()
    with PrometheusProcess(tmp_path_factory.mktemp("varied"), history=history) as process:
        yield process


@pytest.mark.parametrize(("expr", "labels"), PINNED)
def test_pinning_the_alerts_labels_selects_exactly_its_series(
    varied: PrometheusProcess, expr: str, labels: list[str]
) -> None:
    plain = plan(expr, {}).plain
    everything = varied.query(plain)
    assert len(everything) > 1, "the case needs several series to tell them apart"
    for series in everything:
        metric = {k: v for k, v in series["metric"].items() if k != "__name__"}
        alert_labels = {**metric, "severity": "warning", "alertname": "A"}
        pins = {k: frozenset({alert_labels[k]}) for k in labels if k in alert_labels}

        pinned = plan(expr, pins).pinned

        assert pinned != plain or not pins
        found = [s["metric"] for s in varied.query(pinned)]
        assert found == [series["metric"]], f"{pinned} found {found}"
