"""Tests of the test-support servers and harnesses themselves, over real loopback HTTP."""

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import AlertmanagerFactory
from tests.support import http
from tests.support.alertmanager import ReceiverSpec, build_config
from tests.support.clanker import API_PATH, Behaviour, ClankerEmulator
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer, Reply

PAID = {"X-API-Key": "test-paid-key"}
JSON = "application/json"
REPO_ROOT = Path(__file__).resolve().parents[1]


def chat_request(**changes: Any) -> dict[str, Any]:
    """A valid request as documented; ``changes`` replace fields, a value of ... drops one."""
    body: dict[str, Any] = {
        "provider": "gemini",
        "model": "gemini-3.5-flash",
        "messages": [
            {"role": "system", "content": "Keep replies concise."},
            {"role": "user", "content": "KubePodCrashLooping in payments\nPod api-7d9f restarts"},
        ],
        "metadata": {"source": "external-client"},
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def post(
    emulator: ClankerEmulator,
    body: object,
    headers: dict[str, str] | None = None,
    content_type: str = JSON,
) -> http.HttpResult:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": content_type, **(PAID if headers is None else headers)}
    return http.request("POST", emulator.url, body=data, headers=all_headers)


# --- Clanker emulator: success ---------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [{"X-API-Key": "test-paid-key"}, {"Authorization": "Bearer test-paid-key"}],
    ids=["x-api-key", "bearer"],
)
def test_clanker_answers_documented_shape(clanker: ClankerEmulator, auth: dict[str, str]) -> None:
    result = post(clanker, chat_request(), headers=auth)

    assert result.status == 200
    body = result.json()
    assert set(body) == {"id", "object", "created", "model", "choices"}
    assert re.fullmatch(r"llm_[0-9a-f]+", body["id"])
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert abs(body["created"] - time.time()) < 60
    assert body["model"] == "gemini-3.5-flash"
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("Headline: KubePodCrashLooping in payments\n")
    [call] = clanker.calls
    assert call.token == "test-paid-key"
    assert call.json() == chat_request()
    assert clanker.violations == []


@pytest.mark.parametrize(
    "changes",
    [
        {"provider": ...},
        {"provider": "google"},
        {"provider": "google-gemini"},
        {"model": "models/gemini-3.5-flash"},
        {"metadata": ...},
        {"metadata": {"source": "alert-explainer", "groupKey": '{}:{alertname="X"}'}},
        {"messages": [{"role": "user", "content": ""}]},
    ],
)
def test_clanker_accepts_documented_variants(
    clanker: ClankerEmulator, changes: dict[str, Any]
) -> None:
    body = chat_request(**changes)
    result = post(clanker, body, content_type="application/json; charset=utf-8")

    assert result.status == 200, result.body
    assert result.json()["model"] == body["model"]
    assert clanker.violations == []


def test_clanker_reply_is_settable(clanker: ClankerEmulator) -> None:
    long_line = "x" * 200
    first = post(clanker, chat_request(messages=[{"role": "user", "content": long_line}]))
    clanker.reply = "fixed text"
    second = post(clanker, chat_request())
    clanker.reply = lambda body: str(body["model"]).upper()
    third = post(clanker, chat_request())
    clanker.script(Behaviour.ok(content="scripted"))
    fourth = post(clanker, chat_request())

    contents = [
        r.json()["choices"][0]["message"]["content"] for r in (first, second, third, fourth)
    ]
    assert contents[0].splitlines()[0] == "Headline: " + "x" * 80
    assert contents[1:] == ["fixed text", "GEMINI-3.5-FLASH", "scripted"]


# --- Clanker emulator: refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [{}, {"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eA=="}],
    ids=["missing", "unknown-x-api-key", "unknown-bearer", "basic"],
)
def test_clanker_rejects_missing_or_unknown_key(
    clanker: ClankerEmulator, auth: dict[str, str]
) -> None:
    result = post(clanker, chat_request(), headers=auth)

    assert result.status == 401
    assert result.json()["error"]
    assert clanker.call_count == 0


def test_clanker_free_key_gets_402_before_the_backend(clanker: ClankerEmulator) -> None:
    valid = post(clanker, chat_request(), headers={"X-API-Key": "test-free-key"})
    invalid = post(clanker, {"stream": True}, headers={"Authorization": "Bearer test-free-key"})

    for result in (valid, invalid):
        assert result.status == 402
        assert result.json() == {"error": "paid account required"}
    assert clanker.call_count == 0
    assert len(clanker.requests) == 2
    assert clanker.violations == []


