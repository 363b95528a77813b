"""Configured catalogue entries: inline and in files, overriding shipped ones, all validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alert_explainer.catalogue import Catalogue
from alert_explainer.cli import main
from alert_explainer.config import load_settings
from alert_explainer.errors import ConfigError

ENTRY: dict[str, Any] = {
    "alert": "PaymentsQueueBacklog",
    "summary": "The payments queue has a backlog.",
    "meaning": "Messages wait in the payments queue.",
    "causes": ["consumers down"],
    "checks": ["kubectl -n <namespace> get deploy payments-consumer"],
    "evidence": [
        {
            "name": "consumers",
            "title": "Consumers ready",
            "query": "kube_deployment_status_replicas_available{namespace={{ labels.namespace }}}",
        }
    ],
}


def load(tmp_path: Path, config: dict[str, Any]) -> Catalogue:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return Catalogue.from_settings(load_settings(path, environ={}))


def problems(tmp_path: Path, config: dict[str, Any]) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    return error.value.problems


def test_a_configured_entry_is_used_and_the_shipped_ones_stay(tmp_path: Path) -> None:
    catalogue = load(tmp_path, {"catalogue": [ENTRY]})

    entry = catalogue.entry_for({"alertname": "PaymentsQueueBacklog", "namespace": "pay"})
    assert entry is not None
    assert [r.name for r in entry.evidence] == ["consumers"]
    assert catalogue.entry_for({"alertname": "KubePodCrashLooping"}) is not None


def test_an_entry_with_the_shipped_alert_and_matchers_replaces_it(tmp_path: Path) -> None:
    mine = {**ENTRY, "alert": "KubePodCrashLooping", "evidence": []}

    catalogue = load(tmp_path, {"catalogue": [mine]})

    entry = catalogue.entry_for({"alertname": "KubePodCrashLooping"})
    assert entry is not None
    assert entry.summary == "The payments queue has a backlog."
    assert [i.entry.alert for i in catalogue.entries].count("KubePodCrashLooping") == 1


def test_a_more_specific_entry_wins_only_where_its_matchers_hold(tmp_path: Path) -> None:
    batch = {**ENTRY, "alert": "KubePodCrashLooping", "matchers": ['namespace=~"batch-.*"']}

    catalogue = load(tmp_path, {"catalogue": [batch]})

    batch_entry = catalogue.entry_for({"alertname": "KubePodCrashLooping", "namespace": "batch-1"})
    shop_entry = catalogue.entry_for({"alertname": "KubePodCrashLooping", "namespace": "shop"})
    assert batch_entry is not None
    assert batch_entry.summary == ENTRY["summary"]
    assert shop_entry is not None
    assert shop_entry.summary.startswith("A container keeps crashing")


def test_the_shipped_catalogue_can_be_switched_off(tmp_path: Path) -> None:
    catalogue = load(tmp_path, {"catalogue": [ENTRY], "catalogue_builtin": False})

    assert [i.entry.alert for i in catalogue.entries] == ["PaymentsQueueBacklog"]
    assert catalogue.entry_for({"alertname": "KubePodCrashLooping"}) is None


def test_entries_come_from_files_too(tmp_path: Path) -> None:
    file = tmp_path / "team.yaml"
    file.write_text(yaml.safe_dump([ENTRY]))

    catalogue = load(tmp_path, {"catalogue_files": [str(file)]})

    assert catalogue.entry_for({"alertname": "PaymentsQueueBacklog"}) is not None


def test_a_recipe_that_does_not_parse_is_an_error_naming_the_entry(tmp_path: Path) -> None:
    broken = {**ENTRY, "evidence": [{**ENTRY["evidence"][0], "query": "sum(rate(x[5m])"}]}

    (problem,) = problems(tmp_path, {"catalogue": [ENTRY, broken]})

    assert problem.startswith(
        "catalogue[1] (PaymentsQueueBacklog).evidence[0]: recipe 'consumers': query does not parse"
    )


def test_a_broken_file_is_an_error_naming_the_file_and_the_entry(tmp_path: Path) -> None:
    file = tmp_path / "team.yaml"
    file.write_text(yaml.safe_dump([ENTRY, {**ENTRY, "alert": "Other", "causes": []}]))
    missing = tmp_path / "missing.yaml"

    found = problems(tmp_path, {"catalogue_files": [str(file), str(missing)]})

    assert found == [
        f"catalogue_files[0] ({file}): [1] (Other).causes: List should have at least 1 item "
        "after validation, not 0",
        f"catalogue_files[1] ({missing}): cannot read the file (No such file or directory)",
    ]


def test_an_entry_configured_twice_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "team.yaml"
    file.write_text(yaml.safe_dump([ENTRY]))

    found = problems(tmp_path, {"catalogue": [ENTRY], "catalogue_files": [str(file)]})

    assert found == ["catalogue: PaymentsQueueBacklog is configured twice"]


def test_an_entry_never_explained_has_no_evidence(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, {"catalogue": [{**ENTRY, "explain": False}]})

    assert "explain: false is never explained: it has no evidence" in problem


def test_check_config_names_the_entry_and_counts_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"catalogue": [ENTRY]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"catalogue": [{**ENTRY, "runbook": "ftp://x"}]}))

    assert main(["check-config", "--config", str(good)]) == 0
    assert "catalogue 63 entries (1 configured)" in capsys.readouterr().out
    assert main(["check-config", "--config", str(bad)]) == 1
    assert "catalogue[0] (PaymentsQueueBacklog).runbook: expected an http" in (
        capsys.readouterr().err
    )
