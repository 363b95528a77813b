"""The `msteams` sink: an Adaptive Card posted to a Teams Workflows webhook.

Office 365 connector webhooks are retired (config rejects `webhook.office.com` URLs).
A Workflows flow ("When a Teams webhook request is received" + "Post card in a chat or
channel") expects the Bot Framework envelope below and loops over `attachments`.

Limits and rules (learn.microsoft.com, "Format cards in Teams" and the Teams connector's
known limitations): the whole request at most about 28 KB; Teams renders card versions
up to 1.5 (we send 1.4, which Power Automate's card action also accepts); TextBlock and
Fact values take a Markdown subset (bold, italic, lists, links) and no HTML. Untrusted
text is backslash-escaped so none of it becomes formatting or a link; Teams' mobile
clients have been reported to show such backslashes (AdaptiveCards issue #5758).
"""

from __future__ import annotations

from typing import Any

from alert_explainer.jsonout import encode_json
from alert_explainer.sinks.base import Message
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import View, clip, fit
from alert_explainer.sinks.markup import Markup, alert_line, markdown_escape

MAX_BYTES = 28_000
CARD_VERSION = "1.4"
MAX_ALERTS_LISTED = 20
MAX_TITLE = 300
COLORS = {"firing": "attention", "resolved": "good"}


def escape(text: str) -> str:
    """Escape Teams' Markdown subset: emphasis, links, code, autolinks and list marks."""
    return markdown_escape(text, "\\*_~`<>")


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def link(target: Link) -> str:
    """A Markdown link with an escaped label."""
    return f"[{escape(target.label)}]({_url(target.url)})"


# Teams starts a list item on "\r" (a lone "\n" is not a line break in a TextBlock).
TEAMS = Markup(escape=escape, bold=lambda text: f"**{text}**", link=link, bullet="- ")


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _prose(text: str) -> str:
    """Escaped prose; paragraphs need a blank line between them in a TextBlock."""
    return "\n\n".join(escape(line) for line in text.splitlines() if line.strip())


def card(view: View) -> dict[str, Any]:
    """The Adaptive Card for a view."""
    f = view.facts
    body: list[dict[str, Any]] = [
        _text(
            clip(f.title, MAX_TITLE, escape),
            size="large",
            weight="bolder",
            color=COLORS.get(f.status, "default"),
        )
    ]
    if view.headline:
        body.append(_text(escape(view.headline), weight="bolder"))
    if view.reuse_note:
        body.append(_text(escape(view.reuse_note), isSubtle=True, spacing="none"))
    body.append(
        {"type": "FactSet", "facts": [{"title": k, "value": escape(v)} for k, v in f.pairs()]}
    )
    for section in view.sections:
        body.append(_text(escape(section.label), weight="bolder", spacing="medium"))
        if section.items:
            body.append(_text("\r".join(f"- {escape(item)}" for item in section.items)))
        else:
            body.append(_text(_prose(section.text)))
    if view.notice:
        body.append(_text(escape(view.notice), color="warning"))
    if view.evidence:
        body.append(_text("Evidence", weight="bolder", spacing="medium"))
        for block in view.evidence:
            lines = "\r".join(f"- {escape(line)}" for line in block.lines)
            body.append(
                _text(f"**{escape(block.title)}**\r{lines}" if lines else escape(block.title))
            )
    if view.alerts:
        body.append(_text("Alerts", weight="bolder", spacing="medium"))
        body.append(_text("\r".join(alert_line(a, TEAMS) for a in view.alerts)))
    if view.more_alerts:
        body.append(_text(escape(view.more_alerts), isSubtle=True))
    result: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if view.links:
        result["actions"] = [
            {"type": "Action.OpenUrl", "title": target.label, "url": target.url}
            for target in view.links
        ]
    return result


def envelope(card_content: dict[str, Any]) -> dict[str, Any]:
    """The message a Workflows webhook expects around a card."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card_content,
            }
        ],
    }


def payload(message: Message, sink: str = "msteams") -> dict[str, Any]:
    """The request body, fitted to MAX_BYTES."""
    return fit(
        sink,
        message,
        lambda view: envelope(card(view)),
        lambda body: len(encode_json(body)) <= MAX_BYTES,
        max_alerts=MAX_ALERTS_LISTED,
    )
