"""Running wrk with bench/unique.lua and reading its summary."""

from __future__ import annotations

import json
import resource
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).with_name("unique.lua")
_MARKER = "WRK_JSON "


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (seconds) and errors."""

    connections: int
    requests: int
    duration: float
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    non2xx: int
    socket_errors: int
    timeouts: int
    cpu: float  # cores wrk itself used

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return asdict(self)


def run_wrk(
    url: str,
    template: Path,
    *,
    connections: int,
    duration: float,
    timeout: float = 2.0,
    threads: int = 1,
) -> WrkResult:
    """Load `url` with distinct notifications from `template` for `duration` seconds."""
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(template),
        uuid.uuid4().hex[:10],  # a fresh nonce: keys never repeat across runs
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=duration + timeout + 30
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith(_MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix(_MARKER))
    latency = data["latency_us"]
    seconds = data["duration_us"] / 1e6
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return WrkResult(
        connections=connections,
        requests=data["requests"],
        duration=seconds,
        rps=data["requests"] / seconds,
        p50=latency["p50"] / 1e6,
        p90=latency["p90"] / 1e6,
        p99=latency["p99"] / 1e6,
        max=latency["max"] / 1e6,
        mean=latency["mean"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"],
        timeouts=data["timeouts"],
        cpu=cpu / elapsed,
    )
