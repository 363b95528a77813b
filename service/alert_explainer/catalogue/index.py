"""Which catalogue entry an alert gets, and what a notification takes from it.

Entries are looked up by alertname; among those whose matchers all hold, the most specific
(the most matchers) wins, then the first: configured entries come before shipped ones, and a
configured entry with a shipped one's alertname and matchers replaces it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.catalogue import builtin
from alert_explainer.catalogue.notes import Notes
from alert_explainer.config import CatalogueEntry, Recipe, Settings, read_entries
from alert_explainer.errors import ConfigError
from alert_explainer.matchers import Matcher, matches_all, parse_matcher

MAX_PROMPT_NOTES = 3  # alertnames of a group whose notes go into the prompt


@dataclass(frozen=True, slots=True)
class Listed:
    """An entry as the catalogue holds it: its matchers parsed, and where it came from."""

    entry: CatalogueEntry
    matchers: tuple[Matcher, ...]
    builtin: bool
    notes: Notes  # built once: every notification of the alert shows them
    placeholders: frozenset[str]  # the labels its checks name, the only ones compared


class Catalogue:
    """The entries in effect; also the evidence recipe source for their alerts."""

    def __init__(self, configured: Iterable[CatalogueEntry], shipped: Iterable[CatalogueEntry]):
        configured = list(configured)
        replaced = {entry.key for entry in configured}
        listed = [(e, False) for e in configured]
        listed += [(e, True) for e in shipped if e.key not in replaced]
        self.entries = [
            _listed(entry, shipped_one, Notes.of(entry, shipped_one))
            for entry, shipped_one in listed
        ]
        self._by_alert: dict[str, list[Listed]] = {}
        for item in self.entries:
            self._by_alert.setdefault(item.entry.alert, []).append(item)

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalogue:
        """The configured entries (inline, then the files), before the shipped ones."""
        configured = list(settings.catalogue)
        for i, path in enumerate(settings.catalogue_files):
            try:
                configured += read_entries(path)
            except ValueError as exc:
                raise ConfigError([f"catalogue_files[{i}] ({path}): {exc}"]) from None
        return cls(configured, builtin.entries() if settings.catalogue_builtin else ())

    def listed_for(self, labels: Mapping[str, str]) -> Listed | None:
        """The entry an alert with `labels` gets, with where it came from, or None."""
        candidates = self._by_alert.get(labels.get("alertname", ""), [])
        best: Listed | None = None
        for item in candidates:
            if matches_all(item.matchers, labels) and (
                best is None or len(item.matchers) > len(best.matchers)
            ):
                best = item
        return best

    def entry_for(self, labels: Mapping[str, str]) -> CatalogueEntry | None:
        """The entry an alert with `labels` gets, or None."""
        item = self.listed_for(labels)
        return item.entry if item is not None else None

    def recipes_for(self, labels: Mapping[str, str]) -> Sequence[Recipe]:
        """The evidence recipes of the alert's entry (evidence.RecipeSource)."""
        entry = self.entry_for(labels)
        return entry.evidence if entry is not None else ()

    def worth_explaining(self, notification: Notification) -> bool:
        """False when every alert's entry says `explain: false` (Watchdog, InfoInhibitor)."""
        for alert in notification.alerts:
            entry = self.entry_for(alert.labels)
            if entry is None or entry.explain:
                return True
        return bool(not notification.alerts)

    def notes(self, notification: Notification) -> Notes | None:
        """The notes on the group's main alert (its most frequent alertname), checks filled."""
        alerts = notification.firing or notification.alerts
        if not alerts:
            return None
        name = by_frequency(alerts)[0]
        members = [a for a in alerts if a.name == name]
        item = self.listed_for(members[0].labels)
        if item is None:
            return None
        return item.notes.filled(shared_labels(members, item.placeholders))

    def prompt_notes(self, notification: Notification) -> list[Notes]:
        """The notes on the group's alertnames, most frequent first, for the prompt.

        Placeholders stay as they are: the model reads the labels in the alert data.
        """
        alerts = notification.firing or notification.alerts
        result = []
        for name in by_frequency(alerts)[:MAX_PROMPT_NOTES]:
            first = next(a for a in alerts if a.name == name)
            item = self.listed_for(first.labels)
            if item is not None:
                result.append(item.notes)
        return result


def _listed(entry: CatalogueEntry, shipped_one: bool, notes: Notes) -> Listed:
    matchers = tuple(parse_matcher(m) for m in entry.matchers)
    return Listed(entry, matchers, shipped_one, notes, notes.placeholders)


@lru_cache(maxsize=1)
def shipped() -> Catalogue:
    """The shipped entries alone: the evidence gatherer's source when not given the app's."""
    return Catalogue((), builtin.entries())


def by_frequency(alerts: Sequence[Alert]) -> list[str]:
    """The alertnames of `alerts`, most frequent first (ties: first seen first)."""
    if not alerts:
        return []
    first = alerts[0].name
    if all(a.name == first for a in alerts):  # the usual group: one alertname
        return [first]
    return [name for name, _ in Counter(a.name for a in alerts).most_common()]


def shared_labels(alerts: Sequence[Alert], names: Iterable[str]) -> dict[str, str]:
    """Those of the labels `names` that every one of `alerts` has with the same value."""
    first = alerts[0].labels
    shared = {}
    for name in names:
        value = first.get(name)
        if value is not None and all(a.labels.get(name) == value for a in alerts[1:]):
            shared[name] = value
    return shared
