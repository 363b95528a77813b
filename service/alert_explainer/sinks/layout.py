"""What a destination shows, and fitting it into the destination's size limit.

Every destination renders the same `View`: the alert facts, the explanation's parts, a
notice when there is no explanation or a note when it is reused, and the first alerts.
`fit` looks for the largest view a destination accepts. It shortens the explanation first
(down to a floor), then lists fewer alerts ("and 37 more"), then shortens the explanation
below the floor. The title, status, headline and links are never dropped; every cut is
visible in the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from alert_explainer.alertmanager import Alert
from alert_explainer.errors import SinkError
from alert_explainer.evidence.model import fair_shares
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
MAX_HEADLINE = 300  # a headline is one line; a longer one is cut like any field
MAX_ALERT_TEXT = 300  # per alert summary and label list


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
class View:
    """Everything a destination renders for one message, already shortened to a budget."""

    facts: Facts
    headline: str  # the explanation's one-line headline, "" when none
    sections: list[Section]
    notice: str | None  # why there is no explanation
    alerts: list[AlertItem]
    hidden_alerts: int  # alerts not listed, including those Alertmanager left out
    reuse_note: str | None = None  # the explanation's age and what changed since it was made

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
    """How much of the explanation (characters) and how many alerts a view may hold."""

    explanation: int
    alerts: int


def explanation_length(message: Message) -> int:
    """Characters of explanation a view can show for `message` at most."""
    parts = message.parts
    if parts is None:
        return 0
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
    return View(
        facts=facts(n, message.headline),
        headline=clip(parts.headline, MAX_HEADLINE) if parts else "",
        sections=_sections(message, budget.explanation),
        notice=notice,
        alerts=[_alert_item(a) for a in shown],
        hidden_alerts=len(n.alerts) - len(shown) + n.truncated_alerts,
        reuse_note=message.reuse_note,
    )


def _sections(message: Message, budget: int) -> list[Section]:
    parts = message.parts
    if parts is None:
        return []
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
    """The largest rendering of `message` that `fits`; SinkError (final) when none does."""
    full = explanation_length(message)
    floor = min(full, EXPLANATION_FLOOR)
    listed = min(len(message.notification.alerts), max_alerts)

    def attempt(explanation: int, alerts: int) -> T:
        return render(view(message, Budget(explanation, alerts)))

    if fits(result := attempt(full, listed)):
        return result
    if fits(attempt(floor, listed)):
        best = _largest(floor, full, lambda e: fits(attempt(e, listed)))
        return attempt(best, listed)
    if fits(attempt(floor, 0)):
        best = _largest(0, listed, lambda a: fits(attempt(floor, a)))
        return attempt(floor, best)
    if fits(attempt(0, 0)):
        best = _largest(0, floor, lambda e: fits(attempt(e, 0)))
        return attempt(best, 0)
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
