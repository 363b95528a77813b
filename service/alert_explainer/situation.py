"""Situations: one paid explanation per alert group while what it is about stays the same.

A crash-looping Deployment whose pods are replaced as they fail sends its group every
group_interval with other pods: a new alert state each time, one situation for the on-call.
A group's situation is its route, its group, the alertnames firing, their highest severity
and how many alerts fire. The explanation made for it is kept in the state store (one
record per group and model/template version, shared by replicas) and reused without a call
while no alertname has joined, the severity has not risen, no more than `reexplain_growth`
times as many alerts fire as it was made for, the group has not resolved since, and it is
younger than `reexplain_after`. Which alerts fire and their annotation values may change;
the reused explanation then says so, with its age and what changed since (since.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

import orjson
import structlog

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.config import InferenceSettings
from alert_explainer.jsonout import encode_json
from alert_explainer.metrics import Metrics
from alert_explainer.since import Noun, Seen, Since, member_noun
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

    def seen(self, at: float) -> Seen:
        """The group as seen at `at` (for what changed since)."""
        return Seen(at, self.firing, self.members)


def record_key(route: str, model: str, template_version: str, group_key: str) -> str:
    """The state-store key of a group's situation record."""
    return "situation:" + _digest(route, model, template_version, group_key)


def resolved_key(key: str) -> str:
    """The key under which a group's last resolution time is kept, beside its record."""
    return key + ":resolved"


@dataclass(frozen=True, slots=True)
class Record:
    """A group's explanation and the situation it was made for, as the state store keeps it."""

    asked_at: float  # Unix time the call was decided on
    explained_at: float  # Unix time the explanation came back
    alertnames: frozenset[str]
    severity: str
    firing: int
    members: frozenset[str] | None
    outcome: str  # the explanation's Outcome as JSON, reused as made (its evidence too)
    # The group resolved after the call was asked for: its next firing is explained anew.
    # Kept under its own key (`resolved_key`), so a resolution never waits for a call.
    resolved: bool = False

    @classmethod
    def made(
        cls, situation: Situation, outcome: str, asked_at: float, explained_at: float
    ) -> Record:
        """The record of an explanation just made for `situation`."""
        return cls(
            asked_at,
            explained_at,
            situation.alertnames,
            situation.severity,
            situation.firing,
            situation.members,
            outcome,
        )

    @property
    def seen(self) -> Seen:
        """The group as seen when the explanation was made."""
        return Seen(self.explained_at, self.firing, self.members)

    def dumps(self) -> str:
        """JSON for the state store."""
        members = None if self.members is None else sorted(self.members)
        return encode_json(
            {
                "asked_at": self.asked_at,
                "explained_at": self.explained_at,
                "alertnames": sorted(self.alertnames),
                "severity": self.severity,
                "firing": self.firing,
                "members": members,
                "outcome": self.outcome,
            }
        ).decode()

    @classmethod
    def loads(cls, raw: str | None) -> Record | None:
        """The record `raw` describes; None when absent or unreadable (then a call is made)."""
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            members = data["members"]
            if not isinstance(orjson.loads(data["outcome"])["text"], str):
                raise TypeError("the record holds no explanation")
            return cls(
                asked_at=float(data["asked_at"]),
                explained_at=float(data["explained_at"]),
                alertnames=frozenset(data["alertnames"]),
                severity=str(data["severity"]),
                firing=int(data["firing"]),
                members=None if members is None else frozenset(members),
                outcome=str(data["outcome"]),
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

    def describe(self, situation: Situation, noun: Noun) -> str:
        """The rule for an explanation made for `situation`, in words (for `render`)."""
        if not self.enabled:
            return "off (inference.reexplain_after: 0): every distinct alert state is explained"
        severity = json.dumps(situation.severity) if situation.severity else "none"
        return (
            "an explanation made for it is reused without a call while no other alertname "
            f"joins, the severity stays at most {severity}, at most "
            f"{noun.count(self.limit(situation.firing))} fire ({self.growth:g}x "
            f"{situation.firing:,}) and the group does not resolve, for "
            f"{duration(self.window)} after it was made"
        )


def duration(seconds: float) -> str:
    """ "1h", "1h30m", "45s": a duration as the configuration writes it."""
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or f"{seconds:g}s"


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
        record, situation = self.record, self.situation
        since = Since.between(record.seen, situation.seen(self.now), member_noun(self.notification))
        return record.outcome, since


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
        # A turn's lease token: unique across replicas (owner) and within this one (count),
        # without a random draw per notification.
        self._owner = uuid.uuid4().hex
        self._turns = itertools.count()
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
        lease, token = f"lease:{key}", f"{self._owner}:{next(self._turns)}"
        # Another task or replica holds the turn; its release is no local event, so poll.
        while not await self._state.claim(lease, token, self._turn_ttl):  # noqa: ASYNC110
            await asyncio.sleep(TURN_POLL)
        try:
            now = self._clock()
            record = await self._recall(key)
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
        finally:
            await self._state.release(lease, token)

    async def remember(self, consultation: Consultation, outcome: str, explained_at: float) -> None:
        """Keep an explanation just made (its Outcome as JSON) as the group's situation's."""
        if consultation.key:
            situation, asked_at = consultation.situation, consultation.now
            record = Record.made(situation, outcome, asked_at, explained_at)
            await self._state.put(consultation.key, record.dumps(), self._ttl)

    async def end(
        self, route: str, model: str, template_version: str, notification: Notification
    ) -> None:
        """The group resolved: its next firing is a new situation, explained anew.

        Written without waiting for the group's turn: a resolution is never held up by a
        call in flight, and one that comes during the call still counts (`asked_at`).
        """
        if self.rule.enabled:
            key = record_key(route, model, template_version, notification.group_key)
            await self._state.put(resolved_key(key), repr(self._clock()), self._ttl)

    async def _recall(self, key: str) -> Record | None:
        record = Record.loads(await self._state.get(key))
        if record is None:
            return None
        resolved = await self._state.get(resolved_key(key))
        try:
            after_call = resolved is not None and float(resolved) >= record.asked_at
        except ValueError:
            after_call = True  # unreadable: take it as a resolution, which costs one call
        return replace(record, resolved=True) if after_call else record
