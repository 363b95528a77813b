"""The `discord` sink: one embed posted to a channel webhook (Execute Webhook).

Limits (discord-api-docs, resources/message.mdx "Embed Limits" and webhook.mdx):
content 2,000 characters; embed title 256, description 4,096, at most 25 fields with
name 256 and value 1,024; the title, description, field names and values of all embeds
together at most 6,000, else 400. Characters are counted as UTF-16 code units here,
which is never fewer than Discord counts.

Safety: `allowed_mentions: {"parse": []}` means nothing in the message can ping anyone;
untrusted text is also Markdown-escaped and every `@` is followed by a zero-width space,
so `@everyone` or `<@123>` shows as text instead of a highlighted mention.
`?wait=true` makes Discord validate and save the message before answering 200.
A 429 carries `retry_after` (seconds) in its JSON body as well as the Retry-After header.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.sinks.base import Message, json_field
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import View, clip, fit, utf16_length
from alert_explainer.sinks.markup import (
    Markup,
    alerts_text,
    break_mentions,
    evidence_text,
    links_line,
    markdown_escape,
    section_text,
)
from alert_explainer.transport import HttpResponse

MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_EMBED_TOTAL = 6000
MAX_ALERTS_LISTED = 10
COLORS = {"firing": 0xE01E5A, "resolved": 0x2EB67D}


def escape(text: str) -> str:
    """Escape Discord Markdown and break every mention (`@everyone`, `<@id>`, `@here`)."""
    return break_mentions(markdown_escape(text, "\\*_~`|<>"))


def link(target: Link) -> str:
    """A masked link (allowed in embeds)."""
    url = target.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{escape(target.label)}]({url})"


DISCORD = Markup(escape=escape, bold=lambda text: f"**{text}**", link=link)


def _field(name: str, value: str, inline: bool = False) -> dict[str, Any]:
    return {"name": name, "value": value, "inline": inline}


def _split(text: str, size: int) -> list[str]:
    """Lines packed into pieces of at most `size` (each line is already short)."""
    pieces: list[str] = []
    for line in text.splitlines():
        line = clip(line, size, measure=utf16_length)
        if pieces and utf16_length(pieces[-1]) + 1 + utf16_length(line) <= size:
            pieces[-1] += "\n" + line
        else:
            pieces.append(line)
    return pieces


def embed(view: View) -> dict[str, Any]:
    """The embed: explanation in the description, facts, alerts and links as fields."""
    f = view.facts
    description = [DISCORD.bold(escape(view.headline))] if view.headline else []
    if view.reuse_note:
        description.append(f"♻️ {escape(view.reuse_note)}")
    description += [section_text(s, DISCORD) for s in view.sections]
    if view.notice:
        description.append(f"⚠️ {escape(view.notice)}")
    fields = [
        _field(label, clip(value, 200, escape, utf16_length), True) for label, value in f.pairs()
    ]
    if view.evidence:
        evidence = evidence_text(view, DISCORD, heading=False)
        for i, piece in enumerate(_split(evidence, MAX_FIELD_VALUE)):
            fields.append(_field("Evidence" if i == 0 else "Evidence (continued)", piece))
    if view.alerts or view.more_alerts:
        for i, piece in enumerate(_split(alerts_text(view, DISCORD), MAX_FIELD_VALUE)):
            fields.append(_field("Alerts" if i == 0 else "Alerts (continued)", piece))
    if view.links:
        fields.append(_field("Links", links_line(view.links, DISCORD)))
    result: dict[str, Any] = {
        "title": clip(f.title, MAX_TITLE, escape, utf16_length),
        "description": "\n\n".join(description),
        "color": COLORS.get(f.status, 0x808080),
        "fields": fields,
    }
    if f.links:
        result["url"] = f.links[-1].url  # the silence form, or Alertmanager
    return result


def embed_size(e: dict[str, Any]) -> int:
    """What Discord adds up against MAX_EMBED_TOTAL."""
    texts = [e.get("title", ""), e.get("description", "")]
    texts += [part for f in e.get("fields", []) for part in (f["name"], f["value"])]
    return sum(utf16_length(t) for t in texts)


def fits(body: dict[str, Any]) -> bool:
    """Whether every Discord limit holds for `body`."""
    (e,) = body["embeds"]
    fields = e["fields"]
    return (
        utf16_length(body["content"]) <= MAX_CONTENT
        and utf16_length(e["description"]) <= MAX_DESCRIPTION
        and len(fields) <= MAX_FIELDS
        and all(utf16_length(f["value"]) <= MAX_FIELD_VALUE for f in fields)
        and embed_size(e) <= MAX_EMBED_TOTAL
    )


def payload(message: Message, sink: str = "discord", username: str | None = None) -> dict[str, Any]:
    """The Execute Webhook body, fitted to every embed limit."""

    def render(view: View) -> dict[str, Any]:
        body: dict[str, Any] = {
            "content": clip(view.facts.title, MAX_CONTENT, escape, utf16_length),
            "embeds": [embed(view)],
            "allowed_mentions": {"parse": []},
        }
        if username:
            body["username"] = username
        return body

    return fit(sink, message, render, fits, max_alerts=MAX_ALERTS_LISTED)


def retry_after(response: HttpResponse) -> float | None:
    """Discord's 429 body: `{"retry_after": 1.5, ...}` in seconds."""
    value = json_field(response, "retry_after")
    return float(value) if isinstance(value, int | float) else None


def with_wait(url: str) -> str:
    """The webhook URL asking Discord to confirm the message was saved."""
    return url + ("&" if "?" in url else "?") + "wait=true"
