"""`auth`: who may post webhooks (also used per route)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from alert_explainer.config.types import Model


class BasicAuthCredentials(Model):
    """One accepted username and password (Alertmanager's http_config.basic_auth)."""

    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuthCredentials:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("set exactly one of password or password_file")
        return self


class AuthSettings(Model):
    """Who may post webhooks: any one listed credential is enough (so tokens can rotate)."""

    bearer_tokens: list[SecretStr] = Field(default_factory=list)
    bearer_token_files: list[Path] = Field(default_factory=list)
    basic_auth: list[BasicAuthCredentials] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """Whether any credential is configured (otherwise posts are not authenticated)."""
        return bool(self.bearer_tokens or self.bearer_token_files or self.basic_auth)
