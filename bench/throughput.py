"""Issue 6, scenario 1: the service against the floor, fast upstream, 1/10/100 connections.

Starts the fast emulator and sink (bench.peers), measures their own capacity with wrk,
then the floor (bench.floor) and the service alternately under wrk with a distinct
notification per request. Targets, as ratios to the floor in the same run: p50 at most
1.5x, throughput at least 0.6x. The table also gives each app's CPU per notification: the
CPU seconds its process (and any worker processes) used during a measured run, divided by
the requests answered in it, so the cost of the service's stages can be followed over time.

A third app, the stages floor (bench.floor --stages), is the floor doing the service's own
work inline (parse, keys, redaction, prompt, sanitizing, the sink's document, the log
line) with none of its machinery: its ratios to the floor bound what any service doing
that work on this stack could reach (`--no-stages-floor` leaves it out).

The service runs with `inference.limits.concurrency: 200` (default 8), so that under
100 connections it explains every notification as the floor does instead of answering
some with the fallback text; the fallback count is read from /metrics and reported.

    .venv/bin/python -m bench.throughput --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.compare import Point, alternate, summarise
from bench.cpu import cpu_share
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
from bench.payloads import write_template
from bench.wrk import run_wrk

P50_RATIO_MAX = 1.5
RPS_RATIO_MIN = 0.6
STAGES_FLOOR = "stages-floor"


def peer_capacity(
    peer: Endpoint, template: Path, connections: Sequence[int], duration: float
) -> list[dict[str, Any]]:
    """wrk straight at a peer: what it can answer, and the CPU it needs for it."""
    rows = []
    for count in connections:
        before = peer.process.cpu()
        result = run_wrk(peer.url("/capacity"), template, connections=count, duration=duration)
        used = cpu_share(before, peer.process.cpu())
        rows.append(
            {
                "connections": count,
                "rps": round(result.rps, 1),
                "p50": result.p50,
                "p99": result.p99,
                "peer_cpu": round(used, 2),
                "wrk_cpu": round(result.cpu, 2),
                "non2xx": result.non2xx,
            }
        )
    http("POST", peer.url("/reset"), b"{}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run scenario 1 and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description="Service vs floor throughput and latency with a fast inference emulator.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each point")
    parser.add_argument("--rounds", type=int, default=2, help="repeat, alternating the order")
    parser.add_argument("--capacity-duration", type=float, default=5.0)
    parser.add_argument(
        "--no-stages-floor",
        dest="stages_floor",
        action="store_false",
        help="leave out the floor that does the service's stages inline (bench.floor --stages)",
    )
    args = parser.parse_args(argv)

    with Bench("throughput", args.service_src) as bench:
        template = write_template(bench.work_dir / "payload.json")
        with step("starting emulator and sink"):
            emulator = bench.peer("emulator")
            sink = bench.peer("sink")
        with step("peer capacity (wrk straight at each peer)"):
            capacity = {
                "emulator": peer_capacity(emulator, template, [10, 100], args.capacity_duration),
                "sink": peer_capacity(sink, template, [10, 100], args.capacity_duration),
            }
        with step("starting floor and service"):
            apps = {"floor": bench.floor(emulator, sink)}
            if args.stages_floor:
                apps[STAGES_FLOOR] = bench.floor(emulator, sink, name=STAGES_FLOOR, stages=True)
            service = apps["service"] = bench.service(
                service_config(emulator, sink, concurrency=200)
            )
        with step(f"{', '.join(apps)}, alternately"):
            points = alternate(
                apps,
                {"emulator": emulator, "sink": sink},
                template,
                connections=args.connections,
                duration=args.duration,
                warmup=args.warmup,
                timeout=5.0,
                rounds=args.rounds,
            )
        exposition = http("GET", service.url("/metrics")).decode()
        emulator_stats = get_json(emulator.url("/stats"))
        sink_stats = get_json(sink.url("/stats"))

    lag_max = metric(exposition, "alert_explainer_event_loop_lag_max_seconds")
    service_metrics: dict[str, Any] = {
        "notifications_received": metric(
            exposition, "alert_explainer_notifications_received_total"
        ),
        "inference_calls": metric(exposition, "alert_explainer_inference_calls_total"),
        "fallbacks_by_reason": metric_by(exposition, "alert_explainer_fallbacks_total", "reason"),
        "responses_by_code": metric_by(
            exposition, "alert_explainer_webhook_responses_total", "code"
        ),
        "event_loop_lag_max_seconds": lag_max,
    }
    rows: list[list[object]] = []
    ratios: list[dict[str, Any]] = []
    for count in args.connections:
        f = summarise(points, "floor", count)
        s = summarise(points, "service", count)
        p50_ratio = s.p50 / f.p50
        rps_ratio = s.rps / f.rps
        ok = p50_ratio <= P50_RATIO_MAX and rps_ratio >= RPS_RATIO_MIN
        ratios.append(
            {
                "connections": count,
                "floor": f.as_dict(),
                "service": s.as_dict(),
                "p50_ratio": round(p50_ratio, 3),
                "rps_ratio": round(rps_ratio, 3),
                "cpu_per_notification_ms": {
                    "floor": round(f.cpu_per_request * 1000, 3),
                    "service": round(s.cpu_per_request * 1000, 3),
                },
                "met": ok,
            }
        )
        rows.append(
            [
                count,
                round(f.rps),
                round(s.rps),
                round(rps_ratio, 2),
                round(f.p50 * 1000, 2),
                round(s.p50 * 1000, 2),
                round(p50_ratio, 2),
                round(f.p99 * 1000, 2),
                round(s.p99 * 1000, 2),
                f.non2xx + s.non2xx + f.errors + s.errors,
                f"{f.cpu_app:.2f}/{s.cpu_app:.2f}",
                f"{f.cpu_per_request * 1000:.2f}/{s.cpu_per_request * 1000:.2f}",
                round(s.cpu_per_request / f.cpu_per_request, 2) if f.cpu_per_request else "",
                verdict(ok),
            ]
        )
    capacity_rows = [
        [name, r["connections"], round(r["rps"]), r["peer_cpu"], r["wrk_cpu"]]
        for name, results in capacity.items()
        for r in results
    ]
    print("\nPeer capacity (wrk straight at the peer)")
    print(table(["peer", "conns", "req/s", "peer cores", "wrk cores"], capacity_rows))
    print(f"\nService vs floor ({args.rounds} round(s) of {args.duration:g} s per point, medians)")
    print(
        table(
            [
                "conns",
                "floor/s",
                "service/s",
                "ratio (>=0.6)",
                "floor p50 ms",
                "service p50 ms",
                "ratio (<=1.5)",
                "floor p99 ms",
                "service p99 ms",
                "errors",
                "cores floor/svc",
                "CPU ms/notif floor/svc",
                "ratio",
                "target",
            ],
            rows,
        )
    )
    if args.stages_floor:
        bound = [stages_floor_row(points, count) for count in args.connections]
        print("\nThe stages floor: the floor doing the service's stages inline, no machinery")
        print(
            table(
                [
                    "conns",
                    "floor/s",
                    "stages floor/s",
                    "ratio",
                    "floor p50 ms",
                    "stages floor p50 ms",
                    "ratio",
                    "CPU ms/notif floor/stages floor/svc",
                ],
                [row for row, _ in bound],
            )
        )
        for r, (_, figures) in zip(ratios, bound, strict=True):
            r[STAGES_FLOOR] = figures
    print(
        f"\nservice: {service_metrics['inference_calls']:.0f} inference calls for "
        f"{service_metrics['notifications_received']:.0f} notifications; fallbacks "
        f"{service_metrics['fallbacks_by_reason'] or 'none'}; answers "
        f"{service_metrics['responses_by_code']}; event-loop lag max "
        f"{lag_max * 1000:.0f} ms"
    )
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "service_config_overrides": {"inference.limits.concurrency": 200},
            "peer_capacity": capacity,
            "points": [p.as_dict() for p in points],
            "comparison": ratios,
            "service_metrics": service_metrics,
            "emulator_stats": emulator_stats,
            "sink_stats": sink_stats,
            "all_met": all(r["met"] for r in ratios),
        },
    )
    print(f"\nresults: {path}")
    return 0


def stages_floor_row(points: Sequence[Point], count: int) -> tuple[list[object], dict[str, Any]]:
    """The stages floor against the floor at `count` connections: a table row, its figures."""
    f = summarise(points, "floor", count)
    b = summarise(points, STAGES_FLOOR, count)
    s = summarise(points, "service", count)
    cpu = [x.cpu_per_request * 1000 for x in (f, b, s)]
    row: list[object] = [
        count,
        round(f.rps),
        round(b.rps),
        round(b.rps / f.rps, 2),
        round(f.p50 * 1000, 2),
        round(b.p50 * 1000, 2),
        round(b.p50 / f.p50, 2),
        "/".join(f"{c:.2f}" for c in cpu),
    ]
    figures = {
        **b.as_dict(),
        "rps_ratio": round(b.rps / f.rps, 3),
        "p50_ratio": round(b.p50 / f.p50, 3),
    }
    return row, figures


if __name__ == "__main__":
    raise SystemExit(main())
