"""What gathering produces: titled lines of plain text, by source, within a byte budget.

Evidence is untrusted data like the alert itself (it comes from Prometheus series and
Alertmanager), so it is redacted before anyone sees it, delimited in the prompt and escaped
by every destination. It is stored with the explanation, so a cached outcome carries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alert_explainer.redact import Redactor, truncate

UNAVAILABLE = "evidence unavailable"
# One line stays readable: a series summary is about 250 bytes.
MAX_LINE_CHARS = 400
MAX_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One fact with its title: `source` is what gathered it (expression, recipe, ...)."""

    source: str
    title: str
    lines: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Bytes of text the item adds (title and lines, UTF-8)."""
        return len(self.title.encode()) + sum(len(line.encode()) + 1 for line in self.lines)

    @property
    def unavailable(self) -> bool:
        """Whether the item only says why a source gave nothing."""
        return all(line.startswith(UNAVAILABLE) for line in self.lines) and bool(self.lines)

    def as_dict(self) -> dict[str, Any]:
        """The item as JSON-ready data: {source, title, lines}."""
        return {"source": self.source, "title": self.title, "lines": list(self.lines)}


def unavailable(source: str, label: str, reason: str) -> EvidenceItem:
    """The item saying that `label` gave nothing: "evidence unavailable: <label>: <reason>"."""
    return EvidenceItem(source, "Evidence unavailable", (f"{UNAVAILABLE}: {label}: {reason}",))


@dataclass(frozen=True, slots=True)
class Evidence:
    """The facts gathered for one notification, in the order they are shown."""

    items: tuple[EvidenceItem, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[EvidenceItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def size(self) -> int:
        """Bytes of evidence text."""
        return sum(item.size for item in self.items)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every item as {source, title, lines}: the prompt context and the webhook schema."""
        return [item.as_dict() for item in self.items]

    @classmethod
    def from_dicts(cls, data: object) -> Evidence:
        """Evidence read back from `as_dicts` output; anything malformed is left out."""
        if not isinstance(data, list):
            return cls()
        items = []
        for entry in data:
            if not isinstance(entry, Mapping):
                continue
            lines = entry.get("lines")
            if not isinstance(lines, list):
                continue
            items.append(
                EvidenceItem(
                    str(entry.get("source", "")),
                    str(entry.get("title", "")),
                    tuple(str(line) for line in lines),
                )
            )
        return cls(tuple(items))

    def redacted(self, redactor: Redactor) -> tuple[Evidence, Counter[str]]:
        """Every title and line with the redaction rules applied and cut to a line's length."""
        counts: Counter[str] = Counter()

        def clean(text: str, limit: int) -> str:
            return truncate(redactor.redact(text, counts), limit)

        items = tuple(
            EvidenceItem(
                item.source,
                clean(item.title, MAX_TITLE_CHARS),
                tuple(clean(line, MAX_LINE_CHARS) for line in item.lines),
            )
            for item in self.items
        )
        return Evidence(items), counts

    def fitted(self, max_bytes: int) -> Evidence:
        """The evidence within `max_bytes`: long items lose their last lines first.

        Every item keeps its title and first line, so a reader sees what was looked at;
        lines left out are counted in a final "… N more lines" line. When even that is too
        much, the last items are left out.
        """
        if self.size <= max_bytes:
            return self
        shares = fair_shares([item.size for item in self.items], max_bytes)
        items = [_shortened(i, s) for i, s in zip(self.items, shares, strict=True)]
        while len(items) > 1 and sum(i.size for i in items) > max_bytes:
            items.pop()
        return Evidence(tuple(items) if sum(i.size for i in items) <= max_bytes else ())


def _shortened(item: EvidenceItem, budget: int) -> EvidenceItem:
    if item.size <= budget:
        return item
    kept: list[str] = []
    used = len(item.title.encode())
    for i, line in enumerate(item.lines):
        cost = len(line.encode()) + 1
        hidden = len(item.lines) - i - 1
        marker = len(_more(hidden).encode()) + 1 if hidden else 0
        if kept and used + cost + marker > budget:
            break
        kept.append(line)
        used += cost
    hidden = len(item.lines) - len(kept)
    if hidden:
        kept.append(_more(hidden))
    return EvidenceItem(item.source, item.title, tuple(kept))


def _more(hidden: int) -> str:
    return f"… {hidden} more line{'s' if hidden != 1 else ''} (evidence.max_bytes)"


def fair_shares(sizes: Sequence[int], budget: int) -> list[int]:
    """Split `budget` so small parts keep all they need and large ones share the rest."""
    shares = [0] * len(sizes)
    pending = sorted(range(len(sizes)), key=lambda i: sizes[i])
    remaining = max(0, budget)
    while pending:
        equal = remaining // len(pending)
        i = pending.pop(0)
        shares[i] = min(sizes[i], equal)
        remaining -= shares[i]
    return shares
