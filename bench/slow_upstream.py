"""Issue 6, scenario 2: a 1 s inference upstream under 100 connections, service and floor.

Targets for the service: p50 at most 1.10 s, p99 at most 1.30 s, no non-2xx answer.
The service runs with `inference.limits.concurrency: 200` (the default 8 would answer
most of these with the fallback text at once), `server.respond_within: 5` and
`inference.timeout: 5`; both must exceed the upstream's 1 s.

    .venv/bin/python -m bench.slow_upstream --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench import features
from bench.compare import alternate, summarise
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
from bench.payloads import write_template

P50_MAX = 1.10
P99_MAX = 1.30


def main(argv: Sequence[str] | None = None) -> int:
    """Run scenario 2 and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.slow_upstream",
        description="Latency with a 1 s inference upstream at 100 connections, vs the floor.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--latency", type=float, default=1.0, help="emulator latency, seconds")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--max-connections",
        type=int,
        help="inference.max_connections (the pool shared with sinks; service default 100)",
    )
    features.add_argument(parser)
    args = parser.parse_args(argv)

    with Bench("slow_upstream", args.service_src) as bench:
        template = write_template(bench.work_dir / "payload.json")
        switch_on = features.switch_on(bench, args.all_features)
        with step(f"starting emulator ({args.latency:g} s), sink, floor and service"):
            emulator = bench.peer("emulator", latency=args.latency)
            sink = bench.peer("sink")
            floor = bench.floor(emulator, sink)
            config = service_config(
                emulator,
                sink,
                concurrency=200,
                respond_within=5.0,
                inference_timeout=5.0,
                max_connections=args.max_connections,
            )
            service = bench.service(switch_on(config))
        with step("floor and service, alternately"):
            points = alternate(
                {"floor": floor, "service": service},
                {"emulator": emulator, "sink": sink},
                template,
                connections=[args.connections],
                duration=args.duration,
                warmup=args.warmup,
                timeout=10.0,
                rounds=args.rounds,
                settle=args.latency + 1.0,
            )
        exposition = http("GET", service.url("/metrics")).decode()
        emulator_stats = get_json(emulator.url("/stats"))

    floor_summary = summarise(points, "floor", args.connections)
    service_summary = summarise(points, "service", args.connections)
    fallbacks = metric_by(exposition, "alert_explainer_fallbacks_total", "reason")
    checks = {
        "p50": service_summary.p50 <= P50_MAX,
        "p99": service_summary.p99 <= P99_MAX,
        "no_non2xx": service_summary.non2xx == 0 and service_summary.errors == 0,
    }
    rows: list[list[object]] = [
        [
            s.target,
            round(s.rps, 1),
            round(s.p50, 3),
            round(s.p90, 3),
            round(s.p99, 3),
            round(s.max, 3),
            s.non2xx,
            s.errors,
        ]
        for s in (floor_summary, service_summary)
    ]
    rows.append(
        [
            "ratio",
            round(service_summary.rps / floor_summary.rps, 2),
            round(service_summary.p50 / floor_summary.p50, 2),
            round(service_summary.p90 / floor_summary.p90, 2),
            round(service_summary.p99 / floor_summary.p99, 2),
            round(service_summary.max / floor_summary.max, 2),
            "",
            "",
        ]
    )
    print(
        f"\n{args.latency:g} s upstream, {args.connections} connections, "
        f"{args.duration:g} s per app"
    )
    print(table(["app", "req/s", "p50 s", "p90 s", "p99 s", "max s", "non-2xx", "errors"], rows))
    print(
        f"\nservice targets: p50 <= {P50_MAX} s {verdict(checks['p50'])}, "
        f"p99 <= {P99_MAX} s {verdict(checks['p99'])}, "
        f"no non-2xx {verdict(checks['no_non2xx'])}; fallbacks {fallbacks or 'none'}; "
        f"emulator most in flight {emulator_stats['max_in_flight']}"
    )
    observations = features.observed(exposition) if args.all_features else None
    if observations:
        print(features.described(observations))
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "service_config_overrides": {
                "inference.limits.concurrency": 200,
                "server.respond_within": 5,
                "inference.timeout": 5,
                "inference.max_connections": args.max_connections or "default (100)",
            },
            "points": [p.as_dict() for p in points],
            "floor": floor_summary.as_dict(),
            "service": service_summary.as_dict(),
            "checks": checks,
            "service_fallbacks": fallbacks,
            "service_responses_by_code": metric_by(
                exposition, "alert_explainer_webhook_responses_total", "code"
            ),
            "event_loop_lag_max_seconds": metric(
                exposition, "alert_explainer_event_loop_lag_max_seconds"
            ),
            "emulator_stats": emulator_stats,
            "features": observations,
            "all_met": all(checks.values()),
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
