"""Issue 6, scenario 3: an alert storm, 2,000 distinct groups in 10 s, 1 s inference latency.

The service keeps its default `inference.limits.concurrency: 8`. Notifications are sent
open-loop (at a fixed rate, whatever the answers), each on its own request, as an
Alertmanager flushing many groups at once would. Checked afterwards:

- every notification delivered (explained or with the fallback): counted at the sink;
- inference calls within the budget: the emulator never saw more than 8 at once, and
  every notification is either a call or a refusal by the concurrency limit;
- peak RSS (VmHWM from /proc/<pid>/status) under 200 MB;
- event loop never blocked over 100 ms (alert_explainer_event_loop_lag_max_seconds).

    .venv/bin/python -m bench.storm --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

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
from bench.payloads import crashloop_notification, encode

RSS_MAX_MIB = 200.0
LAG_MAX_S = 0.1


@dataclass(frozen=True, slots=True)
class Answer:
    """The service's answer to one storm notification."""

    status: int  # 0 when no HTTP answer came
    seconds: float
    explained: bool | None


async def send_storm(url: str, bodies: Sequence[bytes], seconds: float) -> list[Answer]:
    """POST `bodies` evenly spread over `seconds` (open loop), and collect every answer."""
    connector = aiohttp.TCPConnector(limit=0)  # like Alertmanager: a connection per flush
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(body: bytes) -> Answer:
            started = time.perf_counter()
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    data: Any = await response.json(content_type=None)
                    explained = data.get("explained") if isinstance(data, dict) else None
                    return Answer(response.status, time.perf_counter() - started, explained)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return Answer(0, time.perf_counter() - started, None)

        loop = asyncio.get_running_loop()
        start = loop.time()
        interval = seconds / len(bodies)
        tasks = []
        for i, body in enumerate(bodies):
            delay = start + i * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(body)))
        return list(await asyncio.gather(*tasks))


def wait_for_deliveries(sink_stats_url: str, expected: int, timeout: float) -> int:
    """Poll the sink until it has `expected` deliveries or `timeout` passes; return its count."""
    deadline = time.perf_counter() + timeout
    count = 0
    while time.perf_counter() < deadline:
        count = int(get_json(sink_stats_url)["requests"])
        if count >= expected:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # anything beyond `expected` (a duplicate) shows up too
    return int(get_json(sink_stats_url)["requests"])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run scenario 3 and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.storm",
        description="2,000 distinct groups in 10 s, 1 s inference latency, concurrency 8.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="inference.limits.concurrency")
    args = parser.parse_args(argv)

    nonce = uuid.uuid4().hex[:8]
    bodies = [encode(crashloop_notification(f"storm-{nonce}-{i}")) for i in range(args.groups)]
    with Bench("storm", args.service_src) as bench:
        with step("starting emulator, sink and service"):
            emulator = bench.peer("emulator", latency=args.latency)
            sink = bench.peer("sink")
            service = bench.service(
                service_config(emulator, sink, concurrency=args.concurrency, inference_timeout=5)
            )
        wait_quiet()
        rss_before = service.process.memory_kib("VmRSS")
        watch = CpuWatch(
            {"service": service.process, "emulator": emulator.process, "sink": sink.process}
        )
        with step(f"storm: {args.groups} groups over {args.seconds:g} s"):
            started = time.perf_counter()
            answers = asyncio.run(send_storm(service.url("/webhook"), bodies, args.seconds))
            storm_seconds = time.perf_counter() - started
        cores = watch.read()
        print(f"  cores used: {cores}")
        delivered = wait_for_deliveries(sink.url("/stats"), args.groups, timeout=30.0)
        exposition = http("GET", service.url("/metrics")).decode()
        emulator_stats = get_json(emulator.url("/stats"))
        hwm_kib = service.process.memory_kib("VmHWM")
        rss_after = service.process.memory_kib("VmRSS")

    statuses = Counter(a.status for a in answers)
    explained = sum(1 for a in answers if a.explained)
    fallbacks = metric_by(exposition, "alert_explainer_fallbacks_total", "reason")
    limited = metric_by(exposition, "alert_explainer_inference_limited_total", "limit")
    calls_metric = metric(exposition, "alert_explainer_inference_calls_total")
    lag_max = metric(exposition, "alert_explainer_event_loop_lag_max_seconds")
    calls = int(emulator_stats["requests"])
    budget_max_calls = args.concurrency * int(storm_seconds / args.latency + 1)
    checks = {
        "all_answered_2xx": statuses.get(200, 0) == args.groups,
        "all_delivered_once": delivered == args.groups,
        "explained_plus_fallback": explained + sum(fallbacks.values()) == args.groups,
        "calls_within_budget": int(emulator_stats["max_in_flight"]) <= args.concurrency
        and calls == calls_metric
        and calls + sum(limited.values()) == args.groups,
        "peak_rss": hwm_kib / 1024 < RSS_MAX_MIB,
        "event_loop_lag": lag_max < LAG_MAX_S,
    }
    latencies = [a.seconds for a in answers]
    rows: list[list[object]] = [
        ["notifications sent", args.groups, ""],
        ["answers by status", dict(sorted(statuses.items())), verdict(checks["all_answered_2xx"])],
        ["answer p50 / p99 / max s", _triple(latencies), ""],
        ["deliveries at the sink", delivered, verdict(checks["all_delivered_once"])],
        [
            "explained + fallback",
            f"{explained} + {int(sum(fallbacks.values()))} {fallbacks}",
            verdict(checks["explained_plus_fallback"]),
        ],
        [
            "inference calls (emulator / metric)",
            f"{calls} / {calls_metric:.0f}; refused {limited}",
            verdict(checks["calls_within_budget"]),
        ],
        [
            "most calls in flight at once",
            f"{emulator_stats['max_in_flight']} (limit {args.concurrency}; "
            f"at most ~{budget_max_calls} calls in {storm_seconds:.1f} s)",
            "",
        ],
        [
            "peak RSS (VmHWM) MiB",
            f"{hwm_kib / 1024:.1f} (before {rss_before / 1024:.1f}, after {rss_after / 1024:.1f})",
            verdict(checks["peak_rss"]),
        ],
        ["event-loop lag max ms", round(lag_max * 1000, 1), verdict(checks["event_loop_lag"])],
    ]
    print(
        f"\nStorm: {args.groups} distinct groups in {args.seconds:g} s, "
        f"{args.latency:g} s inference, concurrency limit {args.concurrency}"
    )
    print(table(["what", "measured", "target"], rows))
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "send_seconds": storm_seconds,
            "cores": cores,
            "answers_by_status": {str(k): v for k, v in statuses.items()},
            "answer_seconds": dict(zip(("p50", "p99", "max"), _triple(latencies), strict=True)),
            "explained": explained,
            "deliveries_at_sink": delivered,
            "fallbacks_by_reason": fallbacks,
            "inference_limited_by_limit": limited,
            "inference_calls_metric": calls_metric,
            "emulator_stats": emulator_stats,
            "vm_hwm_mib": hwm_kib / 1024,
            "vm_rss_before_mib": rss_before / 1024,
            "vm_rss_after_mib": rss_after / 1024,
            "event_loop_lag_max_seconds": lag_max,
            "checks": checks,
            "all_met": all(checks.values()),
        },
    )
    print(f"\nresults: {path}")
    return 0


def _triple(values: Sequence[float]) -> tuple[float, float, float]:
    return (
        round(percentile(values, 50), 3),
        round(percentile(values, 99), 3),
        round(max(values), 3),
    )


if __name__ == "__main__":
    raise SystemExit(main())
