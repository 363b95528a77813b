"""The `openai` backend against OpenAI-compatible emulators: OpenAI, Azure, lenient servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.config import BackendSettings
from alert_explainer.errors import InferenceError
from alert_explainer.inference import Backend, Explanation, build_backend
from alert_explainer.inference.openai import completion_text
from alert_explainer.metrics import Metrics
from alert_explainer.transport import HttpClient
from tests.support.chat import MESSAGES, METADATA
from tests.support.clanker import Behaviour
from tests.support.openai_api import DEFAULT_KEY, OpenAIEmulator, usage_for
from tests.support.tls import self_signed

pytestmark = pytest.mark.anyio


@pytest.fixture
def openai() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator() as emulator:
        yield emulator


def backend_for(http: HttpClient, url: str, **overrides: Any) -> Backend:
    settings = BackendSettings.model_validate(
        {
            "name": "in-cluster",
            "api": "openai",
            "url": url,
            "api_key": DEFAULT_KEY,
            "model": "gpt-4o-mini",
            "timeout": 5,
            **overrides,
        }
    )
    return build_backend(http, settings)


async def explain(backend: Backend) -> Explanation:
    return await backend.explain(MESSAGES, model=backend.model, metadata=METADATA)


async def test_the_request_holds_only_model_and_messages_with_bearer_auth(
    http: HttpClient, openai: OpenAIEmulator
) -> None:
    openai.default = Behaviour.ok(content="It is broken.")
    result = await explain(backend_for(http, openai.url))

    (call,) = openai.calls
    assert call.json() == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Explain X."},
        ],
    }
    assert call.headers["Authorization"] == f"Bearer {DEFAULT_KEY}"
    assert "X-API-Key" not in call.headers
    assert openai.violations == []
    assert result.text == "It is broken."
    assert (result.backend, result.model, result.requested) == (
        "in-cluster",
        "gpt-4o-mini",
        "gpt-4o-mini",
    )
    expected = usage_for(call.json(), "It is broken.")
    assert result.usage == {k: v for k, v in expected.items() if isinstance(v, int)}


async def test_max_tokens_and_temperature_are_sent_when_configured(
    http: HttpClient, openai: OpenAIEmulator
) -> None:
    await explain(backend_for(http, openai.url, max_tokens=400, temperature=0.2))
    body = openai.calls[0].json()
    assert (body["max_tokens"], body["temperature"]) == (400, 0.2)
    assert set(body) == {"model", "messages", "max_tokens", "temperature"}
    assert openai.violations == []


async def test_extra_headers_are_sent_beside_the_key(
    http: HttpClient, openai: OpenAIEmulator
) -> None:
    await explain(backend_for(http, openai.url, headers={"OpenAI-Organization": "org-sre"}))
    headers = openai.calls[0].headers
    assert headers["OpenAI-Organization"] == "org-sre"
    assert headers["Authorization"] == f"Bearer {DEFAULT_KEY}"


async def test_azure_gets_its_api_key_header_and_names_the_deployed_model(
    http: HttpClient,
) -> None:
    with OpenAIEmulator(flavour="azure") as azure:
        result = await explain(backend_for(http, azure.url, auth="api-key", model="alerts-gpt"))
    (call,) = azure.calls
    assert call.headers["api-key"] == DEFAULT_KEY
    assert "Authorization" not in call.headers
    assert result.model == "gpt-4o-2024-08-06"  # what Azure says answered
    assert result.requested == "alerts-gpt"  # what metrics are labelled with
    assert azure.violations == []


async def test_a_local_server_without_auth_gets_no_credentials(http: HttpClient) -> None:
    with OpenAIEmulator(flavour="lenient") as ollama:
        backend = backend_for(http, ollama.url, auth="none", api_key=None, model="llama3.2")
        assert backend.configured
        await explain(backend)
    headers = ollama.calls[0].headers
    assert "Authorization" not in headers
    assert "api-key" not in headers
    assert ollama.ignored_fields == []


async def test_a_wrong_key_is_final(http: HttpClient, openai: OpenAIEmulator) -> None:
    with pytest.raises(InferenceError) as caught:
        await explain(backend_for(http, openai.url, api_key="sk-wrong-key-123"))
    assert caught.value.code == "unauthorized"
    assert len(openai.requests) == 1


async def test_an_account_out_of_quota_is_final_and_means_payment_required(
    http: HttpClient,
) -> None:
    with OpenAIEmulator(quota_keys={"sk-broke"}) as openai, pytest.raises(InferenceError) as caught:
        await explain(backend_for(http, openai.url, api_key="sk-broke"))
    assert caught.value.code == "payment_required"
    assert "quota" in caught.value.reason
    assert len(openai.requests) == 1  # not retried: waiting does not refill an account


async def test_a_rate_limit_is_retried(http: HttpClient, openai: OpenAIEmulator) -> None:
    openai.script(Behaviour.status(429, retry_after=0.1))
    result = await explain(backend_for(http, openai.url))
    assert result.text
    assert openai.call_count == 2


async def test_calls_are_counted_by_backend_model_and_outcome(
    http: HttpClient, openai: OpenAIEmulator
) -> None:
    metrics = Metrics(routes=["default"], sinks=["log"], backends={"in-cluster": ["gpt-4o-mini"]})
    settings = BackendSettings.model_validate(
        {"name": "in-cluster", "api": "openai", "url": openai.url, "api_key": DEFAULT_KEY}
        | {"model": "gpt-4o-mini"}
    )
    openai.script(Behaviour.status(503))
    await build_backend(http, settings, metrics).explain(MESSAGES, model="gpt-4o-mini", metadata={})
    text = metrics.exposition().decode()
    for outcome in ("server_error", "ok"):
        line = (
            "alert_explainer_inference_requests_total"
            f'{{backend="in-cluster",model="gpt-4o-mini",outcome="{outcome}"}} 1.0'
        )
        assert line in text


THINKING = "<think>The disk fills at 2 GB/h...</think>\n\nThe disk is filling."
PARTS = [{"type": "text", "text": "The disk "}, {"type": "text", "text": "is filling."}]
MISTRAL = [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "Full."}]


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (THINKING, "The disk is filling."),
        (PARTS, "The disk is filling."),
        (MISTRAL, "Full."),
        ("  Plain answer.\n", "  Plain answer.\n"),
    ],
    ids=["reasoning-block", "content-parts", "mistral-thinking-part", "plain"],
)
def test_compatible_servers_answers_are_read_for_their_text(answer: object, text: str) -> None:
    assert completion_text(answer) == text


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": None, "refusal": "I cannot help with that."},
        {"role": "assistant", "content": "<think>Still thinking when max_tokens ran out"},
        {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
    ],
    ids=["refusal", "cut-off-reasoning", "no-text-part"],
)
async def test_an_answer_without_text_is_invalid_and_not_retried(
    http: HttpClient, openai: OpenAIEmulator, message: dict[str, Any]
) -> None:
    answer = {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"message": message}],
    }
    openai.default = Behaviour.status(200, body=answer)
    with pytest.raises(InferenceError) as caught:
        await explain(backend_for(http, openai.url))
    assert caught.value.code == "invalid_response"
    assert openai.call_count == 1


@pytest.mark.parametrize("usage", [None, "absent"])
async def test_a_server_that_reports_no_usage_still_explains(
    http: HttpClient, usage: str | None
) -> None:
    with OpenAIEmulator(flavour="lenient", usage=False) as vllm:
        vllm.default = Behaviour.ok(content="Fine.")
        if usage is None:
            answer = {"choices": [{"message": {"content": "Fine."}}], "model": "q", "usage": None}
            vllm.default = Behaviour.status(200, body=answer)
        result = await explain(backend_for(http, vllm.url, auth="none", api_key=None))
    assert result.text == "Fine."
    assert result.usage is None


async def test_a_backend_with_its_own_ca_file_reaches_an_https_server_signed_by_it(
    http: HttpClient, tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path / "tls")
    emulator = OpenAIEmulator()
    emulator.tls = certificate.server_context()
    with emulator:
        trusted = backend_for(http, emulator.url, ca_file=str(certificate.cert))
        assert (await explain(trusted)).text
        untrusted = backend_for(http, emulator.url, timeout=1)
        with pytest.raises(InferenceError) as caught:
            await explain(untrusted)
    assert caught.value.code == "connection_error"
    assert "TLS certificate rejected (self-signed certificate)" in caught.value.reason
    assert emulator.call_count == 1
