"""Configuration loading: defaults, ${VAR} expansion, and errors that name every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_explainer.config import DEFAULT_INFERENCE_URL, load_settings, parse_duration
from alert_explainer.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_the_documented_defaults() -> None:
    settings = load_settings(None, environ={})
    assert settings.inference.url == DEFAULT_INFERENCE_URL
    assert settings.inference.provider == "gemini"
    assert settings.inference.model == "gemini-3.5-flash"
    assert settings.inference.api_key is None
    assert [(s.type, s.name) for s in settings.sinks] == [("log", "log")]
    assert [(r.name, r.sinks) for r in settings.routes] == [("default", ["log"])]
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8080)
    assert settings.server.max_body_bytes == 8 * 1024 * 1024


def test_no_file_takes_the_key_from_the_environment() -> None:
    settings = load_settings(None, environ={"CLANKER_CLOUD_API_KEY": "k-123"})
    assert settings.inference.resolved_api_key() == "k-123"


def test_variables_are_expanded_in_every_string(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
inference:
  api_key: ${KEY}
  metadata: {team: "${TEAM:-sre}"}
sinks:
  - {name: hook, type: webhook, url: "https://hooks.example/${HOOK_PATH}"}
routes:
  - {name: default, sinks: [hook]}
""",
    )
    settings = load_settings(path, environ={"KEY": "secret", "HOOK_PATH": "a/b"})
    assert settings.inference.resolved_api_key() == "secret"
    assert settings.inference.metadata == {"team": "sre"}
    assert settings.sinks[0].url.get_secret_value() == "https://hooks.example/a/b"  # type: ignore[union-attr]


def test_a_missing_variable_is_an_error_naming_it_and_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "inference:\n  api_key: ${NOT_SET}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert caught.value.problems == ["inference.api_key: environment variable NOT_SET is not set"]


def test_every_problem_is_reported_at_once_with_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
server: {port: "eighty"}
inference: {auth: basic, timeout: soon}
sinks:
  - {name: hook, type: webhook}
  - {name: chat, type: carrier-pigeon}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    text = "\n".join(caught.value.problems)
    assert "server.port:" in text
    assert "inference.auth:" in text
    assert "'x-api-key', 'bearer', 'api-key' or 'none'" in text
    assert "inference.timeout: expected a duration" in text
    assert "sinks[0].url: Field required" in text
    assert "sinks[1]: unknown sink type; expected one of: log, webhook, slack" in text


def test_a_route_naming_an_unknown_sink_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "routes:\n  - {name: default, sinks: [nowhere]}\n")
    with pytest.raises(ConfigError, match=r"unknown sink 'nowhere' \(defined sinks: log\)"):
        load_settings(path, environ={})


def test_unknown_keys_are_rejected_instead_of_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "inference:\n  modle: typo\n")
    with pytest.raises(ConfigError, match=r"inference.modle: Extra inputs are not permitted"):
        load_settings(path, environ={})


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "inference: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path, environ={})


def test_the_api_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    path = write(tmp_path, f"inference:\n  api_key_file: {key_file}\n")
    assert load_settings(path, environ={}).inference.resolved_api_key() == "from-file"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(20, 20), ("20", 20.0), ("500ms", 0.5), ("10m", 600.0), ("1h30m", 5400.0), ("24h", 86400.0)],
)
def test_durations_accept_seconds_and_alertmanager_style(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_secrets_do_not_appear_in_the_settings_repr(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inference: {api_key: sk-very-secret}\n"
        "sinks: [{name: s, type: slack, url: 'https://hooks.slack.com/services/T/B/xoxb-unguessable'}]\n"
        "routes: [{name: default, sinks: [s]}]\n",
    )
    text = repr(load_settings(path, environ={}))
    assert "sk-very-secret" not in text
    assert "xoxb-unguessable" not in text


def test_situation_reuse_defaults_to_one_hour_and_twice_the_alerts() -> None:
    inference = load_settings(None, environ={}).inference

    assert (inference.reexplain_after, inference.reexplain_growth) == (3600.0, 2.0)


def test_situation_reuse_can_be_turned_off_with_zero(tmp_path: Path) -> None:
    path = write(tmp_path, "inference: {reexplain_after: 0s, reexplain_growth: 1.5}\n")

    inference = load_settings(path, environ={}).inference

    assert (inference.reexplain_after, inference.reexplain_growth) == (0.0, 1.5)


def test_a_negative_window_or_a_shrinking_factor_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "inference: {reexplain_after: -5, reexplain_growth: 0.5}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    text = "\n".join(caught.value.problems)
    assert "inference.reexplain_after: Input should be greater than or equal to 0" in text
    assert "inference.reexplain_growth: Input should be greater than or equal to 1" in text


def test_the_operators_page_is_on_with_500_notifications_for_a_day() -> None:
    ui = load_settings(None, environ={}).ui
    assert (ui.enabled, ui.history, ui.max_age, ui.auth) == (True, 500, 86400.0, None)


def test_the_operators_page_takes_the_webhooks_auth_schema(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    path = write(
        tmp_path,
        f"""
ui:
  history: 50
  max_age: 2h
  auth:
    bearer_token_files: [{tmp_path / "token"}]
    basic_auth: [{{username: ops, password: pw}}]
server:
  root_path: /alert-explainer/
""",
    )
    settings = load_settings(path, environ={})
    assert settings.ui.auth is not None
    assert settings.ui.auth.basic_auth[0].username == "ops"
    assert settings.server.root_path == "/alert-explainer"  # the trailing slash is dropped


def test_bad_ui_settings_are_each_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ui:
  history: 0
  auth:
    basic_auth: [{username: ops}]
server:
  root_path: alert explainer
""",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    text = str(raised.value)
    assert "ui.history" in text
    assert "ui.auth.basic_auth[0]" in text
    assert "server.root_path: expected a path prefix" in text


def test_a_missing_ui_credential_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "ui:\n  auth:\n    bearer_token_files: [/nonexistent/ui-token]\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    assert "ui.auth.bearer_token_files[0]: no readable file at /nonexistent/ui-token" in str(
        raised.value
    )
