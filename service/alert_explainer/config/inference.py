"""`inference`: the inference API, its limits and its circuit breaker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from alert_explainer.config.types import Duration, DurationOrZero, Model

DEFAULT_INFERENCE_URL = (
    "https://clanker-auth-gw-zc0ce3o.uk.gateway.dev/v1/inference/chat/completions"
)
API_KEY_ENV = "CLANKER_CLOUD_API_KEY"
# The priority (and metric label) of notifications whose value is missing or not listed.
OTHER_PRIORITY = "other"


class PrioritySettings(Model):
    """Who gets the next free call: the label, and its values from most to least urgent."""

    label: str = Field(default="severity", min_length=1)
    # Matched without regard to case; any other value (or none) comes after all of these.
    order: list[str] = Field(default_factory=lambda: ["critical", "warning", "info"])

    @field_validator("order")
    @classmethod
    def _distinct_values(cls, value: list[str]) -> list[str]:
        folded = [v.strip().casefold() for v in value]
        if any(not v for v in folded):
            raise ValueError("values must not be empty")
        if len(set(folded)) != len(folded):
            raise ValueError("each value may appear only once (case is ignored)")
        if OTHER_PRIORITY in folded:
            raise ValueError(f"{OTHER_PRIORITY!r} is reserved for values not listed")
        return [v.strip() for v in value]


class InferenceLimits(Model):
    """Spend controls (docs/configuration.md#limits).

    A call finding all `concurrency` permits taken waits for one, by priority, up to
    `max_wait`; a full wait list, a spent budget or the open breaker refuse at once.
    """

    concurrency: int = Field(default=8, ge=1)  # calls in flight at once
    max_wait: DurationOrZero = 60.0  # 0: never wait, refuse at once as before
    max_waiters: int = Field(default=1000, ge=0)  # beyond it the fallback at once
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class BreakerSettings(Model):
    """After `failures` consecutive failed calls, stop calling for `cooldown`, then probe."""

    failures: int = Field(default=5, ge=1)
    cooldown: Duration = 30.0


class InferenceSettings(Model):
    """The Clanker Cloud inference API (see docs/configuration.md)."""

    url: str = DEFAULT_INFERENCE_URL
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    auth: Literal["x-api-key", "bearer"] = "x-api-key"
    provider: str | None = "gemini"
    model: str = Field(default="gemini-3.5-flash", min_length=1)
    timeout: Duration = 20.0
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    source: str = "alert-explainer"
    explanation_ttl: Duration = 24 * 3600.0
    # Situation reuse (docs/configuration.md#situations): a group's explanation is reused,
    # without a call, for this long while its situation stays the same; 0 turns it off.
    reexplain_after: DurationOrZero = 3600.0
    # ...and while its firing alerts number at most this many times those it was made for.
    reexplain_growth: float = Field(default=2.0, ge=1.0, allow_inf_nan=False)
    max_connections: int = Field(default=100, ge=1)
    # The user prompt's size budget; beyond it alerts are summarised (docs/configuration.md).
    prompt_budget_bytes: int = Field(default=24_000, ge=2_000)
    limits: InferenceLimits = Field(default_factory=InferenceLimits)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _key_from_one_place(self) -> InferenceSettings:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
        return self

    def resolved_api_key(self) -> str | None:
        """The API key, read from `api_key_file` when that is how it was given."""
        if self.api_key_file is not None:
            return self.api_key_file.read_text(encoding="utf-8").strip() or None
        return self.api_key.get_secret_value() if self.api_key else None
