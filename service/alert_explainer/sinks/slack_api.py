"""The `slack_api` sink: `chat.postMessage` with a bot token, one thread per alert group.

The first notification of a group starts a message; every later one (reminders, new
alerts, the resolution) is a reply under it, so a channel shows one line per incident.
The parent's `ts` is kept in the state store per (sink, channel, group) for
`thread_ttl` (7 days by default); after that a group starts a new thread. First
notifications that race (replicas, retries) still give one parent: see sinks/threads.py.

Contract (docs.slack.dev, chat.postMessage): `Authorization: Bearer xoxb-…`; application
errors are HTTP 200 with `{"ok": false, "error": "..."}`; `ratelimited` and HTTP 429
(with Retry-After) mean try later. Blocks and limits are the same as the `slack` sink.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alert_explainer.config import SlackApiSinkSettings
from alert_explainer.errors import SinkError
from alert_explainer.sinks.base import HttpPoster, Message, Rendered, error_text, json_field
from alert_explainer.sinks.slack import payload
from alert_explainer.sinks.threads import Threads
from alert_explainer.store import StateStore
from alert_explainer.transport import HttpClient, HttpResponse

RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
)


def thread_key(sink: str, channel: str, group_key: str) -> str:
    """The state-store key of a group's parent message."""
    digest = hashlib.sha256(group_key.encode()).hexdigest()
    return f"slack_api:thread:{sink}:{channel}:{digest}"


class SlackApiSink:
    """Posts Block Kit messages with `chat.postMessage`, threading by alert group."""

    def __init__(self, settings: SlackApiSinkSettings, http: HttpClient, state: StateStore) -> None:
        self.name = settings.name
        self._channel = settings.channel
        self._threads = Threads(state, ttl=settings.thread_ttl, wait=settings.timeout + 5.0)
        token = settings.token.get_secret_value()
        self._headers = {"Authorization": f"Bearer {token}"}
        self._poster = HttpPoster(
            settings.name,
            http,
            f"{settings.api_url}/chat.postMessage",
            settings.timeout,
            secrets=[token],
            describe=_describe,
            accept=self._accept,
        )

    def render(self, message: Message) -> Rendered:
        """The chat.postMessage body; the thread is chosen when it is sent."""
        return Rendered(
            {
                "channel": self._channel,
                **payload(message, self.name),
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Post the message, as a reply when its group already has a thread."""
        key = thread_key(self.name, self._channel, message.notification.group_key)
        body: dict[str, Any] = dict((rendered or self.render(message)).body)

        async def post(parent: str | None) -> str | None:
            threading = {"thread_ts": parent} if parent else {}
            response = await self._poster.post(body | threading, headers=self._headers)
            ts = json_field(response, "ts")
            return ts if isinstance(ts, str) and ts else None

        await self._threads.send(key, post, self.name)

    def _accept(self, response: HttpResponse) -> None:
        """Slack answers 200 even for errors: only `ok: true` is a delivery."""
        if json_field(response, "ok") is True:
            return
        error = str(json_field(response, "error") or "unexpected answer")
        raise SinkError(
            self.name,
            f"Slack answered ok=false: {error}",
            retryable=error in RETRYABLE_ERRORS,
        )


def _describe(response: HttpResponse) -> str:
    return error_text(response, "error")
