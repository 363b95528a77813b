"""`alert-explainer render` shows the evidence it would gather, unless told not to query."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alert_explainer.cli import main
from tests.evidence.support import crash_loop_alert, payload
from tests.support.prometheus import PrometheusProcess
from tests.support.recorder import RecordingServer


def write(tmp_path: Path, prometheus: str) -> tuple[Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"evidence": {"prometheus": {"url": prometheus}}}))
    notification = tmp_path / "payload.json"
    notification.write_text(json.dumps(payload(crash_loop_alert())))
    return config, notification


def test_render_gathers_the_evidence_into_the_prompt(
    tmp_path: Path, cluster: PrometheusProcess
) -> None:
    config, notification = write(tmp_path, cluster.url)

    # A process of its own: render configures logging (to stderr, stdout is the body).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alert_explainer",
            "render",
            "--config",
            str(config),
            str(notification),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)["messages"][1]["content"]
    assert "Last termination reason:\n  api: OOMKilled" in user
    # expression, the catalogue's four crash-loop recipes, history
    assert "evidence: 6 item(s)" in result.stderr
    assert '"event":"evidence"' in result.stderr


def test_render_with_no_evidence_queries_nothing(
    tmp_path: Path, recorder: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, notification = write(tmp_path, recorder.url)

    assert main(["render", "--no-evidence", "--config", str(config), str(notification)]) == 0

    out, err = capsys.readouterr()
    assert "Evidence gathered" not in json.loads(out)["messages"][1]["content"]
    assert "evidence: not gathered (--no-evidence)" in err
    assert recorder.received == []
