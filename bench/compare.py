"""Floor against service under wrk, alternately, in one run: the core of two benchmarks.

Both apps talk to the same emulator and sink processes. For each connection count each
app gets a warm-up run, then a measured run; the order flips every round, so neither
always runs on a warmer machine. CPU used by every process during each measured run is
read from /proc, which shows which one the cores went to.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cpu import cpu_share, machine_cpu, machine_share, wait_quiet
from bench.harness import Endpoint
from bench.wrk import WrkResult, run_wrk

# More foreign CPU than this during a measured run makes it count as disturbed.
FOREIGN_MAX = 0.15


@dataclass(frozen=True, slots=True)
class Point:
    """One measured wrk run against one app."""

    target: str
    round: int
    result: WrkResult
    cpu: dict[str, float]  # cores used per process (wrk included)
    app_cpu_seconds: float  # CPU the app (with any worker processes) used during the run

    @property
    def cpu_per_request(self) -> float:
        """The app's CPU seconds per answered request: per notification handled."""
        return self.app_cpu_seconds / self.result.requests if self.result.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The point as JSON-ready data."""
        return {
            "target": self.target,
            "round": self.round,
            **self.result.as_dict(),
            "cpu": self.cpu,
            "app_cpu_seconds": round(self.app_cpu_seconds, 3),
            "cpu_per_request_ms": round(self.cpu_per_request * 1000, 3),
        }


def measure(
    target: str,
    app: Endpoint,
    peers: Mapping[str, Endpoint],
    template: Path,
    *,
    connections: int,
    duration: float,
    warmup: float,
    timeout: float,
    round_: int,
    retries: int = 2,
    settle: float = 0.5,
) -> Point:
    """Warm `app` up, then load it for `duration` seconds while reading everyone's CPU.

    A run during which other processes on the machine (a test suite, a build) used more
    than FOREIGN_MAX cores is measured again, up to `retries` times; the least disturbed
    run is kept. After the warm-up, `settle` seconds let the work wrk abandoned when it
    stopped (the service finishes notifications whose sender hung up) drain first.
    """
    url = app.url("/webhook")
    best: Point | None = None
    for attempt in range(retries + 1):
        wait_quiet()
        if warmup > 0:
            run_wrk(url, template, connections=connections, duration=warmup, timeout=timeout)
            time.sleep(settle)
        watched = {"app": app, **peers}
        before = {name: e.process.cpu() for name, e in watched.items()}
        machine_before = machine_cpu()
        result = run_wrk(url, template, connections=connections, duration=duration, timeout=timeout)
        busy, interrupts = machine_share(machine_before, machine_cpu())
        after = {name: e.process.cpu() for name, e in watched.items()}
        cpu = {name: round(cpu_share(before[name], after[name]), 2) for name in watched}
        cpu["wrk"] = round(result.cpu, 2)
        cpu["interrupts"] = round(interrupts, 2)
        # Busy time in no process of this run and not in interrupts: someone else's.
        cpu["foreign"] = round(max(0.0, busy - sum(cpu.values())), 2)
        point = Point(target, round_, result, cpu, after["app"].cpu - before["app"].cpu)
        print(
            f"  {target:<8} c={connections:<4} {result.rps:8.1f}/s  "
            f"p50 {result.p50 * 1000:8.2f} ms  p99 {result.p99 * 1000:8.2f} ms  "
            f"CPU {point.cpu_per_request * 1000:.2f} ms/req  "
            f"non-2xx {result.non2xx}  cores {cpu}",
            flush=True,
        )
        if best is None or cpu["foreign"] < best.cpu["foreign"]:
            best = point
        if cpu["foreign"] <= FOREIGN_MAX:
            break
        if attempt < retries:
            print(f"  disturbed ({cpu['foreign']:.2f} foreign cores): measuring again")
    assert best is not None
    return best


def alternate(
    apps: Mapping[str, Endpoint],
    peers: Mapping[str, Endpoint],
    template: Path,
    *,
    connections: Sequence[int],
    duration: float,
    warmup: float,
    timeout: float,
    rounds: int,
    settle: float = 0.5,
) -> list[Point]:
    """Every app at every connection count, `rounds` times, in alternating order."""
    points: list[Point] = []
    names = list(apps)
    for round_ in range(rounds):
        for count in connections:
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                points.append(
                    measure(
                        name,
                        apps[name],
                        peers,
                        template,
                        connections=count,
                        duration=duration,
                        warmup=warmup,
                        timeout=timeout,
                        round_=round_,
                        settle=settle,
                    )
                )
    return points


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over rounds for one app at one connection count."""

    target: str
    connections: int
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    non2xx: int
    errors: int
    cpu_app: float
    cpu_per_request: float  # the app's CPU seconds per answered request

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {k: getattr(self, k) for k in self.__slots__}


def summarise(points: Sequence[Point], target: str, connections: int) -> Summary:
    """Median throughput and latency of `target` at `connections` (errors are summed)."""
    mine = [p for p in points if p.target == target and p.result.connections == connections]
    if not mine:
        raise ValueError(f"no measurement of {target} at {connections} connections")

    def median(values: list[float]) -> float:
        return float(statistics.median(values))

    return Summary(
        target=target,
        connections=connections,
        rps=median([p.result.rps for p in mine]),
        p50=median([p.result.p50 for p in mine]),
        p90=median([p.result.p90 for p in mine]),
        p99=median([p.result.p99 for p in mine]),
        max=max(p.result.max for p in mine),
        non2xx=sum(p.result.non2xx for p in mine),
        errors=sum(p.result.socket_errors + p.result.timeouts for p in mine),
        cpu_app=median([p.cpu["app"] for p in mine]),
        cpu_per_request=median([p.cpu_per_request for p in mine]),
    )
