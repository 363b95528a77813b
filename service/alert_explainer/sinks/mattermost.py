"""The `mattermost` sink: Markdown text to an incoming webhook.

Contract (mattermost-developer-documentation, integrate/webhooks/incoming): JSON with
`text` (Markdown; `**bold**`, not Slack's `*bold*`), optional `channel` and `username`;
200 `ok` on success. Posts hold at most 16,383 characters; Mattermost would split a
longer text into several posts, so we fit the message into one instead.

Safety: `@channel`, `@here`, `@all` and `@user` in `text` notify people, and Mattermost
translates Slack's `<!channel>` too. Untrusted text gets a zero-width space after every
`@`, `&`, `<` and `>` become HTML entities (so no `<!channel>` or HTML survives), and
Markdown punctuation is backslash-escaped.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.sinks.base import Message
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import fit
from alert_explainer.sinks.markup import Markup, break_mentions, document, markdown_escape

MAX_TEXT = 16_383
MAX_ALERTS_LISTED = 30


def escape(text: str) -> str:
    """Escape Mattermost Markdown, HTML and mentions."""
    entities = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return break_mentions(markdown_escape(entities, "\\*_~`|#"))


def link(target: Link) -> str:
    """A Markdown link with an escaped label."""
    url = target.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{escape(target.label)}]({url})"


MATTERMOST = Markup(escape=escape, bold=lambda text: f"**{text}**", link=link)


def payload(
    message: Message,
    sink: str = "mattermost",
    channel: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """The webhook body: one Markdown post within MAX_TEXT characters."""
    extra = {k: v for k, v in (("channel", channel), ("username", username)) if v}
    return fit(
        sink,
        message,
        lambda view: {"text": document(view, MATTERMOST), **extra},
        lambda body: len(body["text"]) <= MAX_TEXT,
        max_alerts=MAX_ALERTS_LISTED,
    )
