"""The model's answer split into the parts destinations show: headline, what, cause, checks.

The system prompt (templates/system.j2) asks for four labelled sections in plain text:

    Headline: ...
    What is happening: ...
    Likely cause: ...
    First checks:
    - ...

Models drift, so parsing is lenient: labels in any case and order, wrapped in Markdown
bold or headings, with the text on the label's line or below it, any section missing.
When no label is found at all the answer is kept whole as an unstructured body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

# Label -> part name. Several spellings map to one part because models paraphrase labels.
_LABELS = {
    "headline": "headline",
    "summary": "headline",
    "what is happening": "happening",
    "what's happening": "happening",
    "what happened": "happening",
    "likely cause": "cause",
    "likely causes": "cause",
    "probable cause": "cause",
    "cause": "cause",
    "first checks": "checks",
    "first check": "checks",
    "next steps": "checks",
    "checks": "checks",
}
_DECORATION = r"[\s#>*_]*"
_ALTERNATIVES = "|".join(re.escape(k) for k in sorted(_LABELS, key=len, reverse=True))
_LABEL_LINE = re.compile(
    rf"^{_DECORATION}(?P<label>{_ALTERNATIVES}){_DECORATION}:[*_\s]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")


@dataclass(frozen=True, slots=True)
class Explanation:
    """The parts of one explanation; `body` is always the model's whole answer."""

    body: str
    headline: str = ""
    happening: str = ""
    cause: str = ""
    checks: list[str] = field(default_factory=list)
    structured: bool = False


@lru_cache(maxsize=512)
def parse_explanation(text: str) -> Explanation:
    """Split `text` into labelled parts; unstructured (body only) when no label is found.

    Cached: every sink of a notification asks for the same text's parts.
    """
    sections: dict[str, list[str]] = {}
    current: str | None = None
    preamble: list[str] = []
    for line in text.strip().splitlines():
        match = _LABEL_LINE.match(line)
        if match:
            current = _LABELS[match.group("label").lower()]
            sections.setdefault(current, [])
            line = match.group("rest")
        (sections[current] if current else preamble).append(line)
    if not sections:
        return Explanation(body=text.strip())
    headline = " ".join(_clean(sections.get("headline", [])).split())
    happening = _clean(preamble + sections.get("happening", []))
    return Explanation(
        body=text.strip(),
        headline=headline,
        happening=happening,
        cause=_clean(sections.get("cause", [])),
        checks=_checks(sections.get("checks", [])),
        structured=True,
    )


def _clean(lines: list[str]) -> str:
    """The lines as one paragraph block: outer blank lines and stray bold markers removed."""
    return "\n".join(line.rstrip() for line in lines).strip().strip("*_").strip()


def _checks(lines: list[str]) -> list[str]:
    """One entry per bullet; a line without a bullet continues the previous entry."""
    checks: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if _BULLET.match(line) or not checks:
            checks.append(_BULLET.sub("", line).strip())
        else:
            checks[-1] = f"{checks[-1]} {line.strip()}"
    return [c for c in checks if c]
