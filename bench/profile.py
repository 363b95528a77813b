"""Where the service's CPU goes under load: py-spy samples it while wrk posts notifications.

Starts the fast emulator and sink, the service as scenario 1 configures it
(`inference.limits.concurrency: 200`; with `--app`, the floor or the stages floor instead,
to compare), warms it up, then runs wrk with a distinct notification per request and
`py-spy record` against the app (the service's workers too) for the same seconds. Writes
py-spy's collapsed stacks (`--format raw`, one line per stack and its sample count;
speedscope and flamegraph.pl read it) and prints two tables:

* by package: which code was running when sampled (the innermost frame's package,
  `alert_explainer/<module>` for ours), a self-time view;
* by function of alert_explainer: the share of samples in which it was on the stack,
  library time it called included.

Shares are of the samples taken; py-spy leaves out idle threads (a loop waiting in
epoll), so they are shares of the busy time. Without `--native`, time inside C
extensions (uvloop, httptools, pydantic-core) counts for the Python frame that called it.

    .venv/bin/python -m bench.profile --service-src /tmp/bench-wt/service --connections 10
"""

from __future__ import annotations

import argparse
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench import features
from bench.cpu import cpu_share, wait_quiet
from bench.harness import (
    DEFAULT_SERVICE_SRC,
    REPO_ROOT,
    Bench,
    service_config,
    step,
    table,
    write_results,
)
from bench.payloads import write_template
from bench.wrk import run_wrk

PY_SPY = REPO_ROOT / ".venv" / "bin" / "py-spy"
OURS = "alert_explainer/"
APPS = ("service", "floor", "stages-floor")


def frame_file(frame: str) -> str:
    """`pkg/module.py` of a py-spy frame such as `render (jinja2/environment.py:1295)`."""
    start = frame.rfind(" (")
    if start < 0:
        return frame
    return frame[start + 2 :].rstrip(")").rsplit(":", 1)[0]


def frame_package(frame: str) -> str:
    """The package a frame ran in: `alert_explainer/<module>` for ours, else the top level."""
    path = frame_file(frame)
    if path.startswith(OURS):
        return path.removesuffix(".py")
    return path.split("/", 1)[0].removesuffix(".py") or "?"


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw output: (frames from outermost to innermost, samples) per line."""
    stacks = []
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def by_package(stacks: list[tuple[list[str], int]]) -> Counter[str]:
    """Samples by the package of the innermost frame."""
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        counts[frame_package(frames[-1])] += count
    return counts


def by_our_function(stacks: list[tuple[list[str], int]]) -> Counter[str]:
    """Samples in which each alert_explainer function was on the stack (counted once each)."""
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        names = {f.rsplit(" (", 1)[0] + f" ({frame_file(f)})" for f in frames if OURS in f}
        for name in names:
            counts[name] += count
    return counts


def shares(counts: Counter[str], total: int, top: int) -> list[list[object]]:
    """The `top` largest counts as table rows with their share of `total`.

    Frames on every stack (the command line and the server's run loop) say nothing and
    are left out.
    """
    rows = [(name, n) for name, n in counts.most_common() if n < 0.99 * total]
    return [[name, n, f"{100 * n / total:.1f}%"] for name, n in rows[:top]]


def main(argv: Sequence[str] | None = None) -> int:
    """Profile the service under wrk and print where its time goes."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description="py-spy profile of the service under wrk with distinct notifications.",
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds sampled")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--native", action="store_true", help="include C extension frames")
    parser.add_argument("--top", type=int, default=25, help="rows per table")
    parser.add_argument(
        "--app",
        choices=APPS,
        default="service",
        help="what to profile: the service, the floor, or the floor doing the stages inline",
    )
    features.add_argument(parser)
    args = parser.parse_args(argv)

    with Bench("profile", args.service_src) as bench:
        switch_on = features.switch_on(bench, args.all_features)
        template = write_template(bench.work_dir / "payload.json")
        with step("starting emulator, sink and service"):
            emulator = bench.peer("emulator")
            sink = bench.peer("sink")
            if args.app == "service":
                service = bench.service(switch_on(service_config(emulator, sink, concurrency=200)))
            else:
                service = bench.floor(emulator, sink, stages=args.app == "stages-floor")
        url = service.url("/webhook")
        wait_quiet()
        run_wrk(url, template, connections=args.connections, duration=args.warmup)
        time.sleep(0.5)
        collapsed = bench.work_dir / "profile.txt"
        argv_spy = [str(PY_SPY), "record", "--pid", str(service.process.pid), "--subprocesses"]
        argv_spy += ["--format", "raw", "--nolineno", "--rate", str(args.rate)]
        argv_spy += ["--duration", str(int(args.duration)), "--output", str(collapsed)]
        argv_spy += ["--native"] if args.native else []
        with step(f"py-spy for {args.duration:g} s under wrk at {args.connections} connections"):
            spy = subprocess.Popen(argv_spy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            before = service.process.cpu()
            result = run_wrk(url, template, connections=args.connections, duration=args.duration)
            cores = cpu_share(before, service.process.cpu())
            spy_output, _ = spy.communicate(timeout=args.duration + 60)
        if spy.returncode != 0 or not collapsed.exists():
            raise RuntimeError(f"py-spy failed ({spy.returncode}):\n{spy_output.decode()}")

    stacks = parse_collapsed(collapsed.read_text())
    total = sum(count for _, count in stacks)
    packages = by_package(stacks)
    functions = by_our_function(stacks)
    print(
        f"\n{result.rps:.0f} notifications/s under py-spy ({args.rate} Hz), {args.app} "
        f"{cores:.2f} cores, {cores / result.rps * 1000 if result.rps else 0:.2f} ms CPU per "
        f"notification; {total} samples"
    )
    print("\nBy package of the innermost frame (self time)")
    print(table(["package", "samples", "share"], shares(packages, total, args.top)))
    print("\nBy alert_explainer function on the stack (inclusive)")
    print(table(["function", "samples", "share"], shares(functions, total, args.top)))
    path = write_results(
        bench,
        {
            "settings": vars(args) | {"service_src": str(args.service_src)},
            "wrk": result.as_dict(),
            "app_cores": round(cores, 3),
            "samples": total,
            "collapsed_stacks": str(collapsed),
            "by_package": dict(packages.most_common()),
            "by_function": dict(functions.most_common()),
        },
    )
    print(f"\ncollapsed stacks: {collapsed}\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
