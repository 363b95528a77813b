"""Instructions per notification of the whole service, counted by valgrind: CPU cost, no noise.

CPU seconds per notification (bench.throughput) move with whatever else the machine runs.
Instructions do not: the service runs under `valgrind --tool=cachegrind --cache-sim=no`
twice, once for `--notifications` and once for three times as many, each posted one after
the other (or `--concurrency` at a time) with a distinct group, to the fast emulator and
sink of scenario 1; the difference of the two counts divided by the extra notifications is
what one notification costs: parsing, the prompt, both HTTP calls, the event loop, logging
and metrics, everything the process executes for it. Start-up, imports and shutdown cancel
out. Under valgrind the service runs some 30 times slower, which changes how often the event
loop wakes: compare figures taken the same way, not with other benchmarks' CPU seconds.

    .venv/bin/python -m bench.instructions --service-src /tmp/bench-wt/service
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import (
    DEFAULT_SERVICE_SRC,
    Bench,
    Endpoint,
    service_config,
    step,
    table,
    write_results,
)
from bench.payloads import crashloop_notification, encode

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def post_notifications(service: Endpoint, prefix: str, count: int, concurrency: int) -> None:
    """Post `count` distinct notifications, `concurrency` keep-alive connections at a time."""
    host, port = service.base_url.removeprefix("http://").split(":")

    def poster(worker: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            for i in range(worker, count, concurrency):
                body = encode(crashloop_notification(f"{prefix}-{worker}-{i}"))
                connection.request("POST", "/webhook", body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"notification {i} answered {answer.status}")
        finally:
            connection.close()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(poster, range(concurrency)))


def counted_run(
    bench: Bench, start: Callable[[str], Endpoint], count: int, concurrency: int
) -> int:
    """Instructions an app executed from start to exit, handling `count` notifications."""
    name = f"{bench.name}-{count}"
    service = start(name)
    post_notifications(service, f"{name}-warm", concurrency, concurrency)  # pools, caches
    post_notifications(service, name, count, concurrency)
    service.process.popen.send_signal(signal.SIGTERM)
    service.process.popen.wait(timeout=300)
    match = _REFS.search(service.process.log_path.read_text(errors="replace"))
    if match is None:
        raise RuntimeError(f"no instruction count in the log:\n{service.process.tail()}")
    return int(match.group(1).replace(",", ""))


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it, mappings key by key."""
    result = dict(base)
    for key, value in overrides.items():
        inner = result.get(key)
        result[key] = (
            merged(inner, value) if isinstance(value, dict) and isinstance(inner, dict) else value
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Count the service's instructions per notification and print them."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per notification of the whole service, under valgrind.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--notifications", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--floor", action="store_true", help="count the floor app instead")
    parser.add_argument(
        "--stages-floor",
        action="store_true",
        help="count the floor that does the service's stages inline (bench.floor --stages)",
    )
    parser.add_argument(
        "--set",
        type=json.loads,
        default={},
        metavar="JSON",
        help='configuration laid over scenario 1\'s, e.g. \'{"ui": {"enabled": false}}\'',
    )
    args = parser.parse_args(argv)

    with Bench("instructions", args.service_src) as bench:
        emulator = bench.peer("emulator")
        sink = bench.peer("sink")
        config = merged(service_config(emulator, sink, concurrency=200), args.set)
        config["server"]["shutdown_delay"] = 0

        def start(name: str) -> Endpoint:
            if args.floor or args.stages_floor:
                return bench.floor(
                    emulator,
                    sink,
                    name=name,
                    wrapper=VALGRIND,
                    ready_timeout=300,
                    stages=args.stages_floor,
                )
            return bench.service(config, name=name, wrapper=VALGRIND, ready_timeout=300)

        counts = {}
        for count in (args.notifications, 3 * args.notifications):
            app = "stages floor" if args.stages_floor else "floor" if args.floor else "service"
            with step(f"{app} under valgrind, {count} posts"):
                counts[count] = counted_run(bench, start, count, args.concurrency)
    small, large = counts[args.notifications], counts[3 * args.notifications]
    per_notification = (large - small) / (2 * args.notifications)
    print(
        table(
            ["notifications", "instructions (whole run)"],
            [[n, c] for n, c in counts.items()],
        )
    )
    print(
        f"\n{per_notification:,.0f} instructions per notification (concurrency {args.concurrency})"
    )
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "runs": {str(n): c for n, c in counts.items()},
            "instructions_per_notification": round(per_notification),
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