def _messages(*messages: object) -> dict[str, Any]:
    return chat_request(messages=list(messages))


INVALID_REQUESTS = [
    pytest.param("text/plain", chat_request(), id="content-type"),
    pytest.param(JSON, b"{not json", id="not-json"),
    pytest.param(JSON, [chat_request()], id="not-an-object"),
    pytest.param(JSON, chat_request(model=...), id="model-missing"),
    pytest.param(JSON, chat_request(model=""), id="model-empty"),
    pytest.param(JSON, chat_request(model=3), id="model-not-string"),
    pytest.param(JSON, chat_request(provider=None), id="provider-null"),
    pytest.param(JSON, chat_request(provider="openai"), id="provider-not-routed"),
    pytest.param(JSON, chat_request(messages=...), id="messages-missing"),
    pytest.param(JSON, chat_request(messages=[]), id="messages-empty"),
    pytest.param(JSON, chat_request(messages="hi"), id="messages-not-list"),
    pytest.param(JSON, _messages("hi"), id="message-not-object"),
    pytest.param(JSON, _messages({"role": "tool", "content": "x"}), id="message-bad-role"),
    pytest.param(JSON, _messages({"content": "x"}), id="message-no-role"),
    pytest.param(JSON, _messages({"role": "user", "content": ["x"]}), id="content-not-string"),
    pytest.param(JSON, _messages({"role": "user"}), id="content-missing"),
    pytest.param(JSON, chat_request(metadata="x"), id="metadata-not-object"),
    pytest.param(JSON, chat_request(stream=False), id="stream"),
    pytest.param(JSON, chat_request(temperature=0.2), id="unknown-field"),
    pytest.param(JSON, chat_request(metadata={"api_key": "k"}), id="metadata-api_key"),
    pytest.param(JSON, chat_request(metadata={"apiKey": "k"}), id="metadata-apiKey"),
    pytest.param(JSON, chat_request(metadata={"credentials": {}}), id="metadata-credentials"),
    pytest.param(JSON, chat_request(metadata={"authorization": "x"}), id="metadata-authorization"),
    pytest.param(JSON, chat_request(metadata={"gcp": {"token": "x"}}), id="metadata-nested-token"),
    pytest.param(
        JSON, chat_request(metadata={"note": "AKIAABCDEFGHIJKLMNOP"}), id="metadata-aws-key-value"
    ),
]


@pytest.mark.parametrize(("content_type", "body"), INVALID_REQUESTS)
def test_clanker_rejects_invalid_request(
    clanker: ClankerEmulator, content_type: str, body: object
) -> None:
    result = post(clanker, body, content_type=content_type)

    assert result.status == 400
    error = result.json()["error"]
    assert isinstance(error, str)
    assert error
    assert clanker.violations == [error]
    assert clanker.call_count == 0


def test_clanker_serves_only_its_path_and_method(clanker: ClankerEmulator) -> None:
    other_path = http.request("POST", f"{clanker.base_url}/v1/chat/completions", body=b"{}")
    wrong_method = http.request("GET", clanker.url)

    assert other_path.status == 404
    assert other_path.json()["error"]
    assert wrong_method.status == 405
    assert wrong_method.headers["allow"] == "POST"
    assert len(clanker.requests) == 2
    assert clanker.call_count == 0


# --- Clanker emulator: scripted behaviours ---------------------------------------------------


def test_clanker_scripted_429_with_retry_after_then_default(clanker: ClankerEmulator) -> None:
    clanker.script(Behaviour.status(429, retry_after=7))
    limited = post(clanker, chat_request())
    normal = post(clanker, chat_request())

    assert limited.status == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json() == {"error": "too many requests"}
    assert normal.status == 200
    assert clanker.call_count == 2


def test_clanker_default_behaviour_and_raw_status_body(clanker: ClankerEmulator) -> None:
    clanker.default = Behaviour.status(503, body="upstream down")
    first = post(clanker, chat_request())
    second = post(clanker, chat_request())

    assert (first.status, first.body) == (503, b"upstream down")
    assert (second.status, second.body) == (503, b"upstream down")


