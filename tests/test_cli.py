"""The command line: check-config names every problem, render prints the exact request body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.cli import main

SAMPLE = Path(__file__).parent / "fixtures" / "alertmanager-firing.json"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_check_config_summarises_a_valid_configuration_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "routes: [{name: default, sinks: [log]}]\n")
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("config OK")


def test_check_config_renders_templates_so_unknown_variables_are_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "routes:\n  - name: pager\n    sinks: [log]\n    templates: {user: '{{ group_labelz }}'}\n",
    )
    assert main(["check-config", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "routes 'pager': user template" in err
    assert "group_labelz" in err


def test_check_config_names_bad_matchers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "routes:\n  - {name: r, sinks: [log], matchers: ['severity~critical']}\n"
    )
    assert main(["check-config", "--config", str(path)]) == 1
    assert "routes[0].matchers: invalid matcher 'severity~critical'" in capsys.readouterr().err


def test_render_prints_the_exact_request_body_and_calls_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "inference: {url: 'http://127.0.0.1:9/never-called', model: m-1, metadata: {team: sre}}\n",
    )
    assert main(["render", "--config", str(path), str(SAMPLE)]) == 0
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert list(body) == ["provider", "model", "messages", "metadata"]
    assert body["model"] == "m-1"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["metadata"] == {
        "team": "sre",
        "source": "alert-explainer",
        "route": "default",
        "receiver": "explain",
        "status": "firing",
        "alert_count": 2,
    }


def test_render_shows_the_redacted_prompt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads(SAMPLE.read_text())
    payload["alerts"][0]["annotations"]["description"] = "login failed: password=hunter2hunter2"
    payload_path = tmp_path / "payload.json"
    payload_path.write_text(json.dumps(payload))
    assert main(["render", str(payload_path)]) == 0
    out = capsys.readouterr().out
    assert "hunter2hunter2" not in out
    assert "[REDACTED:" in out


def test_render_refuses_an_invalid_payload_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload_path = tmp_path / "payload.json"
    payload_path.write_text('{"status": "firing"}')
    assert main(["render", str(payload_path)]) == 1
    assert "alerts: Field required" in capsys.readouterr().err


def test_render_tells_which_situation_the_payload_maps_to_and_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(SAMPLE)]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays the request body alone

    lines = captured.err.splitlines()
    assert lines[0] == (
        'situation: route "default", group '
        '"{}:{alertname=\\"KubePodCrashLooping\\", namespace=\\"payments\\"}"'
    )
    assert lines[1] == (
        '  firing: 2 pods; alertnames: "KubePodCrashLooping"; highest severity: "critical"'
    )
    assert lines[2].startswith("  state-store key: situation:")
    assert lines[3] == (
        "  would call: yes, unless the service holds an explanation of this alert state or "
        "situation (render keeps no state)"
    )
    assert lines[4] == (
        "  rule: an explanation made for it is reused without a call while no other "
        'alertname joins, the severity stays at most "critical", at most 4 pods fire '
        "(2x 2) and the group does not resolve, for 1h after it was made"
    )


def test_render_of_a_resolved_notice_says_it_would_not_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    resolved = SAMPLE.parent / "alertmanager-resolved.json"

    assert main(["render", str(resolved)]) == 0

    assert (
        "  would call: no: resolved notices need no call (and it ends the situation)"
        in capsys.readouterr().err.splitlines()
    )


def test_render_with_situation_reuse_off_says_every_state_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "inference: {reexplain_after: 0, reexplain_growth: 3}\n")

    assert main(["render", "--config", str(path), str(SAMPLE)]) == 0

    assert capsys.readouterr().err.splitlines()[-1] == (
        "  rule: off (inference.reexplain_after: 0): every distinct alert state is explained"
    )


CHAIN = """
inference:
  api_key: sk-primary-secret
  fallbacks:
    - name: in-cluster
      api: openai
      url: http://127.0.0.1:9/v1/chat/completions
      model: qwen2.5-7b-instruct
      max_tokens: 600
    - name: ollama
      api: openai
      url: http://127.0.0.1:9/v1/chat/completions
      auth: none
      model: llama3.2
routes:
  - {name: default, sinks: [log], model: gemini-3.5-pro}
"""


def test_render_prints_a_fallbacks_exact_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CHAIN)
    assert main(["render", "--config", str(path), "--backend", "in-cluster", str(SAMPLE)]) == 0
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert list(body) == ["model", "messages", "max_tokens"]
    assert body["model"] == "qwen2.5-7b-instruct"  # the route's model is the first backend's
    assert body["max_tokens"] == 600
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_render_without_a_backend_prints_the_first_ones_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CHAIN)
    assert main(["render", "--config", str(path), str(SAMPLE)]) == 0
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert list(body) == ["provider", "model", "messages", "metadata"]
    assert body["model"] == "gemini-3.5-pro"


def test_render_names_the_backends_when_asked_for_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CHAIN)
    assert main(["render", "--config", str(path), "--backend", "vllm", str(SAMPLE)]) == 1
    err = capsys.readouterr().err
    assert "unknown backend 'vllm'; configured: clanker, in-cluster, ollama" in err


def test_check_config_lists_each_backend_in_order_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CHAIN)
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert (
        "backends in order: clanker (clanker, gemini-3.5-flash, key set) -> "
        "in-cluster (openai, qwen2.5-7b-instruct, key NOT set (skipped)) -> "
        "ollama (openai, llama3.2, key not needed); deadline 60 s"
    ) in out
    assert "sk-primary-secret" not in out


def test_check_config_names_a_backends_problem_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "inference:\n  fallbacks: [{name: x, api: openai, model: m}]\n")
    assert main(["check-config", "--config", str(path)]) == 1
    assert "inference.fallbacks[0]: url is required with api: openai" in capsys.readouterr().err
