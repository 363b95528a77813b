"""`routes`: where a notification goes, how it is explained, and its prompt templates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from alert_explainer.config.auth import AuthSettings
from alert_explainer.config.types import Matchers, Model, Name


class TemplateSettings(Model):
    """Jinja2 templates for the two prompt messages, inline or from files."""

    system: str | None = None
    user: str | None = None
    system_file: Path | None = None
    user_file: Path | None = None

    @model_validator(mode="after")
    def _one_source_each(self) -> TemplateSettings:
        for part in ("system", "user"):
            if getattr(self, part) is not None and getattr(self, f"{part}_file") is not None:
                raise ValueError(f"set {part} or {part}_file, not both")
        return self


class RouteSettings(Model):
    """Where a notification posted to `/webhook/<name>` goes and how it is explained."""

    name: Name
    sinks: list[Name] = Field(min_length=1)
    # Which notifications POST /webhook sends here (all given must match; none = all).
    receiver: str | None = None  # regular expression on the receiver name
    status: Literal["firing", "resolved"] | None = None
    matchers: Matchers = Field(default_factory=list)  # on group and common labels
    # Only notifications with an alert matching all of these are explained; none = all.
    explain: Matchers = Field(default_factory=list)
    explain_resolved: bool = False
    model: str | None = None
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    auth: AuthSettings | None = None  # replaces the global `auth` for this route

    @field_validator("receiver")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value
