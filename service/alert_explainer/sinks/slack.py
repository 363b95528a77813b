"""The `slack` sink: a Block Kit message to an incoming webhook.

Limits (docs.slack.dev, Block Kit reference): at most 50 blocks; section text 1-3,000
characters; at most 10 section fields of 2,000; header plain_text at most 150; top-level
`text` is the notification fallback and stays short. Every user-controlled string is
escaped for mrkdwn (`&`, `<`, `>` only), which also disarms `<!channel>`-style pings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.config import SlackSinkSettings
from alert_explainer.sinks.base import UNAVAILABLE, HttpPoster, Message
from alert_explainer.transport import HttpClient

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
MAX_ALERTS_LISTED = 10
ICONS = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link, or the escaped label when `url` is not plain http(s)."""
    if not url.startswith(("http://", "https://")):
        return escape(label)
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label)}>"


def truncate(text: str, limit: int, marker: str = " …(truncated)") -> str:
    """`text` cut to at most `limit` characters, with a visible marker when cut."""
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def _chunks(text: str, size: int) -> list[str]:
    """Split on line boundaries where possible, never producing a chunk over `size`."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            chunks.append(current)
            current = ""
        current += line
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def silence_url(notification: Notification) -> str | None:
    """Alertmanager's "new silence" page pre-filled with the group's labels."""
    if not notification.external_url.startswith(("http://", "https://")):
        return None
    labels = notification.group_labels or notification.common_labels
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    base = notification.external_url.rstrip("/")
    return f"{base}/#/silences/new?filter={quote('{' + matchers + '}')}"


def _alert_line(alert: Alert) -> str:
    severity = f" ({escape(alert.severity)})" if alert.severity else ""
    summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
    parts = [f"• *{escape(alert.name)}*{severity} {alert.status}"]
    if summary:
        parts.append(f": {escape(truncate(summary, 300))}")
    links = [
        link(url, label)
        for url, label in (
            (alert.annotations.get("runbook_url", ""), "runbook"),
            (alert.generator_url, "source"),
        )
        if url
    ]
    if links:
        parts.append(" · " + " · ".join(links))
    return "".join(parts)


def blocks(message: Message) -> list[dict[str, Any]]:
    """The Block Kit blocks for a message, within Slack's limits."""
    n = message.notification
    result: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(message.headline, MAX_HEADER_TEXT, "…"),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": truncate(f"*{label}*\n{escape(value)}", MAX_FIELD_TEXT)}
                for label, value in (
                    ("Status", f"{ICONS.get(n.status, '')} {n.status}".strip()),
                    ("Severity", n.common_labels.get("severity", "mixed")),
                    ("Alerts", f"{len(n.firing)} firing, {len(n.resolved)} resolved"),
                    ("Group", n.title),
                )
            ],
        },
    ]
    if message.explanation is not None:
        # Room left for the alert list and links; the explanation is shortened first.
        for chunk in _chunks(escape(message.explanation), MAX_SECTION_TEXT)[:3]:
            result.append(_section(chunk))
    elif message.error is not None:
        result.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": truncate(f":warning: {UNAVAILABLE}: {escape(message.error)}", 2000),
                    }
                ],
            }
        )
    lines = [_alert_line(a) for a in n.alerts[:MAX_ALERTS_LISTED]]
    hidden = len(n.alerts) - len(lines) + n.truncated_alerts
    if hidden > 0:
        lines.append(f"… and {hidden} more alert{'s' if hidden != 1 else ''}")
    for chunk in _chunks("\n".join(lines), MAX_SECTION_TEXT)[:3]:
        result.append(_section(chunk))
    footer = [
        link(url, label)
        for url, label in ((n.external_url, "Alertmanager"), (silence_url(n) or "", "Silence"))
        if url
    ]
    if footer:
        result.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(footer)}]}
        )
    return result[:MAX_BLOCKS]


def payload(message: Message) -> dict[str, Any]:
    """The incoming-webhook body: fallback text plus blocks."""
    return {
        "text": truncate(escape(message.headline), MAX_FALLBACK_TEXT),
        "blocks": blocks(message),
    }


class SlackSink:
    """Posts `payload(message)` to a Slack incoming webhook."""

    def __init__(self, settings: SlackSinkSettings, http: HttpClient) -> None:
        self.name = settings.name
        self._poster = HttpPoster(
            settings.name, http, settings.url.get_secret_value(), settings.timeout
        )

    async def send(self, message: Message) -> None:
        await self._poster.post(payload(message))
