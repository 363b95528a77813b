"""Dead letters: queued notifications the worker gave up on, kept until someone acts.

An async-mode entry becomes a dead letter when a sink refuses it for good (a 4xx other
than 408 and 429, such as the 404 of a revoked webhook) or when it is still undelivered
after `delivery.max_age`; also when it can no longer be delivered as queued, its route gone
from the configuration or its body unreadable to this version, so a change of config or
version never silently loses what was accepted. Only the sinks that lack the message are in
the letter: the others already have it and are not sent to again. A letter waits beside the
queue, in the same backend (an SQLite table, or a Redis Stream), until it is replayed
(queued again for its sinks) or dropped; `alert-explainer dead-letters` and the metrics
show it meanwhile.

Errors are the sinks' own texts, which never carry their URL or token; any URL left in
them is cut out again here, so a letter can be shown to anyone who may see the queue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from alert_explainer.alertmanager import PayloadLimits, parse_notification
from alert_explainer.errors import PayloadError

FINAL_ERROR = "final_error"  # a sink refused the message for good
MAX_AGE = "max_age"  # still undelivered after delivery.max_age
ROUTE_GONE = "route_gone"  # the entry's route left the configuration while it was queued
UNREADABLE = "unreadable"  # the body no longer parses (a newer version's stricter limits)
REASONS = (FINAL_ERROR, MAX_AGE, ROUTE_GONE, UNREADABLE)

# The sink name of a letter that lacks every sink of its route, when which ones is unknown
# (its route is gone): replayed, it goes to all the sinks the route has by then.
EVERY_SINK = "*"

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


def without_urls(text: str) -> str:
    """`text` with every URL replaced by "[url]"."""
    return _URL.sub("[url]", text)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One notification some sinks never took, with why and when. Times are Unix seconds."""

    route: str
    body: bytes
    sinks: tuple[str, ...]  # the sinks that lack the message
    errors: Mapping[str, str]  # each of those sinks' last error
    reason: str  # one of REASONS
    attempts: int
    queued_at: float
    first_try: float
    last_try: float
    id: str = field(default="", compare=False)  # given by the store

    @classmethod
    def create(
        cls,
        *,
        route: str,
        body: bytes,
        errors: Mapping[str, str],
        reason: str,
        attempts: int,
        queued_at: float,
        first_try: float,
        last_try: float,
    ) -> DeadLetter:
        """A letter for the sinks in `errors`, their texts stripped of any URL."""
        return cls(
            route=route,
            body=body,
            sinks=tuple(sorted(errors)),
            errors={sink: without_urls(text) for sink, text in sorted(errors.items())},
            reason=reason,
            attempts=attempts,
            queued_at=queued_at,
            first_try=first_try or queued_at,
            last_try=last_try,
        )

    def describe(self, limits: PayloadLimits | None = None) -> dict[str, Any]:
        """The letter as JSON-ready data for people: ids, times, sinks, errors, the group."""
        described: dict[str, Any] = {
            "id": self.id,
            "route": self.route,
            "reason": self.reason,
            "sinks": list(self.sinks),
            "errors": dict(self.errors),
            "attempts": self.attempts,
            "queued_at": iso(self.queued_at),
            "first_try": iso(self.first_try),
            "last_try": iso(self.last_try),
        }
        try:
            notification = parse_notification(self.body, limits)
        except PayloadError as exc:
            return described | {"notification": None, "unreadable": str(exc)}
        return described | {
            "notification": {
                "status": notification.status,
                "group_key": notification.group_key,
                "title": notification.title,
                "alerts": len(notification.alerts),
                "receiver": notification.receiver,
            }
        }


def iso(moment: float) -> str:
    """A Unix time as UTC ISO 8601, to the second."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeadLetterStore(Protocol):
    """Where dead letters wait: beside the queue, in the same backend."""

    async def letters(self) -> list[DeadLetter]:
        """Every letter, oldest first."""
        ...

    async def get(self, letter_id: str) -> DeadLetter | None:
        """One letter, or None."""
        ...

    async def replay(self, letter_ids: Sequence[str]) -> list[str]:
        """Queue each letter again for its sinks and remove it; the ids that were replayed.

        Raises QueueError when the queue is full; letters replayed before that stay replayed.
        """
        ...

    async def drop(self, letter_ids: Sequence[str]) -> list[str]:
        """Delete letters for good; the ids that existed."""
        ...

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many letters lack each (route, sink)."""
        ...

    async def aclose(self) -> None:
        """Release the file or connection."""
        ...


def encode_errors(errors: Mapping[str, str]) -> str:
    """The errors as stored: a JSON object."""
    return json.dumps(dict(errors), sort_keys=True)


def decode_sinks(raw: str | bytes | None) -> tuple[str, ...] | None:
    """A stored JSON list of sink names; None when absent."""
    if raw is None or raw in ("", b""):
        return None
    names = json.loads(raw)
    return tuple(str(n) for n in names)
