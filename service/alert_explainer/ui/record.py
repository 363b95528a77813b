"""One notification as the operator's page shows it, filled in while it is handled.

The pipeline calls the `Record` methods as things happen (cheap, in memory); the history
writes records out in the background (history.py). What is written is for people: the
alerts and every destination's message go through the same redaction as the prompt, and
a credential a destination carries in its body is masked. URLs of destinations, API keys
and auth headers are never part of a record. Sizes are bounded: at most `MAX_ALERTS`
alerts, list items and string lengths clipped in destination bodies.

A field another feature produces (the outcome's backend, evidence, situation...) is one
line in `explained()` and one in `detail()`/`summary()`; the templates show what is there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.explainer import Outcome
from alert_explainer.redact import NAMED_CREDENTIAL_RULE, Redactor
from alert_explainer.sinks import Rendered
from alert_explainer.sinks.facts import alert_links, group_links, severity

OutcomeName = Literal["in_progress", "queued", "delivered", "failed", "duplicate"]
OUTCOMES: tuple[OutcomeName, ...] = ("in_progress", "queued", "delivered", "failed", "duplicate")

MAX_ALERTS = 100  # alerts kept per record; the rest are counted
MAX_ALERTNAMES = 10
MAX_LIST_ITEMS = 50  # items of a list in a destination body
MAX_STRING = 4000  # characters of one string in a destination body
MAX_BODY = 64 * 1024  # characters of one destination body as shown
MAX_RETRY_CALLS = 50
MASK = "[secret]"


def iso(moment: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC with milliseconds, as the JSON API gives times."""
    if moment is None:
        return None
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(slots=True)
class Destination:
    """One sink's part: its rendered message (masked, clipped), result and time."""

    name: str
    type: str
    rendered: Rendered | None = None
    result: str | None = None  # "delivered", "duplicate", or why it failed
    seconds: float | None = None


@dataclass(slots=True)
class Record:
    """A notification: what came in, what the model was shown and said, where it went."""

    id: str
    route: str
    identity: str
    notification: Notification
    received: float
    destinations: dict[str, Destination]
    changed: Callable[[Record], None] = field(repr=False)
    outcome: OutcomeName = "in_progress"
    explanation: Outcome | None = None
    inference_seconds: float | None = None
    total_seconds: float | None = None
    # Alertmanager's later calls for this notification: (time, "joined" while it was being
    # handled, or "attempt": after a failed attempt, handled again for what was missing).
    retry_calls: list[tuple[float, str]] = field(default_factory=list)
    retry_calls_not_shown: int = 0
    finished_at: float | None = None
    written: bool = field(default=False, repr=False)  # stored at least once
    # The notification as the page shows it: redacted once, however often it is written.
    _shown: tuple[Notification, dict[str, int]] | None = field(default=None, repr=False)

    # --- what the pipeline reports -----------------------------------------------------

    def joined(self, moment: float) -> None:
        """A retry from Alertmanager attached to this notification's work."""
        self._retry_call(moment, "joined")
        self.changed(self)

    def attempted_again(self, moment: float) -> None:
        """Alertmanager retried after a failed attempt: this record follows the new one."""
        self._retry_call(moment, "attempt")
        self.outcome = "in_progress"
        self.changed(self)

    def _retry_call(self, moment: float, kind: str) -> None:
        if len(self.retry_calls) < MAX_RETRY_CALLS:
            self.retry_calls.append((moment, kind))
        else:
            self.retry_calls_not_shown += 1

    def explained(self, outcome: Outcome, seconds: float) -> None:
        """The explanation step ended (cached, fresh, skipped or a fallback)."""
        # A later attempt reuses this record's own answer: keep what was sent for it.
        if not (outcome.reused and self.explanation is not None and self.explanation.prompt):
            self.explanation = outcome
        self.inference_seconds = seconds  # times are those of the latest attempt
        self.changed(self)

    def rendered(self, sink: str, rendered: Rendered) -> None:
        """`sink` built its message (kept as a reference; masked when written)."""
        self.destinations[sink].rendered = rendered

    def delivered(self, sink: str, result: str, seconds: float | None = None) -> None:
        """`sink` answered: "delivered", "duplicate", or the reason it failed."""
        destination = self.destinations[sink]
        if result == "duplicate" and destination.result == "delivered":
            return  # an earlier attempt delivered it; this one rightly skipped it
        destination.result = result
        destination.seconds = seconds

    def finish(self, outcome: OutcomeName, seconds: float | None = None) -> None:
        """Handling ended with `outcome`."""
        self.outcome = outcome
        self.total_seconds = seconds
        self.finished_at = time.time()
        self.changed(self)

    # --- what is written -----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The row of the list: small, JSON-ready (the API's NotificationSummary)."""
        n = self.notification
        names = sorted({a.name for a in n.alerts})
        o = self.explanation or Outcome()
        return {
            "id": self.id,
            "received": iso(self.received),
            "route": self.route,
            "receiver": n.receiver,
            "status": n.status,
            "severity": severity(n),
            "group": n.title,
            "alertnames": names[:MAX_ALERTNAMES],
            "alert_counts": {
                "firing": len(n.firing),
                "resolved": len(n.resolved),
                "not_sent": n.truncated_alerts,
            },
            "outcome": self.outcome,
            "explained": o.text is not None,
            "reason": o.error,
            "backend": o.backend,
            "model": o.model,
            "reused": o.reused,
            "explained_at": iso(o.explained_at),  # when the explanation was made
            "reuse_note": o.since.note if o.since is not None and o.text else None,  # issue 16
            "inference_seconds": _seconds(self.inference_seconds),
            "total_seconds": _seconds(self.total_seconds),
            "destinations": {d.name: d.result for d in self.destinations.values()},
            "retries": len(self.retry_calls) + self.retry_calls_not_shown,
        }

    def detail(self, display: Display) -> dict[str, Any]:
        """Everything the notification's page shows (the API's Notification)."""
        n = self.notification
        o = self.explanation or Outcome()
        prompt = None
        if o.prompt:
            prompt = {
                "sent": o.sent,
                "messages": [m.as_dict() for m in o.prompt],
                "redactions": dict(o.redactions),
            }
        answer = None
        if o.answer is not None or o.text is not None:
            answer = {"received": o.answer, "delivered": o.text}
        if self._shown is None:
            self._shown = display.notification(n)
        shown, redactions = self._shown
        return {
            **self.summary(),
            "group_key": shown.group_key,
            "group_labels": shown.group_labels,
            "common_labels": shown.common_labels,
            "common_annotations": shown.common_annotations,
            "external_url": shown.external_url,
            "links": [{"label": k.label, "url": k.url} for k in group_links(shown)],
            "alerts": [_alert(a) for a in shown.alerts[:MAX_ALERTS]],
            "alerts_not_shown": max(0, len(n.alerts) - MAX_ALERTS),
            "alert_redactions": redactions,
            "evidence": o.evidence.as_dicts() or None,  # issue 9: redacted when gathered
            "prompt": prompt,
            "answer": answer,
            "destination_messages": [
                {
                    "name": d.name,
                    "type": d.type,
                    "result": d.result,
                    "seconds": _seconds(d.seconds),
                    "body": display.body(d.rendered) if d.rendered else None,
                }
                for d in self.destinations.values()
            ],
            "retry_calls": [{"at": iso(t), "kind": kind} for t, kind in self.retry_calls],
        }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


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


