"""Issues 6 and 16, scenario 4: what a realistic Alertmanager day costs in inference calls.

Replays a generated day (bench.amday: 200 groups with repeats every repeat_interval,
groups that grow, partial and full resolves, flapping alerts, HA duplicates and
retries) against the service, with time compressed by --speed (1200: the day takes 72 s,
a 4 h repeat_interval 12 s, the HA peer's 15 s delay 12.5 ms). `delivery.dedup_window`
and `inference.reexplain_after` are the service defaults (600 s, 1 h) scaled the same way
(0.5 s, 3 s), so they relate to the simulated timers as they would in production.

The day is replayed twice, side by side: once explaining every distinct state
(`reexplain_after: 0`) and once with situation reuse (the default, 1 h). Targets: calls
(counted at the emulator) per distinct firing group state = 1.00 in the first; calls per
situation = 1.00 in the second. A group state is (groupKey, the set of (fingerprint,
status, annotations)); a resolved-only state needs no call. Situations are counted by
replaying the documented rule over the day offline (`expected_calls`), independently of
the service's code.

Also reported: deliveries at the sink against the notifications Alertmanager meant as
new (copies excluded), and which of them the service treated as duplicates.

    .venv/bin/python -m bench.cost --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import features
from bench.amday import Day, Send, Timing, generate_day, identity_of, state_of
from bench.cpu import CpuWatch, wait_quiet
from bench.features import Config
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
    Endpoint,
    get_json,
    http,
    metric,
    metric_by,
    service_config,
    step,
    table,
    verdict,
    write_results,
)
from bench.payloads import encode


@dataclass(frozen=True, slots=True)
class Replayed:
    """The service's answer to one replayed POST, and how late it was sent."""

    status: int
    late: float


async def replay(url: str, sends: Sequence[Send], speed: float) -> list[Replayed]:
    """POST each send at its virtual time divided by `speed`, without waiting for answers."""
    bodies = [encode(s.payload) for s in sends]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def post(body: bytes, late: float) -> Replayed:
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    return Replayed(response.status, late)
            except (aiohttp.ClientError, TimeoutError):
                return Replayed(0, late)

        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        tasks = []
        for send, body in zip(sends, bodies, strict=True):
            due = start + send.at / speed
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(body, max(0.0, loop.time() - due))))
        return list(await asyncio.gather(*tasks))


def expected_swallows(day: Day, dedup_window: float) -> list[Send]:
    """Notifications meant as new whose identity was delivered less than the window earlier.

    The service remembers a delivered identity (group + alert fingerprints and statuses)
    for `dedup_window`; a flapping alert that fires again inside it looks like a retry.
    """
    last: dict[Any, float] = {}
    swallowed = []
    for send in day.sends:
        if send.kind != "notification":
            continue
        identity = identity_of(send.payload)
        previous = last.get(identity)
        if previous is not None and send.at - previous < dedup_window:
            swallowed.append(send)
            continue
        last[identity] = send.at
    return swallowed


def delivery_mismatches(day: Day, bodies: list[dict[str, Any]]) -> tuple[int, int]:
    """(notifications meant as new that never reached the sink, copies delivered twice)."""
    expected = Counter(identity_of(s.payload) for s in day.sends if s.kind == "notification")
    delivered = Counter(identity_of(b["alertmanager"]) for b in bodies)
    missing = sum((expected - delivered).values())
    extra = sum((delivered - expected).values())
    return missing, extra


SEVERITY_RANKS = {"": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}


@dataclass(slots=True)
class _Explained:
    """What the rule keeps of a group's last explanation (virtual seconds)."""

    at: float
    alertnames: frozenset[str]
    severity: int
    firing: int
    resolved: bool = False


def expected_calls(
    sends: Sequence[Send], window: float, growth: float = 2.0, made_after: float = 0.0
) -> Counter[str]:
    """The rule of docs/configuration.md#situations replayed over the day: calls and reuses.

    `window` is reexplain_after (0: every distinct firing state is one call), `growth`
    reexplain_growth, both virtual. An explanation is stamped `made_after` seconds after
    its notification, when the call returns (the emulator's latency, scaled).
    """
    explained_states: set[Any] = set()
    groups: dict[str, _Explained] = {}
    counts: Counter[str] = Counter()
    for send in sends:
        body = send.payload
        key = body["groupKey"]
        if body["status"] == "resolved":
            if key in groups:
                groups[key].resolved = True
            continue
        state = state_of(body)
        if state in explained_states:
            counts["same_state"] += 1
            continue
        firing = [a for a in body["alerts"] if a["status"] == "firing"]
        alertnames = frozenset(a["labels"]["alertname"] for a in firing)
        severity = max(SEVERITY_RANKS[a["labels"].get("severity", "")] for a in firing)
        last = groups.get(key)
        if (
            window > 0
            and last is not None
            and not last.resolved
            and alertnames <= last.alertnames
            and severity <= last.severity
            and len(firing) <= last.firing * growth
            and send.at - last.at < window
        ):
            counts["same_situation"] += 1
            continue
        counts["calls"] += 1
        explained_states.add(state)
        if window > 0:
            groups[key] = _Explained(send.at + made_after, alertnames, severity, len(firing))
    return counts


