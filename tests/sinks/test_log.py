"""The `log` sink: one log event per message, with the explanation's headline."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tests.sinks.support import deliver, message, settings

pytestmark = pytest.mark.anyio


async def test_the_explanation_and_its_headline_are_logged() -> None:
    with capture_logs() as logs:
        await deliver(settings(type="log"), message())

    (event,) = [e for e in logs if e["event"] == "explanation"]
    assert event["sink"] == "dest"
    assert event["headline"] == "[FIRING:2] alertname=KubePodCrashLooping, namespace=payments"
    assert event["explanation_headline"] == (
        "Payments API pods are crash looping in namespace payments"
    )
    assert event["text"] == message().explanation
