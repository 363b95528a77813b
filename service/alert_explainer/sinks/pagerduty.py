"""The `pagerduty` sink: Events API v2, one incident per alert group.

Contract (PagerDuty developer docs, events-API-v2 overview, trigger events, rate
limits): `POST /v2/enqueue`; `event_action` trigger or resolve; `dedup_key` ties the
events of one group to one alert (sha256 of the group key, as Alertmanager does);
`payload.summary` at most 1,024 characters; `severity` one of critical, error, warning,
info; the whole event at most 512 KB (Alertmanager drops `custom_details` above
512,000 bytes; we keep the event within that). 202 is accepted, 400 is final (its
`message` and `errors` are reported), 429 and 5xx are retried.

The explanation's parts and the alerts go to `custom_details`, which PagerDuty shows as
plain key/value data, so nothing there is markup.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alert_explainer.config import PagerDutySinkSettings
from alert_explainer.jsonout import encode_json
from alert_explainer.sinks.base import HttpPoster, Message, Rendered
from alert_explainer.sinks.facts import SEVERITIES
from alert_explainer.sinks.layout import View, clip, fit
from alert_explainer.transport import HttpClient

MAX_EVENT_BYTES = 512_000
MAX_SUMMARY = 1024
MAX_ALERTS_LISTED = 1000
ALIASES = {"warn": "warning", "informational": "info", "page": "critical", "none": "info"}


def dedup_key(group_key: str) -> str:
    """The group's incident key: sha256(groupKey) in hex, as Alertmanager computes it."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def severity(view: View, default: str) -> str:
    """The PagerDuty severity for the group's severity label."""
    label = view.facts.severity.lower()
    label = ALIASES.get(label, label)
    return label if label in SEVERITIES else default


def details(view: View) -> dict[str, Any]:
    """`custom_details`: the explanation's parts, the facts and the listed alerts."""
    result: dict[str, Any] = {"headline": view.headline} if view.headline else {}
    if view.reuse_note:
        result["explanation_reused"] = view.reuse_note
    for section in view.sections:
        key = section.label.lower().replace(" ", "_")
        result[key] = section.items or section.text
    if view.notice:
        result["explanation_unavailable"] = view.notice
    if view.evidence:
        result["evidence"] = [{"title": b.title, "lines": b.lines} for b in view.evidence]
    result.update({label.lower(): value for label, value in view.facts.pairs()})
    result["group_labels"] = view.facts.group_labels
    result["alerts"] = [
        {
            "name": a.name,
            "status": a.status,
            "severity": a.severity,
            "summary": a.summary,
            "labels": a.labels,
            "since": a.since,
            "links": {link.label: link.url for link in a.links},
        }
        for a in view.alerts
    ]
    if view.more_alerts:
        result["more_alerts"] = view.more_alerts
    return result


def trigger(view: View, routing_key: str, key: str, default_severity: str) -> dict[str, Any]:
    """The trigger event for a view."""
    summary = f"{view.facts.title}: {view.headline}" if view.headline else view.facts.title
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": clip(summary, MAX_SUMMARY),
            "source": "alertmanager",
            "severity": severity(view, default_severity),
            "class": clip(view.facts.group, 255),
            "custom_details": details(view),
        },
        "links": [{"href": link.url, "text": link.label} for link in view.links],
        "client": "alert-explainer",
    }


class PagerDutySink:
    """Triggers the group's incident while firing and resolves it when resolved."""

    def __init__(self, settings: PagerDutySinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._key = settings.routing_key.get_secret_value()
        self._default = settings.default_severity
        self._poster = HttpPoster(
            settings.name,
            http,
            f"{settings.api_url}/v2/enqueue",
            settings.timeout,
            secrets=[self._key],
        )

    def render(self, message: Message) -> Rendered:
        """The event; its routing_key is the credential, masked wherever it is shown."""
        return Rendered(self.event(message), secrets=(self._key,))

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Enqueue one event; PagerDuty answers 202."""
        await self._poster.post((rendered or self.render(message)).body)

    def event(self, message: Message) -> dict[str, Any]:
        """The event for `message`: resolve for a resolved group, else a fitted trigger."""
        key = dedup_key(message.notification.group_key)
        if message.notification.status == "resolved":
            return {"routing_key": self._key, "event_action": "resolve", "dedup_key": key}
        return fit(
            self.name,
            message,
            lambda view: trigger(view, self._key, key, self._default),
            lambda event: len(encode_json(event)) <= MAX_EVENT_BYTES,
            max_alerts=MAX_ALERTS_LISTED,
        )
