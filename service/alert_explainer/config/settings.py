"""The whole configuration: every section, and the checks that span sections."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from alert_explainer.config.auth import AuthSettings
from alert_explainer.config.catalogue import CatalogueEntry
from alert_explainer.config.delivery import DeliverySettings
from alert_explainer.config.evidence import EvidenceSettings
from alert_explainer.config.inference import InferenceSettings
from alert_explainer.config.log import LogSettings
from alert_explainer.config.redaction import RedactionSettings
from alert_explainer.config.routes import RouteSettings
from alert_explainer.config.server import ServerSettings
from alert_explainer.config.sinks import LogSinkSettings, SinkSettings
from alert_explainer.config.state import HttpSettings, StateSettings
from alert_explainer.config.types import Model
from alert_explainer.config.ui import UiSettings


def _default_inference() -> InferenceSettings:
    return InferenceSettings.model_validate({})  # the first backend's defaults come from `api`


def _default_sinks() -> list[SinkSettings]:
    return [LogSinkSettings(type="log", name="log")]


def _default_routes() -> list[RouteSettings]:
    return [RouteSettings(name="default", sinks=["log"])]


class Settings(Model):
    """The whole configuration. Built only by `load_settings`, never at import time."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    inference: InferenceSettings = Field(default_factory=_default_inference)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    sinks: list[SinkSettings] = Field(default_factory=_default_sinks, min_length=1)
    routes: list[RouteSettings] = Field(default_factory=_default_routes, min_length=1)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    evidence: EvidenceSettings | None = None  # none: nothing is gathered
    ui: UiSettings = Field(default_factory=UiSettings)
    # What the service knows about alerts (docs/catalogue.md): entries here and in the files
    # come first; one with a shipped entry's alertname and matchers replaces it.
    catalogue: list[CatalogueEntry] = Field(default_factory=list)
    catalogue_files: list[Path] = Field(default_factory=list)
    catalogue_builtin: bool = True  # the catalogue shipped with the service

    @model_validator(mode="after")
    def _references_resolve(self) -> Settings:
        problems: list[str] = []
        sink_names = [s.name for s in self.sinks]
        problems += [f"sinks: name {n!r} is used twice" for n in _repeated(sink_names)]
        route_names = [r.name for r in self.routes]
        problems += [f"routes: name {n!r} is used twice" for n in _repeated(route_names)]
        for i, route in enumerate(self.routes):
            for sink in route.sinks:
                if sink not in sink_names:
                    problems.append(
                        f"routes[{i}].sinks: unknown sink {sink!r} "
                        f"(defined sinks: {', '.join(sink_names)})"
                    )
        budget = self.inference.prompt_budget_bytes
        if self.evidence is not None and self.evidence.max_bytes > budget // 2:
            problems.append(
                f"evidence.max_bytes ({self.evidence.max_bytes}) must leave the alerts at least "
                f"half of inference.prompt_budget_bytes ({budget}): at most {budget // 2}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _workers_share_state(self) -> Settings:
        if self.server.workers > 1 and self.state.backend != "redis":
            raise ValueError(
                f"server.workers is {self.server.workers}, which needs state.backend: redis "
                "(worker processes share leases, delivery records, the explanation cache and "
                "the budgets only through Redis); set state.backend: redis and state.url, "
                "or server.workers: 1"
            )
        return self

    def route(self, name: str) -> RouteSettings | None:
        """The route called `name`, or None."""
        return next((r for r in self.routes if r.name == name), None)


def _repeated(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})
