"""docs/destinations.md stays true: every configuration example in it loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alert_explainer.config import load_settings

DOC = Path(__file__).parents[2] / "docs" / "destinations.md"
SNIPPETS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_every_destination_has_an_example() -> None:
    types = sorted(t for s in SNIPPETS for t in re.findall(r"type: (\w+)", s))

    assert types == sorted(
        [
            "slack",
            "slack_api",
            "msteams",
            "discord",
            "googlechat",
            "mattermost",
            "pagerduty",
            "opsgenie",
            "telegram",
            "ntfy",
            "webhook",
            "alertmanager",
            "log",
        ]
    )


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: re.findall(r"type: (\w+)", s)[0])
def test_the_example_loads(snippet: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(snippet)
    names = re.findall(r"\$\{([A-Z_]+)\}", snippet)

    settings = load_settings(path, environ=dict.fromkeys(names, "https://example.com/s3cr3t"))

    assert len(settings.sinks) == 1
