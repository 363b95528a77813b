"""What every destination receives (`Message`), and the two steps it implements (`Sink`):
`render` builds the body without sending anything (what the operator's page shows and
previews), `send` posts it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from pydantic import SecretStr

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.catalogue.notes import Notes
from alert_explainer.errors import SinkError, TransportError
from alert_explainer.evidence.model import Evidence
from alert_explainer.explanation import Explanation, parse_explanation
from alert_explainer.prompts import timestamp
from alert_explainer.retry import retry_until
from alert_explainer.since import Since
from alert_explainer.transport import HttpClient, HttpResponse

UNAVAILABLE = "explanation unavailable"


@dataclass(frozen=True, slots=True)
class Message:
    """A notification ready to deliver: the alerts plus their explanation or why there is none.

    `evidence` is what was gathered for it (already redacted), shown with or without an
    explanation.
    """

    route: str
    notification: Notification
    explanation: str | None = None
    error: str | None = None
    model: str | None = None
    reused: bool = False  # the explanation was made earlier, for this or another state
    explained_at: datetime | None = None
    since: Since | None = None  # what changed, when it was made for another state
    evidence: Evidence = field(default_factory=Evidence)
    backend: str | None = None  # the inference backend that explained it
    notes: Notes | None = None  # the catalogue's notes on the group's main alert

    @property
    def fallback_notes(self) -> Notes | None:
        """The notes shown in place of an explanation that could not be had."""
        return self.notes if self.explanation is None and self.error is not None else None

    @property
    def explained(self) -> bool:
        """Whether the model's explanation is included."""
        return self.explanation is not None

    @property
    def reuse_note(self) -> str | None:
        """ "explanation from 10:05 UTC (35 min ago), still applies: 5 pods firing now, ..."

        Shown wherever the explanation is, when it was made for another state of the group.
        """
        return self.since.note if self.since is not None and self.explained else None

    @property
    def headline(self) -> str:
        """One line: status, alert count and group, e.g. "[FIRING:2] alertname=X"."""
        n = self.notification
        count = len(n.firing) if n.status == "firing" else len(n.alerts)
        return f"[{n.status.upper()}:{count}] {n.title}"

    @property
    def parts(self) -> Explanation | None:
        """The explanation split into headline, what, cause and checks; None without one."""
        return None if self.explanation is None else parse_explanation(self.explanation)

    @property
    def summary(self) -> str:
        """The text to show: the explanation (after its reuse note), or the marked fallback."""
        if self.explanation is not None:
            note = self.reuse_note
            return self.explanation if note is None else f"{note}\n\n{self.explanation}"
        plain = plain_text(self.notification)
        if self.error is not None:
            notes = self.fallback_notes
            shown = f"{notes.text()}\n\n{plain}" if notes is not None else plain
            return f"{UNAVAILABLE}: {self.error}\n\n{shown}"
        return plain


def plain_text(notification: Notification, limit: int = 20) -> str:
    """The alerts without any model: a headline per alert and its main annotations."""
    lines = [f"[{notification.status.upper()}] {notification.title}"]
    for alert in notification.alerts[:limit]:
        lines.extend(_alert_lines(alert))
    hidden = len(notification.alerts) - limit + notification.truncated_alerts
    if hidden > 0:
        lines.append(f"... and {hidden} more alert{'s' if hidden != 1 else ''}")
    return "\n".join(lines)


