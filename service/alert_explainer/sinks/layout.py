"""What a destination shows, and fitting it into the destination's size limit.

Every destination renders the same `View`: the alert facts, the explanation's parts, a
notice when there is no explanation or a note when it is reused, the evidence gathered
(also without an explanation), and the first alerts. `fit` looks for the largest view a
destination accepts. It shortens the explanation first (down to a floor), then the
evidence (down to its floor), then lists fewer alerts ("and 37 more"), then shortens the
explanation and the evidence below their floors. The title, status, headline and links
are never dropped; every cut is visible in the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from alert_explainer.alertmanager import Alert
from alert_explainer.catalogue.notes import Notes
from alert_explainer.errors import SinkError
from alert_explainer.evidence.model import Evidence, fair_shares
from alert_explainer.sinks.base import UNAVAILABLE, Message
from alert_explainer.sinks.facts import (
    Facts,
    Link,
    alert_labels,
    alert_links,
    alert_since,
    alert_summary,
    facts,
)

T = TypeVar("T")

CUT = "… [shortened]"
# The explanation keeps this many characters before any alert leaves the list.
EXPLANATION_FLOOR = 600
# So does the evidence: its first lines say most (the expression, the recipes).
EVIDENCE_FLOOR = 600
MAX_EVIDENCE_LINE = 300
MAX_HEADLINE = 300  # a headline is one line; a longer one is cut like any field
MAX_ALERT_TEXT = 300  # per alert summary and label list
NOTES_LABEL = "Catalogue notes"  # the first section when the notes stand in for an explanation


def utf16_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): never less than len(text)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_length(text: str) -> int:
    """Length in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def clip(
    text: str,
    limit: int,
    escape: Callable[[str], str] = str,
    measure: Callable[[str], int] = len,
    marker: str = "…",
) -> str:
    """`escape(text)`, or the longest escaped prefix of `text` plus `marker` within `limit`.

    The cut is made in the raw text, before escaping, so it never splits an escape
    sequence (`&amp;`, `\\*`) and always leaves valid markup.
    """
    escaped = escape(text)
    if measure(escaped) <= limit:
        return escaped
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(escape(text[:middle].rstrip()) + marker) <= limit:
            low = middle
        else:
            high = middle - 1
    return escape(text[:low].rstrip()) + marker if measure(marker) <= limit else ""


@dataclass(frozen=True, slots=True)
class Section:
    """One labelled part of the explanation: prose `text`, or `items` for the checks."""

    label: str
    text: str = ""
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One alert as listed under the explanation."""

    name: str
    status: str
    severity: str
    summary: str
    labels: str
    since: str
    links: list[Link]


@dataclass(frozen=True, slots=True)
class EvidenceBlock:
    """One evidence item as shown: its title and the lines that fit."""

    source: str
    title: str
    lines: list[str]


@dataclass(frozen=True, slots=True)
class View:
    """Everything a destination renders for one message, already shortened to a budget."""

    facts: Facts
    headline: str  # the explanation's one-line headline, "" when none
    sections: list[Section]
    notice: str | None  # why there is no explanation
    alerts: list[AlertItem]
    hidden_alerts: int  # alerts not listed, including those Alertmanager left out
    reuse_note: str | None = None  # the explanation's age and what changed since it was made
    evidence: list[EvidenceBlock] = field(default_factory=list)  # shortened to the budget

    @property
    def links(self) -> list[Link]:
        """The group's links (runbook, source, Alertmanager, silence)."""
        return self.facts.links

    @property
    def more_alerts(self) -> str:
        """ "… and 37 more alerts", or "" when every alert is listed."""
        n = self.hidden_alerts
        return f"… and {n} more alert{'s' if n != 1 else ''}" if n > 0 else ""


@dataclass(frozen=True, slots=True)
class Budget:
    """How much explanation and evidence (characters) and how many alerts a view holds."""

    explanation: int
    alerts: int
    evidence: int = 0


def explanation_length(message: Message) -> int:
    """Characters of explanation (or of the notes shown instead) a view can show at most."""
    parts = message.parts
    notes = message.fallback_notes
    if parts is None:
        return 0 if notes is None else sum(len(t) for t in _note_texts(notes))
    if not parts.structured:
        return len(parts.body)
    return len(parts.happening) + len(parts.cause) + len("\n".join(parts.checks))


def view(message: Message, budget: Budget) -> View:
    """The view of `message` within `budget`."""
    n = message.notification
    shown = n.alerts[: max(0, budget.alerts)]
    notice = None
    if message.explanation is None and message.error is not None:
        notice = f"{UNAVAILABLE}: {message.error}"
    parts = message.parts
    runbook = message.notes.runbook if message.notes is not None else None
    return View(
        facts=facts(n, message.headline, runbook),
        headline=clip(parts.headline, MAX_HEADLINE) if parts else "",
        sections=_sections(message, budget.explanation),
        notice=notice,
        alerts=[_alert_item(a) for a in shown],
        hidden_alerts=len(n.alerts) - len(shown) + n.truncated_alerts,
        reuse_note=message.reuse_note,
        evidence=evidence_blocks(message.evidence, budget.evidence),
    )


