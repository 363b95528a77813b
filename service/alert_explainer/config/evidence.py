"""`evidence`: the facts gathered from the cluster's Prometheus before the paid call.

With no `evidence` section nothing is gathered. Recipes follow the schema shared with the
built-in catalogue (helpers' RECIPES.md, documented in docs/evidence.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from alert_explainer.config.auth import BasicAuthCredentials
from alert_explainer.config.types import HTTP_URL, Duration, Matchers, Model

RECIPE_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class QueryApiSettings(Model):
    """An HTTP API the service reads from (Prometheus-compatible, or Alertmanager's)."""

    url: str
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None  # read on every request: projected tokens rotate
    basic_auth: BasicAuthCredentials | None = None
    ca_file: Path | None = None  # extra CA bundle for this peer's certificate
    headers: dict[str, SecretStr] = Field(default_factory=dict)  # e.g. X-Scope-OrgID (Mimir)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not HTTP_URL.match(value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> QueryApiSettings:
        if self.bearer_token is not None and self.bearer_token_file is not None:
            raise ValueError("set bearer_token or bearer_token_file, not both")
        bearer = self.bearer_token is not None or self.bearer_token_file is not None
        if bearer and self.basic_auth is not None:
            raise ValueError("set a bearer token or basic_auth, not both")
        return self


class Recipe(Model):
    """One extra query for an alert and how its result becomes lines (docs/evidence.md)."""

    name: str = Field(pattern=RECIPE_NAME)
    title: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=8192)
    kind: Literal["instant", "range"] = "instant"
    line: str | None = Field(default=None, max_length=2000)
    unit: Literal["bytes", "seconds", "percent", "ratio", "count", "none"] | None = None
    empty: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _renders_and_parses(self) -> Recipe:
        # evidence.recipes imports nothing from config at module level: imported when used.
        from alert_explainer.evidence.recipes import check_recipe

        check_recipe(self)
        return self


class RecipeSettings(Recipe):
    """A configured recipe: applies to alerts matching `matchers` (as in routes)."""

    matchers: Matchers = Field(min_length=1)


class EvidenceSettings(Model):
    """Where facts come from, and the time and byte budget for gathering them."""

    prometheus: QueryApiSettings
    alertmanager: QueryApiSettings | None = None  # co-firing alerts
    lookback: Duration = 3600.0  # series are read from startsAt minus this
    timeout: Duration = Field(default=3.0, le=60)  # the whole step, all sources in parallel
    max_bytes: int = Field(default=6000, ge=500)  # evidence text in the prompt
    # Notifications gathering at once per process; one beyond them goes without evidence.
    concurrency: int = Field(default=32, ge=1, le=1000)
    recipes: list[RecipeSettings] = Field(default_factory=list)

    @field_validator("recipes")
    @classmethod
    def _unique_names(cls, recipes: list[RecipeSettings]) -> list[RecipeSettings]:
        names = [r.name for r in recipes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"recipe name(s) used twice: {', '.join(repeated)}")
        return recipes
