"""Prompt templating: a notification becomes a system and a user message.

Templates run in Jinja2's SandboxedEnvironment and see only plain dicts, lists and strings.
Alert text is passed in as data, so a label value like `{{ 7*7 }}` is printed literally,
never evaluated; the `data` filter also neutralises anything that would close the
<alert-data> block the prompt delimits untrusted text with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
from jinja2.sandbox import SandboxedEnvironment

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.catalogue.notes import Notes
from alert_explainer.config import TemplateSettings
from alert_explainer.errors import TemplateError
from alert_explainer.evidence.model import Evidence, EvidenceItem

_DELIMITER = re.compile(r"<(\s*/?\s*alert-data)", re.IGNORECASE)
_SHOWN_APART = ("alertname", "severity")
_ANNOTATIONS_SHOWN_APART = ("summary", "description", "runbook_url", "runbook")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the inference request."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        """The message as the inference API expects it."""
        return {"role": self.role, "content": self.content}


def data(value: object) -> str:
    """Render untrusted text so it cannot end the <alert-data> block it sits in."""
    text = str(value)
    return _DELIMITER.sub(r"‹\1", text) if "<" in text else text  # most text has no "<"


def labelset(labels: dict[str, str]) -> str:
    """`key="value"` pairs in key order, the way Prometheus prints a label set."""
    if not labels:
        return "(none)"
    return ", ".join(f'{data(k)}="{data(v)}"' for k, v in sorted(labels.items()))


def timestamp(moment: datetime | None) -> str:
    """UTC time to the second, or "unknown"."""
    if not moment:
        return "unknown"
    m = moment.astimezone(UTC)  # formatted by hand: strftime takes twice as long
    return f"{m.year}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


@jinja2.pass_context
def ago(context: jinja2.runtime.Context, moment: datetime | None) -> str:
    """How long before the render time `moment` was: "35 minutes ago"."""
    if moment is None:
        return "unknown"
    now: datetime = context["now"]
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return f"{seconds} second{'s' if seconds != 1 else ''} ago"


def _alert_context(alert: Alert) -> dict[str, Any]:
    annotations = alert.annotations
    return {
        "alertname": alert.name,
        "status": alert.status,
        "severity": alert.severity,
        "summary": annotations.get("summary", ""),
        "description": annotations.get("description", ""),
        "runbook_url": annotations.get("runbook_url", annotations.get("runbook", "")),
        "labels": dict(alert.labels),
        "annotations": dict(annotations),
        "other_labels": {k: v for k, v in alert.labels.items() if k not in _SHOWN_APART},
        "other_annotations": {
            k: v for k, v in annotations.items() if k not in _ANNOTATIONS_SHOWN_APART
        },
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def summarise(alerts: list[Alert], max_values: int = 5) -> list[dict[str, Any]]:
    """Alerts counted by alertname, severity and namespace, with their distinct label values."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for alert in alerts:
        key = (alert.name, alert.severity, alert.labels.get("namespace", ""))
        group = groups.setdefault(
            key,
            {
                "alertname": key[0],
                "severity": key[1],
                "namespace": key[2],
                "count": 0,
                "values": {},
            },
        )
        group["count"] += 1
        for name, value in alert.labels.items():
            if name not in ("alertname", "severity", "namespace"):
                group["values"].setdefault(name, set()).add(value)
    summary = []
    for group in groups.values():
        values: dict[str, set[str]] = group.pop("values")
        group["labels"] = {
            name: _some(sorted(found), max_values) for name, found in sorted(values.items())
        }
        summary.append(group)
    return sorted(summary, key=lambda g: (-g["count"], g["alertname"]))


def _some(values: list[str], limit: int) -> str:
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} (+{len(values) - limit} more)"


