"""Recipes: sandboxed templates whose printed values are PromQL string literals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from promql_parser import VectorSelector

from alert_explainer.catalogue import shipped
from alert_explainer.config import Recipe, load_settings
from alert_explainer.errors import ConfigError
from alert_explainer.evidence.promql import parse
from alert_explainer.evidence.recipes import (
    MissingLabel,
    RecipeError,
    check_recipe,
    render_line,
    render_query,
)
from tests.evidence.support import crash_loop_alert, gather, item, notification
from tests.support.prometheus import History, PrometheusProcess

pytestmark = pytest.mark.anyio

HOSTILE = 'x"} or vector(1) or up{a="'


def recipe(**fields: str) -> Recipe:
    return Recipe.model_validate({"name": "r", "title": "R", "query": "up", **fields})


def test_a_printed_label_value_becomes_a_quoted_escaped_string() -> None:
    query = recipe(query="up{namespace={{ labels.namespace }}}")

    rendered = render_query(query, {"namespace": 'sh"op\\'}, "1h")

    assert rendered == 'up{namespace="sh\\"op\\\\"}'


def test_a_hostile_label_value_stays_inside_its_literal() -> None:
    query = recipe(query="up{pod={{ labels.pod }}}")

    rendered = render_query(query, {"pod": HOSTILE}, "1h")

    tree = parse(rendered)
    assert isinstance(tree, VectorSelector)  # still one selector with one matcher
    [matcher] = tree.matchers.matchers
    assert matcher.value == HOSTILE


def test_the_window_is_printed_raw_and_everything_else_quoted() -> None:
    query = recipe(query="increase(x_total{a={{ alertname }}}[{{ window }}])")

    assert render_query(query, {"alertname": "A"}, "2h") == 'increase(x_total{a="A"}[2h])'


def test_the_regex_filter_escapes_a_value_for_a_regex_matcher() -> None:
    query = recipe(
        query='kube_persistentvolumeclaim_status_phase{persistentvolumeclaim=~{{ ".+-" ~ '
        '(labels.statefulset | regex) ~ "-[0-9]+" }}}'
    )

    rendered = render_query(query, {"statefulset": "web.v1(a)"}, "1h")

    assert rendered.endswith('persistentvolumeclaim=~".+-web\\\\.v1\\\\(a\\\\)-[0-9]+"}')


def test_a_label_the_alert_lacks_skips_the_recipe() -> None:
    with pytest.raises(MissingLabel):
        render_query(recipe(query="up{pod={{ labels.pod }}}"), {}, "1h")


def test_a_query_that_does_not_parse_is_an_error() -> None:
    broken = Recipe.model_construct(
        name="r", title="R", query="up{a={{ labels.a }}", kind="instant"
    )

    with pytest.raises(RecipeError, match="does not parse"):
        render_query(broken, {"a": "b"}, "1h")


def test_line_templates_print_plain_text() -> None:
    line = recipe(line="{{ series.reason }} ({{ value }}, raw {{ raw }})")

    assert render_line(line, {"reason": "<b>OOM</b>"}, "1", 1.0) == "<b>OOM</b> (1, raw 1.0)"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"query": "up{a={{ labels.a }}"}, "does not parse once rendered"),
        ({"query": "up[{{ window }}]"}, "returns a matrix"),
        ({"query": "{{ labels.a"}, "template line 1"),
        ({"query": "up", "line": "{% if %}"}, "template line 1"),
        ({"query": "{{ ''.__class__ }}"}, "query template"),
    ],
)
def test_check_recipe_names_the_recipe_and_the_problem(
    fields: dict[str, str], problem: str
) -> None:
    values = {"name": "broken", "title": "B", "kind": "instant", "line": None, **fields}
    candidate = Recipe.model_construct(**values)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=f"recipe 'broken': .*{problem}"):
        check_recipe(candidate)


def test_a_config_with_a_broken_recipe_names_the_entry(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "evidence": {
                    "prometheus": {"url": "http://prometheus:9090"},
                    "recipes": [
                        {
                            "name": "bad",
                            "title": "Bad",
                            "matchers": ['alertname="X"'],
                            "query": "rate(x{a={{ labels.a }}}[5m]",
                        }
                    ],
                }
            }
        )
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config)

    (problem,) = error.value.problems
    assert problem.startswith("evidence.recipes[0]: recipe 'bad': query does not parse")


def test_the_shipped_catalogue_covers_the_crash_loop() -> None:
    labels = crash_loop_alert()["labels"]

    names = [r.name for r in shipped().recipes_for(labels)]

    assert names == ["last-termination", "restarts", "memory-vs-limit", "revision-age"]


async def test_a_hostile_label_value_cannot_widen_a_real_query(
    prometheus_factory: object,
) -> None:
    history = (
        History()
        .constant(
            "kube_pod_container_status_last_terminated_reason",
            {"namespace": "shop", "pod": "api", "container": "api", "reason": "OOMKilled"},
            1,
            start=-600,
        )
        .constant("up", {"job": "secret-service", "instance": "10.0.0.9:80"}, 1, start=-600)
    )
    prometheus: PrometheusProcess = prometheus_factory(history=history)  # type: ignore[operator]
    hostile = crash_loop_alert(labels={"namespace": "shop", "pod": "api", "container": HOSTILE})

    evidence = await gather(prometheus.url, notification(hostile))

    assert item(evidence, "Last termination reason") == [
        "no termination recorded by kube-state-metrics"
    ]
    assert "secret-service" not in str(evidence.as_dicts())
