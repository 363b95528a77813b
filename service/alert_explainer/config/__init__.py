"""Configuration: one YAML file, `${VAR}` expanded from the environment, validated by pydantic.

One module per section of the file (`server`, `inference`, `delivery`, `sinks`, `auth`,
`redaction`, `state` and `http`, `routes`, `log`, `evidence`, `ui`, `catalogue`); `settings`
joins them and checks what spans sections; `loader` reads, expands and validates.
Everything is importable from here.
"""

from alert_explainer.config.auth import AuthSettings, BasicAuthCredentials
from alert_explainer.config.catalogue import CatalogueEntry, read_entries
from alert_explainer.config.delivery import DeliverySettings
from alert_explainer.config.evidence import (
    EvidenceSettings,
    QueryApiSettings,
    Recipe,
    RecipeSettings,
)
from alert_explainer.config.inference import (
    API_KEY_ENV,
    DEFAULT_INFERENCE_URL,
    OTHER_PRIORITY,
    BackendSettings,
    BreakerSettings,
    InferenceLimits,
    InferenceSettings,
    PrioritySettings,
)
from alert_explainer.config.loader import CONFIG_PATH_ENV, load_settings
from alert_explainer.config.log import LogSettings
from alert_explainer.config.redaction import RedactionRule, RedactionSettings
from alert_explainer.config.routes import RouteSettings, TemplateSettings
from alert_explainer.config.server import LimitSettings, ServerSettings
from alert_explainer.config.settings import Settings
from alert_explainer.config.sinks import (
    AlertmanagerSinkSettings,
    DiscordSinkSettings,
    GoogleChatSinkSettings,
    LogSinkSettings,
    MattermostSinkSettings,
    MSTeamsSinkSettings,
    NtfySinkSettings,
    OpsgenieSinkSettings,
    PagerDutySinkSettings,
    SinkSettings,
    SlackApiSinkSettings,
    SlackSinkSettings,
    TelegramSinkSettings,
    WebhookSinkSettings,
)
from alert_explainer.config.state import HttpSettings, StateSettings
from alert_explainer.config.types import Duration, Name, parse_duration
from alert_explainer.config.ui import UiSettings

__all__ = [
    "API_KEY_ENV",
    "CONFIG_PATH_ENV",
    "DEFAULT_INFERENCE_URL",
    "OTHER_PRIORITY",
    "AlertmanagerSinkSettings",
    "AuthSettings",
    "BackendSettings",
    "BasicAuthCredentials",
    "BreakerSettings",
    "CatalogueEntry",
    "DeliverySettings",
    "DiscordSinkSettings",
    "Duration",
    "EvidenceSettings",
    "GoogleChatSinkSettings",
    "HttpSettings",
    "InferenceLimits",
    "InferenceSettings",
    "LimitSettings",
    "LogSettings",
    "LogSinkSettings",
    "MSTeamsSinkSettings",
    "MattermostSinkSettings",
    "Name",
    "NtfySinkSettings",
    "OpsgenieSinkSettings",
    "PagerDutySinkSettings",
    "PrioritySettings",
    "QueryApiSettings",
    "Recipe",
    "RecipeSettings",
    "RedactionRule",
    "RedactionSettings",
    "RouteSettings",
    "ServerSettings",
    "Settings",
    "SinkSettings",
    "SlackApiSinkSettings",
    "SlackSinkSettings",
    "StateSettings",
    "TelegramSinkSettings",
    "TemplateSettings",
    "UiSettings",
    "WebhookSinkSettings",
    "load_settings",
    "parse_duration",
    "read_entries",
]
