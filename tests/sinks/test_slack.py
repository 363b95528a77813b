"""The `slack` sink: Block Kit to an incoming webhook, within Slack's block limits."""

from __future__ import annotations

from typing import Any

import pytest

from alert_explainer.sinks import slack
from tests.sinks.support import deliver, hostile_message, message, settings, storm_message, texts
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio

SILENCE = (
    "http://vm:19093/#/silences/new?filter="
    "%7Balertname%3D%22KubePodCrashLooping%22%2Cnamespace%3D%22payments%22%7D"
)


def mrkdwn_texts(node: Any) -> list[str]:
    """The text of every mrkdwn object: what Slack parses for mentions and links."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "mrkdwn" else []
    return own + [t for v in node.values() for t in mrkdwn_texts(v)]


def assert_within_block_kit_limits(body: dict[str, Any]) -> None:
    """Slack's documented Block Kit limits, and our 12,000-character message budget."""
    blocks = body["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert 1 <= len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        else:
            assert block["type"] == "context"
            assert 1 <= len(block["elements"]) <= 10
    assert slack.text_size(blocks) <= 12_000
    assert len(body["text"]) <= 3000


async def test_the_explanation_parts_and_alert_facts_are_posted_as_blocks(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="slack", url=recorder.url_for("/services/T/B/x")), message())

    (request,) = recorder.delivered
    assert request.path == "/services/T/B/x"
    body = request.json()
    title = "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments"
    assert body["text"] == f"{title} Payments API pods are crash looping in namespace payments"
    assert [b["type"] for b in body["blocks"]] == ["header"] + ["section"] * 6 + ["context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": title, "emoji": True}
    assert body["blocks"][1]["text"]["text"] == (
        "*Payments API pods are crash looping in namespace payments*"
    )
    assert [f["text"] for f in body["blocks"][2]["fields"]] == [
        "*Status*\n:rotating_light: firing",
        "*Severity*\ncritical",
        "*Alerts*\n2 firing, 0 resolved",
        "*Group*\nalertname=KubePodCrashLooping, namespace=payments",
    ]
    assert [b["text"]["text"] for b in body["blocks"][3:6]] == [
        "*What is happening*\nTwo api pods restart repeatedly, so part of the payments "
        "traffic fails.",
        "*Likely cause*\nA bad deploy or a missing secret makes the container exit at start-up.",
        "*First checks*\n• kubectl -n payments logs api-7d9f --previous\n"
        "• Check the KubePodCrashLooping runbook",
    ]
    assert body["blocks"][6]["text"]["text"] == (
        "*Alerts*\n• *KubePodCrashLooping* (critical) firing: Pod payments/api-7d9f is crash "
        "looping — namespace=payments, pod=api-7d9f · "
        "<https://runbooks.example.com/KubePodCrashLooping|runbook> · "
        "<http://prometheus:9090/graph?g0.expr=x|source>\n"
        "• *KubePodCrashLooping* (critical) firing: Pod payments/api-8e1a is crash looping "
        "— namespace=payments, pod=api-8e1a"
    )
    assert body["blocks"][7]["elements"][0]["text"] == (
        "<https://runbooks.example.com/KubePodCrashLooping|Runbook> · "
        "<http://prometheus:9090/graph?g0.expr=x|Source> · <http://vm:19093|Alertmanager> · "
        f"<{SILENCE}|Silence>"
    )
    assert_within_block_kit_limits(body)


async def test_an_unstructured_answer_is_shown_whole_as_the_explanation(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="slack", url=recorder.url), message("The pods crash. Look."))

    sections = [
        b["text"]["text"] for b in recorder.delivered[0].json()["blocks"][1:] if "text" in b
    ]
    assert "*Explanation*\nThe pods crash. Look." in sections


async def test_without_an_explanation_the_reason_is_shown_with_the_alerts(
    recorder: RecordingServer,
) -> None:
    await deliver(
        settings(type="slack", url=recorder.url), message(None, error="paid account required")
    )

    body = recorder.delivered[0].json()
    assert ":warning: explanation unavailable: paid account required" in texts(body)
    assert any(t.startswith("*Alerts*\n") for t in texts(body))


async def test_hostile_text_cannot_ping_or_format(recorder: RecordingServer) -> None:
    await deliver(settings(type="slack", url=recorder.url), hostile_message())

    body = recorder.delivered[0].json()
    # The header is plain_text, which Slack never parses for mentions or links.
    assert body["blocks"][0]["text"]["type"] == "plain_text"
    joined = "\n".join([body["text"], *mrkdwn_texts(body["blocks"])])
    assert "&lt;!channel&gt;" in joined
    for active in ("<!channel>", "<!here>", "<@123>", "<script>", "<users/all>"):
        assert active not in joined
    assert "<http://evil.example" not in joined
    assert_within_block_kit_limits(body)


async def test_a_500_alert_group_with_a_10_kb_explanation_fits_every_block_limit(
    recorder: RecordingServer,
) -> None:
    await deliver(settings(type="slack", url=recorder.url), storm_message())

    body = recorder.delivered[0].json()
    assert_within_block_kit_limits(body)
    joined = "\n".join(texts(body))
    assert body["blocks"][0]["text"]["text"].startswith("[FIRING:500] ")
    assert "*Payments API is down for all customers*" in joined
    assert "… [shortened]" in joined
    assert "… and 480 more alerts" in joined
    assert "|Silence>" in joined
    assert "|Runbook>" in joined
