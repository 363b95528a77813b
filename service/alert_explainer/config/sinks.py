"""`sinks`: one settings model per destination type, told apart by `type`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import Field, SecretStr, field_validator, model_validator

from alert_explainer.config.types import HTTP_URL, Duration, Model, Name, read_secret_files


class LogSinkSettings(Model):
    """Prints each explanation to stdout as a log event."""

    type: Literal["log"]
    name: Name


_SEVERITY = Literal["critical", "error", "warning", "info"]


class _SinkBaseSettings(Model):
    """What every HTTP destination has: a name, its own timeout, secrets inline or in files.

    Validation messages never contain a secret's value (URLs usually are secrets).
    """

    # Fields that may instead be given as `<field>_file`.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    name: Name
    timeout: Duration = 10.0

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        return read_secret_files(data, cls.secret_fields)

    @field_validator("api_url", "server", check_fields=False)
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        if not HTTP_URL.match(value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("token", "routing_key", "api_key", check_fields=False)
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class _HttpSinkSettings(_SinkBaseSettings):
    secret_fields = ("url",)

    url: SecretStr
    url_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if not HTTP_URL.match(value.get_secret_value()):
            raise ValueError("expected an http:// or https:// URL")
        return value


class WebhookSinkSettings(_HttpSinkSettings):
    """POSTs the explanation and the original payload as versioned JSON."""

    type: Literal["webhook"]
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    version: Literal[1, 2] = 1  # the document schema (docs/destinations.md)
    max_bytes: int | None = Field(default=None, ge=4096)  # version 2 only


class SlackSinkSettings(_HttpSinkSettings):
    """Posts Block Kit messages to a Slack incoming webhook."""

    type: Literal["slack"]


class SlackApiSinkSettings(_SinkBaseSettings):
    """Posts with a bot token (chat.postMessage), threading a group's messages."""

    secret_fields = ("token",)

    type: Literal["slack_api"]
    token: SecretStr
    token_file: Path | None = None
    channel: str = Field(min_length=1)
    api_url: str = "https://slack.com/api"
    thread_ttl: Duration = 7 * 86400.0


class MSTeamsSinkSettings(_HttpSinkSettings):
    """Posts an Adaptive Card to a Teams Workflows webhook."""

    type: Literal["msteams"]

    @field_validator("url")
    @classmethod
    def _not_a_retired_connector(cls, value: SecretStr) -> SecretStr:
        host = re.sub(r"^https?://([^/?#]+).*$", r"\1", value.get_secret_value()).lower()
        if host.endswith(("webhook.office.com", "outlook.office.com")):
            raise ValueError(
                "Office 365 connector webhooks (webhook.office.com) are retired; create a "
                "Teams Workflows webhook (trigger 'When a Teams webhook request is received') "
                "and use its URL"
            )
        return value


class DiscordSinkSettings(_HttpSinkSettings):
    """Posts an embed to a Discord channel webhook."""

    type: Literal["discord"]
    username: str | None = Field(default=None, min_length=1, max_length=80)


class GoogleChatSinkSettings(_HttpSinkSettings):
    """Posts a card to a Google Chat space webhook, one thread per alert group."""

    type: Literal["googlechat"]


class MattermostSinkSettings(_HttpSinkSettings):
    """Posts Markdown to a Mattermost incoming webhook."""

    type: Literal["mattermost"]
    channel: str | None = None
    username: str | None = None


class PagerDutySinkSettings(_SinkBaseSettings):
    """Triggers and resolves PagerDuty incidents (Events API v2), one per alert group."""

    secret_fields = ("routing_key",)

    type: Literal["pagerduty"]
    routing_key: SecretStr
    routing_key_file: Path | None = None
    api_url: str = "https://events.pagerduty.com"
    default_severity: _SEVERITY = "error"  # when the severity label is missing or unknown


class OpsgenieSinkSettings(_SinkBaseSettings):
    """Creates and closes Opsgenie alerts, one per alert group."""

    secret_fields = ("api_key",)

    type: Literal["opsgenie"]
    api_key: SecretStr
    api_key_file: Path | None = None
    api_url: str = "https://api.opsgenie.com"


class TelegramSinkSettings(_SinkBaseSettings):
    """Sends an HTML message to a Telegram chat with a bot token."""

    secret_fields = ("token",)

    type: Literal["telegram"]
    token: SecretStr
    token_file: Path | None = None
    chat_id: int | str
    message_thread_id: int | None = None
    api_url: str = "https://api.telegram.org"


class NtfySinkSettings(_SinkBaseSettings):
    """Publishes to an ntfy topic."""

    secret_fields = ("token",)

    type: Literal["ntfy"]
    topic: str = Field(pattern=r"^[-_A-Za-z0-9]{1,64}$")
    server: str = "https://ntfy.sh"
    token: SecretStr | None = None
    token_file: Path | None = None


class AlertmanagerSinkSettings(_HttpSinkSettings):
    """Re-posts the alerts, explanation added as an annotation, to another Alertmanager."""

    type: Literal["alertmanager"]
    annotation: str = Field(default="explanation", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    headers: dict[str, SecretStr] = Field(default_factory=dict)


SinkSettings = Annotated[
    LogSinkSettings
    | WebhookSinkSettings
    | SlackSinkSettings
    | SlackApiSinkSettings
    | MSTeamsSinkSettings
    | DiscordSinkSettings
    | GoogleChatSinkSettings
    | MattermostSinkSettings
    | PagerDutySinkSettings
    | OpsgenieSinkSettings
    | TelegramSinkSettings
    | NtfySinkSettings
    | AlertmanagerSinkSettings,
    Field(discriminator="type"),
]

# The `type` of every destination, for error messages.
SINK_TYPES = tuple(
    get_args(model.model_fields["type"].annotation)[0]
    for model in get_args(get_args(SinkSettings)[0])
)
