"""Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.

Regular expressions are fully anchored, as in Alertmanager. A missing label matches as the
empty string, so `team!="db"` matches alerts without a team label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MATCHER = re.compile(
    r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s]*)\s*$'
)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfies this condition."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; raise ValueError saying what is wrong."""
    match = _MATCHER.match(text)
    if match is None:
        raise ValueError(
            f'invalid matcher {text!r}; expected name="value", name!="value", '
            'name=~"regex" or name!~"regex"'
        )
    name, op, raw = match.groups()
    value = json.loads(raw) if raw.startswith('"') else raw
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression in matcher {text!r}: {exc}") from None
    return Matcher(name, op, value, pattern)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds for `labels` (true for no matchers)."""
    return all(m.matches(labels) for m in matchers)
