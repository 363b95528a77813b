"""Scaling with `server.workers`: one worker process against two, and the floor, under wrk.

Both services share state through a real redis-server (more than one worker needs it,
and one worker uses it too here so that the only difference is the worker count), with
the fast emulator and sink of scenario 1 and `inference.limits.concurrency: 200`. They
and the floor take turns at each connection count, as in scenario 1. On this 2-core
machine wrk, the peers and Redis share the cores with the workers, so two workers cannot
reach twice the rate of one; the table shows what they do reach, and where the CPU went.

    .venv/bin/python -m bench.workers --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.compare import Point, alternate, summarise
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
    http,
    metric,
    service_config,
    step,
    table,
    write_results,
)
from bench.payloads import write_template

APPS = ("floor", "1 worker", "2 workers")


def median_cores(points: list[Point], target: str, connections: int, name: str) -> float:
    """The median cores `name` (a peer, redis, wrk) used while `target` was loaded."""
    values = sorted(
        p.cpu.get(name, 0.0)
        for p in points
        if p.target == target and p.result.connections == connections
    )
    return values[len(values) // 2] if values else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    """Measure one and two workers against the floor and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.workers",
        description="Throughput and latency with 1 and 2 worker processes, vs the floor.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each point")
    parser.add_argument("--rounds", type=int, default=2, help="repeat, alternating the order")
    args = parser.parse_args(argv)

    with Bench("workers", args.service_src) as bench:
        template = write_template(bench.work_dir / "payload.json")
        with step("starting emulator, sink, redis, floor and both services"):
            emulator = bench.peer("emulator")
            sink = bench.peer("sink")
            redis = bench.redis()
            apps = {
                "floor": bench.floor(emulator, sink),
                "1 worker": bench.service(
                    service_config(emulator, sink, concurrency=200, redis=redis),
                    name="service-1",
                ),
                "2 workers": bench.service(
                    service_config(emulator, sink, concurrency=200, redis=redis, workers=2),
                    name="service-2",
                ),
            }
        with step("floor, 1 worker and 2 workers, in turn"):
            points = alternate(
                apps,
                {"emulator": emulator, "sink": sink, "redis": redis},
                template,
                connections=args.connections,
                duration=args.duration,
                warmup=args.warmup,
                timeout=5.0,
                rounds=args.rounds,
            )
        expositions = {name: http("GET", apps[name].url("/metrics")).decode() for name in APPS[1:]}

    rows: list[list[object]] = []
    comparison: list[dict[str, Any]] = []
    for count in args.connections:
        summaries = {name: summarise(points, name, count) for name in APPS}
        one, two = summaries["1 worker"], summaries["2 workers"]
        for name, s in summaries.items():
            rows.append(
                [
                    count,
                    name,
                    round(s.rps),
                    round(s.rps / summaries["floor"].rps, 2),
                    round(s.p50 * 1000, 2),
                    round(s.p99 * 1000, 2),
                    round(s.cpu_app, 2),
                    round(median_cores(points, name, count, "redis"), 2),
                    round(s.cpu_per_request * 1000, 2),
                    s.non2xx + s.errors,
                ]
            )
        comparison.append(
            {
                "connections": count,
                **{name: s.as_dict() for name, s in summaries.items()},
                "two_over_one_rps": round(two.rps / one.rps, 3),
                "two_over_one_p50": round(two.p50 / one.p50, 3),
            }
        )
    print(f"\nWorkers ({args.rounds} round(s) of {args.duration:g} s per point, medians)")
    print(
        table(
            [
                "conns",
                "app",
                "req/s",
                "vs floor",
                "p50 ms",
                "p99 ms",
                "app cores",
                "redis cores",
                "CPU ms/notif",
                "errors",
            ],
            rows,
        )
    )
    for entry in comparison:
        print(
            f"{entry['connections']} connections: 2 workers answer "
            f"{entry['two_over_one_rps']:.2f}x the requests of 1, at "
            f"{entry['two_over_one_p50']:.2f}x its p50"
        )
    received = {
        name: metric(text, "alert_explainer_notifications_received_total")
        for name, text in expositions.items()
    }
    print(f"notifications counted by /metrics: {received}")
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "service_config_overrides": {
                "inference.limits.concurrency": 200,
                "state.backend": "redis",
                "server.workers": [1, 2],
            },
            "points": [p.as_dict() for p in points],
            "comparison": comparison,
            "notifications_received": received,
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
