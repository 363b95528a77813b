"""The `webhook` sink: a documented, versioned JSON document for any HTTP endpoint.

Version 1 (the default): version, route, receiver, status, groupKey, summary, explained,
error, model, backend, reused, explainedAt, reuse (the note and counts of a situation reuse),
evidence (what was gathered: [{source, title, lines}]), alertmanager (the original
payload, unchanged).

Version 2 carries what chat destinations show instead of `summary`: `title`,
`explanation` (the model's text and its parts: headline, whatIsHappening, likelyCause,
firstChecks, structured, shortened), `notes` (the catalogue's notes standing in for an
explanation that could not be had), `notice` (why there is no explanation), `evidence`,
`facts` (severity, counts, group labels) and `links`. With `max_bytes` set, a version 2
document is kept within it: the explanation is shortened first, then the evidence, then
alerts are left out of `alertmanager.alerts` (counted in its `truncatedAlerts`).
docs/destinations.md has the full schema.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.config import WebhookSinkSettings
from alert_explainer.jsonout import encode_json
from alert_explainer.prompts import timestamp
from alert_explainer.sinks.base import Message, PostingSink
from alert_explainer.sinks.layout import CUT, Section, View, fit
from alert_explainer.transport import HttpClient

SCHEMA_VERSION = "1"


def document(message: Message) -> dict[str, Any]:
    """The version 1 JSON document posted for a message."""
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
        "backend": message.backend,
        **reuse(message),
        "evidence": message.evidence.as_dicts(),
        "alertmanager": n.raw,
    }


def reuse(message: Message) -> dict[str, Any]:
    """`reused`, `explainedAt` and, when made for another state of the group, `reuse`."""
    since = message.since if message.explained else None
    return {
        "reused": message.reused,
        "explainedAt": timestamp(message.explained_at) if message.explained_at else None,
        "reuse": None
        if since is None
        else {
            "note": since.note,
            "noun": since.noun.plural,
            "firing": since.firing,
            "firingThen": since.then,
            "new": since.new,
            "resolved": since.resolved,
        },
    }


def explanation(message: Message, view: View) -> dict[str, Any] | None:
    """The explanation block of version 2, from the (possibly shortened) view."""
    parts = message.parts
    if parts is None:
        return None
    texts = {s.label: s.text for s in view.sections}
    checks = next((s.items for s in view.sections if s.items), [])
    pieces = [*texts.values(), *checks]
    shortened = any(p.endswith(CUT) for p in pieces)
    return {
        "text": "\n\n".join(pieces) if shortened else parts.body,
        "structured": parts.structured,
        "shortened": shortened,
        "headline": view.headline,
        "whatIsHappening": texts.get("What is happening", ""),
        "likelyCause": texts.get("Likely cause", ""),
        "firstChecks": checks,
    }


def notes(message: Message, view: View) -> dict[str, Any] | None:
    """The catalogue's notes of version 2, when they stand in for an explanation."""
    shown = message.fallback_notes
    if shown is None:
        return None
    sections = {s.label: s for s in view.sections}

    def part(label: str) -> Section:
        return sections.get(label, Section(label))

    pieces = [part("What it means").text, *part("Usual causes").items, *part("First checks").items]
    return {
        "alertname": shown.alertname,
        "builtin": shown.builtin,
        "attribution": shown.attribution,
        "whatItMeans": part("What it means").text,
        "usualCauses": part("Usual causes").items,
        "firstChecks": part("First checks").items,
        "runbook": shown.runbook,
        "shortened": any(p.endswith(CUT) for p in pieces),
    }


def document_v2(message: Message, view: View) -> dict[str, Any]:
    """The version 2 document for a view; `alertmanager.alerts` holds the listed alerts."""
    n = message.notification
    raw = dict(n.raw)
    listed = len(view.alerts)
    if listed < len(n.alerts):
        raw["alerts"] = list(raw.get("alerts", []))[:listed]
        raw["truncatedAlerts"] = view.hidden_alerts
    f = view.facts
    return {
        "version": "2",
        "route": message.route,
        "receiver": n.receiver,
        "status": n.status,
        "groupKey": n.group_key,
        "title": f.title,
        "explained": message.explained,
        "error": message.error,
        "model": message.model,
        "backend": message.backend,
        **reuse(message),
        "explanation": explanation(message, view),
        "notes": notes(message, view),
        "notice": view.notice,
        "evidence": [
            {"source": b.source, "title": b.title, "lines": b.lines} for b in view.evidence
        ],
        "facts": {
            "severity": f.severity,
            "firing": f.firing,
            "resolved": f.resolved,
            "notSent": f.not_sent,
            "groupLabels": f.group_labels,
        },
        "links": [{"label": link.label, "url": link.url} for link in f.links],
        "alertmanager": raw,
    }


def build(settings: WebhookSinkSettings, http: HttpClient) -> PostingSink:
    """The sink for the configured schema version."""
    headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
    if settings.version == 1:
        return PostingSink(settings, http, lambda message, _: document(message), headers=headers)
    limit = settings.max_bytes

    def render(message: Message, sink: str) -> dict[str, Any]:
        return fit(
            sink,
            message,
            lambda view: document_v2(message, view),
            lambda doc: limit is None or len(encode_json(doc)) <= limit,
            max_alerts=len(message.notification.alerts),
        )

    return PostingSink(settings, http, render, headers=headers)
