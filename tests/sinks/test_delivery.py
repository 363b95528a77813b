"""What every HTTP destination does with the answers it gets: retry, give up, keep secrets.

Each destination is a real HTTP server on loopback (`RecordingServer`) answering as the
real service documents: 429 with a wait (header or body), then success; a 400 with the
service's own error text; no answer at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from alert_explainer.config import SinkSettings
from alert_explainer.errors import SinkError
from tests.sinks.support import SECRET, deliver, message, settings
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio


RATE_LIMITED = Reply(status=429, body=b"rate limited", headers={"Retry-After": "0"})


@dataclass(frozen=True)
class Destination:
    """How to point a destination at a server, and how that destination answers."""

    configure: Callable[[str], dict[str, Any]]  # base URL -> settings fields
    ok: Reply
    rejection: Reply  # a 400 as the destination sends it
    error_text: str  # what of the rejection must reach the SinkError
    rate_limited: Reply = RATE_LIMITED


def _url(kind: str, path: str = f"/hooks/{SECRET}") -> Callable[[str], dict[str, Any]]:
    return lambda base: {"type": kind, "url": base + path}


DESTINATIONS = {
    "slack": Destination(
        _url("slack"), Reply(body=b"ok"), Reply(400, b"invalid_payload"), "invalid_payload"
    ),
    "slack_api": Destination(
        lambda base: {"type": "slack_api", "token": SECRET, "channel": "C1", "api_url": base},
        Reply.json({"ok": True, "ts": "1.2"}),
        Reply.json({"ok": False, "error": "invalid_blocks"}, status=400),
        "invalid_blocks",
    ),
    "msteams": Destination(
        _url("msteams", f"/workflows/x/triggers/manual/paths/invoke?sig={SECRET}"),
        Reply(status=202, body=b""),
        Reply(400, b"The request body is not a valid card"),
        "not a valid card",
    ),
    "discord": Destination(
        _url("discord", f"/api/webhooks/1/{SECRET}"),
        Reply.json({"id": "1"}),
        Reply.json({"message": "Invalid Form Body", "code": 50035}, status=400),
        "Invalid Form Body",
        rate_limited=Reply.json(
            {"message": "You are being rate limited.", "retry_after": 0.01}, 429
        ),
    ),
    "googlechat": Destination(
        _url("googlechat", f"/v1/spaces/AAA/messages?key=k&token={SECRET}"),
        Reply.json({"name": "spaces/AAA/messages/1"}),
        Reply.json({"error": {"code": 400, "message": "Invalid JSON payload"}}, status=400),
        "Invalid JSON payload",
    ),
    "mattermost": Destination(
        _url("mattermost"),
        Reply(body=b"ok"),
        Reply(400, b"Unable to parse incoming data"),
        "Unable to parse incoming data",
    ),
    "pagerduty": Destination(
        lambda base: {"type": "pagerduty", "routing_key": SECRET, "api_url": base},
        Reply.json({"status": "success", "dedup_key": "x"}, status=202),
        Reply.json(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["'payload.severity' is invalid"],
            },
            status=400,
        ),
        "Event object is invalid",
    ),
    "opsgenie": Destination(
        lambda base: {"type": "opsgenie", "api_key": SECRET, "api_url": base},
        Reply.json({"result": "Request will be processed", "requestId": "r"}, status=202),
        Reply.json({"message": "Message can not be empty.", "took": 0.001}, status=422),
        "Message can not be empty.",
    ),
    "telegram": Destination(
        lambda base: {"type": "telegram", "token": SECRET, "chat_id": 42, "api_url": base},
        Reply.json({"ok": True, "result": {"message_id": 1}}),
        Reply.json(
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
            status=400,
        ),
        "Bad Request: chat not found",
        rate_limited=Reply.json(
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 0",
                "parameters": {"retry_after": 0},
            },
            status=429,
        ),
    ),
    "ntfy": Destination(
        lambda base: {"type": "ntfy", "server": base, "topic": "alerts", "token": SECRET},
        Reply.json({"id": "abc", "event": "message"}),
        Reply.json({"code": 40003, "http": 400, "error": "invalid request: topic invalid"}, 400),
        "topic invalid",
    ),
    "webhook": Destination(
        _url("webhook"), Reply(body=b"ok"), Reply(400, b"schema mismatch"), "schema mismatch"
    ),
    "alertmanager": Destination(
        lambda base: {"type": "alertmanager", "url": base, "headers": {"Authorization": SECRET}},
        Reply(body=b""),
        Reply(400, b'{"code":400,"message":"start time must be before end time"}'),
        "start time must be before end time",
    ),
}


def configured(name: str, base: str) -> SinkSettings:
    return settings(**DESTINATIONS[name].configure(base))


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_a_429_is_retried_after_the_wait_the_destination_asks_for(
    name: str, recorder: RecordingServer
) -> None:
    destination = DESTINATIONS[name]
    recorder.default = destination.ok
    recorder.script(destination.rate_limited)

    await deliver(configured(name, recorder.url), message())

    assert [r.status for r in recorder.received] == [429, destination.ok.status]
    assert recorder.received[0].body == recorder.received[1].body


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_a_5xx_is_retried(name: str, recorder: RecordingServer) -> None:
    destination = DESTINATIONS[name]
    recorder.default = destination.ok
    recorder.script(Reply(status=503, body=b"unavailable"))

    await deliver(configured(name, recorder.url), message())

    assert [r.status for r in recorder.received] == [503, destination.ok.status]


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_a_408_request_timeout_is_retried_like_a_5xx(
    name: str, recorder: RecordingServer
) -> None:
    destination = DESTINATIONS[name]
    recorder.default = destination.ok
    recorder.script(Reply(status=408, body=b"request timeout"))

    await deliver(configured(name, recorder.url), message())

    assert [r.status for r in recorder.received] == [408, destination.ok.status]


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_a_4xx_is_final_and_reports_the_destinations_error_without_the_secret(
    name: str, recorder: RecordingServer
) -> None:
    destination = DESTINATIONS[name]
    # A destination echoing the secret back must not get it into our error either.
    echoed = destination.rejection.body.replace(b"}", f', "echo": "{SECRET}"}}'.encode(), 1)
    rejection = Reply(destination.rejection.status, echoed, destination.rejection.headers)
    recorder.default = rejection if echoed.startswith(b"{") else destination.rejection

    with pytest.raises(SinkError) as caught:
        await deliver(configured(name, recorder.url), message())

    assert len(recorder.received) == 1
    assert caught.value.retryable is False
    assert destination.error_text in str(caught.value)
    assert SECRET not in str(caught.value)
    assert recorder.url not in str(caught.value)


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_an_unreachable_destination_is_retryable_and_its_url_is_not_reported(
    name: str,
) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    sink_settings = settings(**{**DESTINATIONS[name].configure(base), "timeout": 0.5})

    with pytest.raises(SinkError) as caught:
        await deliver(sink_settings, message())

    assert caught.value.retryable is True
    assert SECRET not in str(caught.value)
    assert base not in str(caught.value)
