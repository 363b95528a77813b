"""The `mattermost` sink: one Markdown post, mentions neutralised, at most 16,383 chars."""

from __future__ import annotations

import re

import pytest

from tests.sinks.support import deliver, hostile_message, message, settings, storm_message
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


async def test_the_post_is_markdown_with_bold_labels(recorder: RecordingServer) -> None:
    await deliver(
        settings(type="mattermost", url=recorder.url_for("/hooks/xyz"), channel="ops"), message()
    )

    body = recorder.delivered[0].json()
    assert body["channel"] == "ops"
    assert "username" not in body
    assert body["text"].split("\n\n")[:4] == [
        "🔥 **[FIRING:2] alertname=KubePodCrashLooping, namespace=payments**",
        "**Payments API pods are crash looping in namespace payments**",
        "**Status**: firing · **Severity**: critical · **Alerts**: 2 firing, 0 resolved · "
        "**Group**: alertname=KubePodCrashLooping, namespace=payments",
        "**What is happening**\nTwo api pods restart repeatedly, so part of the payments "
        "traffic fails.",
    ]
    assert "[Silence](http://vm:19093/#/silences/new?filter=" in body["text"]


async def test_hostile_text_cannot_notify_a_channel(recorder: RecordingServer) -> None:
    await deliver(settings(type="mattermost", url=recorder.url), hostile_message())

    text = recorder.delivered[0].json()["text"]
    assert re.search(r"@(channel|here|all|everyone)\b", text) is None
    for active in ("<!channel>", "<!here>", "<script>", "](http://evil"):
        assert active not in text
    assert "&lt;!channel&gt;" in text


async def test_a_500_alert_group_with_a_10_kb_explanation_is_one_post(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="mattermost", url=recorder.url), storm_message())

    text = recorder.delivered[0].json()["text"]
    assert len(text) <= 16_383
    assert text.startswith("🔥 **[FIRING:500] ")
    assert "**Payments API is down for all customers**" in text
    assert "… and 470 more alerts" in text
    assert "[Silence](" in text
