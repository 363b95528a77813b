"""Every catalogue recipe finds its alert's decisive fact in a real Prometheus.

One scenario (or more) per catalogued alert writes kube-prometheus-stack-shaped series
into one Prometheus; the evidence gatherer, with the catalogue as its recipe source, runs
each entry's recipes for the scenario's alert, and every recipe's lines must state the
fact planted for it (OOMKilled and exit code 137, full in N hours, the image that cannot
be pulled, the claim that is not bound...).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest

from alert_explainer.alertmanager import Notification
from alert_explainer.catalogue import Catalogue
from alert_explainer.catalogue.builtin import entries
from alert_explainer.config import EvidenceSettings, RedactionSettings
from alert_explainer.evidence import Evidence, Gatherer
from alert_explainer.redact import Redactor
from alert_explainer.transport import HttpClient
from tests.catalogue.conftest import Cluster
from tests.catalogue.scenarios import SCENARIOS, Scenario
from tests.support.payloads import group

pytestmark = pytest.mark.anyio

CATALOGUE = Catalogue((), entries())


def notification(scenario: Scenario, now: float) -> Notification:
    """The scenario's alert as Alertmanager posts it, `starts` seconds before `now`."""
    labels = scenario.labels
    starts = datetime.fromtimestamp(now + scenario.starts, UTC)
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{scenario.alertname} fired", "description": "d"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16],
    }
    grouped: dict[str, str] = {k: labels[k] for k in ("alertname", "namespace") if k in labels}
    return Notification.model_validate(group([alert], grouped))


async def gather(cluster: Cluster, scenario: Scenario) -> Evidence:
    """What the gatherer finds for the scenario's alert, with the catalogue's recipes only."""
    settings = EvidenceSettings.model_validate(
        {"prometheus": {"url": cluster.prometheus.url}, "timeout": "20s", "max_bytes": 50_000}
    )
    redactor = Redactor.from_settings(RedactionSettings(), 4096)
    http = HttpClient()
    try:
        gatherer = Gatherer(settings, http, redactor=redactor, sources=[CATALOGUE])
        moment = datetime.fromtimestamp(cluster.now, UTC)
        return await gatherer.gather(notification(scenario, cluster.now), moment)
    finally:
        await http.aclose()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
async def test_each_recipe_states_the_planted_fact(cluster: Cluster, scenario: Scenario) -> None:
    entry = CATALOGUE.entry_for(scenario.labels)
    assert entry is not None, f"no catalogue entry for {scenario.alertname}"
    evidence = await gather(cluster, scenario)

    found = {item.title: list(item.lines) for item in evidence if item.source == "recipe"}
    for recipe in entry.evidence:
        lines = found.get(recipe.title)
        assert lines is not None, f"{recipe.name} did not run (a label it needs is missing?)"
        assert not any(line.startswith("evidence unavailable") for line in lines), lines
        for pattern in scenario.patterns(recipe.name):
            assert lines != [recipe.empty or "no samples"], f"{recipe.name} found nothing"
            assert any(re.search(pattern, line) for line in lines), (recipe.name, pattern, lines)