@dataclass(slots=True)
class Run:
    """One replay of the day against a fresh service, and what it measured."""

    label: str
    reexplain_after: float  # virtual seconds
    expected: Counter[str]
    answers: list[Replayed] = field(default_factory=list)
    calls: int = 0
    exposition: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    replay_seconds: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)

    @property
    def calls_per_situation(self) -> float:
        """Calls over the calls the rule expects (its situations)."""
        return self.calls / max(1, self.expected["calls"])


def replay_once(
    bench: Bench,
    day: Day,
    run: Run,
    args: argparse.Namespace,
    name: str,
    switch_on: Callable[[Config], Config],
) -> None:
    """Start an emulator, a sink and the service for `run`, replay the day, collect."""
    window = args.dedup_window / args.speed
    with step(f"{run.label}: starting emulator, sink and service"):
        emulator = bench.peer("emulator", latency=args.latency, name=f"emulator-{name}")
        sink = bench.peer("sink", keep_bodies=True, name=f"sink-{name}")
        config = service_config(
            emulator,
            sink,
            dedup_window=window,
            reexplain_after=run.reexplain_after / args.speed,
        )
        service = bench.service(switch_on(config), name=f"service-{name}")
    wait_quiet()
    watch = CpuWatch(
        {"service": service.process, "emulator": emulator.process, "sink": sink.process}
    )
    with step(f"{run.label}: replaying {len(day.sends)} posts over {86400 / args.speed:.0f} s"):
        started = time.perf_counter()
        run.answers = asyncio.run(replay(service.url("/webhook"), day.sends, args.speed))
        run.replay_seconds = time.perf_counter() - started
    run.cores = watch.read()
    print(f"  cores used: {run.cores}")
    time.sleep(1.0)
    run.exposition = http("GET", service.url("/metrics")).decode()
    run.calls = int(get_json(emulator.url("/stats"))["requests"])
    run.bodies = json.loads(http("GET", sink.url("/bodies"), timeout=60))
    _stop(service, emulator, sink)


def _stop(*endpoints: Endpoint) -> None:
    for endpoint in endpoints:
        endpoint.process.stop()


