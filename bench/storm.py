"""Issue 6 scenario 3 and issue 15: an alert storm, 2,000 distinct groups in 10 s, 1 s inference.

The service keeps its default limits: 8 calls in flight, a wait of up to 60 s for a free
one, at most 1,000 waiting. Notifications are sent open-loop (at a fixed rate, whatever the
answers), each on its own request, and each is retried the way Alertmanager retries a
webhook (5xx or no answer: again after about 0.5 s x 1.5^n, until the flush deadline), so
a 503 for a notification still waiting is followed by retries that collect its result.
Checked afterwards:

- every notification answered 200 in the end and delivered once (counted at the sink);
- every notification explained or delivered with a fallback that names its limit;
- inference calls within the budget: the emulator never saw more than 8 at once, and
  every notification is either a call or a refusal by a limit;
- peak RSS (VmHWM from /proc/<pid>/status) under 200 MB;
- event loop never blocked over 100 ms (alert_explainer_event_loop_lag_max_seconds).

Reported: how many were explained, the distribution of the wait for a permit (the
service's histogram) and of the time to the final answer, the most waiting at once.

    .venv/bin/python -m bench.storm --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import features
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
WAITERS = "alert_explainer_inference_waiters"
WAIT_HISTOGRAM = "alert_explainer_inference_wait_seconds"


@dataclass(frozen=True, slots=True)
class Answer:
    """The service's final answer to one storm notification, after any retries."""

    status: int  # 0 when no HTTP answer came
    seconds: float  # from the first try to the final answer
    tries: int


async def post_like_alertmanager(
    session: aiohttp.ClientSession, url: str, body: bytes, deadline: float
) -> Answer:
    """POST until a non-5xx answer or `deadline` s pass, with Alertmanager 0.25's backoff."""
    started = time.perf_counter()
    delay, tries = 0.5, 0
    status = 0
    while True:
        tries += 1
        remaining = deadline - (time.perf_counter() - started)
        try:
            async with session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=max(0.1, remaining)),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        pause = delay * random.uniform(0.5, 1.5)
        if 0 < status < 500 or time.perf_counter() - started + pause >= deadline:
            break
        await asyncio.sleep(pause)
        delay *= 1.5
    return Answer(status, time.perf_counter() - started, tries)


@dataclass(frozen=True, slots=True)
class Sample:
    """The service's state at one moment of the storm, from its /metrics."""

    at: float  # seconds since the storm began
    waiters: float
    loop_lag_max: float
    gen2_collections: float


