"""docs/evidence.md tells the truth: its configuration examples load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alert_explainer.config import load_settings

DOC = Path(__file__).parents[2] / "docs" / "evidence.md"


@pytest.mark.parametrize(
    "block", re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S), ids=lambda b: b[:30]
)
def test_every_configuration_example_is_valid(block: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(block)

    settings = load_settings(path, environ={})

    assert settings.evidence is not None
