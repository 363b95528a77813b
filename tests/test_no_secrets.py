"""No configured secret ever leaves in logs, answers, metrics or command output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ServiceFactory
from tests.support.clanker import ClankerEmulator
from tests.support.recorder import RecordingServer, Reply

API_KEY = "sk-free-8f14e45fceea167a5a36dedd4bea2543"
WEBHOOK_TOKEN = "whk-c9f0f895fb98ab9159f51fd0297e236d"
SINK_TOKEN = "T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
BASIC_PASSWORD = "pw-45c48cce2e2d7fbdea1afc51c7c6ad26"
SECRETS = (API_KEY, WEBHOOK_TOKEN, SINK_TOKEN, BASIC_PASSWORD)


@pytest.fixture
def free_account_clanker() -> Iterator[ClankerEmulator]:
    with ClankerEmulator(free_keys={API_KEY}) as emulator:
        yield emulator


def config(
    clanker: ClankerEmulator, failing: RecordingServer, healthy: RecordingServer
) -> dict[str, Any]:
    return {
        "server": {"respond_within": 5},
        "inference": {"url": clanker.url, "api_key": "${CLANKER_CLOUD_API_KEY}", "timeout": 3},
        "auth": {
            "bearer_tokens": ["${WEBHOOK_TOKEN}"],
            "basic_auth": [{"username": "am", "password": "${BASIC_PASSWORD}"}],
        },
        "sinks": [
            {
                "name": "chat",
                "type": "slack",
                "url": failing.url_for(f"/services/{SINK_TOKEN}"),
                "timeout": 1,
            },
            {"name": "archive", "type": "webhook", "url": healthy.url_for(f"/hook/{SINK_TOKEN}")},
        ],
        "routes": [{"name": "default", "sinks": ["chat", "archive"]}],
        "log": {"format": "json", "level": "debug"},
    }


def run_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "alert_explainer", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    return result.stdout + result.stderr


def test_a_full_run_with_auth_a_failing_sink_and_a_402_prints_no_secret(
    service_factory: ServiceFactory,
    free_account_clanker: ClankerEmulator,
    make_recorder: Any,
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    failing, healthy = make_recorder(), make_recorder()
    # A destination that echoes what it got, as some do in their error text.
    failing.default = Reply(status=400, body=f"invalid_token for /services/{SINK_TOKEN}".encode())
    env = {
        "CLANKER_CLOUD_API_KEY": API_KEY,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "BASIC_PASSWORD": BASIC_PASSWORD,
    }
    settings = config(free_account_clanker, failing, healthy)
    service = service_factory(settings, env=env)

    answers = [
        service.post_payload(sample_payload),  # no credentials
        service.post_payload(sample_payload, headers={"Authorization": "Bearer wrong"}),
        service.post_payload(sample_payload, headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
        service.post_payload(b"{broken", headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
    ]
    metrics = service.metrics_text()
    service.terminate()

    assert [a.status for a in answers] == [401, 401, 503, 400]
    assert answers[2].json is not None
    assert "invalid_token" in answers[2].json["sinks"]["chat"]  # the destination's reason...
    assert healthy.delivered[0].json()["error"] == "paid account required"  # ...and the 402
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    payload_path = tmp_path / "payload.json"
    payload_path.write_text(json.dumps(sample_payload))
    printed = "\n".join(
        [
            service.output(),
            metrics,
            *(str(a.json) + str(a.headers) for a in answers),
            run_cli("check-config", "--config", str(config_path), env=env),
            run_cli("render", "--config", str(config_path), str(payload_path), env=env),
        ]
    )
    assert "config OK" in printed
    assert '"messages"' in printed
    for secret in SECRETS:
        assert secret not in printed, f"{secret[:6]}... leaked"
    for piece in SINK_TOKEN.split("/"):
        assert piece not in printed
