"""docs/catalogue.md and `alert-explainer catalogue` tell the truth about the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from alert_explainer.catalogue import Catalogue, show
from alert_explainer.catalogue.builtin import entries
from alert_explainer.cli import main
from alert_explainer.config import load_settings

DOCS = Path(__file__).parent.parent.parent / "docs" / "catalogue.md"


def test_the_list_of_shipped_entries_is_current() -> None:
    text = DOCS.read_text()
    begin, end = text.index(show.DOCS_BEGIN), text.index(show.DOCS_END) + len(show.DOCS_END)

    assert text[begin:end] == show.markdown(), (
        "regenerate the list: alert-explainer catalogue --markdown (into docs/catalogue.md)"
    )
    for entry in entries():
        assert f"`{entry.alert}`" in text


def test_the_configuration_example_is_valid(tmp_path: Path) -> None:
    (block,) = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    config = yaml.safe_load(block)
    team = tmp_path / "team-alerts.yaml"
    team.write_text(yaml.safe_dump(config["catalogue"][:1]))
    config["catalogue"] = config["catalogue"][1:]
    config["catalogue_files"] = [str(team)]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    catalogue = Catalogue.from_settings(load_settings(path, environ={}))

    mine = catalogue.entry_for({"alertname": "PaymentsQueueBacklog", "namespace": "pay"})
    assert mine is not None
    assert mine.evidence[0].name == "consumers"


def test_the_command_lists_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue"]) == 0

    out = capsys.readouterr().out
    assert "KubePodCrashLooping" in out
    assert "Watchdog" in out
    assert "never explained" in out
    assert out.rstrip().endswith(
        f"{len(entries())} entries ({len(entries())} built-in, 0 configured)"
    )


def test_the_command_shows_an_entry_with_the_queries_for_a_sample_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["catalogue", "--alert", "KubePodCrashLooping", "--label", "namespace=shop"]) == 0

    out = capsys.readouterr().out
    assert "first checks:\n  - kubectl -n <namespace> describe pod <pod>" in out
    assert "recipe last-termination: Last termination reason (instant)" in out
    assert (
        'kube_pod_container_status_last_terminated_reason{namespace="shop", pod="<pod>", '
        'container="<container>"} == 1'
    ) in out


def test_the_command_refuses_an_unknown_alert_or_a_bad_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["catalogue", "--alert", "NoSuchAlert"]) == 1
    assert "no catalogue entry for 'NoSuchAlert'" in capsys.readouterr().err
    assert main(["catalogue", "--alert", "KubePodCrashLooping", "--label", "pod"]) == 1
    assert "--label expects NAME=VALUE" in capsys.readouterr().err


def test_the_markdown_the_command_prints_is_the_documented_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["catalogue", "--markdown"]) == 0

    assert capsys.readouterr().out.strip() == show.markdown()