def template_context(
    notification: Notification,
    route: str,
    now: datetime,
    keep: int | None = None,
    evidence: Evidence | None = None,
    notes: Sequence[Notes] = (),
) -> dict[str, Any]:
    """Everything a template may use, as plain data (docs/configuration.md#templates).

    With `keep`, only the first `keep` alerts are listed in full and the rest are
    summarised in `alert_summary` (`omitted_alerts` says how many). `evidence` is a list
    of {source, title, lines}; `notes` the catalogue's notes on the group's alertnames,
    each {alertname, summary, meaning, causes, checks, runbook}.
    """
    listed = notification.alerts if keep is None else notification.alerts[:keep]
    omitted = notification.alerts[len(listed) :]
    return {
        "now": now,
        "route": route,
        "status": notification.status,
        "receiver": notification.receiver,
        "group_key": notification.group_key,
        "group_labels": dict(notification.group_labels),
        "common_labels": dict(notification.common_labels),
        "common_annotations": dict(notification.common_annotations),
        "external_url": notification.external_url,
        "truncated_alerts": notification.truncated_alerts,
        "firing_count": len(notification.firing),
        "resolved_count": len(notification.resolved),
        "alert_count": len(notification.alerts),
        "alerts": [_alert_context(a) for a in listed],
        "omitted_alerts": len(omitted),
        "alert_summary": summarise(omitted) if omitted else [],
        "evidence": evidence.as_dicts() if evidence else [],
        "notes": [_note_context(n) for n in notes],
    }


def _note_context(notes: Notes) -> dict[str, Any]:
    return {
        "alertname": notes.alertname,
        "summary": notes.summary,
        "meaning": notes.meaning,
        "causes": list(notes.causes),
        "checks": list(notes.checks),
        "runbook": notes.runbook or "",
    }


def _default_source(name: str) -> str:
    return resources.files("alert_explainer").joinpath("templates", name).read_text("utf-8")


# What a template of plain text parses to: comments are dropped, text is TemplateData.
_PLAIN = (jinja2.nodes.Output, jinja2.nodes.TemplateData)

