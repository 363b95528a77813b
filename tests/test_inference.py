"""The Clanker backend against the Clanker emulator: request shape, errors and retries."""

from __future__ import annotations

import time
from typing import Any

import pytest

from alert_explainer.config import InferenceSettings
from alert_explainer.errors import InferenceError
from alert_explainer.inference import Backend, Explanation, build_backend
from alert_explainer.transport import HttpClient
from tests.support.chat import MESSAGES, METADATA
from tests.support.clanker import Behaviour, ClankerEmulator

pytestmark = pytest.mark.anyio


def client_for(http: HttpClient, clanker: ClankerEmulator, **overrides: Any) -> Backend:
    settings = InferenceSettings.model_validate(
        {"url": clanker.url, "api_key": "test-paid-key", "timeout": 5, **overrides}
    )
    return build_backend(http, settings)


async def explain(client: Backend) -> Explanation:
    return await client.explain(MESSAGES, model="gemini-3.5-flash", metadata=METADATA)


async def test_the_request_has_exactly_the_documented_shape(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    clanker.default = Behaviour.ok(content="It is broken.")
    result = await explain(client_for(http, clanker, metadata={"cluster": "prod"}))
    assert result == Explanation(
        text="It is broken.",
        model="gemini-3.5-flash",
        backend="clanker",
        requested="gemini-3.5-flash",
    )
    (call,) = clanker.calls
    assert call.json() == {
        "provider": "gemini",
        "model": "gemini-3.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Explain X."},
        ],
        "metadata": {"cluster": "prod", "source": "alert-explainer", **METADATA},
    }
    assert call.headers["X-API-Key"] == "test-paid-key"
    assert "Authorization" not in call.headers
    assert call.headers["Content-Type"] == "application/json"
    assert clanker.violations == []


async def test_bearer_auth_sends_the_key_as_an_authorization_header(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    await explain(client_for(http, clanker, auth="bearer"))
    (call,) = clanker.calls
    assert call.headers["Authorization"] == "Bearer test-paid-key"
    assert "X-API-Key" not in call.headers


async def test_an_unset_provider_is_left_out_of_the_request(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    await explain(client_for(http, clanker, provider=None))
    assert "provider" not in clanker.calls[0].json()


async def test_a_free_account_gets_paid_account_required_without_retrying(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    with pytest.raises(InferenceError) as caught:
        await explain(client_for(http, clanker, api_key="test-free-key"))
    assert (caught.value.reason, caught.value.code) == ("paid account required", "payment_required")
    assert len(clanker.requests) == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"), (404, "client_error")],
)
async def test_client_errors_are_final(
    http: HttpClient, clanker: ClankerEmulator, status: int, code: str
) -> None:
    clanker.default = Behaviour.status(status)
    with pytest.raises(InferenceError) as caught:
        await explain(client_for(http, clanker))
    assert caught.value.code == code
    assert clanker.call_count == 1


async def test_an_unknown_key_is_reported_as_rejected(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    with pytest.raises(InferenceError, match=r"key rejected \(401\)"):
        await explain(client_for(http, clanker, api_key="wrong"))


async def test_rate_limits_are_retried_after_the_time_asked(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    clanker.script(Behaviour.status(429, retry_after=1))
    started = time.monotonic()
    await explain(client_for(http, clanker))
    assert clanker.call_count == 2
    assert time.monotonic() - started >= 1.0


async def test_server_errors_and_dropped_connections_are_retried(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    clanker.script(Behaviour.status(503), Behaviour.disconnect(), Behaviour.status(500))
    result = await explain(client_for(http, clanker))
    assert result.text
    assert clanker.call_count == 4


async def test_retries_stop_at_the_deadline_with_the_last_reason(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    clanker.default = Behaviour.status(503)
    started = time.monotonic()
    with pytest.raises(InferenceError, match=r"unavailable \(503\)"):
        await explain(client_for(http, clanker, timeout=1.5))
    assert time.monotonic() - started < 2.0
    assert clanker.call_count >= 2


async def test_a_slow_api_times_out_within_the_deadline(
    http: HttpClient, clanker: ClankerEmulator
) -> None:
    clanker.default = Behaviour.hang(5)
    started = time.monotonic()
    with pytest.raises(InferenceError, match=r"timed out after 1 s") as caught:
        await explain(client_for(http, clanker, timeout=1))
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("behaviour", [Behaviour.garbage(), Behaviour.wrong_shape()])
async def test_a_200_that_is_not_the_documented_shape_is_an_error_and_not_retried(
    http: HttpClient, clanker: ClankerEmulator, behaviour: Behaviour
) -> None:
    clanker.default = behaviour
    with pytest.raises(InferenceError) as caught:
        await explain(client_for(http, clanker))
    assert caught.value.code == "invalid_response"
    assert clanker.call_count == 1


async def test_an_unreachable_api_is_a_connection_error(http: HttpClient) -> None:
    settings = InferenceSettings.model_validate(
        {"url": "http://127.0.0.1:9/v1", "api_key": "k", "timeout": 0.5}
    )
    with pytest.raises(InferenceError) as caught:
        await explain(build_backend(http, settings))
    assert caught.value.code == "connection_error"
    assert "127.0.0.1" not in caught.value.reason


async def test_without_a_key_no_call_is_made(http: HttpClient, clanker: ClankerEmulator) -> None:
    client = build_backend(http, InferenceSettings.model_validate({"url": clanker.url}))
    with pytest.raises(InferenceError, match="no API key configured"):
        await explain(client)
    assert clanker.requests == []
