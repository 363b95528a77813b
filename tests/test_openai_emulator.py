"""The OpenAI-compatible emulator itself: as strict as the API it stands for, over real HTTP."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import http
from tests.support.openai_api import DEFAULT_KEY, OpenAIEmulator

BEARER = {"Authorization": f"Bearer {DEFAULT_KEY}"}


@pytest.fixture
def openai() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as emulator:
        yield emulator


def chat(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    return body | changes


def post(
    emulator: OpenAIEmulator,
    body: object,
    headers: dict[str, str] | None = None,
    url: str | None = None,
) -> http.HttpResult:
    return http.request(
        "POST",
        url or emulator.url,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(BEARER if headers is None else headers)},
    )


def test_a_valid_request_gets_the_documented_completion_with_usage(
    openai: OpenAIEmulator,
) -> None:
    answer = post(openai, chat(max_tokens=100, temperature=0.3))
    assert answer.status == 200
    document = answer.json()
    assert set(document) == {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "service_tier",
        "system_fingerprint",
    }
    assert document["object"] == "chat.completion"
    (choice,) = document["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("Headline:")
    assert choice["finish_reason"] == "stop"
    usage = document["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert openai.call_count == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider": "gemini"}, "Unrecognized request argument supplied: provider"),
        ({"metadata": {"alert_count": 2}}, "Invalid type for 'metadata.alert_count'"),
        ({"max_tokens": 0}, "Invalid 'max_tokens': 0 must be at least 1"),
        ({"temperature": 3}, "Invalid 'temperature': 3 must be at most 2"),
        ({"messages": []}, "[] is too short - 'messages'"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "Invalid value for 'messages.[0].role'"),
        ({"messages": [{"role": "user", "content": "x", "when": 1}]}, "Additional properties"),
        ({"model": ""}, "you must provide a model parameter"),
        ({"stream": True}, "stream: this emulator does not stream"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_what_openai_refuses_is_a_400_in_its_error_shape(
    openai: OpenAIEmulator, changes: dict[str, Any], message: str
) -> None:
    answer = post(openai, chat(**changes))
    assert answer.status == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(message)
    assert openai.call_count == 0
    assert openai.violations == [error["message"]]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"X-API-Key": DEFAULT_KEY}, None),
        ({"Authorization": "Bearer sk-nope"}, "invalid_api_key"),
    ],
    ids=["none", "wrong-scheme", "wrong-key"],
)
def test_only_a_known_bearer_key_is_accepted(
    openai: OpenAIEmulator, headers: dict[str, str], code: str | None
) -> None:
    answer = post(openai, chat(), headers=headers)
    assert answer.status == 401
    assert answer.json()["error"]["code"] == code


def test_an_account_out_of_credit_gets_insufficient_quota() -> None:
    with OpenAIEmulator(quota_keys={"sk-broke"}) as openai:
        answer = post(openai, chat(), headers={"Authorization": "Bearer sk-broke"})
    assert answer.status == 429
    assert answer.json()["error"]["code"] == "insufficient_quota"


def test_azure_needs_its_path_api_version_and_api_key_header() -> None:
    with OpenAIEmulator(flavour="azure") as azure:
        key = {"api-key": DEFAULT_KEY}
        assert post(azure, chat(), headers=key).status == 200
        assert post(azure, {"messages": chat()["messages"]}, headers=key).status == 200
        assert post(azure, chat(), headers=BEARER).status == 401
        no_version = azure.url.split("?")[0]
        assert post(azure, chat(), headers=key, url=no_version).status == 404
        answer = post(azure, chat(), headers=key).json()
    assert answer["model"] == "gpt-4o-2024-08-06"
    assert "content_filter_results" in answer["choices"][0]


def test_a_lenient_server_takes_any_auth_and_ignores_unknown_fields() -> None:
    with OpenAIEmulator(flavour="lenient", usage=False) as ollama:
        answer = post(ollama, chat(keep_alive="5m", options={"num_ctx": 8192}), headers={})
    assert answer.status == 200
    assert "usage" not in answer.json()
    assert answer.json()["system_fingerprint"] == "fp_ollama"
    assert ollama.ignored_fields == ["keep_alive", "options"]
    assert ollama.violations == []