def rows(day: Day, runs: Sequence[Run], args: argparse.Namespace) -> list[list[object]]:
    """The table: one column per run."""
    summary = day.summary()
    firing_states = summary["distinct_firing_states"]
    originals = sum(1 for s in day.sends if s.kind == "notification")
    predicted = expected_swallows(day, args.dedup_window)

    def each(measure: Any) -> list[object]:
        return [measure(r) for r in runs]

    def explained(r: Run) -> str:
        states = {state_of(b["alertmanager"]) for b in r.bodies if b["explained"]}
        firing = {
            state_of(b["alertmanager"])
            for b in r.bodies
            if any(a["status"] == "firing" for a in b["alertmanager"]["alerts"])
        }
        return f"{len(firing)} / {len(states & firing)}"

    def metric_of(name: str, label: str) -> Any:
        return lambda r: metric_by(r.exposition, name, label) or "none"

    return [
        ["inference.reexplain_after (virtual)", *each(lambda r: f"{r.reexplain_after:g} s")],
        ["webhook POSTs (copies included)", *each(lambda r: len(day.sends))],
        [
            "answers by status",
            *each(lambda r: dict(sorted(Counter(a.status for a in r.answers).items()))),
        ],
        ["distinct firing group states", *each(lambda r: firing_states)],
        ["situations (the rule replayed offline)", *each(lambda r: r.expected["calls"])],
        ["inference calls (emulator)", *each(lambda r: r.calls)],
        [
            "inference calls (service metric)",
            *each(lambda r: int(metric(r.exposition, "alert_explainer_inference_calls_total"))),
        ],
        ["calls / distinct firing states", *each(lambda r: f"{r.calls / firing_states:.2f}")],
        ["calls / situations", *each(lambda r: f"{r.calls_per_situation:.2f}")],
        ["firing states delivered / explained", *each(explained)],
        [
            "reuses by reason (metric)",
            *each(metric_of("alert_explainer_explanations_reused_total", "reason")),
        ],
        [
            "re-explanations by trigger (metric)",
            *each(metric_of("alert_explainer_reexplanations_total", "trigger")),
        ],
        [
            "deliveries marked with a reuse note",
            *each(lambda r: sum(1 for b in r.bodies if b.get("reuse"))),
        ],
        ["fallbacks", *each(metric_of("alert_explainer_fallbacks_total", "reason"))],
        ["notifications meant as new", *each(lambda r: originals)],
        ["deliveries at the sink", *each(lambda r: len(r.bodies))],
        ["  meant as new, not delivered", *each(lambda r: delivery_mismatches(day, r.bodies)[0])],
        ["  predicted: re-fire within dedup_window", *each(lambda r: len(predicted))],
        ["  delivered more than once", *each(lambda r: delivery_mismatches(day, r.bodies)[1])],
        ["max send lateness ms", *each(lambda r: round(max(a.late for a in r.answers) * 1000, 1))],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run scenario 4 twice (per state, per situation) and print the tables side by side."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost",
        description="Inference calls per distinct group state and per situation over a "
        "replayed Alertmanager day.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--churning", type=int, default=0, help="add crash-looping Deployments (bench.amday)"
    )
    parser.add_argument("--speed", type=float, default=1200.0, help="virtual s per real s")
    parser.add_argument(
        "--dedup-window", type=float, default=600.0, help="service dedup_window, virtual s"
    )
    parser.add_argument(
        "--reexplain-after",
        type=float,
        default=3600.0,
        help="inference.reexplain_after of the situation run, virtual s",
    )
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency, real s")
    features.add_argument(parser)
    args = parser.parse_args(argv)

    timing = Timing()
    day = generate_day(args.groups, args.seed, timing, churning=args.churning)
    summary = day.summary()
    print(json.dumps(summary))
    made_after = args.latency * args.speed
    runs = [
        Run("per state", 0.0, expected_calls(day.sends, 0.0)),
        Run(
            "per situation",
            args.reexplain_after,
            expected_calls(day.sends, args.reexplain_after, made_after=made_after),
        ),
    ]
    with Bench("cost", args.service_src) as bench:
        switch_on = features.switch_on(bench, args.all_features)
        for run, name in zip(runs, ("state", "situation"), strict=True):
            replay_once(bench, day, run, args, name, switch_on)

    per_state, per_situation = runs
    checks = {
        "calls_per_state": round(per_state.calls / summary["distinct_firing_states"], 2) == 1.00,
        "calls_per_situation": round(per_situation.calls_per_situation, 2) == 1.00,
        "nothing_lost": all(delivery_mismatches(day, r.bodies) == (0, 0) for r in runs),
    }
    table_rows = rows(day, runs, args)
    table_rows.append(
        [
            "target",
            f"calls / states = 1.00: {verdict(checks['calls_per_state'])}",
            f"calls / situations = 1.00: {verdict(checks['calls_per_situation'])}",
        ]
    )
    print(
        f"\nReplayed Alertmanager day: {args.groups} groups"
        f"{f' + {args.churning} churning' if args.churning else ''}, seed {args.seed}, "
        f"speed {args.speed:g}x (dedup_window {args.dedup_window:g} s virtual = "
        f"{args.dedup_window / args.speed:g} s, reexplain_after {args.reexplain_after:g} s "
        f"virtual = {args.reexplain_after / args.speed:g} s)"
    )
    print(table(["what", *(r.label for r in runs)], table_rows))
    if args.all_features:
        for r in runs:
            print(f"{r.label}: {features.described(features.observed(r.exposition))}")
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "timing": {
                "group_wait": timing.group_wait,
                "group_interval": timing.group_interval,
                "repeat_interval": timing.repeat_interval,
                "peer_timeout": timing.peer_timeout,
            },
            "service_dedup_window_seconds": args.dedup_window / args.speed,
            "day": summary,
            "runs": [
                {
                    "label": r.label,
                    "reexplain_after_virtual_seconds": r.reexplain_after,
                    "reexplain_after_seconds": r.reexplain_after / args.speed,
                    "expected_by_rule": dict(r.expected),
                    "replay_seconds": r.replay_seconds,
                    "cores": r.cores,
                    "answers_by_status": {
                        str(k): v for k, v in Counter(a.status for a in r.answers).items()
                    },
                    "inference_calls": r.calls,
                    "calls_per_firing_state": r.calls / summary["distinct_firing_states"],
                    "calls_per_situation": r.calls_per_situation,
                    "reuses_by_reason": metric_by(
                        r.exposition, "alert_explainer_explanations_reused_total", "reason"
                    ),
                    "reexplanations_by_trigger": metric_by(
                        r.exposition, "alert_explainer_reexplanations_total", "trigger"
                    ),
                    "fallbacks_by_reason": metric_by(
                        r.exposition, "alert_explainer_fallbacks_total", "reason"
                    ),
                    "deliveries_at_sink": len(r.bodies),
                    "deliveries_with_reuse_note": sum(1 for b in r.bodies if b.get("reuse")),
                    "meant_as_new_not_delivered": delivery_mismatches(day, r.bodies)[0],
                    "delivered_more_than_once": delivery_mismatches(day, r.bodies)[1],
                    "processed_by_outcome": metric_by(
                        r.exposition, "alert_explainer_notifications_processed_total", "outcome"
                    ),
                    "features": features.observed(r.exposition) if args.all_features else None,
                }
                for r in runs
            ],
            "notifications_meant_as_new": sum(1 for s in day.sends if s.kind == "notification"),
            "predicted_refire_within_dedup_window": len(expected_swallows(day, args.dedup_window)),
            "checks": checks,
            "all_met": all(checks.values()),
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
