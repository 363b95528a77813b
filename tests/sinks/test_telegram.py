"""The `telegram` sink: an HTML message within 4,096 characters; the token stays secret."""

from __future__ import annotations

import pytest

from alert_explainer.errors import SinkError
from tests.sinks.support import SECRET, deliver, hostile_message, message, settings, storm_message
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio

OK = Reply.json({"ok": True, "result": {"message_id": 7}})


def telegram(recorder: RecordingServer, **extra: object) -> object:
    return settings(type="telegram", token=SECRET, chat_id=-100123, api_url=recorder.url, **extra)


async def test_the_message_is_sent_as_html_to_the_chat(recorder: RecordingServer) -> None:
    recorder.default = OK

    await deliver(telegram(recorder, message_thread_id=5), message())  # type: ignore[arg-type]

    (request,) = recorder.delivered
    assert request.path == f"/bot{SECRET}/sendMessage"
    body = request.json()
    assert (body["chat_id"], body["parse_mode"], body["message_thread_id"]) == (
        -100123,
        "HTML",
        5,
    )
    assert body["link_preview_options"] == {"is_disabled": True}
    assert body["text"].startswith(
        "🔥 <b>[FIRING:2] alertname=KubePodCrashLooping, namespace=payments</b>\n\n"
        "<b>Payments API pods are crash looping in namespace payments</b>\n\n"
    )
    assert '<a href="https://runbooks.example.com/KubePodCrashLooping">Runbook</a>' in body["text"]


async def test_hostile_text_is_html_escaped(recorder: RecordingServer) -> None:
    recorder.default = OK

    await deliver(telegram(recorder), hostile_message())  # type: ignore[arg-type]

    text = recorder.delivered[0].json()["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; *bold*" in text
    assert "<script>" not in text


async def test_an_ok_false_answer_is_a_failure_with_telegrams_description(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({"ok": False, "description": "Forbidden: bot was kicked"})

    with pytest.raises(SinkError, match="Forbidden: bot was kicked") as caught:
        await deliver(telegram(recorder), message())  # type: ignore[arg-type]

    assert SECRET not in str(caught.value)


async def test_a_500_alert_group_with_a_10_kb_explanation_fits_4096_characters(
    recorder: RecordingServer,
) -> None:
    recorder.default = OK

    await deliver(telegram(recorder), storm_message())  # type: ignore[arg-type]

    text = recorder.delivered[0].json()["text"]
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert text.startswith("🔥 <b>[FIRING:500] ")
    assert "<b>Payments API is down for all customers</b>" in text
    assert "… [shortened]" in text
    assert "more alerts" in text
    assert ">Silence</a>" in text
