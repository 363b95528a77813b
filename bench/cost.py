"""Issue 6, scenario 4: what a realistic Alertmanager day costs in inference calls.

Replays a generated day (bench.amday: 200 groups with repeats every repeat_interval,
groups that grow, partial and full resolves, flapping alerts, HA duplicates and
retries) against the service, with time compressed by --speed (1200: the day takes 72 s,
a 4 h repeat_interval 12 s, the HA peer's 15 s delay 12.5 ms). `delivery.dedup_window`
is the service default of 600 s scaled the same way (0.5 s), so it relates to the
simulated timers as it would in production.

Target: inference calls (counted at the emulator) / distinct group states with at least
one firing alert = 1.00. A group state is (groupKey, the set of (fingerprint, status,
annotations)); a resolved-only state needs no call.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.amday import Day, Send, Timing, generate_day, identity_of, state_of
from bench.cpu import CpuWatch, wait_quiet
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run scenario 4 and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost",
        description="Inference calls per distinct group state over a replayed Alertmanager day.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--speed", type=float, default=1200.0, help="virtual s per real s")
    parser.add_argument(
        "--dedup-window", type=float, default=600.0, help="service dedup_window, virtual s"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency, real s")
    args = parser.parse_args(argv)

    timing = Timing()
    day = generate_day(args.groups, args.seed, timing)
    summary = day.summary()
    firing_states = summary["distinct_firing_states"]
    print(json.dumps(summary))
    window = args.dedup_window / args.speed
    with Bench("cost", args.service_src) as bench:
        with step("starting emulator, sink and service"):
            emulator = bench.peer("emulator", latency=args.latency)
            sink = bench.peer("sink", keep_bodies=True)
            service = bench.service(service_config(emulator, sink, dedup_window=window))
        wait_quiet()
        watch = CpuWatch(
            {"service": service.process, "emulator": emulator.process, "sink": sink.process}
        )
        with step(f"replaying {len(day.sends)} posts over {86400 / args.speed:.0f} s"):
            started = time.perf_counter()
            answers = asyncio.run(replay(service.url("/webhook"), day.sends, args.speed))
            replay_seconds = time.perf_counter() - started
        cores = watch.read()
        print(f"  cores used: {cores}")
        time.sleep(1.0)
        exposition = http("GET", service.url("/metrics")).decode()
        calls = int(get_json(emulator.url("/stats"))["requests"])
        bodies: list[dict[str, Any]] = json.loads(http("GET", sink.url("/bodies"), timeout=60))

    statuses = Counter(a.status for a in answers)
    ratio = calls / firing_states
    explained_states = {state_of(b["alertmanager"]) for b in bodies if b["explained"]}
    firing_delivered = {
        state_of(b["alertmanager"])
        for b in bodies
        if any(a["status"] == "firing" for a in b["alertmanager"]["alerts"])
    }
    originals = sum(1 for s in day.sends if s.kind == "notification")
    predicted = expected_swallows(day, args.dedup_window)
    missing, extra = delivery_mismatches(day, bodies)
    fallbacks = metric_by(exposition, "alert_explainer_fallbacks_total", "reason")
    checks = {"calls_per_state": round(ratio, 2) == 1.00}
    rows: list[list[object]] = [
        ["webhook POSTs (copies included)", len(day.sends), ""],
        ["  of which HA duplicates / retries", f"{summary['posts_by_kind']}", ""],
        ["answers by status", dict(sorted(statuses.items())), ""],
        ["distinct group states (any)", summary["distinct_states"], ""],
        ["distinct firing group states", firing_states, ""],
        ["inference calls (emulator)", calls, ""],
        [
            "inference calls (service metric)",
            int(metric(exposition, "alert_explainer_inference_calls_total")),
            "",
        ],
        ["calls / distinct firing states", f"{ratio:.2f}", verdict(checks["calls_per_state"])],
        [
            "firing states delivered / explained",
            f"{len(firing_delivered)} / {len(explained_states & firing_delivered)}",
            "",
        ],
        [
            "explanations reused (metric)",
            int(metric(exposition, "alert_explainer_explanations_reused_total")),
            "",
        ],
        ["fallbacks", fallbacks or "none", ""],
        ["notifications meant as new", originals, ""],
        ["deliveries at the sink", len(bodies), ""],
        ["  meant as new, not delivered", missing, ""],
        ["  predicted: re-fire within dedup_window", len(predicted), ""],
        ["  delivered more than once", extra, ""],
        ["max send lateness ms", round(max(a.late for a in answers) * 1000, 1), ""],
    ]
    print(
        f"\nReplayed Alertmanager day: {args.groups} groups, seed {args.seed}, "
        f"speed {args.speed:g}x (dedup_window {args.dedup_window:g} s virtual = {window:g} s)"
    )
    print(table(["what", "measured", "target"], rows))
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
            "service_dedup_window_seconds": window,
            "day": summary,
            "replay_seconds": replay_seconds,
            "cores": cores,
            "answers_by_status": {str(k): v for k, v in statuses.items()},
            "inference_calls": calls,
            "calls_per_firing_state": ratio,
            "firing_states_delivered": len(firing_delivered),
            "firing_states_explained": len(explained_states & firing_delivered),
            "fallbacks_by_reason": fallbacks,
            "notifications_meant_as_new": originals,
            "deliveries_at_sink": len(bodies),
            "meant_as_new_not_delivered": missing,
            "predicted_refire_within_dedup_window": len(predicted),
            "predicted_examples": [
                {"at": s.at, "group": s.group, "groupKey": s.payload["groupKey"]}
                for s in predicted[:10]
            ],
            "delivered_more_than_once": extra,
            "processed_by_outcome": metric_by(
                exposition, "alert_explainer_notifications_processed_total", "outcome"
            ),
            "checks": checks,
            "all_met": all(checks.values()),
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
