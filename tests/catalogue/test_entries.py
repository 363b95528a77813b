"""The shipped catalogue: complete, consistent, and clear of the label traps.

In kube-prometheus-stack a Deployment's alert carries kube-state-metrics' own pod and a
node-exporter alert has no node: each scenario names the labels its alert carries that
describe the exporter (`foreign`), and no recipe or first check of the entry may use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from alert_explainer.catalogue import Catalogue
from alert_explainer.catalogue.builtin import FAMILIES, entries, families
from alert_explainer.config import CatalogueEntry
from alert_explainer.evidence.recipes import render_query
from tests.catalogue.scenarios import SCENARIOS, Scenario

CATALOGUE = Catalogue((), entries())
RUNBOOK = re.compile(r"https://runbooks\.prometheus-operator\.dev/runbooks/[a-z-]+/[a-z]+")
PLACEHOLDER = re.compile(r"<([a-z_][a-z0-9_]*)>")
# Placeholders in checks that are not labels: what the reader fills in.
NOT_LABELS = {"bigger", "ordinal", "release"}


def scenarios_of(entry: CatalogueEntry) -> list[Scenario]:
    return [s for s in SCENARIOS if CATALOGUE.entry_for(s.labels) is entry]


class Reading(dict[str, str]):
    """Labels that remember which of them a template read."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        super().__init__(labels)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def test_the_catalogue_covers_the_standard_alerts() -> None:
    shipped = entries()
    assert len(shipped) >= 40
    assert len([e for e in shipped if e.evidence]) >= 30
    assert {name for name, _ in FAMILIES} == {family for family, _ in families()}
    assert len({e.key for e in shipped}) == len(shipped), "an alert is catalogued twice"


def test_watchdog_and_infoinhibitor_are_never_explained() -> None:
    for name in ("Watchdog", "InfoInhibitor"):
        entry = CATALOGUE.entry_for({"alertname": name})
        assert entry is not None
        assert entry.explain is False
        assert entry.evidence == []


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.alert)
def test_an_explained_entry_has_two_to_four_recipes_with_distinct_titles(
    entry: CatalogueEntry,
) -> None:
    if entry.explain:
        assert 2 <= len(entry.evidence) <= 4
        titles = [r.title for r in entry.evidence]
        assert len(set(titles)) == len(titles)
    if entry.runbook is not None:
        assert RUNBOOK.fullmatch(entry.runbook), entry.runbook


@pytest.mark.parametrize("entry", [e for e in entries() if e.evidence], ids=lambda e: e.alert)
def test_every_recipe_is_proven_by_a_scenario(entry: CatalogueEntry) -> None:
    proven = {name for s in scenarios_of(entry) for name in s.facts}
    assert scenarios_of(entry), f"no scenario for {entry.alert}"
    assert sorted(r.name for r in entry.evidence if r.name not in proven) == []
    assert sorted(proven - {r.name for r in entry.evidence}) == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_no_recipe_or_check_uses_a_label_of_the_exporter(scenario: Scenario) -> None:
    entry = CATALOGUE.entry_for(scenario.labels)
    assert entry is not None
    for recipe in entry.evidence:
        labels = Reading(scenario.labels)
        render_query(recipe, labels, "1h")
        assert labels.read & scenario.foreign == set(), recipe.name
    for check in entry.checks:
        used = set(PLACEHOLDER.findall(check))
        assert used & scenario.foreign == set(), check
        assert used - NOT_LABELS <= set(scenario.labels), check
