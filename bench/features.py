"""Every optional feature switched on, for any scenario: `--all-features`.

Issue 13 asks for no regression "with evidence, the operator's page and failover switched
on". With `--all-features` a scenario's service also gathers evidence from a real
Prometheus (bench.evidence's two hours of a 1,000-pod cluster, written by promtool) and a
real Alertmanager holding 50 active alerts, and has a second emulator as its fallback
backend (`inference.fallbacks`). The operator's page records in every run anyway: it is on
by default. The scenarios' notifications name namespaces no series carries, so the
recipes' queries run in full and mostly find nothing: the cost measured is that of asking.

    .venv/bin/python -m bench.storm --all-features
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from typing import Any

from bench.evidence import start_cluster
from bench.harness import API_KEY, Bench, metric, metric_by

Config = dict[str, Any]
ACTIVE_ALERTS = 50


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The `--all-features` switch of every scenario."""
    parser.add_argument(
        "--all-features",
        action="store_true",
        help="the service also gathers evidence (a real Prometheus and Alertmanager) and has a "
        "fallback backend; the operator's page is on either way",
    )


def switch_on(bench: Bench, enabled: bool) -> Callable[[Config], Config]:
    """What turns a scenario's service configuration into one with every feature on.

    Not `enabled`: the configuration as it is. Otherwise this starts the peers evidence
    and failover need, for the rest of the run.
    """
    if not enabled:
        return lambda config: config
    prometheus, alertmanager = start_cluster(bench, [(n, 5) for n in range(ACTIVE_ALERTS)])
    standby = bench.peer("emulator", name="standby")
    evidence = {
        "prometheus": {"url": prometheus.url},
        "alertmanager": {"url": alertmanager.base_url},
    }
    fallback = {
        "name": "standby",
        "api": "clanker",
        "url": standby.url("/v1/inference/chat/completions"),
        "api_key": API_KEY,
    }
    return lambda config: every_feature(config, evidence=evidence, fallback=fallback)


def every_feature(config: Config, *, evidence: Config, fallback: Config) -> Config:
    """`config` with evidence, one fallback backend and the page (explicitly) on."""
    config = copy.deepcopy(config)
    config["evidence"] = evidence
    inference = config["inference"]
    fallback = {"timeout": inference.get("timeout", 20.0), **fallback}
    inference["fallbacks"] = [*inference.get("fallbacks", []), fallback]
    config.setdefault("ui", {})["enabled"] = True
    return config


def observed(exposition: str) -> dict[str, Any]:
    """What the features did in a run, from the service's /metrics: evidence and backends."""
    gatherings = metric(exposition, "alert_explainer_evidence_duration_seconds_count")
    seconds = metric(exposition, "alert_explainer_evidence_duration_seconds_sum")
    return {
        "evidence_gatherings": gatherings,
        "evidence_mean_ms": round(seconds / gatherings * 1000, 2) if gatherings else None,
        "evidence_queries_by_outcome": metric_by(
            exposition, "alert_explainer_evidence_queries_total", "outcome"
        ),
        "evidence_queries_by_source": metric_by(
            exposition, "alert_explainer_evidence_queries_total", "source"
        ),
        "evidence_answers_shared": metric(
            exposition, "alert_explainer_evidence_answers_shared_total"
        ),
        "calls_by_backend": metric_by(
            exposition, "alert_explainer_inference_calls_total", "backend"
        ),
    }


def described(observations: dict[str, Any]) -> str:
    """`observed`'s figures as one line for a scenario's output."""
    return (
        f"features: {observations['evidence_gatherings']:.0f} evidence gatherings "
        f"({observations['evidence_mean_ms']} ms mean; queries "
        f"{observations['evidence_queries_by_outcome'] or 'none'}, by source "
        f"{observations['evidence_queries_by_source'] or 'none'}, "
        f"{observations['evidence_answers_shared']:.0f} shared); calls by backend "
        f"{observations['calls_by_backend'] or 'none'}"
    )
