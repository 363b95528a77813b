"""The `alertmanager` sink: the alerts re-posted to another Alertmanager, explained.

Each alert of the notification is POSTed to `<url>/api/v2/alerts` (Alertmanager's
OpenAPI `postableAlerts`: labels, annotations, startsAt, endsAt, generatorURL) with the
explanation added as one more annotation (`explanation` unless configured otherwise),
so any receiver chain behind that Alertmanager (its templates, email, chat) shows it; a
reused explanation starts with its reuse note ("explanation from 10:05 UTC ..."). The
evidence, when gathered, goes in `<annotation>_evidence` as plain text, also without an
explanation. Resolved alerts carry their endsAt, so they resolve there too.

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
from alert_explainer.jsonout import encode_json
from alert_explainer.sinks.base import Message, PostingSink
from alert_explainer.sinks.layout import shorten
from alert_explainer.transport import HttpClient

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


def evidence_text(message: Message) -> str:
    """The evidence as plain text: each title, then its lines indented."""
    return "\n".join(
        f"{item.title}:\n" + "\n".join(f"  {line}" for line in item.lines)
        for item in message.evidence
    )


def alerts(message: Message, annotation: str, sink: str = "alertmanager") -> list[dict[str, Any]]:
    """Every alert with the explanation (and `<annotation>_evidence`), shortened to fit.

    The evidence is shortened first, then the explanation.
    """
    n = message.notification
    shown = message.explanation or message.fallback_notes  # the notes stand in for one
    texts = {annotation: message.summary.strip()} if shown else {}
    if message.evidence:
        texts[f"{annotation}_evidence"] = evidence_text(message)
    if not texts:
        return [postable(a, a.annotations) for a in n.alerts]
    budgets = {name: min(len(text), MAX_ANNOTATION) for name, text in texts.items()}
    order = sorted(budgets, key=lambda name: name == annotation)  # evidence gives way first
    while True:
        added = {name: shorten(text, budgets[name]) for name, text in texts.items()}
        body = [postable(a, {**a.annotations, **added}) for a in n.alerts]
        size = len(encode_json(body))
        if size <= MAX_BODY_BYTES:
            return body
        name = next((k for k in order if budgets[k] > 0), None)
        if name is None:
            raise SinkError(sink, "the alerts alone exceed the request limit", retryable=False)
        over_per_alert = (size - MAX_BODY_BYTES) // max(1, len(n.alerts)) + 1
        budgets[name] = max(0, budgets[name] - over_per_alert)


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