# What a dict has as attributes; any other `x.name` on a dict is its key `name`.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _PromptEnvironment(SandboxedEnvironment):
    """The sandbox, with `alert.summary` on the plain dicts of the context made cheap.

    Jinja tries the attribute first and falls back to the key, so every such lookup on a
    dict raised and caught an AttributeError. For a name a dict has no attribute of, the
    key is all the sandbox could ever return, so it is returned at once.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


class PromptTemplates:
    """The compiled system and user templates of one route."""

    def __init__(self, system_source: str, user_source: str) -> None:
        self._env = _PromptEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text for a model, not HTML
            keep_trailing_newline=False,
        )
        self._env.filters.update(data=data, labelset=labelset, timestamp=timestamp, ago=ago)
        self._system = self._compile("system", system_source)
        self._user = self._compile("user", user_source)
        self._fixed_system = self._fixed("system", self._system, system_source)
        digest = hashlib.sha256(f"{system_source}\x00{user_source}".encode())
        self.version = digest.hexdigest()[:12]

    @classmethod
    def from_settings(cls, settings: TemplateSettings) -> PromptTemplates:
        """Templates for a route: its overrides where given, the shipped defaults elsewhere."""
        return cls(
            _source(settings.system, settings.system_file, "system.j2"),
            _source(settings.user, settings.user_file, "user.j2"),
        )

    def _compile(self, part: str, source: str) -> jinja2.Template:
        try:
            return self._env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{part} template, line {exc.lineno}: {exc.message}") from None

    def _fixed(self, role: str, template: jinja2.Template, source: str) -> str | None:
        """The message a template of plain text renders to (the shipped system prompt),
        made once; None when it holds any expression or tag, or renders empty."""
        ast = self._env.parse(source)
        if not all(isinstance(n, _PLAIN) for n in ast.find_all(jinja2.nodes.Node)):
            return None  # a variable, a filter (`random`), a call (`lipsum()`): per render
        try:
            return self._render(role, template, {})
        except TemplateError:  # empty: the error is raised again with every render
            return None

    def render(
        self,
        notification: Notification,
        *,
        route: str,
        now: datetime | None = None,
        budget: int | None = None,
        evidence: Evidence | None = None,
        notes: Sequence[Notes] = (),
    ) -> list[ChatMessage]:
        """The system message, then the user message, for this notification.

        With a `budget` (bytes), a user message that would be larger lists fewer alerts in
        full and summarises the rest, so a 10,000-alert group still names every alertname;
        the evidence (already within evidence.max_bytes) is shortened only when even that
        does not fit.
        """
        moment = now or datetime.now(UTC)
        total = len(notification.alerts)
        # No alert renders in under ~100 bytes: start from what could possibly fit.
        room = budget - (evidence.size if evidence else 0) if budget is not None else None
        keep = total if room is None else min(total, max(1, room // 100))
        context = template_context(notification, route, moment, keep, evidence, notes)
        system = self._fixed_system or self._render("system", self._system, context)
        user = self._render("user", self._user, context)
        while budget is not None and len(user.encode()) > budget and keep > 0:
            # Shrink in proportion to the overshoot, and at least by a fifth, so a large
            # group needs a handful of renders rather than one per alert.
            ratio = budget / len(user.encode())
            keep = min(int(keep * ratio * 0.9), int(keep * 0.8))
            context = template_context(notification, route, moment, max(keep, 0), evidence, notes)
            user = self._render("user", self._user, context)
        while budget is not None and len(user.encode()) > budget and evidence:
            evidence = _smaller(evidence, len(user.encode()) - budget)
            context = template_context(notification, route, moment, max(keep, 0), evidence, notes)
            user = self._render("user", self._user, context)
        if budget is not None and len(user.encode()) > budget and notes:
            # Background comes last: the alerts and their evidence matter more.
            context = template_context(notification, route, moment, max(keep, 0), evidence)
            user = self._render("user", self._user, context)
        return [ChatMessage("system", system), ChatMessage("user", user)]

    def _render(self, role: str, template: jinja2.Template, context: dict[str, Any]) -> str:
        try:
            content = template.render(context).strip()
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{role} template: {exc}") from None
        if not content:
            raise TemplateError(f"{role} template rendered an empty message")
        return content


def _smaller(evidence: Evidence, overshoot: int) -> Evidence:
    """`evidence` at least `overshoot` bytes smaller, or with its last item left out."""
    smaller = evidence.fitted(evidence.size - overshoot - 64)
    return smaller if smaller.size < evidence.size else Evidence(evidence.items[:-1])


def specimen_evidence() -> Evidence:
    """Evidence with every field filled, rendered with `specimen()` in check-config."""
    return Evidence(
        (
            EvidenceItem("expression", "Alert expression", ("query: up (alert when == 0)",)),
            EvidenceItem("prometheus", "Evidence unavailable", ("evidence unavailable: x: y",)),
        )
    )


def specimen_notes() -> Notes:
    """Catalogue notes with every field filled, rendered with `specimen()` in check-config."""
    return Notes("Specimen", "s", "m", ("c",), ("k",), "https://runbooks.example/s", True)


def specimen() -> Notification:
    """A notification with every field filled, to render templates against in check-config.

    A template that fails on it (an unknown variable, a bad filter) would fail on real alerts.
    """
    alert = {
        "status": "firing",
        "labels": {"alertname": "Specimen", "severity": "warning", "namespace": "default"},
        "annotations": {
            "summary": "s",
            "description": "d",
            "runbook_url": "https://runbooks.example/s",
        },
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2026-01-01T01:00:00Z",
        "generatorURL": "https://prometheus.example/graph",
        "fingerprint": "0000000000000000",
    }
    return Notification.model_validate(
        {
            "status": "firing",
            "receiver": "specimen",
            "groupKey": '{}:{alertname="Specimen"}',
            "groupLabels": {"alertname": "Specimen"},
            "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"],
            "externalURL": "https://alertmanager.example",
            "truncatedAlerts": 1,
            "alerts": [alert, {**alert, "status": "resolved", "fingerprint": "1" * 16}],
        }
    )


def _source(inline: str | None, file: Path | None, default: str) -> str:
    if inline is not None:
        return inline
    if file is not None:
        return file.read_text(encoding="utf-8")
    return _default_source(default)