async def send_storm(
    url: str, metrics_url: str, bodies: Sequence[bytes], seconds: float, deadline: float
) -> tuple[list[Answer], list[Sample]]:
    """POST `bodies` evenly spread over `seconds` (open loop); every final answer, and the
    service's state sampled every 0.5 s."""
    connector = aiohttp.TCPConnector(limit=0)  # like Alertmanager: a connection per flush
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        samples: list[Sample] = []

        async def sample() -> None:
            while True:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(metrics_url) as response:
                        text = await response.text()
                    samples.append(
                        Sample(
                            loop.time() - start,
                            metric(text, WAITERS),
                            metric(text, "alert_explainer_event_loop_lag_max_seconds"),
                            metric(text, "python_gc_collections_total", generation="2"),
                        )
                    )
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        interval = seconds / len(bodies)
        tasks = []
        for i, body in enumerate(bodies):
            pause = start + i * interval - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(post_like_alertmanager(session, url, body, deadline)))
        answers = list(await asyncio.gather(*tasks))
        sampler.cancel()
        return answers, samples


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


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram, summed over its other labels."""
    by_bound = metric_by(text, f"{name}_bucket", "le")
    return sorted((float(le), count) for le, count in by_bound.items())


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """The upper bound of the first bucket holding the q-th quantile (Prometheus-style bound)."""
    total = buckets[-1][1] if buckets else 0.0
    return next((le for le, count in buckets if count >= q * total), float("nan"))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the storm and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.storm",
        description="2,000 distinct groups in 10 s, 1 s inference latency, default limits.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="inference.limits.concurrency")
    parser.add_argument("--max-wait", type=float, help="inference.limits.max_wait (default 60)")
    parser.add_argument("--max-waiters", type=int, help="inference.limits.max_waiters (1000)")
    parser.add_argument(
        "--deadline",
        type=float,
        default=300.0,
        help="how long the loader retries one notification: Alertmanager's flush deadline, "
        "max(10 s, group_interval), 5 m by default",
    )
    features.add_argument(parser)
    args = parser.parse_args(argv)

    nonce = uuid.uuid4().hex[:8]
    bodies = [encode(crashloop_notification(f"storm-{nonce}-{i}")) for i in range(args.groups)]
    with Bench("storm", args.service_src) as bench:
        switch_on = features.switch_on(bench, args.all_features)
        with step("starting emulator, sink and service"):
            emulator = bench.peer("emulator", latency=args.latency)
            sink = bench.peer("sink", keep_bodies=True)
            config = service_config(
                emulator, sink, concurrency=args.concurrency, inference_timeout=5
            )
            if args.max_wait is not None:
                config["inference"]["limits"]["max_wait"] = args.max_wait
            if args.max_waiters is not None:
                config["inference"]["limits"]["max_waiters"] = args.max_waiters
            service = bench.service(switch_on(config))
        wait_quiet()
        rss_before = service.process.memory_kib("VmRSS")
        watch = CpuWatch(
            {"service": service.process, "emulator": emulator.process, "sink": sink.process}
        )
        with step(f"storm: {args.groups} groups over {args.seconds:g} s, answers collected"):
            started = time.perf_counter()
            answers, samples = asyncio.run(
                send_storm(
                    service.url("/webhook"),
                    service.url("/metrics"),
                    bodies,
                    args.seconds,
                    args.deadline,
                )
            )
            storm_seconds = time.perf_counter() - started
        cores = watch.read()
        print(f"  cores used: {cores}")
        delivered = wait_for_deliveries(sink.url("/stats"), args.groups, timeout=30.0)
        exposition = http("GET", service.url("/metrics")).decode()
        documents = json.loads(http("GET", sink.url("/bodies"), timeout=60))
        emulator_stats = get_json(emulator.url("/stats"))
        hwm_kib = service.process.memory_kib("VmHWM")
        rss_after = service.process.memory_kib("VmRSS")

    statuses = Counter(a.status for a in answers)
    # Counted at the sink: a retry that comes after the delivery is answered "duplicate".
    explained = sum(1 for d in documents if d.get("explained"))
    errors = Counter(d.get("error") for d in documents if not d.get("explained"))
    once = len({d["groupKey"] for d in documents}) == len(documents)
    fallbacks = metric_by(exposition, "alert_explainer_fallbacks_total", "reason")
    limited = metric_by(exposition, "alert_explainer_inference_limited_total", "limit")
    # The emulator is the first backend; with --all-features the standby counts apart.
    calls_metric = metric(exposition, "alert_explainer_inference_calls_total", backend="clanker")
    lag_max = metric(exposition, "alert_explainer_event_loop_lag_max_seconds")
    wait_buckets = histogram(exposition, WAIT_HISTOGRAM)
    waited = {f"p{q}": histogram_quantile(wait_buckets, q / 100) for q in (50, 90, 99)} | {
        "count": metric(exposition, f"{WAIT_HISTOGRAM}_count")
    }
    peak_waiters = max((x.waiters for x in samples), default=0.0)
    lag_steps = [
        (round(x.at, 1), round(x.loop_lag_max * 1000, 1))
        for before, x in itertools.pairwise(samples)
        if x.loop_lag_max > before.loop_lag_max
    ]
    calls = int(emulator_stats["requests"])
    checks = {
        "all_answered_2xx": statuses.get(200, 0) == args.groups,
        "all_delivered_once": delivered == args.groups and once,
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
        [
            "final answers by status",
            dict(sorted(statuses.items())),
            verdict(checks["all_answered_2xx"]),
        ],
        ["webhook tries (with Alertmanager-style retries)", sum(a.tries for a in answers), ""],
        ["final answer p50 / p99 / max s", _triple(latencies), ""],
        ["deliveries at the sink", delivered, verdict(checks["all_delivered_once"])],
        [
            "explained + fallback",
            f"{explained} + {int(sum(fallbacks.values()))} {fallbacks}",
            verdict(checks["explained_plus_fallback"]),
        ],
        ["fallback texts", dict(errors), ""],
        [
            "calls' wait for a permit p50 / p90 / p99 (bucket bound s)",
            f"{waited['p50']:g} / {waited['p90']:g} / {waited['p99']:g} of {waited['count']:.0f}",
            "",
        ],
        ["most waiting at once (sampled every 0.5 s)", int(peak_waiters), ""],
        [
            "inference calls (emulator / metric)",
            f"{calls} / {calls_metric:.0f}; refused {limited}",
            verdict(checks["calls_within_budget"]),
        ],
        [
            "most calls in flight at once",
            f"{emulator_stats['max_in_flight']} (limit {args.concurrency})",
            "",
        ],
        [
            "peak RSS (VmHWM) MiB",
            f"{hwm_kib / 1024:.1f} (before {rss_before / 1024:.1f}, after {rss_after / 1024:.1f})",
            verdict(checks["peak_rss"]),
        ],
        ["event-loop lag max ms", round(lag_max * 1000, 1), verdict(checks["event_loop_lag"])],
        ["lag max rose at (s into the storm, ms)", lag_steps, ""],
        [
            "gen-2 garbage collections during the storm",
            int(samples[-1].gen2_collections - samples[0].gen2_collections) if samples else 0,
            "",
        ],
    ]
    print(
        f"\nStorm: {args.groups} distinct groups in {args.seconds:g} s, "
        f"{args.latency:g} s inference, concurrency limit {args.concurrency}"
    )
    print(table(["what", "measured", "target"], rows))
    print(
        "\ncalls' wait for a permit, cumulative: "
        + ", ".join(f"≤{le:g} s {c:.0f}" for le, c in wait_buckets)
    )
    observations = features.observed(exposition) if args.all_features else None
    if observations:
        print(features.described(observations))
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "storm_seconds": storm_seconds,
            "cores": cores,
            "answers_by_status": {str(k): v for k, v in statuses.items()},
            "webhook_tries": sum(a.tries for a in answers),
            "answer_seconds": dict(zip(("p50", "p99", "max"), _triple(latencies), strict=True)),
            "explained": explained,
            "fallback_texts": dict(errors),
            "deliveries_at_sink": delivered,
            "fallbacks_by_reason": fallbacks,
            "inference_limited_by_limit": limited,
            "inference_calls_metric": calls_metric,
            "wait_seconds_buckets": wait_buckets,
            "wait_seconds_quantiles": waited,
            "samples": [dataclasses.asdict(x) for x in samples],
            "emulator_stats": emulator_stats,
            "vm_hwm_mib": hwm_kib / 1024,
            "vm_rss_before_mib": rss_before / 1024,
            "vm_rss_after_mib": rss_after / 1024,
            "event_loop_lag_max_seconds": lag_max,
            "features": observations,
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
