"""The `alertmanager` sink: the alerts re-posted to another Alertmanager, explained.

Each alert of the notification is POSTed to `<url>/api/v2/alerts` (Alertmanager's
OpenAPI `postableAlerts`: labels, annotations, startsAt, endsAt, generatorURL) with the
explanation added as one more annotation (`explanation` unless configured otherwise),
so any receiver chain behind that Alertmanager (its templates, email, chat) shows it; a
reused explanation starts with its reuse note ("explanation from 10:05 UTC ...").
Resolved alerts carry their endsAt, so they resolve there too.

Alertmanager documents no body limit; we keep the annotation within 8,192 characters
and the request within 1 MB (a common proxy limit) by shortening the annotation, never
by dropping an alert.
Do not route that Alertmanager's notifications back to this service: that is a loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alert_explainer.alertmanager import Alert
from alert_explainer.config import AlertmanagerSinkSettings
from alert_explainer.errors import SinkError
from alert_explainer.sinks.base import Message, PostingSink
from alert_explainer.sinks.layout import shorten
from alert_explainer.transport import HttpClient, encode_json

MAX_ANNOTATION = 8192
MAX_BODY_BYTES = 1_000_000
API_PATH = "/api/v2/alerts"


def rfc3339(moment: datetime) -> str:
    """A time as Alertmanager writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def postable(alert: Alert, annotations: dict[str, str]) -> dict[str, Any]:
    """One alert in the shape `/api/v2/alerts` takes; unset times and URLs are left out."""
    result: dict[str, Any] = {"labels": alert.labels, "annotations": annotations}
    if alert.starts_at:
        result["startsAt"] = rfc3339(alert.starts_at)
    if alert.ends_at:
        result["endsAt"] = rfc3339(alert.ends_at)
    if alert.generator_url:
        result["generatorURL"] = alert.generator_url
    return result


def alerts(message: Message, annotation: str, sink: str = "alertmanager") -> list[dict[str, Any]]:
    """Every alert with the explanation annotation, shortened until the body fits."""
    n = message.notification
    text = message.summary.strip() if message.explanation else None
    if text is None:
        return [postable(a, a.annotations) for a in n.alerts]
    budget = min(len(text), MAX_ANNOTATION)
    while True:
        explained = shorten(text, budget)
        body = [postable(a, {**a.annotations, annotation: explained}) for a in n.alerts]
        size = len(encode_json(body))
        if size <= MAX_BODY_BYTES:
            return body
        if budget == 0:
            raise SinkError(sink, "the alerts alone exceed the request limit", retryable=False)
        over_per_alert = (size - MAX_BODY_BYTES) // max(1, len(n.alerts)) + 1
        budget = max(0, budget - over_per_alert)


def api_url(base: str) -> str:
    """The alerts endpoint under an Alertmanager base URL (given with or without it)."""
    base = base.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def build(settings: AlertmanagerSinkSettings, http: HttpClient) -> PostingSink:
    """The sink: POSTs `alerts(...)` to the other Alertmanager."""
    headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
    return PostingSink(
        settings,
        http,
        lambda message, sink: alerts(message, settings.annotation, sink),
        headers=headers,
        url=api_url,
    )
