"""The `googlechat` sink: a card in a Google Chat space, one thread per alert group.

Contract (developers.google.com/workspace/chat, spaces.messages.create, Card reference,
usage limits): the whole message at most 32,000 bytes; at most 100 widgets per card.
Card text (textParagraph, decoratedText, section headers) takes a small HTML subset,
so untrusted text is HTML-escaped (`&`, `<`, `>`), which also keeps `<users/all>` from
being a mention. The card header and `fallbackText` (shown in notifications) are plain
text. Threading: `thread.threadKey` names the thread (derived from the group key) and
`messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` makes later notifications of
the group, including the resolution, replies in it. Chat creates the thread with the
first message of a key, so two first messages posted together could start two threads:
the first post of a group is made alone, the others wait for it (sinks/threads.py), and
the thread's name Chat answers with is kept in the state store.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alert_explainer.config import GoogleChatSinkSettings
from alert_explainer.jsonout import encode_json
from alert_explainer.sinks.base import HttpPoster, Message, Rendered, json_field
from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import View, clip, fit
from alert_explainer.sinks.markup import Markup, alert_line
from alert_explainer.sinks.threads import Threads
from alert_explainer.store import StateStore
from alert_explainer.transport import HttpClient

MAX_BYTES = 32_000
MAX_WIDGETS = 100
MAX_ALERTS_LISTED = 20
MAX_TITLE = 200
REPLY_OPTION = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
THREAD_TTL = 7 * 86400.0  # how long the thread's name is kept (replies also work without it)


def escape(text: str) -> str:
    """Escape for Google Chat's card HTML subset."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(target: Link) -> str:
    """An HTML link with an escaped label."""
    return f'<a href="{escape(target.url).replace(chr(34), "%22")}">{escape(target.label)}</a>'


CHAT_HTML = Markup(escape=escape, bold=lambda text: f"<b>{text}</b>", link=link)


def thread_key(group_key: str) -> str:
    """A stable thread name for an alert group (its key hashed: no label text leaks)."""
    return "alert-explainer-" + hashlib.sha256(group_key.encode()).hexdigest()[:40]


def _paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def card(view: View) -> dict[str, Any]:
    """The card: facts, one section per explanation part, alerts and link buttons."""
    f = view.facts
    top: list[dict[str, Any]] = []
    if view.headline:
        top.append(_paragraph(f"<b>{escape(view.headline)}</b>"))
    if view.reuse_note:
        top.append(_paragraph(f"<i>{escape(view.reuse_note)}</i>"))
    top += [
        {"decoratedText": {"topLabel": label, "text": clip(value, 500, escape)}}
        for label, value in f.pairs()
    ]
    if view.notice:
        top.append(_paragraph(f"⚠️ {escape(view.notice)}"))
    sections: list[dict[str, Any]] = [{"widgets": top}]
    for part in view.sections:
        text = (
            "\n".join(f"• {escape(item)}" for item in part.items)
            if part.items
            else escape(part.text)
        )
        sections.append({"header": escape(part.label), "widgets": [_paragraph(text)]})
    if view.evidence:
        widgets = [
            _paragraph(
                "\n".join([f"<b>{escape(b.title)}</b>", *(f"• {escape(x)}" for x in b.lines)])
            )
            for b in view.evidence
        ]
        sections.append({"header": "Evidence", "widgets": widgets})
    alerts = [alert_line(a, CHAT_HTML) for a in view.alerts]
    if view.more_alerts:
        alerts.append(escape(view.more_alerts))
    if alerts:
        sections.append({"header": "Alerts", "widgets": [_paragraph("\n".join(alerts))]})
    if view.links:
        buttons = [{"text": t.label, "onClick": {"openLink": {"url": t.url}}} for t in view.links]
        sections.append({"widgets": [{"buttonList": {"buttons": buttons}}]})
    return {
        "header": {"title": clip(f.title, MAX_TITLE), "subtitle": f"{f.status} · {f.severity}"},
        "sections": sections,
    }


def widget_count(body: dict[str, Any]) -> int:
    """Widgets across the card's sections (Chat drops sections beyond MAX_WIDGETS)."""
    return sum(len(s["widgets"]) for c in body["cardsV2"] for s in c["card"]["sections"])


def payload(message: Message, sink: str = "googlechat") -> dict[str, Any]:
    """The message body, fitted to MAX_BYTES, in the group's thread."""
    key = thread_key(message.notification.group_key)

    def render(view: View) -> dict[str, Any]:
        fallback = f"{view.facts.title} {view.headline}".strip()
        return {
            "fallbackText": clip(fallback, 1000),
            "cardsV2": [{"cardId": "alert", "card": card(view)}],
            "thread": {"threadKey": key},
        }

    def fits(body: dict[str, Any]) -> bool:
        return len(encode_json(body)) <= MAX_BYTES and widget_count(body) <= MAX_WIDGETS

    return fit(sink, message, render, fits, max_alerts=MAX_ALERTS_LISTED)


def threaded(url: str) -> str:
    """The webhook URL with the reply option that makes threadKey take effect."""
    return url + ("&" if "?" in url else "?") + f"messageReplyOption={REPLY_OPTION}"


class GoogleChatSink:
    """Posts cards to a space's webhook, the first of each group alone (one thread)."""

    def __init__(
        self, settings: GoogleChatSinkSettings, http: HttpClient, state: StateStore
    ) -> None:
        self.name = settings.name
        url = settings.url.get_secret_value()
        self._poster = HttpPoster(
            settings.name, http, threaded(url), settings.timeout, secrets=[url]
        )
        self._threads = Threads(state, ttl=THREAD_TTL, wait=settings.timeout + 5.0)

    def render(self, message: Message) -> Rendered:
        """The card, fitted to the size limits, in the group's thread."""
        return Rendered(payload(message, self.name))

    async def send(self, message: Message, rendered: Rendered | None = None) -> None:
        """Post the card in the group's thread, after the thread's first message if racing."""
        body = (rendered or self.render(message)).body
        key = f"googlechat:thread:{self.name}:{body['thread']['threadKey']}"

        async def post(parent: str | None) -> str | None:
            # A reply names the thread by its key too: Chat finds the thread the first made.
            response = await self._poster.post(body)
            name = json_field(response, "thread", "name")
            return name if isinstance(name, str) and name else body["thread"]["threadKey"]

        await self._threads.send(key, post, self.name)
