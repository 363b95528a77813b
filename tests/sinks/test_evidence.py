"""Every destination shows the evidence: with the explanation, without it, and escaped."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from alert_explainer.sinks.layout import Budget, evidence_blocks, view
from tests.sinks.support import (
    EVIDENCE,
    MARKER,
    big_evidence,
    deliver,
    hostile_message,
    message,
    settings,
    texts,
)
from tests.sinks.test_delivery import DESTINATIONS, configured
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio


def shown(recorder: RecordingServer) -> str:
    (request,) = recorder.delivered
    return "\n".join(texts(request.json()))


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_every_destination_shows_the_evidence_with_the_explanation(
    name: str, recorder: RecordingServer
) -> None:
    recorder.default = DESTINATIONS[name].ok

    await deliver(configured(name, recorder.url), message(evidence=EVIDENCE))

    text = shown(recorder)
    assert "Last termination reason" in text
    assert "api: OOMKilled" in text
    assert "evidence unavailable: history: timed out" in text


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_every_destination_shows_the_evidence_when_the_explanation_is_unavailable(
    name: str, recorder: RecordingServer
) -> None:
    recorder.default = DESTINATIONS[name].ok
    fallback = message(None, error="paid account required", evidence=EVIDENCE)

    await deliver(configured(name, recorder.url), fallback)

    text = shown(recorder)
    assert "api: OOMKilled" in text


@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_hostile_evidence_reaches_every_destination_where_its_escaping_is_checked(
    name: str, recorder: RecordingServer
) -> None:
    # Each destination's own hostile-text test (test_<name>.py) checks the escaping of
    # this same message; here: the evidence lines are part of what it checks.
    recorder.default = DESTINATIONS[name].ok

    await deliver(configured(name, recorder.url), hostile_message())

    assert MARKER in shown(recorder)


async def test_the_log_sink_logs_the_evidence() -> None:
    with capture_logs() as logs:
        await deliver(settings(type="log"), message(evidence=EVIDENCE))

    (event,) = [e for e in logs if e["event"] == "explanation"]
    assert event["evidence"] == EVIDENCE.as_dicts()


def test_evidence_is_shortened_line_by_line_and_every_cut_is_counted() -> None:
    blocks = evidence_blocks(big_evidence(items=2), 600)

    assert [b.title for b in blocks] == ["Recipe 0", "Recipe 1"]
    for block in blocks:
        assert block.lines[-1].startswith("… ")
        assert block.lines[-1].endswith(" more lines")
        assert sum(len(line) for line in block.lines[:-1]) <= 300


def test_no_room_for_evidence_says_it_was_left_out() -> None:
    shortened = view(message(evidence=EVIDENCE), Budget(explanation=600, alerts=2, evidence=0))

    assert [(b.title, b.lines) for b in shortened.evidence] == [
        ("Evidence", ["… left out to fit the size limit"])
    ]
