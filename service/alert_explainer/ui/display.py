"""What the page may show of a kept notification: redacted like the prompt, with links.

A record is kept as it came (record.py, cheap to build for every notification); this runs
when someone reads it. The alerts are shown as the model was shown them (redaction rules,
deny/allow, value length). A destination's body, which went out with the original text, is
shown redacted too: every string through the redaction rules and values under
credential-like keys replaced whole (its own credentials were masked when it was kept);
long lists are shortened and long strings cut.

The rules run over the body's JSON text once instead of over each string. A replacement
inside an escape sequence could break the JSON; the result is parsed back, and in that rare
case each string is redacted on its own.
"""

from __future__ import annotations

import json
from typing import Any

from alert_explainer.alertmanager import Alert, parse_notification
from alert_explainer.errors import PayloadError
from alert_explainer.redact import NAMED_CREDENTIAL_RULE, Redactor
from alert_explainer.sinks.facts import alert_links, group_links
from alert_explainer.ui.record import iso

MAX_LIST_ITEMS = 50  # items of a list in a destination body
MAX_STRING = 4000  # characters of one string in a destination body
MAX_DEPTH = 32
NAMED_MARKER = f"[REDACTED:{NAMED_CREDENTIAL_RULE}]"


class Display:
    """Turns kept records into what the page and the JSON API show."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._secret_names: dict[str, bool] = {}  # bodies repeat the same few keys

    def summary(self, row: dict[str, Any]) -> dict[str, Any]:
        """A list row with the label-derived texts redacted."""
        redact = self._redactor.redact
        return {
            **row,
            "receiver": redact(row["receiver"]),
            "group": redact(row["group"]),
            "alertnames": [redact(name) for name in row["alertnames"]],
        }

    def detail(self, stored: dict[str, Any]) -> dict[str, Any]:
        """One notification as its page shows it (the API's NotificationDetail)."""
        detail = {k: v for k, v in self.summary(stored).items() if k != "payload"}
        detail.update(self._notification(stored["payload"]))
        detail["destination_messages"] = [
            {**m, "body": None if m["body"] is None else self.body(m["body"])}
            for m in stored["destination_messages"]
        ]
        return detail

    def _notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            notification = parse_notification(json.dumps(payload).encode())
        except PayloadError:  # kept by an incompatible version: show nothing rather than fail
            return _empty()
        shown, counts = self._redactor.prepare(notification)
        return {
            "group_key": shown.group_key,
            "group_labels": shown.group_labels,
            "common_labels": shown.common_labels,
            "common_annotations": shown.common_annotations,
            "external_url": shown.external_url,
            "links": [{"label": k.label, "url": k.url} for k in group_links(shown)],
            "alerts": [_alert(a) for a in shown.alerts],
            "alert_redactions": dict(counts),
        }

    def body(self, text: str) -> str:
        """A kept body (compact JSON, or text cut at its size limit) as the page shows it."""
        try:
            value = json.loads(text)
        except ValueError:  # cut at MAX_BODY: redact it as text
            return self._redactor.redact(text)
        clipped = self._clip(value, 0)
        redacted = self._redactor.redact(json.dumps(clipped, ensure_ascii=False))
        try:
            json.loads(redacted)
        except ValueError:  # the rare case: redaction met an escape sequence
            return json.dumps(self._careful(clipped), ensure_ascii=False)
        return redacted

    def _is_secret_name(self, name: str) -> bool:
        known = self._secret_names.get(name)
        if known is None:
            if len(self._secret_names) > 10_000:
                self._secret_names.clear()
            known = self._secret_names[name] = self._redactor.is_secret_name(name)
        return known

    def _clip(self, value: Any, depth: int) -> Any:
        """A copy within the size bounds, values under credential-like keys replaced."""
        if isinstance(value, str):
            return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
        if depth >= MAX_DEPTH and isinstance(value, dict | list):
            return "…"
        if isinstance(value, dict):  # parsed JSON: dicts, lists and scalars
            secret = self._is_secret_name
            return {
                k: NAMED_MARKER
                if isinstance(v, str) and v and secret(k)
                else self._clip(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list):
            items = [self._clip(v, depth + 1) for v in value[:MAX_LIST_ITEMS]]
            if len(value) > MAX_LIST_ITEMS:
                items.append(f"… {len(value) - MAX_LIST_ITEMS} more items not shown")
            return items
        return value

    def _careful(self, value: Any) -> Any:
        """Each string redacted on its own (the slow, always valid way)."""
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, dict):
            return {self._careful(k): self._careful(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._careful(v) for v in value]
        return value


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "name": alert.name,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": iso(alert.starts_at.timestamp()) if alert.starts_at else None,
        "ends_at": iso(alert.ends_at.timestamp()) if alert.ends_at else None,
        "links": [{"label": k.label, "url": k.url} for k in alert_links(alert)],
    }


def _empty() -> dict[str, Any]:
    return {
        "group_key": "",
        "group_labels": {},
        "common_labels": {},
        "common_annotations": {},
        "external_url": "",
        "links": [],
        "alerts": [],
        "alert_redactions": {},
    }