class Display:
    """Makes notifications and destination bodies fit for a page: redacted, masked, bounded.

    The notification is shown as the model was shown it (redaction rules, deny/allow, value
    length); a destination body has every string redacted and cut, long lists shortened,
    values under credential-like keys and the destination's own credentials masked.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def notification(self, notification: Notification) -> tuple[Notification, dict[str, int]]:
        """The notification as the page shows it, and the replacements made by rule."""
        shown, counts = self._redactor.prepare(notification)
        return shown, dict(counts)

    def body(self, rendered: Rendered) -> str:
        """The body as indented JSON text, at most MAX_BODY characters."""
        masks = sorted((s for s in rendered.secrets if s), key=len, reverse=True)
        text = json.dumps(self._value(rendered.body, masks, 0), indent=2, ensure_ascii=False)
        if len(text) > MAX_BODY:
            return text[:MAX_BODY] + f"\n… {len(text) - MAX_BODY} more characters not shown"
        return text

    def _value(self, value: Any, masks: list[str], depth: int) -> Any:
        if isinstance(value, str):
            return self._text(value, masks)
        if depth > 32:
            return "…"
        if isinstance(value, Mapping):
            return {
                self._text(str(k), masks): (
                    f"[REDACTED:{NAMED_CREDENTIAL_RULE}]"
                    if isinstance(v, str) and v and self._redactor.is_secret_name(str(k))
                    else self._value(v, masks, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            items = [self._value(v, masks, depth + 1) for v in value[:MAX_LIST_ITEMS]]
            if len(value) > MAX_LIST_ITEMS:
                items.append(f"… {len(value) - MAX_LIST_ITEMS} more items not shown")
            return items
        return value

    def _text(self, text: str, masks: list[str]) -> str:
        for secret in masks:
            text = text.replace(secret, MASK)
        text = self._redactor.redact(text[: MAX_STRING + 200])
        if len(text) > MAX_STRING:
            return text[:MAX_STRING] + "…"
        return text
