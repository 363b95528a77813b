"""Configuration: one YAML file, `${VAR}` expanded from the environment, validated by pydantic.

Every problem is collected before anything is reported, so `check-config` names them all at
once (key path and what was expected) instead of one per run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from alert_explainer.errors import ConfigError

DEFAULT_INFERENCE_URL = (
    "https://clanker-auth-gw-zc0ce3o.uk.gateway.dev/v1/inference/chat/completions"
)
API_KEY_ENV = "CLANKER_CLOUD_API_KEY"
CONFIG_PATH_ENV = "ALERT_EXPLAINER_CONFIG"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_duration(value: object) -> object:
    """Accept seconds as a number or an Alertmanager-style duration ("500ms", "10m", "1h30m")."""
    if isinstance(value, str):
        text = value.strip()
        if _DURATION.fullmatch(text) or re.fullmatch(rf"(?:{_DURATION.pattern})+", text):
            return sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(text))
        try:
            return float(text)
        except ValueError:
            raise ValueError(
                f"expected a duration such as 20, 20s, 10m or 24h, got {value!r}"
            ) from None
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitSettings(_Model):
    """Bounds on what a sender controls; beyond them a clear 4xx or a documented truncation."""

    max_alerts: int = Field(default=20_000, ge=1)  # per notification, else 413
    max_labels: int = Field(default=200, ge=1)  # labels + annotations per alert, else 422
    max_value_length: int = Field(default=4096, ge=64)  # longer values are cut in the prompt
    max_depth: int = Field(default=32, ge=4)  # JSON nesting, else 400


class ServerSettings(_Model):
    """How the HTTP server listens and how long a webhook request may wait."""

    host: str = "0.0.0.0"  # noqa: S104 - a container service listens on all interfaces
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Alertmanager cuts a webhook call off at max(10 s, group_interval); answering 503 a
    # little before that keeps its retry loop attached to the work already under way.
    respond_within: Duration = 8.0
    # On SIGTERM, /readyz fails at once but webhooks are still served for this long, so
    # Kubernetes removes the pod from the Service before the listener closes.
    shutdown_delay: float = Field(default=5.0, ge=0)
    # Then, how long notifications in progress may take before the process exits.
    shutdown_grace: Duration = 25.0
    limits: LimitSettings = Field(default_factory=LimitSettings)


class InferenceLimits(_Model):
    """Spend controls. Beyond any of them a notification is delivered at once with the fallback."""

    concurrency: int = Field(default=8, ge=1)  # calls in flight at once
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class BreakerSettings(_Model):
    """After `failures` consecutive failed calls, stop calling for `cooldown`, then probe."""

    failures: int = Field(default=5, ge=1)
    cooldown: Duration = 30.0


class InferenceSettings(_Model):
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


class DeliverySettings(_Model):
    """Duplicate suppression across Alertmanager's retries and HA peers."""

    # Must stay below the user's repeat_interval, or reminders would be swallowed.
    dedup_window: Duration = 600.0
    # sync: answer Alertmanager once every sink has the message (the default).
    # async: answer 202 once the notification is in a durable queue; a worker delivers it.
    mode: Literal["sync", "async"] = "sync"
    queue_path: Path = Path("/var/lib/alert-explainer/queue.sqlite3")
    queue_max: int = Field(default=10_000, ge=1)


class LogSinkSettings(_Model):
    """Prints each explanation to stdout as a log event."""

    type: Literal["log"]
    name: Name


_HTTP_URL = re.compile(r"^https?://[^/\s]+")
_SEVERITY = Literal["critical", "error", "warning", "info"]


