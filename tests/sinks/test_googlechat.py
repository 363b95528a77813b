"""The `googlechat` sink: a card in the group's thread, within 32,000 bytes."""

from __future__ import annotations

import pytest

from alert_explainer.sinks import googlechat
from tests.sinks.support import (
    deliver,
    hostile_message,
    message,
    resolved_message,
    settings,
    storm_message,
    texts,
)
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio


async def test_the_card_is_posted_into_the_groups_thread(recorder: RecordingServer) -> None:
    recorder.default = Reply.json({"name": "spaces/AAA/messages/1"})
    url = recorder.url_for("/v1/spaces/AAA/messages?key=k&token=t")

    await deliver(settings(type="googlechat", url=url), message(), resolved_message())

    firing, resolved = recorder.delivered
    assert firing.query == {
        "key": "k",
        "token": "t",
        "messageReplyOption": "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
    }
    key = googlechat.thread_key(message().notification.group_key)
    assert firing.json()["thread"] == {"threadKey": key}
    assert resolved.json()["thread"] == {"threadKey": key}
    body = firing.json()
    assert body["fallbackText"] == (
        "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments "
        "Payments API pods are crash looping in namespace payments"
    )
    (card,) = body["cardsV2"]
    assert card["card"]["header"] == {
        "title": "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments",
        "subtitle": "firing · critical",
    }
    sections = card["card"]["sections"]
    assert sections[0]["widgets"][0] == {
        "textParagraph": {
            "text": "<b>Payments API pods are crash looping in namespace payments</b>"
        }
    }
    assert [s.get("header") for s in sections] == [
        None,
        "What is happening",
        "Likely cause",
        "First checks",
        "Alerts",
        None,
    ]
    buttons = sections[-1]["widgets"][0]["buttonList"]["buttons"]
    assert [b["text"] for b in buttons] == ["Runbook", "Source", "Alertmanager", "Silence"]


async def test_hostile_text_is_html_escaped(recorder: RecordingServer) -> None:
    recorder.default = Reply.json({})

    await deliver(settings(type="googlechat", url=recorder.url), hostile_message())

    body = recorder.delivered[0].json()
    widgets = "\n".join(texts(body["cardsV2"][0]["card"]["sections"]))
    assert "&lt;users/all&gt;" in widgets
    for active in ("<users/all>", "<script>", "<!channel>"):
        assert active not in widgets
    assert '<a href="http://evil' not in widgets


async def test_a_500_alert_group_with_a_10_kb_explanation_stays_within_32000_bytes(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({})

    await deliver(settings(type="googlechat", url=recorder.url), storm_message())

    request = recorder.delivered[0]
    assert len(request.body) <= 32_000
    body = request.json()
    assert googlechat.widget_count(body) <= 100
    joined = "\n".join(texts(body))
    assert body["cardsV2"][0]["card"]["header"]["title"].startswith("[FIRING:500] ")
    assert "<b>Payments API is down for all customers</b>" in joined
    assert "… and 480 more alerts" in joined
