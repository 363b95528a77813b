"""`ui`: the operator's page (/ui) and its JSON API (/api/v1/notifications)."""

from __future__ import annotations

from pydantic import Field

from alert_explainer.config.auth import AuthSettings
from alert_explainer.config.types import Duration, Model


class UiSettings(Model):
    """What the operator's page keeps and who may read it (docs/ui.md)."""

    enabled: bool = True
    # Notifications kept, newest first, in the state store (shared by replicas on Redis).
    history: int = Field(default=500, ge=1, le=10_000)
    max_age: Duration = 24 * 3600.0  # older notifications leave the history
    # Who may read the page; without it the webhook's `auth` applies.
    auth: AuthSettings | None = None