def _read_secret_files(data: Any, fields: tuple[str, ...]) -> Any:
    """For each secret `x` given as `x_file`, read the file now (at start-up) into `x`."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for field in fields:
        file = data.get(f"{field}_file")
        if file is None:
            continue
        if data.get(field) is not None:
            raise ValueError(f"set {field} or {field}_file, not both")
        try:
            data[field] = Path(str(file)).read_text(encoding="utf-8").strip()
        except OSError:
            raise ValueError(f"{field}_file: no readable file at {file}") from None
    return data


class _SinkBaseSettings(_Model):
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
        return _read_secret_files(data, cls.secret_fields)

    @field_validator("api_url", "server", check_fields=False)
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        if not _HTTP_URL.match(value):
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
        if not _HTTP_URL.match(value.get_secret_value()):
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


class BasicAuthCredentials(_Model):
    """One accepted username and password (Alertmanager's http_config.basic_auth)."""

    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuthCredentials:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("set exactly one of password or password_file")
        return self


class AuthSettings(_Model):
    """Who may post webhooks: any one listed credential is enough (so tokens can rotate)."""

    bearer_tokens: list[SecretStr] = Field(default_factory=list)
    bearer_token_files: list[Path] = Field(default_factory=list)
    basic_auth: list[BasicAuthCredentials] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """Whether any credential is configured (otherwise posts are not authenticated)."""
        return bool(self.bearer_tokens or self.bearer_token_files or self.basic_auth)


class RedactionRule(_Model):
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


class RedactionSettings(_Model):
    """What is removed from alert text before it leaves for the inference API."""

    builtin: bool = True  # the built-in secret shapes (docs/security.md)
    rules: list[RedactionRule] = Field(default_factory=list)
    # Label/annotation names never sent (deny), or the only ones sent (allow, when set).
    deny: list[str] = Field(default_factory=list)
    allow: list[str] | None = None


class StateSettings(_Model):
    """Where the explanation cache, delivery records and budgets live."""

    backend: Literal["memory", "redis"] = "memory"
    url: SecretStr | None = None  # redis://[:password@]host:port/db
    key_prefix: str = "alert-explainer:"

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StateSettings:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend redis needs url (redis://host:6379/0)")
        return self


class HttpSettings(_Model):
    """The outbound HTTP client shared by inference and sinks."""

    ca_file: Path | None = None  # extra CA bundle for verifying HTTPS peers
    # Only for a lab: certificate checks off. Logged loudly at start-up.
    insecure_skip_verify: bool = False


class TemplateSettings(_Model):
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


class RouteSettings(_Model):
    """Where a notification posted to `/webhook/<name>` goes and how it is explained."""

    name: Name
    sinks: list[Name] = Field(min_length=1)
    # Which notifications POST /webhook sends here (all given must match; none = all).
    receiver: str | None = None  # regular expression on the receiver name
    status: Literal["firing", "resolved"] | None = None
    matchers: list[str] = Field(default_factory=list)  # on group and common labels
    # Only notifications with an alert matching all of these are explained; none = all.
    explain: list[str] = Field(default_factory=list)
    explain_resolved: bool = False
    model: str | None = None
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    auth: AuthSettings | None = None  # replaces the global `auth` for this route

    @field_validator("matchers", "explain")
    @classmethod
    def _valid_matchers(cls, values: list[str]) -> list[str]:
        from alert_explainer.matchers import parse_matcher  # matchers imports nothing of ours

        for value in values:
            parse_matcher(value)
        return values

    @field_validator("receiver")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class LogSettings(_Model):
    """Log output: JSON lines for machines, or console for a terminal."""

    format: Literal["json", "console"] = "json"
    level: Literal["debug", "info", "warning", "error"] = "info"


def _default_sinks() -> list[SinkSettings]:
    return [LogSinkSettings(type="log", name="log")]


def _default_routes() -> list[RouteSettings]:
    return [RouteSettings(name="default", sinks=["log"])]


class Settings(_Model):
    """The whole configuration. Built only by `load_settings`, never at import time."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    sinks: list[SinkSettings] = Field(default_factory=_default_sinks, min_length=1)
    routes: list[RouteSettings] = Field(default_factory=_default_routes, min_length=1)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)

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
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def route(self, name: str) -> RouteSettings | None:
        """The route called `name`, or None."""
        return next((r for r in self.routes if r.name == name), None)


def _repeated(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, expand and validate the configuration; raise ConfigError naming every problem.

    With no path the built-in defaults apply, with the API key taken from
    CLANKER_CLOUD_API_KEY when it is set.
    """
    env = os.environ if environ is None else environ
    if path is None:
        raw: Any = {}
        key = env.get(API_KEY_ENV, "").strip()
        if key:
            raw = {"inference": {"api_key": key}}
    else:
        raw = _read_yaml(path)
    problems: list[str] = []
    expanded = _expand(raw, env, "", problems)
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    _check_files(settings, problems)
    if problems:
        raise ConfigError(problems)
    return settings


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    return data


def _expand(value: Any, env: Mapping[str, str], where: str, problems: list[str]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string; `$$` stands for a literal `$`."""
    if isinstance(value, dict):
        return {k: _expand(v, env, _join(where, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"{where or '<root>'}: environment variable {name} is not set")
        return ""

    return _ENV_REFERENCE.sub(substitute, value)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        # Drop the union tag pydantic inserts for discriminated sinks ("sinks.0.webhook.url").
        parts = [str(p) for p in error["loc"] if p not in _SINK_TYPES]
        path = ""
        for part in parts:
            path = f"{path}[{part}]" if part.isdigit() else _join(path, part)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            message = f"unknown sink type; expected one of: {', '.join(_SINK_TYPES)}"
        elif error["type"] == "union_tag_not_found":
            message = f"missing 'type'; expected one of: {', '.join(_SINK_TYPES)}"
        problems.append(f"{path or '<root>'}: {message}")
    return problems


_SINK_TYPES = tuple(
    get_args(model.model_fields["type"].annotation)[0]
    for model in get_args(get_args(SinkSettings)[0])
)


def _check_files(settings: Settings, problems: list[str]) -> None:
    files: list[tuple[str, Path | None]] = [
        ("inference.api_key_file", settings.inference.api_key_file),
        ("http.ca_file", settings.http.ca_file),
    ]
    auths = [("auth", settings.auth)] + [
        (f"routes[{i}].auth", r.auth) for i, r in enumerate(settings.routes) if r.auth
    ]
    for where, auth in auths:
        files += [
            (f"{where}.bearer_token_files[{i}]", f) for i, f in enumerate(auth.bearer_token_files)
        ]
        files += [
            (f"{where}.basic_auth[{i}].password_file", c.password_file)
            for i, c in enumerate(auth.basic_auth)
        ]
    for i, route in enumerate(settings.routes):
        files += [
            (f"routes[{i}].templates.{part}", getattr(route.templates, part))
            for part in ("system_file", "user_file")
        ]
    for where, file in files:
        if file is not None and not file.is_file():
            problems.append(f"{where}: no readable file at {file}")
