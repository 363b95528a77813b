"""The `webhook` sink: a documented, versioned JSON document for any HTTP endpoint.

Schema version 1 (docs/destinations.md): version, route, receiver, status, groupKey,
summary, explained, error, model, alertmanager (the original payload, unchanged).
"""

from __future__ import annotations

from typing import Any

from alert_explainer.config import WebhookSinkSettings
from alert_explainer.sinks.base import HttpPoster, Message
from alert_explainer.transport import HttpClient

SCHEMA_VERSION = "1"


def document(message: Message) -> dict[str, Any]:
    """The JSON document posted for a message."""
    n = message.notification
    return {
        "version": SCHEMA_VERSION,
        "route": message.route,
        "receiver": n.receiver,
        "status": n.status,
        "groupKey": n.group_key,
        "summary": message.summary,
        "explained": message.explained,
        "error": message.error,
        "model": message.model,
        "alertmanager": n.raw,
    }


class WebhookSink:
    """POSTs `document(message)` to the configured URL."""

    def __init__(self, settings: WebhookSinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        self._poster = HttpPoster(
            settings.name, http, settings.url.get_secret_value(), settings.timeout
        )

    async def send(self, message: Message) -> None:
        await self._poster.post(document(message), headers=self._headers)
