"""`state` and `http`: the shared state backend and the outbound HTTP client."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator

from alert_explainer.config.types import Model


class StateSettings(Model):
    """Where the explanation cache, delivery records and budgets live."""

    backend: Literal["memory", "redis"] = "memory"
    url: SecretStr | None = None  # redis://[:password@]host:port/db
    key_prefix: str = "alert-explainer:"

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StateSettings:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend redis needs url (redis://host:6379/0)")
        return self


class HttpSettings(Model):
    """The outbound HTTP client shared by inference and sinks."""

    ca_file: Path | None = None  # extra CA bundle for verifying HTTPS peers
    # Only for a lab: certificate checks off. Logged loudly at start-up.
    insecure_skip_verify: bool = False
