"""`server`: how the HTTP server listens, and the bounds on what a sender controls."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from alert_explainer.alertmanager import PayloadLimits
from alert_explainer.config.types import Duration, Model


class LimitSettings(Model):
    """Bounds on what a sender controls; beyond them a clear 4xx or a documented truncation."""

    max_alerts: int = Field(default=20_000, ge=1)  # per notification, else 413
    max_labels: int = Field(default=200, ge=1)  # labels + annotations per alert, else 422
    max_value_length: int = Field(default=4096, ge=64)  # longer values are cut in the prompt
    max_depth: int = Field(default=32, ge=4)  # JSON nesting, else 400

    @property
    def payload(self) -> PayloadLimits:
        """The limits the payload parser enforces."""
        return PayloadLimits(self.max_alerts, self.max_labels, self.max_depth)


class ServerSettings(Model):
    """How the HTTP server listens and how long a webhook request may wait."""

    host: str = "0.0.0.0"  # noqa: S104 - a container service listens on all interfaces
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Alertmanager cuts a webhook call off at max(10 s, group_interval); answering 503 a
    # little before that keeps its retry loop attached to the work already under way.
    respond_within: Duration = 8.0
    # On SIGTERM, /readyz fails at once but webhooks are still served for this long, so
    # Kubernetes removes the pod from the Service before the listener closes.
    shutdown_delay: float = Field(default=5.0, ge=0)
    # Then, how long notifications in progress may take before the process exits.
    shutdown_grace: Duration = 25.0
    # Processes serving this port (`serve --workers`); more than one needs state.backend:
    # redis, so that they share leases, delivery records, the cache and the budgets.
    workers: int = Field(default=1, ge=1, le=64)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    # The path prefix an Ingress serves the service under ("/alert-explainer"). Requests
    # are answered with or without it, so `kubectl port-forward` works as well.
    root_path: str = ""

    @field_validator("root_path")
    @classmethod
    def _path_prefix(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise ValueError(
                "expected a path prefix such as /alert-explainer (letters, digits, '.', '_', "
                "'~', '-' between slashes)"
            )
        return value
