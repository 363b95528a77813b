"""The `slack` sink: a Block Kit message to an incoming webhook.

Limits (docs.slack.dev, Block Kit reference): at most 50 blocks; section text 1-3,000
characters; at most 10 section fields of 2,000; header plain_text at most 150. Slack
publishes no total for section blocks; we keep a message's text within 12,000
characters (the `markdown` block's documented cumulative limit), which is also about
what a reader takes in. Top-level `text` is the notification fallback and stays short.
Every user-controlled string is escaped for mrkdwn (`&`, `<`, `>` only), which also
disarms `<!channel>`-style pings.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.sinks.base import Message
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import View, clip, fit
from alert_explainer.sinks.markup import (
    Markup,
    alerts_text,
    evidence_text,
    links_line,
    section_text,
)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
MAX_MESSAGE_TEXT = 12_000
MAX_ALERTS_LISTED = 20
ICONS = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(target: Link) -> str:
    """A mrkdwn link; the URL's own `|`, `<` and `>` are percent-encoded."""
    safe_url = target.url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(target.label)}>"


MRKDWN = Markup(escape=escape, bold=lambda text: f"*{text}*", link=link)


def chunks(text: str, size: int) -> list[str]:
    """Split escaped text into pieces of at most `size`, on line breaks where possible.

    A line too long for the room left is cut at a space near the end when there is one,
    and never inside an `&amp;`-style entity.
    """
    result: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if len(current) + len(line) > size and len(line) <= size and current.strip():
            result.append(current)
            current = ""
        while len(current) + len(line) > size:
            cut = _cut_point(line, size - len(current))
            result.append(current + line[:cut])
            current, line = "", line[cut:]
        current += line
    result.append(current)
    return [c for c in result if c.strip()]


def _cut_point(line: str, room: int) -> int:
    cut = room
    space = line.rfind(" ", int(room * 0.8), room)
    if space > 0:
        cut = space + 1
    amp = line.rfind("&", max(0, cut - 6), cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp
    return max(cut, 1)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def blocks(view: View) -> list[dict[str, Any]]:
    """The Block Kit blocks for a view, each within its block's limits."""
    f = view.facts
    result: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(f.title, MAX_HEADER_TEXT), "emoji": True},
        }
    ]
    if view.headline:
        result.append(_section(f"*{clip(view.headline, MAX_SECTION_TEXT - 2, escape)}*"))
    if view.reuse_note:
        result.append(_context(":recycle: " + clip(view.reuse_note, MAX_FIELD_TEXT - 12, escape)))
    pairs = [(label, value) for label, value in f.pairs() if label != "Status"]
    status = [("Status", f"{ICONS.get(f.status, '')} {f.status}".strip())]
    result.append(
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*{label}*\n" + clip(value, MAX_FIELD_TEXT - 20, escape),
                }
                for label, value in status + pairs
            ],
        }
    )
    for part in view.sections:
        result += [_section(c) for c in chunks(section_text(part, MRKDWN), MAX_SECTION_TEXT)]
    if view.notice:
        result.append(_context(":warning: " + clip(view.notice, MAX_FIELD_TEXT - 12, escape)))
    if view.evidence:
        result += [_section(c) for c in chunks(evidence_text(view, MRKDWN), MAX_SECTION_TEXT)]
    if view.alerts or view.more_alerts:
        listed = "*Alerts*\n" + alerts_text(view, MRKDWN)
        result += [_section(c) for c in chunks(listed, MAX_SECTION_TEXT)]
    if view.links:
        result.append(_context(links_line(view.links, MRKDWN)))
    return result


def fallback_text(view: View) -> str:
    """The notification text (push, sidebar): title and headline."""
    text = f"{view.facts.title} {view.headline}".strip()
    return clip(text, MAX_FALLBACK_TEXT, escape)


def text_size(blocks: list[dict[str, Any]]) -> int:
    """Characters of text across all blocks (what MAX_MESSAGE_TEXT bounds)."""

    def walk(node: Any) -> int:
        if isinstance(node, dict):
            own = len(node["text"]) if isinstance(node.get("text"), str) else 0
            return own + sum(walk(v) for v in node.values() if not isinstance(v, str))
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    return walk(blocks)


def fits(payload: dict[str, Any]) -> bool:
    """Whether a payload is within Slack's block count and our text budget."""
    return len(payload["blocks"]) <= MAX_BLOCKS and text_size(payload["blocks"]) <= MAX_MESSAGE_TEXT


def payload(message: Message, sink: str = "slack") -> dict[str, Any]:
    """The message body (fallback text plus blocks) fitted to Slack's limits."""

    def render(view: View) -> dict[str, Any]:
        return {"text": fallback_text(view), "blocks": blocks(view)}

    return fit(sink, message, render, fits, max_alerts=MAX_ALERTS_LISTED)
