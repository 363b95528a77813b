"""A catalogue entry's texts as people and the model see them (`Notes`).

In the fallback message the first checks' placeholders (`<namespace>`, `<pod>`) are
filled from the alert's labels, but only with values that look like the Kubernetes names,
addresses and paths they stand for: a check is a command people paste, and a label value
is untrusted. Anything else leaves the placeholder as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from alert_explainer.config.catalogue import CatalogueEntry

_PLACEHOLDER = re.compile(r"<([a-z_][a-z0-9_]*)>")
# Names, IPs with ports, device paths and mount points; no spaces, quotes or shell syntax.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._:/@+-]{0,252}")


@dataclass(frozen=True, slots=True)
class Notes:
    """The catalogue's notes on a group's main alert."""

    alertname: str
    summary: str
    meaning: str
    causes: tuple[str, ...]
    checks: tuple[str, ...]
    runbook: str | None
    builtin: bool  # shipped with the service, or from the configuration

    @classmethod
    def of(cls, entry: CatalogueEntry, builtin: bool) -> Notes:
        """The entry's notes, placeholders as written."""
        return cls(
            entry.alert,
            entry.summary,
            " ".join(entry.meaning.split()),
            tuple(entry.causes),
            tuple(entry.checks),
            entry.runbook,
            builtin,
        )

    @property
    def placeholders(self) -> frozenset[str]:
        """The label names the checks' placeholders stand for (`<pod>`: "pod")."""
        return frozenset(name for check in self.checks for name in _PLACEHOLDER.findall(check))

    def filled(self, labels: Mapping[str, str]) -> Notes:
        """The notes with the checks' placeholders filled from `labels` where they can be."""
        if not labels:
            return self
        return replace(self, checks=tuple(fill(check, labels) for check in self.checks))

    @property
    def attribution(self) -> str:
        """Says plainly who wrote the notes (never a model)."""
        whose = "alert-explainer's built-in catalogue" if self.builtin else "your catalogue"
        return f"Not written by a model: {whose} on {self.alertname}."

    def text(self) -> str:
        """The notes as plain text, for destinations that take one text."""
        lines = [self.attribution, "", f"What it means: {self.meaning}", "", "Usual causes:"]
        lines += [f"- {cause}" for cause in self.causes]
        lines += ["", "First checks:"]
        lines += [f"- {check}" for check in self.checks]
        return "\n".join(lines)


def fill(check: str, labels: Mapping[str, str] | None) -> str:
    """`check` with each `<label>` replaced by the alert's value, when it is a plain name."""
    if not labels:
        return check

    def value(match: re.Match[str]) -> str:
        found = labels.get(match.group(1))
        return found if found is not None and _PLAIN_VALUE.fullmatch(found) else match.group(0)

    return _PLACEHOLDER.sub(value, check)
