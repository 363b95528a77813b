"""The README and the configuration reference tell the truth: their examples are run here."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alert_explainer.cli import main
from alert_explainer.config import load_settings
from tests.conftest import ServiceFactory

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "configuration.md"
ENV = {
    "CLANKER_CLOUD_API_KEY": "k",
    "WEBHOOK_TOKEN": "t",
    "TEAM_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "ARCHIVE_WEBHOOK_URL": "https://archive.example/hook",
}


def code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.DOTALL)


def service_configs(path: Path) -> list[str]:
    return [b for b in code_blocks(path, "yaml") if "webhook_configs" not in b]


@pytest.mark.parametrize(
    "block", service_configs(README) + service_configs(REFERENCE), ids=lambda b: b.split("\n")[0]
)
def test_every_configuration_example_is_valid(block: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(block)
    load_settings(path, environ=ENV)


def test_the_documented_defaults_are_the_built_in_defaults(tmp_path: Path) -> None:
    block = next(b for b in service_configs(README) if "type: log" in b)
    path = tmp_path / "defaults.yaml"
    path.write_text(block)
    documented = load_settings(path, environ={"CLANKER_CLOUD_API_KEY": "k"})
    assert documented == load_settings(None, environ={"CLANKER_CLOUD_API_KEY": "k"})


def test_the_reference_lists_every_default(tmp_path: Path) -> None:
    block = service_configs(REFERENCE)[0]
    path = tmp_path / "reference.yaml"
    path.write_text(block)
    assert load_settings(path, environ={}) == load_settings(None, environ={})


def test_the_alertmanager_example_is_accepted_by_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed")
    (block,) = [b for b in code_blocks(README, "yaml") if "webhook_configs" in b]
    path = tmp_path / "alertmanager.yml"
    path.write_text(block)
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_curl_example_delivers_the_sample_with_the_default_configuration(
    service_factory: ServiceFactory,
) -> None:
    (command,) = [line for line in code_blocks(README, "sh")[1].split("\n") if line][:1]
    assert command.startswith("curl -s -X POST http://localhost:8080/webhook")
    service = service_factory({})  # an empty file: the built-in defaults, no API key
    payload: Any = yaml.safe_load((ROOT / "examples" / "alertmanager-payload.json").read_text())

    result = service.post_payload(payload)

    assert result.status == 200
    assert result.json is not None
    assert result.json["sinks"] == {"log": "delivered"}
    output = service.output()
    assert "explanation unavailable: no API key configured" in output
    # The sample is a catalogued alert: the catalogue's notes stand in for the explanation.
    assert (
        "Not written by a model: alert-explainer's built-in catalogue on KubePodCrashLooping"
        in (output)
    )
    assert "What it means: The container has exited again and again" in output
    assert "kubectl -n payments logs <pod> -c api --previous" in output


def test_every_documented_command_exists(capsys: pytest.CaptureFixture[str]) -> None:
    commands = set(re.findall(r"`alert-explainer ([a-z][a-z-]*)", README.read_text()))
    assert commands == {"serve", "check-config", "render", "dead-letters", "catalogue"}
    for command in commands:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
    assert "usage: alert-explainer" in capsys.readouterr().out


def test_the_readme_shell_commands_name_scripts_that_exist() -> None:
    first = code_blocks(README, "sh")[0]
    for line in first.strip().splitlines():
        words = shlex.split(line.split("#")[0])
        script = next(w for w in words if w.startswith("scripts/"))
        assert (ROOT / script).is_file(), script


UI_DOC = ROOT / "docs" / "ui.md"


@pytest.mark.parametrize(
    "block",
    [b for b in service_configs(UI_DOC) if not b.startswith("# values.yaml")],
    ids=lambda b: b.split("\n")[0],
)
def test_the_operators_page_examples_are_valid(block: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(block)
    load_settings(path, environ={**ENV, "UI_READ_TOKEN": "r"})


def test_every_relative_link_and_image_in_the_docs_exists() -> None:
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if ":" in target:  # a URL with a scheme, not a file of the repository
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target} does not exist"
