"""`redaction`: what is removed from alert text before it leaves for the inference API."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from alert_explainer.config.types import Model, Name


class RedactionRule(Model):
    """An extra redaction: matches of `regex` become [REDACTED:<name>]."""

    name: Name
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class RedactionSettings(Model):
    """What is removed from alert text before it leaves for the inference API."""

    builtin: bool = True  # the built-in secret shapes (docs/security.md)
    rules: list[RedactionRule] = Field(default_factory=list)
    # Label/annotation names never sent (deny), or the only ones sent (allow, when set).
    deny: list[str] = Field(default_factory=list)
    allow: list[str] | None = None
