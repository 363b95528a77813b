"""A `View` as text in a destination's markup: one set of layout rules, many dialects.

A destination describes its dialect with `Markup` (how to escape text, make it bold,
write a link); the functions here lay out sections, alert lines and links the same way
for all of them, so Mattermost, Telegram and ntfy differ only in their `Markup`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from alert_explainer.sinks.facts import Link
from alert_explainer.sinks.layout import AlertItem, Section, View

ICONS = {"firing": "🔥", "resolved": "✅"}


def _same(text: str) -> str:
    return text


def plain_link(link: Link, escape: Callable[[str], str] = _same) -> str:
    """A link written out for destinations without link markup: "Runbook: https://…"."""
    return f"{escape(link.label)}: {link.url}"


@dataclass(frozen=True, slots=True)
class Markup:
    """How one destination writes text: escaping, bold, links and list bullets."""

    escape: Callable[[str], str] = _same
    bold: Callable[[str], str] = _same  # receives text already escaped
    link: Callable[[Link], str] = plain_link  # returns finished markup
    bullet: str = "• "
    line_break: str = "\n"


PLAIN = Markup()


def markdown_escape(text: str, specials: str) -> str:
    """Backslash-escape `specials`, links (`](`), and list/heading marks at line starts."""
    escaped = re.sub(f"([{re.escape(specials)}])", r"\\\1", text)
    # "[label](url)" is a link only while "](" stays together; brackets alone are text.
    escaped = escaped.replace("](", "]\\(")
    # "- x", "+ x", "# x" and "1. x" start lists and headings only at the start of a line.
    escaped = re.sub(r"(?m)^(\s*)([-+#])", r"\1\\\2", escaped)
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", escaped)


ZERO_WIDTH_SPACE = "\u200b"


def break_mentions(text: str) -> str:
    """Put a zero-width space after every `@`: `@everyone`, `@channel`, `<@123>` stay text."""
    return text.replace("@", "@" + ZERO_WIDTH_SPACE)


def section_text(section: Section, m: Markup) -> str:
    """A labelled part: the bold label, then the prose or one bullet per check."""
    if section.items:
        body = m.line_break.join(m.bullet + m.escape(item) for item in section.items)
    else:
        body = m.escape(section.text)
    return f"{m.bold(m.escape(section.label))}{m.line_break}{body}"


def alert_line(alert: AlertItem, m: Markup) -> str:
    """One alert: name, severity, status, summary, distinguishing labels and its links."""
    severity = f" ({m.escape(alert.severity)})" if alert.severity else ""
    text = f"{m.bullet}{m.bold(m.escape(alert.name))}{severity} {alert.status}"
    if alert.summary:
        text += f": {m.escape(alert.summary)}"
    if alert.labels:
        text += f" — {m.escape(alert.labels)}"
    if alert.links:
        text += " · " + " · ".join(m.link(link) for link in alert.links)
    return text


def links_line(links: list[Link], m: Markup) -> str:
    """The group's links on one line."""
    return " · ".join(m.link(link) for link in links)


def facts_line(view: View, m: Markup) -> str:
    """Status, severity, counts and group on one line."""
    return " · ".join(f"{m.bold(label)}: {m.escape(value)}" for label, value in view.facts.pairs())


def alerts_text(view: View, m: Markup) -> str:
    """The listed alerts, one per line, and how many more there are."""
    lines = [alert_line(a, m) for a in view.alerts]
    if view.more_alerts:
        lines.append(m.escape(view.more_alerts))
    return m.line_break.join(lines)


def evidence_text(view: View, m: Markup, *, heading: bool = True) -> str:
    """The evidence: each item's title, then its lines as bullets; "" without evidence."""
    if not view.evidence:
        return ""
    parts = [m.bold("Evidence")] if heading else []
    for block in view.evidence:
        parts.append(m.escape(block.title))
        parts += [m.bullet + m.escape(line) for line in block.lines]
    return m.line_break.join(parts)


def document(view: View, m: Markup, *, title: bool = True) -> str:
    """The whole view as one text: title, headline, facts, explanation, evidence, alerts, links."""
    blocks: list[str] = []
    if title:
        icon = ICONS.get(view.facts.status, "")
        blocks.append(f"{icon} {m.bold(m.escape(view.facts.title))}".strip())
    if view.headline:
        blocks.append(m.bold(m.escape(view.headline)))
    if view.reuse_note:
        blocks.append(m.escape(view.reuse_note))
    blocks.append(facts_line(view, m))
    blocks += [section_text(s, m) for s in view.sections]
    if view.notice:
        blocks.append(m.escape(view.notice))
    if view.evidence:
        blocks.append(evidence_text(view, m))
    if view.alerts or view.more_alerts:
        blocks.append(f"{m.bold('Alerts')}{m.line_break}{alerts_text(view, m)}")
    if view.links:
        blocks.append(links_line(view.links, m))
    return (m.line_break * 2).join(blocks)
