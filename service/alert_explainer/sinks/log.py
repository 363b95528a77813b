"""The `log` sink: each explanation as one log event on stdout."""

from __future__ import annotations

import structlog

from alert_explainer.prompts import timestamp
from alert_explainer.sinks.base import Message, Rendered

logger = structlog.get_logger("alert_explainer.sinks.log")


class LogSink:
    """Writes the message to the service's log; never fails."""

    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, message: Message) -> Rendered:
        """The fields of the `explanation` event: the facts, the headline and the text."""
        n = message.notification
        parts = message.parts
        return Rendered(
            {
                "sink": self.name,
                "route": message.route,
                "group_key": n.group_key,
                "status": n.status,
                "alerts": len(n.alerts),
                "headline": message.headline,
                "explanation_headline": parts.headline if parts else None,
                "explained": message.explained,
                "reused": message.reused,
                "explained_at": timestamp(message.explained_at) if message.explained_at else None,
                "reuse_note": message.reuse_note,
                "error": message.error,
                "model": message.model,
                "backend": message.backend,
                "text": message.summary,
                "evidence": message.evidence.as_dicts(),
            }
        )

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Log one `explanation` event."""
        logger.info("explanation", **(rendered or self.render(message)).body)
