"""Issue 12: what the operator's page costs.

1. Recording: the same service with `ui.enabled: false` and `true`, alternately under wrk
   (distinct notifications, fast emulator and sink), at 1 and 10 connections. Recording must
   add no measurable time to a notification's handling: the p50 and p99 of the two are
   compared with the spread between rounds of the same app.
2. Rendering: once the history is full (`ui.history`, 500 notifications), GET /ui with all
   500 rows and GET /api/v1/notifications, sequentially; target p50 well under 100 ms.
   With `redis-server` on the machine, the same again on the Redis backend (two replicas
   reading one history).

    flock /tmp/alert-explainer-bench.lock \
        .venv/bin/python -m bench.ui --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
from bench.payloads import write_template
from bench.wrk import run_wrk

RENDER_P50_MAX_MS = 100.0
HISTORY = 500


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
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 10])
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
        with step("recording: both alternately under wrk"):
            points = alternate(
                {"ui-off": off, "ui-on": on},
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
    print(f"\nRecording ({args.rounds} rounds of {args.duration:g} s per point, medians)")
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
