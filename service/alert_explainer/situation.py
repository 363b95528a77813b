"""Situations: one paid explanation per alert group while what it is about stays the same.

A crash-looping Deployment whose pods are replaced as they fail sends its group every
group_interval with other pods: a new alert state each time, one situation for the on-call.
A group's situation is its route, its group, the alertnames firing, their highest severity
and how many alerts fire. The explanation made for it is kept in the state store (one
record per group and model/template version, shared by replicas) and reused without a call
while no alertname has joined, the severity has not risen, no more than `reexplain_growth`
times as many alerts fire as it was made for, the group has not resolved since, and it is
younger than `reexplain_after`. Which alerts fire and their annotation values may change;
the reused explanation then says so, with its age and what changed since (`Since`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import structlog

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.config import InferenceSettings
from alert_explainer.metrics import Metrics
from alert_explainer.store import StateStore

logger = structlog.get_logger("alert_explainer.situation")

# Why a group's explanation is made again (the `trigger` label of reexplanations_total).
Trigger = Literal["alertname", "severity", "growth", "refired", "expired"]
TRIGGERS: tuple[Trigger, ...] = ("alertname", "severity", "growth", "refired", "expired")
# Why no call was needed (the `reason` label of explanations_reused_total): the very same
# alert state, or the same situation with other alerts firing or other annotation values.
Reason = Literal["same_state", "members_changed", "details_changed"]
REASONS: tuple[Reason, ...] = ("same_state", "members_changed", "details_changed")

# A waiting notification looks again this often while another explains its group.
TURN_POLL = 0.05
# Member ids are fingerprints (16 hex digits); a sender's longer ones are hashed.
MAX_MEMBER_ID = 32
# The noun is chosen from the first alerts only: a 20,000-alert group needs no full scan.
NOUN_SAMPLE = 1000

# Severity spellings by rank, highest first. An unknown one ranks above all: a change to it
# counts as an escalation, since nothing says it is not one.
_SEVERITY_RANKS = {
    **dict.fromkeys(("critical", "page", "fatal", "emergency", "p1"), 4),
    **dict.fromkeys(("error", "high", "major", "p2"), 3),
    **dict.fromkeys(("warning", "warn", "medium", "minor", "p3"), 2),
    **dict.fromkeys(("info", "informational", "low", "notice", "p4", "p5"), 1),
    **dict.fromkeys(("", "none"), 0),
}
_UNKNOWN_RANK = 5


def severity_rank(severity: str) -> int:
    """How severe a severity label is: 4 for critical down to 0 for none; 5 when unknown."""
    return _SEVERITY_RANKS.get(severity.lower(), _UNKNOWN_RANK)


def highest_severity(alerts: Iterable[Alert]) -> str:
    """The most severe severity label among `alerts` ("" when none has one)."""
    return max((a.severity for a in alerts), key=lambda s: (severity_rank(s), s), default="")


def escalated(before: str, now: str) -> bool:
    """Whether the group's severity rose from `before` to `now`."""
    rank_before, rank_now = severity_rank(before), severity_rank(now)
    if rank_now == rank_before == _UNKNOWN_RANK:
        return before.lower() != now.lower()
    return rank_now > rank_before


def member_id(alert: Alert) -> str:
    """The alert's identity as kept in a record: its fingerprint, or a hash of a long one."""
    identity = alert.identity
    if len(identity) <= MAX_MEMBER_ID:
        return identity
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Situation:
    """What a firing notification is about, as far as reusing its explanation goes."""

    route: str
    group_key: str
    alertnames: frozenset[str]
    severity: str  # the highest among firing alerts
    firing: int  # firing alerts, counting those Alertmanager left out (max_alerts)
    members: frozenset[str] | None  # the firing alerts; None when some were left out

    @classmethod
    def of(cls, route: str, notification: Notification) -> Situation:
        """The situation of `notification` on `route`."""
        firing = notification.firing
        complete = notification.truncated_alerts == 0
        return cls(
            route=route,
            group_key=notification.group_key,
            alertnames=frozenset(a.name for a in firing),
            severity=highest_severity(firing),
            firing=len(firing) + notification.truncated_alerts,
            members=frozenset(member_id(a) for a in firing) if complete else None,
        )

    def key(self, model: str, template_version: str) -> str:
        """The state-store key of this group's record for one model and template version."""
        return record_key(self.route, model, template_version, self.group_key)


