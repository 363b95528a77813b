"""The `opsgenie` sink: one Opsgenie alert per alert group, closed when it resolves.

Contract (docs.opsgenie.com Alert API; Alertmanager notify/opsgenie): `POST
/v2/alerts` with `Authorization: GenieKey <key>`; `message` at most 130 characters,
`alias` (the dedup key, sha256 of the group key) at most 512, `description` at most
15,000, at most 20 `tags` of 50 characters, `details` a string map of at most 8,000
characters in all; close with `POST /v2/alerts/{alias}/close?identifierType=alias`.
Answers are 202 (processed asynchronously); 429 and 5xx are retried. Description and
details are plain text.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alert_explainer.config import OpsgenieSinkSettings
from alert_explainer.sinks.base import HttpPoster, Message, Rendered
from alert_explainer.sinks.layout import View, clip, fit
from alert_explainer.sinks.markup import PLAIN, document
from alert_explainer.transport import HttpClient

MAX_MESSAGE = 130
MAX_DESCRIPTION = 15_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_DETAIL_VALUE = 1000  # keeps `details` far below its 8,000-character total
MAX_ALERTS_LISTED = 50
PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
SOURCE = "alert-explainer"


def alias(group_key: str) -> str:
    """The group's alert alias: sha256(groupKey) in hex, as Alertmanager computes it."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def create(view: View, key: str) -> dict[str, Any]:
    """The create-alert body for a view."""
    f = view.facts
    tags = [clip(f"{k}={v}", MAX_TAG) for k, v in sorted(f.group_labels.items())]
    details = {label.lower(): clip(value, MAX_DETAIL_VALUE) for label, value in f.pairs()}
    if view.headline:
        details["headline"] = clip(view.headline, MAX_DETAIL_VALUE)
    if view.reuse_note:
        details["explanation_reused"] = clip(view.reuse_note, MAX_DETAIL_VALUE)
    return {
        "message": clip(f.title, MAX_MESSAGE),
        "alias": key,
        "description": document(view, PLAIN, title=False),
        "tags": [*tags[: MAX_TAGS - 1], SOURCE],
        "details": details,
        "source": SOURCE,
        "priority": PRIORITIES.get(f.severity.lower(), "P3"),
    }


class OpsgenieSink:
    """Creates the group's alert while firing (updates merge by alias) and closes it."""

    def __init__(self, settings: OpsgenieSinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._api = settings.api_url
        key = settings.api_key.get_secret_value()
        self._headers = {"Authorization": f"GenieKey {key}"}
        self._poster = HttpPoster(
            settings.name,
            http,
            f"{self._api}/v2/alerts",
            settings.timeout,
            secrets=[key],
        )

    def render(self, message: Message) -> Rendered:
        """The create body while firing; the close body (a note) once resolved."""
        if message.notification.status == "resolved":
            return Rendered({"source": SOURCE, "note": clip(message.headline, 1000)})
        key = alias(message.notification.group_key)
        return Rendered(
            fit(
                self.name,
                message,
                lambda view: create(view, key),
                lambda b: len(b["description"]) <= MAX_DESCRIPTION,
                max_alerts=MAX_ALERTS_LISTED,
            )
        )

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Create or close the group's alert; Opsgenie answers 202."""
        body = (rendered or self.render(message)).body
        if message.notification.status == "resolved":
            key = alias(message.notification.group_key)
            close = f"{self._api}/v2/alerts/{key}/close?identifierType=alias"
            await self._poster.post(body, self._headers, url=close)
            return
        await self._poster.post(body, self._headers)
