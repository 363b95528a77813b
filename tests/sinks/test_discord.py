"""The `discord` sink: one embed within every Discord limit, unable to ping anyone."""

from __future__ import annotations

from typing import Any

import pytest

from alert_explainer.sinks.layout import utf16_length
from tests.sinks.support import (
    deliver,
    hostile_message,
    message,
    settings,
    storm_message,
    texts,
    unescaped,
    without_urls,
)
from tests.support.recorder import RecordingServer, Reply

pytestmark = pytest.mark.anyio


def assert_within_embed_limits(body: dict[str, Any]) -> None:
    """Discord's documented limits (resources/message.mdx, "Embed Limits")."""
    assert utf16_length(body["content"]) <= 2000
    assert len(body["embeds"]) <= 10
    total = 0
    for embed in body["embeds"]:
        assert utf16_length(embed["title"]) <= 256
        assert utf16_length(embed["description"]) <= 4096
        assert len(embed["fields"]) <= 25
        for field in embed["fields"]:
            assert 1 <= utf16_length(field["name"]) <= 256
            assert 1 <= utf16_length(field["value"]) <= 1024
        total += sum(
            utf16_length(t)
            for t in [embed["title"], embed["description"]]
            + [p for f in embed["fields"] for p in (f["name"], f["value"])]
        )
    assert total <= 6000


async def test_the_embed_carries_the_explanation_facts_alerts_and_links(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({"id": "1"})

    await deliver(
        settings(type="discord", url=recorder.url_for("/api/webhooks/1/tok"), username="alerts"),
        message(),
    )

    (request,) = recorder.delivered
    assert (request.path, request.query) == ("/api/webhooks/1/tok", {"wait": "true"})
    body = request.json()
    assert body["allowed_mentions"] == {"parse": []}
    assert body["username"] == "alerts"
    title = "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments"
    assert body["content"] == title
    (embed,) = body["embeds"]
    assert embed["title"] == title
    assert embed["color"] == 0xE01E5A
    assert embed["url"].startswith("http://vm:19093/#/silences/new?filter=")
    assert embed["description"] == (
        "**Payments API pods are crash looping in namespace payments**\n\n"
        "**What is happening**\nTwo api pods restart repeatedly, so part of the payments "
        "traffic fails.\n\n"
        "**Likely cause**\nA bad deploy or a missing secret makes the container exit at "
        "start-up.\n\n"
        "**First checks**\n• kubectl -n payments logs api-7d9f --previous\n"
        "• Check the KubePodCrashLooping runbook"
    )
    assert [(f["name"], f["inline"]) for f in embed["fields"]] == [
        ("Status", True),
        ("Severity", True),
        ("Alerts", True),
        ("Group", True),
        ("Alerts", False),
        ("Links", False),
    ]
    assert embed["fields"][5]["value"].startswith(
        "[Runbook](https://runbooks.example.com/KubePodCrashLooping) · "
    )
    assert_within_embed_limits(body)


async def test_hostile_text_cannot_mention_or_format(recorder: RecordingServer) -> None:
    recorder.default = Reply.json({"id": "1"})

    await deliver(settings(type="discord", url=recorder.url), hostile_message())

    body = recorder.delivered[0].json()
    assert body["allowed_mentions"] == {"parse": []}
    for text in [*texts(body["embeds"]), body["content"]]:
        for mention in ("@everyone", "@here", "<@123>"):
            assert mention not in text
        assert unescaped(without_urls(text), "_~`<>|") == []
        assert "](http://evil" not in text


async def test_a_500_alert_group_with_a_10_kb_explanation_fits_every_embed_limit(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply.json({"id": "1"})

    await deliver(settings(type="discord", url=recorder.url), storm_message())

    body = recorder.delivered[0].json()
    assert_within_embed_limits(body)
    (embed,) = body["embeds"]
    assert embed["title"].startswith("[FIRING:500] ")
    assert embed["description"].startswith("**Payments API is down for all customers**")
    assert "… [shortened]" in embed["description"]
    values = "\n".join(f["value"] for f in embed["fields"])
    assert "more alerts" in values
    assert "[Silence](http://vm:19093/#/silences/new" in values