def evidence_length(evidence: Evidence) -> int:
    """Characters of evidence lines a view can show at most."""
    return sum(min(len(line), MAX_EVIDENCE_LINE) for item in evidence for line in item.lines)


def evidence_blocks(evidence: Evidence, budget: int) -> list[EvidenceBlock]:
    """The evidence within `budget` characters of lines: long items lose lines first.

    Every item keeps its title; lines left out are counted ("… 3 more lines"). With no
    budget at all one line says the evidence was left out.
    """
    if not evidence:
        return []
    if budget <= 0:
        return [EvidenceBlock("", "Evidence", ["… left out to fit the size limit"])]
    sizes = [sum(min(len(x), MAX_EVIDENCE_LINE) for x in item.lines) for item in evidence]
    return [
        EvidenceBlock(item.source, item.title, _lines_within(item.lines, share))
        for item, share in zip(evidence, fair_shares(sizes, budget), strict=True)
    ]


def _lines_within(lines: Sequence[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for line in lines:
        shown = shorten(line, MAX_EVIDENCE_LINE)
        if used + len(shown) > budget:
            room = budget - used
            if not kept and room > len(CUT):  # the first line, shortened, rather than none
                kept.append(shorten(line, room))
            break
        kept.append(shown)
        used += len(shown)
    hidden = len(lines) - len(kept)
    if hidden:
        kept.append(f"… {hidden} more line{'s' if hidden != 1 else ''}")
    return kept


def _sections(message: Message, budget: int) -> list[Section]:
    parts = message.parts
    if parts is None:
        notes = message.fallback_notes
        return [] if notes is None else _note_sections(notes, budget)
    if not parts.structured:
        return [Section("Explanation", shorten(parts.body, budget))] if parts.body else []
    checks = "\n".join(parts.checks)
    happening, cause, checks_share = fair_shares(
        [len(parts.happening), len(parts.cause), len(checks)], budget
    )
    sections = [
        Section("What is happening", shorten(parts.happening, happening)),
        Section("Likely cause", shorten(parts.cause, cause)),
        Section("First checks", items=shorten(checks, checks_share).splitlines()),
    ]
    return [s for s in sections if s.text or s.items]


def _note_texts(notes: Notes) -> list[str]:
    return [notes.meaning, "\n".join(notes.causes), "\n".join(notes.checks)]


def _note_sections(notes: Notes, budget: int) -> list[Section]:
    """The catalogue's notes in place of an explanation, marked as not written by a model."""
    texts = _note_texts(notes)
    shares = fair_shares([len(t) for t in texts], budget)
    meaning, causes, checks = (shorten(t, n) for t, n in zip(texts, shares, strict=True))
    sections = [
        Section(NOTES_LABEL, notes.attribution),
        Section("What it means", meaning),
        Section("Usual causes", items=causes.splitlines()),
        Section("First checks", items=checks.splitlines()),
    ]
    return [s for s in sections if s.text or s.items]


def shorten(text: str, budget: int) -> str:
    """`text`, or its first `budget` characters ending in a visible "[shortened]" mark."""
    if len(text) <= budget:
        return text
    if budget <= len(CUT):
        return CUT.strip() if text else ""
    cut = text[: budget - len(CUT)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:  # end on a word when that costs little
        cut = cut[:space]
    return cut.rstrip() + CUT


def _alert_item(alert: Alert) -> AlertItem:
    return AlertItem(
        name=alert.name,
        status=alert.status,
        severity=alert.severity,
        summary=shorten(alert_summary(alert), MAX_ALERT_TEXT),
        labels=shorten(alert_labels(alert), MAX_ALERT_TEXT),
        since=alert_since(alert),
        links=alert_links(alert),
    )


def fit(
    sink: str,
    message: Message,
    render: Callable[[View], T],
    fits: Callable[[T], bool],
    *,
    max_alerts: int,
) -> T:
    """The largest rendering of `message` that `fits`; SinkError (final) when none does.

    Each stage lowers one part to its next bound; the first stage at whose bound the
    message fits is searched for the largest value that still fits.
    """
    explanation = explanation_length(message)
    evidence = evidence_length(message.evidence)
    current = {
        "explanation": explanation,
        "evidence": evidence,
        "alerts": min(len(message.notification.alerts), max_alerts),
    }
    stages = [
        ("explanation", min(explanation, EXPLANATION_FLOOR)),
        ("evidence", min(evidence, EVIDENCE_FLOOR)),
        ("alerts", 0),
        ("explanation", 0),
        ("evidence", 0),
    ]

    def attempt(sizes: dict[str, int]) -> T:
        return render(view(message, Budget(**sizes)))

    if fits(result := attempt(current)):
        return result
    for part, low in stages:
        high = current[part]
        if low >= high:
            continue
        current[part] = low
        if fits(attempt(current)):

            def fits_at(size: int, part: str = part) -> bool:
                return fits(attempt({**current, part: size}))

            return attempt({**current, part: _largest(low, high, fits_at)})
    raise SinkError(sink, "the message does not fit the destination's size limit", retryable=False)


def _largest(low: int, high: int, ok: Callable[[int], bool]) -> int:
    """The largest value in [low, high] for which `ok` holds, given that ok(low) holds."""
    while low < high:
        middle = (low + high + 1) // 2
        if ok(middle):
            low = middle
        else:
            high = middle - 1
    return low
