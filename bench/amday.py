"""A day of Alertmanager webhook notifications, generated as Alertmanager would send them.

Each alert group follows a scripted life (chronic, growing, transient, flapping, partly
resolving); the sends are derived from Alertmanager's own rules for one receiver with
`send_resolved: true` (prometheus/alertmanager dispatch/dispatch.go aggrGroup and
notify/notify.go DedupStage.needsUpdate):

- an aggregation group starts with the group's first firing alert and flushes after
  `group_wait`, then every `group_interval`; it is dropped once empty;
- a flush notifies when a firing alert is new since the last notification, when resolved
  alerts changed, when everything resolved, or when `repeat_interval` has passed;
- resolved alerts are sent once and then leave the group;
- firing alerts carry the annotations of their latest evaluation (some embed a value
  that moves, as `{{ $value }}` templates do).

Some sends are then repeated as they are: the HA peer's duplicate (`peer_timeout` later,
gossip not yet arrived) and Alertmanager's retries after a lost answer.

    python -m bench.amday --groups 200 --seed 6 --out /tmp/day.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

DAY = 86_400.0
EPOCH = datetime(2026, 11, 25, tzinfo=UTC)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

Kind = Literal["notification", "ha_duplicate", "retry"]


@dataclass(frozen=True, slots=True)
class Timing:
    """The route's timers (Alertmanager's defaults, 4 h repeat) and the HA peer delay."""

    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    peer_timeout: float = 15.0


@dataclass(slots=True)
class AlertScript:
    """One alert's life: when it fires and what its annotations say over time."""

    labels: dict[str, str]
    firing: list[tuple[float, float | None]]  # (start, end) intervals; end None = to the end
    annotations: list[tuple[float, dict[str, str]]]  # (from time, annotations), sorted

    @property
    def fingerprint(self) -> str:
        """A stable 16-hex-digit id of the label set, like Alertmanager's fingerprint."""
        canonical = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def interval_at(self, t: float) -> tuple[float, float | None] | None:
        """The firing interval containing `t`, if any."""
        for start, end in self.firing:
            if start <= t and (end is None or t < end):
                return start, end
        return None

    def last_interval_before(self, t: float) -> tuple[float, float | None] | None:
        """The latest firing interval that started at or before `t`."""
        started = [(s, e) for s, e in self.firing if s <= t]
        return started[-1] if started else None

    def fired_during(self, after: float, until: float) -> bool:
        """Whether it was firing at any moment in (after, until]."""
        return any(s <= until and (e is None or e > after) for s, e in self.firing)

    def annotations_at(self, t: float) -> dict[str, str]:
        """The annotations of the latest evaluation at or before `t`."""
        current = self.annotations[0][1]
        for since, values in self.annotations:
            if since <= t:
                current = values
        return current


@dataclass(slots=True)
class GroupScript:
    """An alert group: its key, labels and alerts."""

    kind: str
    group_labels: dict[str, str]
    alerts: list[AlertScript]
    receiver: str = "team-explain"

    @property
    def group_key(self) -> str:
        """Alertmanager's groupKey: route matchers, then the group labels."""
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(self.group_labels.items()))
        return f'{{}}/{{severity=~"warning|critical"}}:{{{labels}}}'


@dataclass(frozen=True, slots=True)
class Send:
    """One webhook POST: when (virtual seconds into the day), what, and why."""

    at: float
    payload: dict[str, Any]
    kind: Kind
    group: str  # the group's behaviour, e.g. "flapping"


@dataclass(slots=True)
class _Entry:
    """The notification log entry of a group: what the last notification said."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


def needs_update(
    entry: _Entry | None, firing: set[str], resolved: set[str], now: float, repeat: float
) -> bool:
    """Alertmanager's DedupStage.needsUpdate with send_resolved: true."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if not resolved <= entry.resolved:
        return True
    return entry.at <= now - repeat


def _iso(t: float) -> str:
    stamp = EPOCH + timedelta(seconds=t)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}000Z"


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}


