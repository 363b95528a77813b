"""The `ntfy` sink: a push notification published as JSON to an ntfy server.

Contract (binwiederhier/ntfy docs/publish.md): JSON is POSTed to the server root with
`topic`; `title`, `message`, `priority` 1-5, `tags` (emoji short codes), `click` and up
to three `actions`; `Authorization: Bearer <token>` for protected topics. A message
over 4,096 bytes becomes an attachment, so the message is kept within 4,096 UTF-8
bytes. Text is sent as plain text (`markdown` off), so nothing in it is markup.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.config import NtfySinkSettings
from alert_explainer.sinks.base import HttpPoster, Message, Rendered
from alert_explainer.sinks.layout import View, clip, fit, utf8_length
from alert_explainer.sinks.markup import PLAIN, document
from alert_explainer.transport import HttpClient

MAX_MESSAGE_BYTES = 4096
MAX_TITLE = 250
MAX_ACTIONS = 3
MAX_ALERTS_LISTED = 5
PRIORITIES = {"critical": 5, "error": 4, "warning": 4, "info": 3}
TAGS = {"firing": "rotating_light", "resolved": "white_check_mark"}


def priority(view: View) -> int:
    """5 for critical down to 3 for info; a resolution is low priority (2)."""
    if view.facts.status == "resolved":
        return 2
    return PRIORITIES.get(view.facts.severity.lower(), 3)


def render(view: View, topic: str) -> dict[str, Any]:
    """The publish body for a view."""
    title = f"{view.facts.title} {view.headline}".strip()
    body: dict[str, Any] = {
        "topic": topic,
        "title": clip(title, MAX_TITLE),
        "message": document(view, PLAIN, title=False),
        "priority": priority(view),
        "tags": [TAGS.get(view.facts.status, "bell")],
        "markdown": False,
    }
    if view.links:
        body["click"] = view.links[0].url
        body["actions"] = [
            {"action": "view", "label": target.label, "url": target.url, "clear": False}
            for target in view.links[-MAX_ACTIONS:]
        ]
    return body


class NtfySink:
    """Publishes each message to one topic."""

    def __init__(self, settings: NtfySinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._topic = settings.topic
        token = settings.token.get_secret_value() if settings.token else ""
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._poster = HttpPoster(
            settings.name, http, f"{settings.server}/", settings.timeout, secrets=[token]
        )

    def render(self, message: Message) -> Rendered:
        """The publish body, within MAX_MESSAGE_BYTES."""
        return Rendered(
            fit(
                self.name,
                message,
                lambda view: render(view, self._topic),
                lambda b: utf8_length(b["message"]) <= MAX_MESSAGE_BYTES,
                max_alerts=MAX_ALERTS_LISTED,
            )
        )

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Publish; ntfy answers 200 with the stored message."""
        await self._poster.post((rendered or self.render(message)).body, headers=self._headers)
