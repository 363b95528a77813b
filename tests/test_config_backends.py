"""Configuration of the inference backends: today's keys are the first, fallbacks follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_explainer.config import DEFAULT_INFERENCE_URL, Settings, load_settings
from alert_explainer.errors import ConfigError
from tests.support.tls import self_signed

FALLBACK = """
  fallbacks:
    - name: in-cluster
      api: openai
      url: http://vllm.ai:8000/v1/chat/completions
      api_key: ${VLLM_KEY:-}
      auth: bearer
      model: qwen2.5-7b-instruct
      timeout: 30s
"""


def load(tmp_path: Path, inference: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text("inference:\n" + inference)
    return load_settings(path, environ=environ or {})


def problems(tmp_path: Path, inference: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, inference)
    return "\n".join(caught.value.problems)


def test_todays_keys_describe_the_first_backend(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"CLANKER_CLOUD_API_KEY": "k"})
    (first,) = settings.inference.backends
    assert (first.name, first.api, first.url) == ("clanker", "clanker", DEFAULT_INFERENCE_URL)
    assert (first.auth, first.provider, first.model) == ("x-api-key", "gemini", "gemini-3.5-flash")
    assert first.resolved_api_key() == "k"


def test_the_issue_example_is_a_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "inference:\n  api: clanker\n  api_key: k\n  auth: x-api-key\n"
        "  model: gemini-3.5-flash\n  timeout: 20s\n" + FALLBACK
    )
    inference = load_settings(path, environ={"VLLM_KEY": "v"}).inference
    _, fallback = inference.backends
    assert [b.name for b in inference.backends] == ["clanker", "in-cluster"]
    assert (fallback.api, fallback.auth, fallback.timeout) == ("openai", "bearer", 30.0)
    assert fallback.provider is None  # nothing Clanker-only leaks into an OpenAI backend
    assert fallback.resolved_api_key() == "v"
    assert inference.chain_deadline == 50.0  # the timeouts added, unless `deadline` is set


def test_an_openai_backend_needs_its_url_and_model(tmp_path: Path) -> None:
    text = problems(tmp_path, "  fallbacks: [{api: openai}]\n")
    assert "inference.fallbacks[0]: url is required with api: openai" in text
    assert "model is required with api: openai" in text


def test_an_unnamed_fallback_is_named_for_its_api_and_names_must_differ(tmp_path: Path) -> None:
    backend = "{api: openai, url: 'http://127.0.0.1:1/v1/chat/completions', model: m}"
    assert "already used by another backend" in problems(
        tmp_path, f"  fallbacks: [{backend}, {backend}]\n"
    )


@pytest.mark.parametrize(
    ("inference", "message"),
    [
        ("  max_tokens: 100\n", "max_tokens is not part of the Clanker API"),
        ("  auth: api-key\n", "auth api-key is not accepted by the Clanker API"),
        (
            "  api: openai\n  url: http://127.0.0.1:1/v1/chat/completions\n  model: m\n"
            "  provider: gemini\n",
            "provider is only sent with api: clanker",
        ),
        (
            "  api: openai\n  url: http://127.0.0.1:1/v1/chat/completions\n  model: m\n"
            "  metadata: {team: sre}\n",
            "metadata is only sent with api: clanker",
        ),
        (
            "  api: openai\n  url: http://127.0.0.1:1/v1/chat/completions\n  model: m\n"
            "  auth: none\n  api_key: k\n",
            "auth none sends no key",
        ),
        ("  auth: bearer\n  headers: {authorization: x}\n", "Authorization is set by auth bearer"),
        ("  headers: {Content-Type: text/plain}\n", "Content-Type is set by the service itself"),
        ("  temperature: 3\n  api: openai\n", "url is required"),
        ("  fallbacks: [{api: ollama}]\n", "Input should be 'clanker' or 'openai'"),
    ],
    ids=[
        "clanker-max-tokens",
        "clanker-azure-auth",
        "openai-provider",
        "openai-metadata",
        "none-with-key",
        "header-vs-auth",
        "reserved-header",
        "openai-missing-url",
        "unknown-api",
    ],
)
def test_settings_that_do_not_fit_the_api_are_refused(
    tmp_path: Path, inference: str, message: str
) -> None:
    assert message in problems(tmp_path, inference)


def test_the_primary_can_itself_be_an_openai_backend(tmp_path: Path) -> None:
    inference = load(
        tmp_path,
        "  api: openai\n  url: https://api.openai.com/v1/chat/completions\n"
        "  api_key: sk-k\n  model: gpt-4o-mini\n",
    ).inference
    assert (inference.name, inference.auth, inference.provider) == ("openai", "bearer", None)


def test_each_backends_files_are_checked_with_their_path(tmp_path: Path) -> None:
    text = problems(
        tmp_path,
        "  fallbacks:\n    - {api: openai, url: 'http://127.0.0.1:1/v1/chat/completions',"
        " model: m, api_key_file: /nonexistent/key, ca_file: /nonexistent/ca.pem}\n",
    )
    assert "inference.fallbacks[0].api_key_file: no readable file at /nonexistent/key" in text
    assert "inference.fallbacks[0].ca_file: no readable file at /nonexistent/ca.pem" in text


def test_a_ca_file_must_hold_a_certificate(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    assert f"inference.ca_file: no PEM certificate could be read from {not_pem}" in problems(
        tmp_path, f"  ca_file: {not_pem}\n"
    )
    good = self_signed(tmp_path / "tls").cert
    assert load(tmp_path, f"  ca_file: {good}\n")


def test_the_chain_deadline_can_be_shorter_than_the_timeouts(tmp_path: Path) -> None:
    inference = load(tmp_path, "  deadline: 25s\n" + FALLBACK).inference
    assert inference.chain_deadline == 25.0