def _alert_lines(alert: Alert) -> list[str]:
    severity = f" ({alert.severity})" if alert.severity else ""
    text = alert.annotations.get("summary") or alert.annotations.get("description", "")
    lines = [f"- {alert.status}: {alert.name}{severity}{': ' + text if text else ''}"]
    others = {k: v for k, v in alert.labels.items() if k not in ("alertname", "severity")}
    if others:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(others.items())))
    lines.append(f"  since: {timestamp(alert.starts_at)}")
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        lines.append(f"  runbook: {runbook}")
    return lines


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message as a destination receives it, built without sending anything.

    `body` is what is posted (JSON-ready). A few destinations carry a credential inside it
    (PagerDuty's routing_key): `secrets` lists them, so wherever a body is shown they are
    masked. URLs and headers are never part of it.
    """

    body: Any
    secrets: tuple[str, ...] = ()


class Sink(Protocol):
    """A destination. `send` returns once the destination accepted the message.

    It raises SinkError otherwise, with `retryable` telling whether Alertmanager's retry
    may succeed. It never logs or raises its URL: the URL is usually the secret.
    """

    name: str

    def render(self, message: Message) -> Rendered:
        """The body this destination would receive for `message`; sends nothing.

        Raises SinkError when the message cannot be shaped for the destination at all.
        """
        ...

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Deliver one message, as `rendered` when it was rendered already."""
        ...


MASK = "[secret]"
MIN_TOKEN_LENGTH = 12
MAX_ERROR_TEXT = 500


class HttpPoster:
    """POSTs JSON to one destination with retries on 429 and 5xx inside `timeout`.

    Destinations differ in how they say "wait" and "no", so three hooks adapt it:
    `describe` picks the destination's error text out of an answer, `retry_after` reads a
    wait the destination puts in its body (Telegram, Discord) when no Retry-After header
    came, and `accept` inspects a 2xx answer for an application error (Slack's
    `ok: false`). Every error text has `secrets` (and the URL) replaced by "[secret]".
    """

    def __init__(
        self,
        sink: str,
        http: HttpClient,
        url: str,
        timeout: float,
        *,
        secrets: Sequence[str] = (),
        describe: Callable[[HttpResponse], str] | None = None,
        retry_after: Callable[[HttpResponse], float | None] | None = None,
        accept: Callable[[HttpResponse], None] | None = None,
    ) -> None:
        self._sink = sink
        self._http = http
        self._url = url
        self._timeout = timeout
        known = {url, *url_secrets(url), *(s for s in secrets if s)}
        self._secrets = sorted(known, key=len, reverse=True)
        self._describe = describe or error_text
        self._retry_after = retry_after
        self._accept = accept

    async def post(
        self, payload: Any, headers: dict[str, str] | None = None, *, url: str | None = None
    ) -> HttpResponse:
        """The destination's accepted answer; SinkError for anything else.

        `url` replaces the configured URL for this call (an API's other endpoint).
        """
        deadline = asyncio.get_running_loop().time() + self._timeout
        target = url or self._url

        async def attempt(seconds_left: float) -> HttpResponse:
            try:
                response = await self._http.post_json(
                    target, payload, timeout=seconds_left, headers=headers
                )
            except TransportError as exc:
                raise SinkError(self._sink, self.scrub(str(exc)), retryable=True) from None
            if 200 <= response.status < 300:
                if self._accept is not None:
                    try:
                        self._accept(response)
                    except SinkError as exc:
                        exc.args = (self.scrub(str(exc)),)
                        raise
                return response
            # Any other 4xx is final: sending the same request again cannot succeed.
            retryable = response.status in (408, 429) or response.status >= 500
            wait = response.retry_after()
            if wait is None and self._retry_after is not None:
                wait = self._retry_after(response)
            raise SinkError(
                self._sink,
                self.scrub(f"answered {response.status}: {self._describe(response)}"),
                retryable=retryable,
                retry_after=wait,
            )

        return await retry_until(deadline, attempt)

    def scrub(self, text: str) -> str:
        """`text` with every secret replaced, so errors and logs never carry one."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class UrlSinkSettings(Protocol):
    """What a sink posting to one configured URL needs from its settings."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> SecretStr: ...

    @property
    def timeout(self) -> float: ...


class PostingSink:
    """A destination that takes one JSON body per message at one URL (chat webhooks).

    `render(message, sink_name)` builds the body, already fitted to the destination;
    `url` adapts the configured URL (a query parameter the destination needs).
    """

    def __init__(
        self,
        settings: UrlSinkSettings,
        http: HttpClient,
        render: Callable[[Message, str], Any],
        headers: dict[str, str] | None = None,
        url: Callable[[str], str] = str,
        **poster: Any,
    ) -> None:
        self.name = settings.name
        self._render = render
        self._headers = headers
        secret = settings.url.get_secret_value()
        secrets = [secret, *(headers or {}).values(), *poster.pop("secrets", [])]
        self._poster = HttpPoster(
            settings.name, http, url(secret), settings.timeout, secrets=secrets, **poster
        )

    def render(self, message: Message) -> Rendered:
        """The JSON body for `message`, fitted to the destination."""
        return Rendered(self._render(message, self.name))

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Post the rendered body; SinkError unless the destination accepts it."""
        body = (rendered or self.render(message)).body
        await self._poster.post(body, headers=self._headers)


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be a token: long path segments and query values.

    Webhook URLs carry their secret there (Slack's `/services/T/B/<token>`, Google
    Chat's `?token=`, Teams' `&sig=`), and a destination may echo it in an error.
    """
    parsed = urlsplit(url)
    segments = parsed.path.split("/")
    # Every tail of the path too ("T0/B0/<token>"): an echo may quote it from any segment.
    tails = ["/".join(segments[i:]) for i in range(len(segments))]
    candidates = segments + tails + [v for _, v in parse_qsl(parsed.query)]
    return [c for c in candidates if len(c) >= MIN_TOKEN_LENGTH]


def error_text(response: HttpResponse, text: str = "message", details: str = "errors") -> str:
    """The destination's error: its JSON `message` (and `errors`), else the body's start.

    Field names differ (Telegram's `description`, Slack's `error`); pass them.
    """
    message = json_field(response, text)
    extra = json_field(response, details)
    if message:
        return (f"{message}: {extra}" if extra else str(message))[:MAX_ERROR_TEXT]
    return response.text() or "(empty body)"


def json_field(response: HttpResponse, *path: str) -> Any:
    """`response`'s JSON body at `path` (e.g. "parameters", "retry_after"), or None."""
    try:
        value: Any = response.json()
    except ValueError:
        return None
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
