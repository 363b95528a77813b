"""A reused explanation says so in every destination: its age and what changed since."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from alert_explainer.sinks.base import Message
from alert_explainer.sinks.layout import Budget, view
from tests.sinks.support import (
    REUSE_NOTE,
    deliver,
    message,
    reused,
    settings,
    storm_message,
    texts,
)
from tests.sinks.test_delivery import DESTINATIONS, configured
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


def shown(recorder: RecordingServer) -> list[str]:
    (request,) = recorder.delivered
    return texts(request.json())


@pytest.mark.parametrize("original", [message, storm_message], ids=["small", "shortened to fit"])
@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_every_destination_shows_the_reuse_note(
    name: str, original: Callable[[], Message], recorder: RecordingServer
) -> None:
    recorder.default = DESTINATIONS[name].ok

    await deliver(configured(name, recorder.url), reused(original()))

    assert any(REUSE_NOTE in text for text in shown(recorder))


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_an_explanation_made_for_this_state_has_no_note(
    name: str, recorder: RecordingServer
) -> None:
    recorder.default = DESTINATIONS[name].ok

    await deliver(configured(name, recorder.url), message())

    assert not any("still applies" in text for text in shown(recorder))


def test_a_fallback_carries_no_note_even_if_marked_reused() -> None:
    fallback = reused(message(None, error="paid account required"))

    assert fallback.reuse_note is None
    assert view(fallback, Budget(600, 10)).reuse_note is None


async def test_the_log_sink_logs_the_note_and_when_the_explanation_was_made() -> None:
    with capture_logs() as logs:
        await deliver(settings(type="log"), reused(message()))

    (event,) = [e for e in logs if e["event"] == "explanation"]
    assert event["reuse_note"] == REUSE_NOTE
    assert event["reused"] is True
    assert event["explained_at"] == "2026-11-25T10:05:00Z"
    assert event["text"].startswith(REUSE_NOTE + "\n\n")


async def test_webhook_documents_carry_reused_explained_at_and_the_reuse(
    recorder: RecordingServer,
) -> None:
    for version in (1, 2):
        await deliver(
            settings(type="webhook", url=recorder.url, version=version), reused(message())
        )

    for request in recorder.delivered:
        document = request.json()
        assert document["reused"] is True
        assert document["explainedAt"] == "2026-11-25T10:05:00Z"
        assert document["reuse"] == {
            "note": REUSE_NOTE,
            "noun": "pods",
            "firing": 5,
            "firingThen": 4,
            "new": 3,
            "resolved": 2,
        }