def test_clanker_garbage_and_wrong_shape(clanker: ClankerEmulator) -> None:
    clanker.script(Behaviour.garbage(), Behaviour.wrong_shape())
    garbage = post(clanker, chat_request())
    wrong = post(clanker, chat_request())

    assert garbage.status == 200
    assert garbage.body
    assert garbage.json() is None
    assert wrong.status == 200
    assert wrong.json()["object"] == "chat.completion"
    assert "choices" not in wrong.json()


async def _post_async(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(url, json=chat_request(), headers=PAID) as response:
        await response.read()
        return response.status


def test_clanker_disconnect_closes_without_answer(clanker: ClankerEmulator) -> None:
    clanker.script(Behaviour.disconnect())

    async def attempt() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await _post_async(session, clanker.url)

    asyncio.run(attempt())
    assert clanker.call_count == 1


def test_clanker_serves_hangs_concurrently(clanker: ClankerEmulator) -> None:
    clanker.script(Behaviour.hang(1.0), Behaviour.hang(1.0))

    async def both() -> list[int]:
        async with aiohttp.ClientSession() as session:
            post_twice = [_post_async(session, clanker.url) for _ in range(2)]
            return list(await asyncio.gather(*post_twice))

    started = time.monotonic()
    statuses = asyncio.run(both())
    elapsed = time.monotonic() - started

    assert statuses == [200, 200]
    assert elapsed < 1.8


def test_clanker_wait_for_calls(clanker: ClankerEmulator) -> None:
    with pytest.raises(AssertionError, match="waiting for 1 model calls; got 0"):
        clanker.wait_for_calls(1, timeout=0.2)
    post(clanker, chat_request())
    assert len(clanker.wait_for_calls(1, timeout=1)) == 1


def test_clanker_runs_standalone() -> None:
    port = free_port()
    command = [sys.executable, "-m", "tests.support.clanker", "--port", str(port)]
    command += ["--latency", "0.1", "--paid-key", "bench-key"]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        try:
            url = f"http://127.0.0.1:{port}{API_PATH}"
            body = json.dumps(chat_request()).encode()
            headers = {"Content-Type": JSON, "Authorization": "Bearer bench-key"}
            deadline = time.monotonic() + 10
            while True:
                try:
                    result = http.request("POST", url, body=body, headers=headers)
                    break
                except OSError:
                    if process.poll() is not None:
                        raise AssertionError(process.communicate()[1].decode()) from None
                    assert time.monotonic() < deadline, "standalone emulator did not come up"
                    time.sleep(0.05)
            assert result.status == 200
            assert result.json()["choices"][0]["message"]["content"].startswith("Headline:")
        finally:
            process.terminate()


# --- Recording server -----------------------------------------------------------------------


def test_recorder_scripted_failures_then_default(recorder: RecordingServer) -> None:
    recorder.script(Reply(status=500, body=b"boom"), Reply(status=500, body=b"boom"))
    url = recorder.url_for("/hooks/slack") + "?channel=ops"
    statuses = [
        http.request("POST", url, body=b'{"text": "hi"}', headers={"X-Test": "1"}).status
        for _ in range(3)
    ]

    assert statuses == [500, 500, 200]
    [delivered] = recorder.wait_for(1, timeout=2)
    assert delivered.method == "POST"
    assert delivered.path == "/hooks/slack"
    assert delivered.query == {"channel": "ops"}
    assert delivered.headers["x-test"] == "1"
    assert delivered.json() == {"text": "hi"}
    assert [r.status for r in recorder.received] == [500, 500, 200]


def test_recorder_any_method_replies_and_delivered(recorder: RecordingServer) -> None:
    recorder.script(
        Reply(status=204, body=b"", delay=0.1),
        Reply(status=429, headers={"Retry-After": "3"}),
        Reply.json({"ok": True, "ts": "1.2"}),
    )
    no_content = http.request("PUT", recorder.url_for("a/b"), body=b"x")
    limited = http.request("DELETE", recorder.url)
    posted = http.request("POST", recorder.url, body=b"{}")
    default = http.request("GET", recorder.url)

    assert (no_content.status, no_content.body) == (204, b"")
    assert (limited.status, limited.headers["retry-after"]) == (429, "3")
    assert posted.json() == {"ok": True, "ts": "1.2"}
    assert (default.status, default.body) == (200, b"ok")
    assert [r.method for r in recorder.received] == ["PUT", "DELETE", "POST", "GET"]
    assert [r.method for r in recorder.delivered] == ["PUT", "POST", "GET"]


def test_recorder_wait_for_times_out(recorder: RecordingServer) -> None:
    recorder.default = Reply(status=503)
    http.request("POST", recorder.url)

    with pytest.raises(AssertionError, match=r"2 delivered \(2xx\) requests; got 0"):
        recorder.wait_for(2, timeout=0.2)
    assert len(recorder.wait_for_received(1, timeout=1)) == 1


# --- Alertmanager -----------------------------------------------------------------------------


def test_alertmanager_config_rejects_bad_receivers() -> None:
    with pytest.raises(ValueError, match="unknown receiver"):
        build_config({"a": ReceiverSpec("http://127.0.0.1:1/")}, routes=[({"x": "y"}, "b")])
    with pytest.raises(ValueError, match="receiver name"):
        build_config({"llm.explainer": ReceiverSpec("http://127.0.0.1:1/")})


@pytest.mark.alertmanager
def test_alertmanager_invalid_config_reports_amtool_output(
    alertmanager_factory: AlertmanagerFactory,
) -> None:
    with pytest.raises(RuntimeError, match="amtool check-config rejected"):
        alertmanager_factory({"a": ReceiverSpec("http://127.0.0.1:1/")}, repeat_interval="soon")


@pytest.mark.alertmanager
def test_alertmanager_delivers_webhook(
    alertmanager_factory: AlertmanagerFactory, make_recorder: Callable[[], RecordingServer]
) -> None:
    explain, team = make_recorder(), make_recorder()
    am = alertmanager_factory(
        {
            "explain": ReceiverSpec(explain.url_for("/webhook"), bearer_token="s3cret"),
            "team": ReceiverSpec(team.url_for("/webhook/team")),
        },
        routes=[({"team": "db"}, "team")],
    )
    am.fire("DiskFull", labels={"severity": "critical"}, annotations={"summary": "disk full"})
    am.fire("DatabaseDown", labels={"team": "db"})

    request = explain.wait_for(1, timeout=10)[0]
    payload = request.json()
    assert request.path == "/webhook"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["User-Agent"].startswith("Alertmanager/")
    assert payload["version"] == "4"
    assert payload["receiver"] == "explain"
    assert payload["groupKey"] == '{}:{alertname="DiskFull"}'
    assert payload["status"] == "firing"
    assert payload["alerts"][0]["labels"] == {"alertname": "DiskFull", "severity": "critical"}
    assert payload["alerts"][0]["annotations"] == {"summary": "disk full"}
    assert payload["externalURL"] == am.base_url

    routed = team.wait_for(1, timeout=10)[0]
    assert "Authorization" not in routed.headers
    assert routed.json()["groupKey"] == '{}/{team="db"}:{alertname="DatabaseDown"}'


@pytest.mark.alertmanager
def test_alertmanager_sends_resolution(
    alertmanager_factory: AlertmanagerFactory, recorder: RecordingServer
) -> None:
    am = alertmanager_factory({"explain": ReceiverSpec(recorder.url_for("/webhook"))})
    fired = am.fire("DiskFull", labels={"instance": "db-1"}, annotations={"summary": "full"})
    recorder.wait_for(1, timeout=10)
    am.resolve("DiskFull", labels={"instance": "db-1"})

    resolved = recorder.wait_for(2, timeout=15)[1].json()
    assert resolved["status"] == "resolved"
    [alert] = resolved["alerts"]
    assert alert["status"] == "resolved"
    assert alert["annotations"] == {"summary": "full"}
    assert datetime.fromisoformat(alert["endsAt"]) > datetime.fromisoformat(alert["startsAt"])
    assert alert["startsAt"][:19] == fired["startsAt"][:19]


# --- Fixtures -------------------------------------------------------------------------------


def test_payload_fixtures_describe_one_group(
    sample_payload: dict[str, Any], resolved_payload: dict[str, Any]
) -> None:
    assert sample_payload["status"] == "firing"
    assert resolved_payload["status"] == "resolved"
    assert resolved_payload["groupKey"] == sample_payload["groupKey"]
    for firing, resolved in zip(sample_payload["alerts"], resolved_payload["alerts"], strict=True):
        assert resolved["fingerprint"] == firing["fingerprint"]
        assert resolved["status"] == "resolved"
        ends = datetime.fromisoformat(resolved["endsAt"])
        assert ends > datetime.fromisoformat(resolved["startsAt"])
