"""The `slack_api` sink: chat.postMessage with a bot token, one thread per alert group."""

from __future__ import annotations

import pytest

from alert_explainer.errors import SinkError
from alert_explainer.store import MemoryStore
from tests.sinks.support import SECRET, deliver, message, resolved_message, settings
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio


def slack_api(recorder: RecordingServer, channel: str = "C123") -> object:
    return settings(type="slack_api", token=SECRET, channel=channel, api_url=recorder.url)


async def test_the_first_message_starts_a_thread_and_later_ones_reply_in_it(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({"ok": True, "channel": "C123", "ts": "1700000000.000100"})

    await deliver(slack_api(recorder), message(), message(), resolved_message())  # type: ignore[arg-type]

    first, reminder, resolution = recorder.delivered
    assert first.path == "/chat.postMessage"
    assert first.headers["Authorization"] == f"Bearer {SECRET}"
    body = first.json()
    assert (body["channel"], body["unfurl_links"], body["unfurl_media"]) == ("C123", False, False)
    assert "thread_ts" not in body
    assert body["blocks"][0]["text"]["text"].startswith("[FIRING:2] ")
    assert reminder.json()["thread_ts"] == "1700000000.000100"
    assert resolution.json()["thread_ts"] == "1700000000.000100"
    assert resolution.json()["blocks"][0]["text"]["text"].startswith("[RESOLVED:2] ")


async def test_threads_are_kept_per_channel(make_recorder: object) -> None:
    recorder: RecordingServer = make_recorder()  # type: ignore[operator]
    recorder.default = Reply.json({"ok": True, "ts": "1.1"})
    state = MemoryStore()

    await deliver(slack_api(recorder, "C1"), message(), state=state)  # type: ignore[arg-type]
    await deliver(slack_api(recorder, "C2"), message(), state=state)  # type: ignore[arg-type]

    assert ["thread_ts" in r.json() for r in recorder.delivered] == [False, False]


async def test_ok_false_is_a_final_failure_with_slacks_error_code(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({"ok": False, "error": "channel_not_found"})

    with pytest.raises(SinkError, match="channel_not_found") as caught:
        await deliver(slack_api(recorder), message())  # type: ignore[arg-type]

    assert caught.value.retryable is False
    assert len(recorder.received) == 1


async def test_ok_false_ratelimited_is_retried(recorder: RecordingServer) -> None:
    recorder.script(Reply.json({"ok": False, "error": "ratelimited"}))
    recorder.default = Reply.json({"ok": True, "ts": "2.2"})

    await deliver(slack_api(recorder), message())  # type: ignore[arg-type]

    assert len(recorder.received) == 2
