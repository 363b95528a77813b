"""One notification as the operator's page shows it, filled in while it is handled.

The pipeline calls the `Record` methods as things happen (cheap, in memory); the history
writes records out in the background (history.py). What is written is for people: the
alerts and every destination's message go through the same redaction as the prompt, and
a credential a destination carries in its body is masked. URLs of destinations, API keys
and auth headers are never part of a record. Sizes are bounded: at most `MAX_ALERTS`
alerts, list items and string lengths clipped in destination bodies.

A field another feature produces (the outcome's backend, evidence, situation...) is one
line in `summary()` or `stored()`; the templates show what is there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from alert_explainer.alertmanager import Notification
from alert_explainer.explainer import Outcome
from alert_explainer.jsonout import encode_json
from alert_explainer.sinks import Rendered
from alert_explainer.sinks.facts import severity

OutcomeName = Literal["in_progress", "queued", "delivered", "failed", "duplicate"]
OUTCOMES: tuple[OutcomeName, ...] = ("in_progress", "queued", "delivered", "failed", "duplicate")

MAX_ALERTS = 100  # alerts kept per record; the rest are counted
MAX_ALERTNAMES = 10
MAX_RETRY_CALLS = 50
MAX_BODY = 64 * 1024  # characters of one destination body as kept
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

    def stored(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """What is kept for the notification's page, as it came (display.py shows it).

        `summary` is this record's, when the caller has it already. Cheap to build, since
        it is built for every notification: the payload as received
        (at most MAX_ALERTS alerts), the prompt and answer, and each destination's body as
        compact JSON with the destination's own credentials masked. Redaction for the page
        happens when it is read.
        """
        n = self.notification
        o = self.explanation or Outcome()
        payload = n.raw or n.model_dump(mode="json", by_alias=True)
        if len(n.alerts) > MAX_ALERTS:
            payload = {**payload, "alerts": payload["alerts"][:MAX_ALERTS]}
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
        return {
            **(summary or self.summary()),
            "payload": payload,
            "alerts_not_shown": max(0, len(n.alerts) - MAX_ALERTS),
            "evidence": o.evidence.as_dicts() or None,  # issue 9: redacted when gathered
            "prompt": prompt,
            "answer": answer,
            "destination_messages": [
                {
                    "name": d.name,
                    "type": d.type,
                    "result": d.result,
                    "seconds": _seconds(d.seconds),
                    "body": masked_json(d.rendered) if d.rendered else None,
                }
                for d in self.destinations.values()
            ],
            "retry_calls": [{"at": iso(t), "kind": kind} for t, kind in self.retry_calls],
        }


def masked_json(rendered: Rendered) -> str:
    """A destination's body as compact JSON, its credentials masked, at most MAX_BODY long."""
    text = encode_json(rendered.body).decode()
    for secret in sorted((s for s in rendered.secrets if s), key=len, reverse=True):
        text = text.replace(encode_json(secret).decode()[1:-1], MASK)
    if len(text) > MAX_BODY:
        return text[:MAX_BODY] + f"… {len(text) - MAX_BODY} more characters not shown"
    return text


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
