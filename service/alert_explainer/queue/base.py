"""What every queue backend shares: the entry, the protocol, the error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from alert_explainer.deadletters import DeadLetter
from alert_explainer.errors import AlertExplainerError


class QueueError(AlertExplainerError):
    """The queue cannot take the notification now; answer 503 so Alertmanager retries."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued notification: its route, the webhook body as received, and its progress.

    Times are Unix seconds. `sinks` are the sinks that still lack the message; None means
    every sink of the route.
    """

    id: str
    route: str
    body: bytes
    attempts: int = 0
    queued_at: float = 0.0
    first_try: float = 0.0
    sinks: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """How much is waiting: entries, and the age in seconds of the oldest (0 when empty)."""

    entries: int
    oldest_age: float


class DurableQueue(Protocol):
    """Where async-mode notifications wait for delivery."""

    async def put(self, route: str, body: bytes) -> None:
        """Store durably; raise QueueError when full or unwritable."""
        ...

    async def claim(self, limit: int, lease: float) -> list[Entry]:
        """Up to `limit` entries nobody is working on, hidden from others for `lease` s."""
        ...

    async def done(self, entry: Entry) -> None:
        """Remove a delivered entry."""
        ...

    async def retry_later(self, entry: Entry, delay: float, sinks: Sequence[str]) -> None:
        """Make an entry claimable again after `delay` s, for the `sinks` that still lack it."""
        ...

    async def bury(
        self, entry: Entry, letter: DeadLetter, retry: Sequence[str] = (), delay: float = 0.0
    ) -> None:
        """Move `letter` to the dead letters, in one step with the entry's own fate: removed,
        or, when some sinks in `retry` are still worth trying, retried for those after `delay`.
        """
        ...

    async def stats(self) -> QueueStats:
        """Entries waiting or being worked on, and the oldest one's age."""
        ...

    async def aclose(self) -> None:
        """Release the file or connection."""
        ...
