"""`delivery`: duplicate suppression, the sync/async delivery mode and when to give up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from alert_explainer.config.types import Duration, Model


class DeliverySettings(Model):
    """Duplicate suppression across Alertmanager's retries and HA peers."""

    # Must stay below the user's repeat_interval, or reminders would be swallowed.
    dedup_window: Duration = 600.0
    # sync: answer Alertmanager once every sink has the message (the default).
    # async: answer 202 once the notification is in a durable queue; a worker delivers it.
    mode: Literal["sync", "async"] = "sync"
    queue_path: Path = Path("/var/lib/alert-explainer/queue.sqlite3")
    queue_max: int = Field(default=10_000, ge=1)
    # async: a queued notification still missing a sink after this long becomes a dead letter
    # (as does one a sink refuses for good), so a dead destination never fills the queue.
    max_age: Duration = 6 * 3600.0