def record_key(route: str, model: str, template_version: str, group_key: str) -> str:
    """The state-store key of a group's situation record."""
    return "situation:" + _digest(route, model, template_version, group_key)


@dataclass(frozen=True, slots=True)
class Record:
    """A group's explanation and the situation it was made for, as the state store keeps it."""

    explained_at: float  # Unix time of the call
    alertnames: frozenset[str]
    severity: str
    firing: int
    members: frozenset[str] | None
    outcome: str  # the explanation's Outcome as JSON, reused as made (its evidence too)
    resolved: bool = False  # the group resolved since: its next firing is explained anew

    @classmethod
    def made(cls, situation: Situation, outcome: str, explained_at: float) -> Record:
        """The record of an explanation just made for `situation`."""
        return cls(
            explained_at,
            situation.alertnames,
            situation.severity,
            situation.firing,
            situation.members,
            outcome,
        )

    def dumps(self) -> str:
        """JSON for the state store."""
        members = None if self.members is None else sorted(self.members)
        return json.dumps(
            {
                "explained_at": self.explained_at,
                "alertnames": sorted(self.alertnames),
                "severity": self.severity,
                "firing": self.firing,
                "members": members,
                "outcome": self.outcome,
                "resolved": self.resolved,
            }
        )

    @classmethod
    def loads(cls, raw: str | None) -> Record | None:
        """The record `raw` describes; None when absent or unreadable (then a call is made)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            members = data["members"]
            return cls(
                explained_at=float(data["explained_at"]),
                alertnames=frozenset(data["alertnames"]),
                severity=str(data["severity"]),
                firing=int(data["firing"]),
                members=None if members is None else frozenset(members),
                outcome=str(data["outcome"]),
                resolved=bool(data["resolved"]),
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("situation_record_unreadable")
            return None


@dataclass(frozen=True, slots=True)
class Decision:
    """Reuse the group's explanation, or call: with the trigger when one was made before."""

    reuse: bool
    trigger: Trigger | None = None  # None for a group's first explanation
    reason: Reason | None = None  # why reuse was possible


