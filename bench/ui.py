"""Issue 12: what the operator's page costs.

1. Recording. The same service with `ui.enabled: false` and `true` (fast emulator and sink,
   a distinct notification per request), measured alternately:
   - latency at a steady rate well below capacity (an open-loop loader: one notification
     every 1/rate s, whatever the answers do), which is how Alertmanager sends: recording
     must add no measurable time to a notification's handling, so the p50 and p99 of the
     two are compared with the spread between rounds of the same app;
   - throughput and CPU per notification under wrk (closed loop, saturating): the price
     of recording when the service is flat out, reported as it is.
2. Rendering. Once the history is full (`ui.history`, 500 notifications), GET /ui with all
   500 rows and GET /api/v1/notifications, sequentially; target p50 well under 100 ms.
   With `redis-server` on the machine, the same again on the Redis backend, read by a
   second replica.

    flock /tmp/alert-explainer-bench.lock \\
        .venv/bin/python -m bench.ui --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench.compare import alternate, summarise
from bench.cpu import wait_quiet
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
    Endpoint,
    free_port,
    get_json,
    http,
    service_config,
    step,
    table,
    verdict,
    write_results,
)
from bench.payloads import crashloop_notification, encode, write_template
from bench.wrk import run_wrk

RENDER_P50_MAX_MS = 100.0
HISTORY = 500


async def paced(url: str, rate: float, seconds: float) -> list[float]:
    """Post one distinct notification every 1/rate s for `seconds`; each latency in ms."""
    latencies: list[float] = []
    bodies = [
        encode(crashloop_notification(uuid.uuid4().hex[:12])) for _ in range(int(rate * seconds))
    ]
    headers = {"Content-Type": "application/json"}

    async def post(session: aiohttp.ClientSession, body: bytes) -> None:
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status == 200:
                latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(trust_env=False) as session:
        start = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(session, body)))
        await asyncio.gather(*tasks)
    return latencies


def steady(
    apps: dict[str, Endpoint], rates: Sequence[float], seconds: float, rounds: int
) -> list[dict[str, Any]]:
    """Every app at every rate, `rounds` times in alternating order: latency percentiles."""
    points = []
    names = list(apps)
    for round_ in range(rounds):
        for rate in rates:
            for name in names if round_ % 2 == 0 else names[::-1]:
                wait_quiet()
                before = apps[name].process.cpu()
                latencies = sorted(asyncio.run(paced(apps[name].url("/webhook"), rate, seconds)))
                cpu = apps[name].process.cpu().cpu - before.cpu
                point = {
                    "target": name,
                    "rate": rate,
                    "round": round_,
                    "answered": len(latencies),
                    "p50_ms": round(statistics.median(latencies), 3),
                    "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
                    "cpu_ms_per_notification": round(cpu * 1000 / max(1, len(latencies)), 3),
                }
                print(
                    f"  {name:<7} {rate:g}/s  p50 {point['p50_ms']:.2f} ms  p99 "
                    f"{point['p99_ms']:.2f} ms  CPU {point['cpu_ms_per_notification']:.2f} ms",
                    flush=True,
                )
                points.append(point)
    return points


def timed_gets(url: str, count: int) -> dict[str, float]:
    """`count` sequential GETs of `url`: p50, p90 and max in milliseconds, and the size."""
    times: list[float] = []
    size = 0
    for _ in range(count):
        started = time.perf_counter()
        size = len(http("GET", url, timeout=30.0))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(len(times) * 0.9) - 1], 2),
        "max_ms": round(times[-1], 2),
        "bytes": size,
    }


def fill(service: Endpoint, template: Path) -> int:
    """Load `service` until its history holds HISTORY notifications; return the row count."""
    rows = 0
    while rows < HISTORY:
        run_wrk(service.url("/webhook"), template, connections=10, duration=2.0, timeout=5.0)
        time.sleep(1.0)  # the writer catches up
        rows = len(get_json(service.url("/api/v1/notifications"))["notifications"])
    return rows


def render_times(service: Endpoint, count: int) -> dict[str, Any]:
    """Rendering figures of the full page and the API on one running service."""
    wait_quiet()
    page = http("GET", service.url("/ui")).decode()
    return {
        "rows_on_page": page.count('<td class="nowrap"><a href='),
        "page": timed_gets(service.url("/ui"), count),
        "api": timed_gets(service.url("/api/v1/notifications"), count),
        "page_filtered": timed_gets(service.url("/ui?status=firing&outcome=delivered"), count),
    }


@contextmanager
def redis_server(bench: Bench) -> Iterator[str | None]:
    """A throwaway redis-server on a free port (None when it is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    process = bench.spawn(
        "redis",
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ui", description="Recording cost and page rendering time."
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[50.0, 200.0],
        help="steady notifications per second",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per steady point")
    parser.add_argument("--connections", type=int, nargs="+", default=[10])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="repeat, alternating the order")
    parser.add_argument("--gets", type=int, default=40, help="timed GETs per page")
    args = parser.parse_args(argv)

    with Bench("ui", args.service_src) as bench:
        template = write_template(bench.work_dir / "payload.json")
        with step("starting emulator and sink"):
            emulator = bench.peer("emulator")
            sink = bench.peer("sink")
        base = service_config(emulator, sink, concurrency=200)
        with step("starting the service without and with the page"):
            off = bench.service({**base, "ui": {"enabled": False}}, name="ui-off")
            on = bench.service({**base, "ui": {"history": HISTORY}}, name="ui-on")
        apps = {"ui-off": off, "ui-on": on}
        with step("recording: latency at a steady rate, both alternately"):
            steady_points = steady(apps, args.rates, args.seconds, args.rounds)
        with step("recording: both alternately under wrk"):
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
        with step(f"rendering {HISTORY} rows (memory backend)"):
            fill(on, template)
            rendering = {"memory": render_times(on, args.gets)}
        with redis_server(bench) as url:
            if url is not None:
                with step(f"rendering {HISTORY} rows (Redis backend, read by another replica)"):
                    state = {"backend": "redis", "url": url}
                    writer = bench.service({**base, "state": state}, name="redis-writer")
                    reader = bench.service({**base, "state": state}, name="redis-reader")
                    fill(writer, template)
                    rendering["redis"] = render_times(reader, args.gets)
        rss = {
            name: endpoint.process.memory_kib("VmRSS") // 1024
            for name, endpoint in (("ui-off", off), ("ui-on", on))
        }

    steady_rows = []
    for rate in args.rates:
        row: list[object] = [rate]
        for name in ("ui-off", "ui-on"):
            mine = [p for p in steady_points if p["target"] == name and p["rate"] == rate]
            row += [
                round(statistics.median(p["p50_ms"] for p in mine), 2),
                " ".join(f"{p['p50_ms']:.2f}" for p in mine),
                round(statistics.median(p["p99_ms"] for p in mine), 2),
                round(statistics.median(p["cpu_ms_per_notification"] for p in mine), 2),
            ]
        steady_rows.append(row)
    print(f"\nRecording at a steady rate ({args.rounds} rounds of {args.seconds:g} s, medians)")
    print(
        table(
            [
                "rate/s",
                "off p50 ms",
                "off p50 by round",
                "off p99 ms",
                "off CPU ms",
                "on p50 ms",
                "on p50 by round",
                "on p99 ms",
                "on CPU ms",
            ],
            steady_rows,
        )
    )
    recording_rows = []
    recording: list[dict[str, Any]] = []
    for count in args.connections:
        o = summarise(points, "ui-off", count)
        n = summarise(points, "ui-on", count)
        spread = {
            name: [
                p.result.p50 * 1000
                for p in points
                if p.target == name and p.result.connections == count
            ]
            for name in ("ui-off", "ui-on")
        }
        recording.append(
            {
                "connections": count,
                "ui_off": o.as_dict(),
                "ui_on": n.as_dict(),
                "p50_ms_by_round": spread,
            }
        )
        recording_rows.append(
            [
                count,
                round(o.rps),
                round(n.rps),
                round(o.p50 * 1000, 2),
                round(n.p50 * 1000, 2),
                " ".join(f"{v:.2f}" for v in spread["ui-off"]),
                " ".join(f"{v:.2f}" for v in spread["ui-on"]),
                round(o.p99 * 1000, 2),
                round(n.p99 * 1000, 2),
                f"{o.cpu_per_request * 1000:.2f}/{n.cpu_per_request * 1000:.2f}",
                o.non2xx + n.non2xx + o.errors + n.errors,
            ]
        )
    print(f"\nRecording under wrk ({args.rounds} rounds of {args.duration:g} s per point, medians)")
    print(
        table(
            [
                "conns",
                "off/s",
                "on/s",
                "off p50 ms",
                "on p50 ms",
                "off p50 by round",
                "on p50 by round",
                "off p99 ms",
                "on p99 ms",
                "CPU ms/notif off/on",
                "errors",
            ],
            recording_rows,
        )
    )
    render_rows = []
    for backend, figures in rendering.items():
        for name in ("page", "page_filtered", "api"):
            f = figures[name]
            ok = f["p50_ms"] < RENDER_P50_MAX_MS
            render_rows.append(
                [
                    backend,
                    name,
                    figures["rows_on_page"],
                    f["p50_ms"],
                    f["p90_ms"],
                    f["max_ms"],
                    f["bytes"],
                    verdict(ok) if name != "api" else "",
                ]
            )
    print(f"\nRendering ({args.gets} sequential GETs each; the full page has every row)")
    print(
        table(
            ["backend", "what", "rows", "p50 ms", "p90 ms", "max ms", "bytes", "< 100 ms"],
            render_rows,
        )
    )
    print(f"\nRSS after the run: {rss} MiB")
    path = write_results(
        bench,
        {
            "recording": recording,
            "rendering": rendering,
            "rss_mib": rss,
            "targets": {"render_p50_ms_max": RENDER_P50_MAX_MS},
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
