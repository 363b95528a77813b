"""The `telegram` sink: an HTML message from a bot (`sendMessage`).

Contract (core.telegram.org/bots/api, sendMessage and "Formatting options"): text of
1-4,096 characters after entity parsing; `parse_mode: HTML` needs only `&`, `<` and `>`
escaped outside tags; answers are `{"ok": true, ...}`, or `{"ok": false, "error_code",
"description"}` with `parameters.retry_after` (seconds) on 429. We count the HTML source
(tags included) in UTF-16 code units, which is never less than what Telegram counts.

The bot token is part of the URL path (`/bot<token>/sendMessage`): it is scrubbed from
every error, and transport errors never contain the URL.
"""

from __future__ import annotations

import html
from typing import Any

from alert_explainer.config import TelegramSinkSettings
from alert_explainer.errors import SinkError
from alert_explainer.sinks.base import HttpPoster, Message, Rendered, error_text, json_field
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import fit, utf16_length
from alert_explainer.sinks.markup import Markup, document
from alert_explainer.transport import HttpClient, HttpResponse

MAX_TEXT = 4096
MAX_ALERTS_LISTED = 10


def escape(text: str) -> str:
    """Escape for Telegram's HTML mode: `&`, `<` and `>`."""
    return html.escape(text, quote=False)


def link(target: Link) -> str:
    """An `<a href>` link with an escaped label."""
    return f'<a href="{html.escape(target.url)}">{escape(target.label)}</a>'


TELEGRAM = Markup(escape=escape, bold=lambda text: f"<b>{text}</b>", link=link)


def payload(message: Message, chat_id: int | str, sink: str = "telegram") -> dict[str, Any]:
    """The sendMessage body (without thread options), within MAX_TEXT."""
    return fit(
        sink,
        message,
        lambda view: {
            "chat_id": chat_id,
            "text": document(view, TELEGRAM),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        },
        lambda body: utf16_length(body["text"]) <= MAX_TEXT,
        max_alerts=MAX_ALERTS_LISTED,
    )


def retry_after(response: HttpResponse) -> float | None:
    """Telegram's wait on 429: `parameters.retry_after` seconds."""
    value = json_field(response, "parameters", "retry_after")
    return float(value) if isinstance(value, int | float) else None


def describe(response: HttpResponse) -> str:
    """Telegram's `description`, e.g. "Bad Request: chat not found"."""
    return error_text(response, "description")


class TelegramSink:
    """Sends the message to one chat (and forum topic, when configured)."""

    def __init__(self, settings: TelegramSinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._chat_id = settings.chat_id
        self._thread = settings.message_thread_id
        token = settings.token.get_secret_value()
        self._poster = HttpPoster(
            settings.name,
            http,
            f"{settings.api_url}/bot{token}/sendMessage",
            settings.timeout,
            secrets=[token],
            describe=describe,
            retry_after=retry_after,
            accept=self._accept,
        )

    def render(self, message: Message) -> Rendered:
        """The sendMessage body, in the configured forum topic when there is one."""
        body = payload(message, self._chat_id, self.name)
        if self._thread is not None:
            body["message_thread_id"] = self._thread
        return Rendered(body)

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Send; SinkError with Telegram's description unless it answers ok."""
        await self._poster.post((rendered or self.render(message)).body)

    def _accept(self, response: HttpResponse) -> None:
        if json_field(response, "ok") is not True:
            raise SinkError(self.name, f"Telegram answered: {describe(response)}", retryable=False)
