"""`inference`: the inference backends, tried in order, with their limits and circuit breakers.

The keys directly under `inference` describe the first backend (Clanker Cloud unless `api`
says otherwise) plus what the whole chain shares; `inference.fallbacks` lists the backends
tried, in order, when the one before gives no explanation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from alert_explainer.config.types import HTTP_URL, Duration, DurationOrZero, Model, Name

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


Api = Literal["clanker", "openai"]
Auth = Literal["x-api-key", "bearer", "api-key", "none"]

# What a backend gets when the key is not given, by `api`. An OpenAI-compatible server has no
# URL or model anyone could guess, so those are required there.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "clanker": {
        "name": "clanker",
        "url": DEFAULT_INFERENCE_URL,
        "auth": "x-api-key",
        "provider": "gemini",
        "model": "gemini-3.5-flash",
    },
    "openai": {"name": "openai", "auth": "bearer"},
}
_REQUIRED = {
    "openai": {
        "url": "the full chat-completions URL, e.g. http://vllm:8000/v1/chat/completions",
        "model": "the model name the server knows, e.g. qwen2.5-7b-instruct",
    }
}
# Fields only one API accepts: the Clanker contract has no sampling options, and OpenAI's
# chat-completions API answers 400 to fields it does not know (provider) or treats
# `metadata` as stored-completion tags, which must not carry alert data.
_CLANKER_ONLY = ("provider", "metadata", "source")
_OPENAI_ONLY = ("max_tokens", "temperature")
_CLANKER_AUTH = ("x-api-key", "bearer")
# The header each auth scheme sends the key in.
AUTH_HEADERS = {"x-api-key": "X-API-Key", "bearer": "Authorization", "api-key": "api-key"}
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


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


class BackendSettings(Model):
    """One inference API: where it is, how to authenticate, what to ask for, its own limits."""

    name: Name
    api: Api = "clanker"
    url: str
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    auth: Auth
    provider: str | None = None
    model: str = Field(min_length=1)
    timeout: Duration = 20.0
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    source: str = "alert-explainer"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    ca_file: Path | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    limits: InferenceLimits = Field(default_factory=InferenceLimits)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_the_api(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        api = data.get("api", "clanker")
        if api not in _DEFAULTS:
            return data  # the `api` field reports it
        missing = [
            f"{key} is required with api: {api} ({hint})"
            for key, hint in _REQUIRED.get(api, {}).items()
            if data.get(key) is None
        ]
        if missing:
            raise ValueError("; ".join(missing))
        return {**_DEFAULTS[api], **data}

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not HTTP_URL.match(value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name} is set by the service itself")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BackendSettings:
        problems: list[str] = []
        if self.api_key is not None and self.api_key_file is not None:
            problems.append("set api_key or api_key_file, not both")
        if self.api == "clanker":
            problems += [
                f"{f} is not part of the Clanker API; remove it"
                for f in _OPENAI_ONLY
                if getattr(self, f) is not None
            ]
            if self.auth not in _CLANKER_AUTH:
                problems.append(f"auth {self.auth} is not accepted by the Clanker API")
        else:
            problems += [
                f"{f} is only sent with api: clanker; remove it"
                for f in _CLANKER_ONLY
                if f in self.model_fields_set and getattr(self, f)
            ]
        if self.auth == "none" and (self.api_key is not None or self.api_key_file is not None):
            problems.append("auth none sends no key; remove the key or choose an auth scheme")
        header = AUTH_HEADERS.get(self.auth, "").lower()
        if header and any(name.lower() == header for name in self.headers):
            problems.append(f"headers: {AUTH_HEADERS[self.auth]} is set by auth {self.auth}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def needs_key(self) -> bool:
        """Whether this backend authenticates with a key (every auth but `none`)."""
        return self.auth != "none"

    def resolved_api_key(self) -> str | None:
        """The API key, read from `api_key_file` when that is how it was given."""
        if self.api_key_file is not None:
            return self.api_key_file.read_text(encoding="utf-8").strip() or None
        return self.api_key.get_secret_value() if self.api_key else None


class InferenceSettings(BackendSettings):
    """The first backend, what every backend shares, and the fallbacks (docs/configuration.md)."""

    explanation_ttl: Duration = 24 * 3600.0
    # Situation reuse (docs/configuration.md#situations): a group's explanation is reused,
    # without a call, for this long while its situation stays the same; 0 turns it off.
    reexplain_after: DurationOrZero = 3600.0
    # ...and while its firing alerts number at most this many times those it was made for.
    reexplain_growth: float = Field(default=2.0, ge=1.0, allow_inf_nan=False)
    max_connections: int = Field(default=100, ge=1)
    # The user prompt's size budget; beyond it alerts are summarised (docs/configuration.md).
    prompt_budget_bytes: int = Field(default=24_000, ge=2_000)
    fallbacks: list[BackendSettings] = Field(default_factory=list)
    # The whole chain's deadline, every backend's tries included; default: their timeouts added.
    deadline: Duration | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> InferenceSettings:
        seen = {self.name}
        for i, fallback in enumerate(self.fallbacks):
            if fallback.name in seen:
                raise ValueError(
                    f"fallbacks[{i}].name: {fallback.name!r} is already used by another backend; "
                    "give each backend its own name"
                )
            seen.add(fallback.name)
        return self

    @property
    def backends(self) -> list[BackendSettings]:
        """Every backend in the order they are tried: this one first, then the fallbacks."""
        return [self, *self.fallbacks]

    @property
    def chain_deadline(self) -> float:
        """Seconds one explanation may take at most, failover included."""
        return self.deadline or sum(b.timeout for b in self.backends)

    def backend(self, name: str) -> BackendSettings | None:
        """The backend called `name`, or None."""
        return next((b for b in self.backends if b.name == name), None)