FIRST = Decision(reuse=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """When a group's explanation still applies (inference.reexplain_after and _growth)."""

    window: float  # seconds an explanation is reused for; 0: every distinct state is explained
    growth: float  # reused while at most this many times as many alerts fire

    @classmethod
    def from_settings(cls, settings: InferenceSettings) -> Rule:
        """The rule the configuration sets."""
        return cls(settings.reexplain_after, settings.reexplain_growth)

    @property
    def enabled(self) -> bool:
        """Whether explanations are reused across states of a group at all."""
        return self.window > 0

    def decide(self, record: Record | None, situation: Situation, now: float) -> Decision:
        """Whether `record`'s explanation applies to `situation` at `now`, and if not, why."""
        if record is None:
            return FIRST
        trigger = self.trigger(record, situation, now)
        if trigger is not None:
            return Decision(reuse=False, trigger=trigger)
        same = situation.members is not None and situation.members == record.members
        return Decision(reuse=True, reason="details_changed" if same else "members_changed")

    def trigger(self, record: Record, situation: Situation, now: float) -> Trigger | None:
        """What changed enough since `record` was made to explain again; None if nothing."""
        if record.resolved:
            return "refired"
        if not situation.alertnames <= record.alertnames:
            return "alertname"
        if escalated(record.severity, situation.severity):
            return "severity"
        if situation.firing > record.firing * self.growth:
            return "growth"
        if now - record.explained_at >= self.window:
            return "expired"
        return None

    def limit(self, firing: int) -> int:
        """The most firing alerts an explanation made for `firing` alerts is reused for."""
        return int(firing * self.growth)


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
    def between(cls, record: Record, situation: Situation, noun: Noun, now: float) -> Since:
        """The change from `record`'s situation to `situation`."""
        known = situation.members is not None and record.members is not None
        now_members = situation.members or frozenset()
        then_members = record.members or frozenset()
        return cls(
            explained_at=datetime.fromtimestamp(record.explained_at, UTC),
            seen_at=datetime.fromtimestamp(max(now, record.explained_at), UTC),
            firing=situation.firing,
            then=record.firing,
            new=len(now_members - then_members) if known else None,
            resolved=len(then_members - now_members) if known else None,
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


@dataclass(frozen=True, slots=True)
class Consultation:
    """A firing notification's situation, decided while its group's turn is held."""

    situation: Situation
    decision: Decision
    record: Record | None = None
    key: str = ""  # the record's state-store key ("" while reuse is off)
    notification: Notification | None = None
    now: float = 0.0

    def reusable(self) -> tuple[str, Since] | None:
        """The record's outcome (JSON) and what changed since, when it still applies."""
        if not self.decision.reuse or self.record is None or self.notification is None:
            return None
        noun = member_noun(self.notification)
        return self.record.outcome, Since.between(self.record, self.situation, noun, self.now)


class Situations:
    """Decides per firing notification whether its group's explanation applies (`Rule`)."""

    def __init__(
        self,
        settings: InferenceSettings,
        state: StateStore,
        metrics: Metrics,
        routes: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rule = Rule.from_settings(settings)
        self._state = state
        self._metrics = metrics
        self._clock = clock
        # A record outlives its window, so an expired one is told from a first explanation.
        self._ttl = max(settings.explanation_ttl, settings.reexplain_after)
        # A group's turn is held through one inference call at most (then it lapses).
        self._turn_ttl = settings.timeout + 10.0
        for route in routes:
            for reason in REASONS:
                metrics.explanations_reused.labels(route, reason)
            for trigger in TRIGGERS:
                metrics.reexplanations.labels(route, trigger)

    def now(self) -> float:
        """Unix time by the clock records are stamped with."""
        return self._clock()

    @contextlib.asynccontextmanager
    async def consult(
        self, route: str, model: str, template_version: str, notification: Notification
    ) -> AsyncIterator[Consultation]:
        """The situation of a firing notification, its group's turn held until the block ends.

        Other notifications of the group, on any replica, wait for the turn, so what one
        call explains the others reuse. Call `remember` inside the block after a call.
        """
        situation = Situation.of(route, notification)
        if not self.rule.enabled:
            yield Consultation(situation, FIRST, None)
            return
        key = situation.key(model, template_version)
        async with self._turn(key):
            now = self._clock()
            record = Record.loads(await self._state.get(key))
            decision = self.rule.decide(record, situation, now)
            if decision.reason is not None:
                self._metrics.explanations_reused.labels(route, decision.reason).inc()
            if decision.trigger is not None:
                self._metrics.reexplanations.labels(route, decision.trigger).inc()
                logger.info(
                    "situation_changed",
                    route=route,
                    group_key=notification.group_key,
                    trigger=decision.trigger,
                )
            yield Consultation(situation, decision, record, key, notification, now)

    async def remember(self, consultation: Consultation, outcome: str, explained_at: float) -> None:
        """Keep an explanation just made (its Outcome as JSON) as the group's situation's."""
        if consultation.key:
            record = Record.made(consultation.situation, outcome, explained_at)
            await self._state.put(consultation.key, record.dumps(), self._ttl)

    async def end(
        self, route: str, model: str, template_version: str, notification: Notification
    ) -> None:
        """The group resolved: its next firing is a new situation, explained anew."""
        if not self.rule.enabled:
            return
        key = record_key(route, model, template_version, notification.group_key)
        async with self._turn(key):
            record = Record.loads(await self._state.get(key))
            if record is not None and not record.resolved:
                ended = replace(record, resolved=True, members=frozenset(), outcome="")
                await self._state.put(key, ended.dumps(), self._ttl)

    @contextlib.asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        lease, token = f"lease:{key}", uuid.uuid4().hex
        # Another task or replica holds it; its release is no local event, so poll.
        while not await self._state.claim(lease, token, self._turn_ttl):  # noqa: ASYNC110
            await asyncio.sleep(TURN_POLL)
        try:
            yield
        finally:
            await self._state.release(lease, token)
