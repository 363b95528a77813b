"""What changed in a group since its explanation was made, in words, computed without a call.

A reused explanation carries one line where people read it: "explanation from 10:05 UTC
(35 min ago), still applies: 5 pods firing now, 3 new since, 2 resolved". The noun is the
label that tells the group's alerts apart (pod, instance, ...), else "alerts".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from alert_explainer.alertmanager import Alert, Notification

# The noun is chosen from the first alerts only: a 20,000-alert group needs no full scan.
NOUN_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class Noun:
    """What a group's alerts are, for people: "pod"/"pods", or "alert"/"alerts"."""

    singular: str
    plural: str

    def count(self, n: int) -> str:
        """ "1 pod", "5 pods", "1,200 pods"."""
        return f"{n:,} {self.singular if n == 1 else self.plural}"


ALERTS = Noun("alert", "alerts")
# Labels that tell a group's alerts apart, in the order they are preferred as the noun.
_MEMBER_LABELS = {
    "pod": Noun("pod", "pods"),
    "container": Noun("container", "containers"),
    "instance": Noun("instance", "instances"),
    "node": Noun("node", "nodes"),
    "host": Noun("host", "hosts"),
    "device": Noun("device", "devices"),
    "mountpoint": Noun("mount point", "mount points"),
    "persistentvolumeclaim": Noun("volume claim", "volume claims"),
    "deployment": Noun("deployment", "deployments"),
    "statefulset": Noun("statefulset", "statefulsets"),
    "daemonset": Noun("daemonset", "daemonsets"),
    "cronjob": Noun("cron job", "cron jobs"),
    "job_name": Noun("job", "jobs"),
    "service": Noun("service", "services"),
    "endpoint": Noun("endpoint", "endpoints"),
    "target": Noun("target", "targets"),
    "namespace": Noun("namespace", "namespaces"),
    "cluster": Noun("cluster", "clusters"),
    "job": Noun("job", "jobs"),
}
_WORD = re.compile(r"[a-z]{3,20}")


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def telling_labels(alerts: Sequence[Alert], shared: Iterable[str]) -> set[str]:
    """The labels whose values tell `alerts` apart (of a single alert: all it has)."""
    ignored = {"alertname", "severity", *shared}
    if len(alerts) == 1:
        return set(alerts[0].labels) - ignored
    names = {name for a in alerts for name in a.labels} - ignored
    return {n for n in names if len({a.labels.get(n) for a in alerts}) > 1}


def member_noun(notification: Notification) -> Noun:
    """The noun for the group's alerts: the label that tells them apart, else "alerts"."""
    alerts = (notification.firing or notification.alerts)[:NOUN_SAMPLE]
    telling = telling_labels(alerts, notification.group_labels)
    for label, noun in _MEMBER_LABELS.items():
        if label in telling:
            return noun
    if len(telling) == 1 and _WORD.fullmatch(label := next(iter(telling))):
        return Noun(label, _plural(label))  # a label name is plain lowercase letters here
    return ALERTS


class Seen(NamedTuple):
    """A group at one moment: when, how many alerts fired and which (None: not all known)."""

    at: float  # Unix time
    firing: int
    members: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Since:
    """What changed in a group since its reused explanation was made, computed without a call."""

    explained_at: datetime
    seen_at: datetime  # when the notification was assessed
    firing: int
    then: int  # firing alerts when the explanation was made
    new: int | None  # firing now, not then; None when Alertmanager left alerts out
    resolved: int | None  # firing then, not now
    noun: Noun

    @classmethod
    def between(cls, then: Seen, now: Seen, noun: Noun) -> Since:
        """The change from `then` to `now`."""
        known = now.members is not None and then.members is not None
        members, then_members = now.members or frozenset(), then.members or frozenset()
        return cls(
            explained_at=datetime.fromtimestamp(then.at, UTC),
            seen_at=datetime.fromtimestamp(max(now.at, then.at), UTC),
            firing=now.firing,
            then=then.firing,
            new=len(members - then_members) if known else None,
            resolved=len(then_members - members) if known else None,
            noun=noun,
        )

    @property
    def age(self) -> str:
        """ "35 min ago", "2 h 5 min ago"."""
        minutes = int((self.seen_at - self.explained_at).total_seconds() // 60)
        if minutes < 1:
            return "under a minute ago"
        if minutes < 60:
            return f"{minutes} min ago"
        hours, minutes = divmod(minutes, 60)
        if hours < 24:
            return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h ago" if hours else f"{days} d ago"

    @property
    def note(self) -> str:
        """The line a reused explanation carries, e.g. "explanation from 10:05 UTC (35 min
        ago), still applies: 5 pods firing now, 3 new since, 2 resolved"."""
        same_day = self.explained_at.date() == self.seen_at.date()
        clock = self.explained_at.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC")
        return f"explanation from {clock} ({self.age}), still applies: {self.changes}"

    @property
    def changes(self) -> str:
        """ "5 pods firing now, 3 new since, 2 resolved"."""
        now = f"{self.noun.count(self.firing)} firing now"
        if self.new is None or self.resolved is None:
            return f"{now}, {self.then:,} then"
        if self.new and self.resolved:
            return f"{now}, {self.new:,} new since, {self.resolved:,} resolved"
        if self.new:
            return f"{now}, {self.new:,} new since"
        if self.resolved:
            return f"{now}, {self.resolved:,} resolved since"
        return f"{now}, the same as then"