def payload(group: GroupScript, states: dict[str, bool], now: float) -> dict[str, Any]:
    """The webhook body for a flush at `now`; `states` maps fingerprint -> firing."""
    alerts: list[dict[str, Any]] = []
    for alert in group.alerts:
        fp = alert.fingerprint
        if fp not in states:
            continue
        firing = states[fp]
        interval = alert.interval_at(now) if firing else alert.last_interval_before(now)
        assert interval is not None
        start, end = interval
        ends = GO_ZERO_TIME if firing or end is None else _iso(end)
        seen = now if firing else (end if end is not None else now)
        alerts.append(
            {
                "status": "firing" if firing else "resolved",
                "labels": alert.labels,
                "annotations": alert.annotations_at(seen),
                "startsAt": _iso(start),
                "endsAt": ends,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": fp,
            }
        )
    any_firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": group.receiver,
        "status": "firing" if any_firing else "resolved",
        "alerts": alerts,
        "groupLabels": group.group_labels,
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group.group_key,
        "truncatedAlerts": 0,
    }


def simulate(
    group: GroupScript, timing: Timing, day: float = DAY
) -> list[tuple[float, dict[str, Any]]]:
    """The notifications Alertmanager sends for `group` during the day, in order."""
    sends: list[tuple[float, dict[str, Any]]] = []
    entry: _Entry | None = None
    starts = sorted(s for a in group.alerts for s, _ in a.firing)
    cursor = 0.0
    while True:
        upcoming = [s for s in starts if s >= cursor]
        if not upcoming or upcoming[0] >= day:
            return sends
        flush = upcoming[0] + timing.group_wait
        window_start = upcoming[0] - 1e-9
        known: dict[str, bool] = {}
        while flush < day:
            for alert in group.alerts:
                fp = alert.fingerprint
                if alert.interval_at(flush) is not None:
                    known[fp] = True
                elif fp in known or alert.fired_during(window_start, flush):
                    known[fp] = False
            firing = {fp for fp, f in known.items() if f}
            resolved = {fp for fp, f in known.items() if not f}
            if needs_update(entry, firing, resolved, flush, timing.repeat_interval):
                sends.append((flush, payload(group, known, flush)))
                entry = _Entry(frozenset(firing), frozenset(resolved), flush)
            for fp in resolved:  # sent (or not needed): resolved alerts leave the group
                del known[fp]
            window_start = flush
            if not known:
                break  # the aggregation group is empty and goes away
            flush += timing.group_interval
        cursor = flush if flush < day else day


