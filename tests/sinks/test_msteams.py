"""The `msteams` sink: an Adaptive Card in the Workflows envelope, within about 28 KB."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from alert_explainer.jsonout import encode_json
from alert_explainer.sinks import msteams
from tests.sinks.adaptive_card_schema import WORKFLOWS_MESSAGE
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


def valid_card(body: dict[str, Any]) -> dict[str, Any]:
    """The card inside a schema-valid Workflows message."""
    jsonschema.validate(body, WORKFLOWS_MESSAGE)
    card: dict[str, Any] = body["attachments"][0]["content"]
    return card


def test_the_focused_schema_rejects_what_teams_would_not_render() -> None:
    card = msteams.card(msteams_view())
    for broken in (
        {**card, "version": "1.6"},
        {**card, "body": [{"type": "TextBlock"}]},
        {**card, "body": [{"type": "FactSet", "facts": [{"title": "x"}]}]},
        {**card, "actions": [{"type": "Action.OpenUrl", "title": "x"}]},
        {**card, "body": [{"type": "Image", "url": "https://x"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(msteams.envelope(broken), WORKFLOWS_MESSAGE)


def msteams_view() -> Any:
    from alert_explainer.sinks.layout import Budget, view

    return view(message(), Budget(10_000, 10))


async def test_the_card_shows_the_explanation_parts_facts_alerts_and_link_buttons(
    recorder: RecordingServer,
) -> None:
    recorder.default = Reply(status=202, body=b"")
    url = recorder.url_for("/workflows/1/triggers/manual/paths/invoke?sig=abc")

    await deliver(settings(type="msteams", url=url), message())

    (request,) = recorder.delivered
    assert request.query == {"sig": "abc"}
    card = valid_card(request.json())
    assert card["version"] == "1.4"
    assert card["msteams"] == {"width": "Full"}
    body = card["body"]
    assert body[0] == {
        "type": "TextBlock",
        "text": "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments",
        "wrap": True,
        "size": "large",
        "weight": "bolder",
        "color": "attention",
    }
    assert body[1]["text"] == "Payments API pods are crash looping in namespace payments"
    assert body[2]["facts"] == [
        {"title": "Status", "value": "firing"},
        {"title": "Severity", "value": "critical"},
        {"title": "Alerts", "value": "2 firing, 0 resolved"},
        {"title": "Group", "value": "alertname=KubePodCrashLooping, namespace=payments"},
    ]
    assert [b["text"] for b in body[3:9]] == [
        "What is happening",
        "Two api pods restart repeatedly, so part of the payments traffic fails.",
        "Likely cause",
        "A bad deploy or a missing secret makes the container exit at start-up.",
        "First checks",
        "- kubectl -n payments logs api-7d9f --previous\r- Check the KubePodCrashLooping runbook",
    ]
    assert body[9]["text"] == "Alerts"
    assert body[10]["text"].startswith(
        "- **KubePodCrashLooping** (critical) firing: Pod payments/api-7d9f is crash looping"
    )
    assert [(a["title"], a["url"][:24]) for a in card["actions"]] == [
        ("Runbook", "https://runbooks.example"),
        ("Source", "http://prometheus:9090/g"),
        ("Alertmanager", "http://vm:19093"),
        ("Silence", "http://vm:19093/#/silenc"),
    ]


async def test_hostile_text_cannot_format_or_link(recorder: RecordingServer) -> None:
    await deliver(settings(type="msteams", url=recorder.url), hostile_message())

    card = valid_card(recorder.delivered[0].json())
    for text in texts(card["body"]):
        assert unescaped(without_urls(text), "_~`<>") == []
        assert "](http://evil" not in text
    assert any("\\<script\\>" in t for t in texts(card["body"]))


async def test_a_500_alert_group_with_a_10_kb_explanation_stays_within_28_kb(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="msteams", url=recorder.url), storm_message())

    request = recorder.delivered[0]
    assert len(request.body) <= 28_000
    card = valid_card(request.json())
    joined = "\n".join(texts(card))
    assert card["body"][0]["text"].startswith("[FIRING:500]")
    assert "Payments API is down for all customers" in joined
    assert "… and 480 more alerts" in joined
    assert [a["title"] for a in card["actions"]] == ["Runbook", "Source", "Alertmanager", "Silence"]
    assert len(encode_json(request.json())) == len(request.body)
