"""The Alertmanager webhook payload (protocol version "4"), parsed and validated.

It depends on nothing of this package but its error hierarchy: the limits come in as plain
values (`PayloadLimits`), so the model can be used and tested without any configuration.

Field names mirror Alertmanager's `template.Data` and `notify/webhook.Message`
(prometheus/alertmanager v0.25.0, template/template.go and notify/webhook/webhook.go).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from alert_explainer.errors import PayloadError

# Firing alerts carry Go's zero time as endsAt; it means "not set".
_GO_ZERO_YEAR = 1

Status = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """Bounds on what a sender controls (server.limits in the configuration)."""

    max_alerts: int = 20_000  # alerts per notification, else 413
    max_labels: int = 200  # labels + annotations per alert, else 422
    max_depth: int = 32  # JSON nesting, else 400


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
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:  # 9999-12-31T23:59:59-14:00 is past year 9999 in UTC, which Python cannot show
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("time is out of range once converted to UTC") from None
        return value

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
            shown = value[:20]  # sender-controlled: never echo a megabyte back
            raise ValueError(f"unsupported webhook version {shown!r}; this service reads version 4")
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

    def group_identity(self, route: str) -> str:
        """The alert group on a route, whatever its alerts' states."""
        return _digest(["group", route, self.group_key])

    def state_key(self, route: str, model: str, template_version: str) -> str:
        """What an explanation depends on: identity plus model, templates and annotations."""
        alerts = sorted((a.identity, a.status, sorted(a.annotations.items())) for a in self.alerts)
        return _digest(
            ["explanation", route, model, template_version, self.group_key, json.dumps(alerts)]
        )


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def parse_notification(body: bytes, limits: PayloadLimits | None = None) -> Notification:
    """Parse a webhook body within `limits`; raise PayloadError saying what is wrong.

    400: not UTF-8, not JSON, or nested deeper than `max_depth`; 413: more alerts than
    `max_alerts`; 422: JSON that is not an Alertmanager payload, or an alert with more than
    `max_labels` labels and annotations. Long values are accepted here and cut for the
    prompt by the redactor (`max_value_length`).
    """
    limits = limits or PayloadLimits()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            400, f"request body is not valid UTF-8 (invalid byte at offset {exc.start})"
        ) from None
    # Nothing nests deeper than its opening brackets are many, which for most bodies is far
    # below the limit: only the others are scanned.
    brackets = text.count("{") + text.count("[")
    if brackets > limits.max_depth and nesting_depth(text, limits.max_depth) > limits.max_depth:
        raise PayloadError(
            400,
            f"request body is nested too deeply: more than {limits.max_depth} levels "
            "(server.limits.max_depth)",
        )
    data = _loads(text)
    if not isinstance(data, dict):
        raise PayloadError(422, "expected a JSON object (an Alertmanager webhook payload)")
    _check_alert_count(data, limits.max_alerts)
    try:
        notification = Notification.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(422, _describe(exc)) from None
    _check_label_counts(notification, limits.max_labels)
    notification._raw = data
    return notification


# JSON text outside strings: escapes first (so an escaped quote cannot end a string), then
# whole strings; what is left holds every bracket that counts.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str, limit: int) -> int:
    """How deeply `text`'s JSON arrays and objects nest, counted without parsing.

    Counting happens before json.loads so that a body of a million "[" costs one linear scan,
    not a parser recursing until it hits the interpreter's limit. Returns early (with a value
    above `limit`) once `limit` is exceeded. Malformed text gets an approximate answer; the
    parser then reports what is wrong with it.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    depth = deepest = 0
    for step in map(_STEP.__getitem__, brackets):
        depth += step
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


class _Unrepresentable(ValueError):
    """A number or constant that JSON allows Python to read but not to write back as JSON."""


def _reject_constant(name: str) -> Any:
    raise _Unrepresentable(f"{name} is not a JSON value")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Unrepresentable(f"number {literal[:40]} is out of range")
    return value


# A lone UTF-16 surrogate escape ("\ud800") decodes to a str that cannot be encoded as
# UTF-8 again, which would break every later step that sends or logs the text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


# Built once: json.loads builds a decoder per call when given hooks.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _loads(text: str) -> Any:
    # Only standard JSON: NaN, Infinity and numbers beyond float range would not survive
    # being forwarded as JSON again.
    try:
        if text.startswith("\ufeff"):  # as json.loads says it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the depth scan makes this unreachable; kept as a last line
        raise PayloadError(400, "request body is nested too deeply") from None
    except _Unrepresentable as exc:
        raise PayloadError(400, f"request body is not valid JSON: {exc}") from None
    except ValueError:  # Python refuses to read integers of thousands of digits
        raise PayloadError(400, "request body is not valid JSON: a number is too long") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(
                400, "request body is not valid UTF-8 text: it escapes an unpaired surrogate"
            ) from None
    return data


def _check_alert_count(data: dict[str, Any], limit: int) -> None:
    # Before validation, so a huge list is refused without building thousands of models.
    alerts = data.get("alerts")
    if isinstance(alerts, list) and len(alerts) > limit:
        raise PayloadError(
            413,
            f"{len(alerts)} alerts in one notification exceed the limit of {limit} "
            "(server.limits.max_alerts); set max_alerts in Alertmanager's webhook_config "
            "so it sends fewer",
        )


def _check_label_counts(notification: Notification, limit: int) -> None:
    for i, alert in enumerate(notification.alerts):
        count = len(alert.labels) + len(alert.annotations)
        if count > limit:
            raise PayloadError(
                422,
                f"alerts.{i}: {count} labels and annotations exceed the limit of {limit} "
                "(server.limits.max_labels)",
            )
    # Alertmanager's group and common sets are subsets of one alert's; larger ones are forged.
    groups = {
        "groupLabels": len(notification.group_labels),
        "commonLabels and commonAnnotations": len(notification.common_labels)
        + len(notification.common_annotations),
    }
    for where, count in groups.items():
        if count > limit:
            raise PayloadError(
                422,
                f"{where}: {count} entries exceed the limit of {limit} (server.limits.max_labels)",
            )


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:10]:
        path = ".".join(_shorten(str(p)) for p in error["loc"]) or "<body>"
        problems.append(f"{path}: {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "invalid Alertmanager payload: " + "; ".join(problems) + suffix


def _shorten(name: str, limit: int = 64) -> str:
    # A label name is sender-controlled and may be a megabyte long; error text stays short.
    return name if len(name) <= limit else f"{name[:limit]}…"