@dataclass(slots=True)
class Day:
    """Every webhook POST of the day, in time order, and the groups behind them."""

    groups: list[GroupScript]
    sends: list[Send] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts that describe the day."""
        kinds: dict[str, int] = {}
        for send in self.sends:
            kinds[send.kind] = kinds.get(send.kind, 0) + 1
        behaviours: dict[str, int] = {}
        for group in self.groups:
            behaviours[group.kind] = behaviours.get(group.kind, 0) + 1
        return {
            "groups": len(self.groups),
            "groups_by_behaviour": behaviours,
            "alerts": sum(len(g.alerts) for g in self.groups),
            "posts": len(self.sends),
            "posts_by_kind": kinds,
            "resolved_only_posts": sum(1 for s in self.sends if s.payload["status"] == "resolved"),
            "distinct_firing_states": len(distinct_states(self.sends, firing_only=True)),
            "distinct_states": len(distinct_states(self.sends, firing_only=False)),
        }


def state_of(body: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str, str]]]:
    """A group state: groupKey and the set of (fingerprint, status, annotations)."""
    return body["groupKey"], frozenset(
        (a["fingerprint"], a["status"], json.dumps(a["annotations"], sort_keys=True))
        for a in body["alerts"]
    )


def identity_of(body: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    """What makes two notifications the same: groupKey and (fingerprint, status) pairs."""
    return body["groupKey"], frozenset((a["fingerprint"], a["status"]) for a in body["alerts"])


def distinct_states(
    sends: Sequence[Send], *, firing_only: bool
) -> set[tuple[str, frozenset[tuple[str, str, str]]]]:
    """Distinct group states among the sends (with a firing alert, if `firing_only`)."""
    return {
        state_of(s.payload)
        for s in sends
        if not firing_only or any(a["status"] == "firing" for a in s.payload["alerts"])
    }


# Realistic alert names per behaviour; labels come from these and a namespace/instance.
_NAMESPACES = ("payments", "checkout", "search", "ledger", "auth", "media", "ingest", "web")
_CHRONIC = ("KubePodNotReady", "NodeFilesystemAlmostOutOfSpace", "CPUThrottlingHigh")
_GROWING = ("KubePodCrashLooping", "TargetDown", "KubeJobFailed")
_TRANSIENT = ("HighErrorRate", "KubeDeploymentReplicasMismatch", "PrometheusRuleFailures")
_FLAPPING = ("ProbeFailed", "HighLatency")
_PARTIAL = ("NodeNotReady", "KubeContainerWaiting")


def _alert(
    rng: random.Random,
    name: str,
    namespace: str,
    member: str,
    firing: list[tuple[float, float | None]],
    moving_value: bool,
) -> AlertScript:
    labels = {
        "alertname": name,
        "namespace": namespace,
        "pod": member,
        "severity": rng.choice(("warning", "critical")),
        "job": "kube-state-metrics",
    }
    summary = f"{name} on {namespace}/{member}"
    runbook = f"https://runbooks.example.com/{name}"
    if not moving_value:
        notes = {"summary": summary, "runbook_url": runbook}
        return AlertScript(labels, firing, [(0.0, notes)])
    # A "{{ $value }}" annotation: the value moves to a new bucket now and then.
    annotations = []
    t = 0.0
    while t < DAY:
        value = rng.choice((87, 89, 91, 93, 95, 97))
        annotations.append(
            (t, {"summary": summary, "runbook_url": runbook, "description": f"{value}% used"})
        )
        t += rng.uniform(2, 9) * 3600
    return AlertScript(labels, firing, annotations)


def _member(i: int) -> str:
    return f"{'abcdefgh'[i % 8]}{i:02d}-7d9f"


def build_groups(count: int, rng: random.Random) -> list[GroupScript]:
    """`count` groups with a realistic mix of behaviours over one day."""
    behaviours = (
        ["chronic"] * 30
        + ["growing"] * 25
        + ["transient"] * 25
        + ["flapping"] * 10
        + ["partial"] * 10
    )
    groups = []
    for index in range(count):
        kind = behaviours[index % len(behaviours)]
        namespace = f"{rng.choice(_NAMESPACES)}-{index:03d}"
        start = rng.uniform(0, DAY * 0.8)
        alerts: list[AlertScript] = []
        if kind == "chronic":
            name = rng.choice(_CHRONIC)
            begin = rng.uniform(0, 3600)  # already firing when the day begins
            moving = rng.random() < 0.4
            for i in range(rng.randint(1, 3)):
                alerts.append(_alert(rng, name, namespace, _member(i), [(begin, None)], moving))
        elif kind == "growing":
            name = rng.choice(_GROWING)
            end = start + rng.uniform(1, 6) * 3600 if rng.random() < 0.6 else None
            joined = start
            for i in range(rng.randint(2, 8)):
                if end is not None and joined >= end:
                    break
                alerts.append(_alert(rng, name, namespace, _member(i), [(joined, end)], False))
                joined += rng.uniform(60, 900)  # one more pod joins every few minutes
        elif kind == "transient":
            name = rng.choice(_TRANSIENT)
            end = start + rng.uniform(600, 7200)
            for i in range(rng.randint(1, 2)):
                alerts.append(_alert(rng, name, namespace, _member(i), [(start, end)], False))
        elif kind == "flapping":
            name = rng.choice(_FLAPPING)
            intervals: list[tuple[float, float | None]] = []
            t = start
            for _ in range(rng.randint(3, 6)):
                on = rng.uniform(120, 1800)
                intervals.append((t, t + on))
                t += on + rng.uniform(60, 1800)
            alerts.append(_alert(rng, name, namespace, _member(0), intervals, False))
        else:  # partial: several fire together, then resolve one by one
            name = rng.choice(_PARTIAL)
            for i in range(rng.randint(3, 5)):
                end = start + rng.uniform(900, 4 * 3600)
                alerts.append(_alert(rng, name, namespace, _member(i), [(start, end)], False))
        group_labels = {"alertname": name, "namespace": namespace}
        groups.append(GroupScript(kind, group_labels, alerts))
    return groups


def build_churning(count: int, rng: random.Random) -> list[GroupScript]:
    """`count` crash-looping Deployments whose pods are replaced as they fail (issue 16).

    Each keeps 3 to 6 pods firing for 2 to 8 hours; a pod lives 10 to 40 minutes, then a
    new pod (a new alert) takes its place. Severity stays the same: one situation each.
    """
    groups = []
    for index in range(count):
        namespace = f"shop-{index:03d}"
        start = rng.uniform(0, DAY * 0.6)
        end = start + rng.uniform(2, 8) * 3600
        severity = rng.choice(("warning", "critical"))
        alerts: list[AlertScript] = []
        for slot in range(rng.randint(3, 6)):
            born = start
            while born < end:
                dies = min(end, born + rng.uniform(600, 2400))
                pod = f"web-{slot}{len(alerts):03d}-7d9f"
                alert = _alert(rng, "KubePodCrashLooping", namespace, pod, [(born, dies)], False)
                alert.labels["severity"] = severity
                alerts.append(alert)
                born = dies
        group_labels = {"alertname": "KubePodCrashLooping", "namespace": namespace}
        groups.append(GroupScript("churning", group_labels, alerts))
    return groups


def generate_day(
    groups: int = 200,
    seed: int = 6,
    timing: Timing | None = None,
    ha_duplicate_rate: float = 0.05,
    retry_rate: float = 0.03,
    churning: int = 0,
) -> Day:
    """The day's webhook POSTs in time order, copies (HA duplicates, retries) included.

    `churning` adds that many crash-looping Deployments with replaced pods, drawn from
    their own random sequence so the other groups stay exactly as without them.
    """
    timing = timing or Timing()
    rng = random.Random(seed)
    day = Day(build_groups(groups, rng) + build_churning(churning, random.Random(seed + 1)))
    sends: list[Send] = []
    for group in day.groups:
        for at, body in simulate(group, timing):
            sends.append(Send(at, body, "notification", group.kind))
            if rng.random() < ha_duplicate_rate:
                late = at + timing.peer_timeout + rng.uniform(0, 2)
                sends.append(Send(late, body, "ha_duplicate", group.kind))
            if rng.random() < retry_rate:
                sends.append(Send(at + rng.uniform(5, 30), body, "retry", group.kind))
    day.sends = sorted(sends, key=lambda s: s.at)
    return day


def main(argv: Sequence[str] | None = None) -> int:
    """Print the day's summary; with --out, write every send as JSON lines."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.amday", description="Generate a day of Alertmanager webhooks."
    )
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--churning", type=int, default=0, help="crash-looping Deployments")
    parser.add_argument("--out", help="write {at, kind, group, payload} JSON lines here")
    args = parser.parse_args(argv)
    day = generate_day(args.groups, args.seed, churning=args.churning)
    print(json.dumps(day.summary(), indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for send in day.sends:
                record = {"at": send.at, "kind": send.kind, "group": send.group}
                out.write(json.dumps(record | {"payload": send.payload}) + "\n")
        print(f"wrote {len(day.sends)} sends to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
