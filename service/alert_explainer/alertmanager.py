"""The Alertmanager webhook payload (protocol version "4"), parsed and validated.

Field names mirror Alertmanager's `template.Data` and `notify/webhook.Message`
(prometheus/alertmanager v0.25.0, template/template.go and notify/webhook/webhook.go).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from alert_explainer.errors import PayloadError

# Firing alerts carry Go's zero time as endsAt; it means "not set".
_GO_ZERO_YEAR = 1

Status = Literal["firing", "resolved"]


class Alert(BaseModel):
    """One alert of a notification."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _zero_time_is_unset(cls, value: datetime | None) -> datetime | None:
        if value is None or value.year == _GO_ZERO_YEAR:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def name(self) -> str:
        """The alertname label, or "(unnamed)"."""
        return self.labels.get("alertname", "(unnamed)")

    @property
    def severity(self) -> str:
        """The severity label, or "" when the alert has none."""
        return self.labels.get("severity", "")

    @property
    def identity(self) -> str:
        """Stable per-alert identity: Alertmanager's fingerprint, or a hash of the labels."""
        if self.fingerprint:
            return self.fingerprint
        canonical = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Notification(BaseModel):
    """One webhook call: an alert group as Alertmanager sends it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    version: str = "4"
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: Status
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert]
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """The payload exactly as Alertmanager sent it, for sinks that forward it."""
        return self._raw

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"unsupported webhook version {value!r}; this service reads version 4")
        return value

    @property
    def firing(self) -> list[Alert]:
        """The alerts still firing."""
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def resolved(self) -> list[Alert]:
        """The alerts that have resolved."""
        return [a for a in self.alerts if a.status == "resolved"]

    @property
    def title(self) -> str:
        """A one-line name for the group: its group labels, or the common alertname."""
        if self.group_labels:
            return ", ".join(f"{k}={v}" for k, v in sorted(self.group_labels.items()))
        return self.common_labels.get("alertname", self.group_key or "alert group")

    def identity(self, route: str) -> str:
        """What makes two webhook calls the same notification: route, group and alert states.

        Alertmanager's retries, its HA peer and its repeat_interval reminders all produce the
        same identity; a new or resolved alert produces a new one.
        """
        states = sorted(f"{a.identity}:{a.status}" for a in self.alerts)
        return _digest(["notification", route, self.group_key, *states])

    def state_key(self, route: str, model: str, template_version: str) -> str:
        """What an explanation depends on: identity plus model, templates and annotations."""
        alerts = sorted((a.identity, a.status, sorted(a.annotations.items())) for a in self.alerts)
        return _digest(
            ["explanation", route, model, template_version, self.group_key, json.dumps(alerts)]
        )


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def parse_notification(body: bytes) -> Notification:
    """Parse a webhook body; raise PayloadError (400 or 422) saying what is wrong."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise PayloadError(400, "request body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(400, "request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise PayloadError(422, "expected a JSON object (an Alertmanager webhook payload)")
    try:
        notification = Notification.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(422, _describe(exc)) from None
    notification._raw = data
    return notification


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:10]:
        path = ".".join(str(p) for p in error["loc"]) or "<body>"
        problems.append(f"{path}: {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "invalid Alertmanager payload: " + "; ".join(problems) + suffix
