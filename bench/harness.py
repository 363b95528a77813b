"""Processes, probes and reports shared by the benchmark scripts.

Everything runs on 127.0.0.1. Each peer, the floor and the service run as their own
process, started with the interpreter running the benchmark and stopped (SIGTERM, then
SIGKILL) when the script ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from bench.cpu import CpuSample, process_cpu

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_SERVICE_SRC = REPO_ROOT / "service"
API_KEY = "bench-key"
# An empty ProxyHandler ignores http_proxy & co.: every peer is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http(method: str, url: str, body: bytes | None = None, timeout: float = 10.0) -> bytes:
    """One blocking request to a loopback URL; the body of a 2xx answer, else HTTPError."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks only talk to 127.0.0.1, not {url!r}")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    with _OPENER.open(request, timeout=timeout) as response:
        data: bytes = response.read()
        return data


def get_json(url: str) -> Any:
    """GET a JSON document from a loopback URL."""
    return json.loads(http("GET", url))


class Process:
    """A child process with its output in a log file, and readings from /proc."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str]):
        self.name = name
        self.log_path = log_path
        self.started_at = time.perf_counter()
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=REPO_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def cpu(self) -> CpuSample:
        """User plus system CPU seconds used so far, all threads."""
        return process_cpu(self.pid)

    def memory_kib(self, field: str) -> int:
        """A memory figure from /proc/<pid>/status in KiB, e.g. VmRSS or VmHWM."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def tail(self, lines: int = 30) -> str:
        """The end of the process's output."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def wait_ready(process: Process, url: str, timeout: float = 20.0, interval: float = 0.05) -> float:
    """Poll `url` until it answers 200; return seconds since the process was spawned."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not process.alive():
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode} before it was ready:\n"
                f"{process.tail()}"
            )
        try:
            http("GET", url, timeout=1.0)
        except (OSError, urllib.error.HTTPError):
            time.sleep(interval)
            continue
        return time.perf_counter() - process.started_at
    raise RuntimeError(f"{process.name} not ready within {timeout:g} s:\n{process.tail()}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A running process and the base URL it serves."""

    process: Process
    base_url: str

    def url(self, path: str) -> str:
        """An absolute URL on this endpoint."""
        return f"{self.base_url}/{path.lstrip('/')}"


class Bench:
    """Starts the processes of one benchmark run and stops them all when it ends.

    `service_src` is the directory holding the `alert_explainer` package to measure
    (a git worktree snapshot, so others' unfinished edits cannot disturb a run).
    """

    def __init__(self, name: str, service_src: Path) -> None:
        self.name = name
        self.service_src = service_src.resolve()
        self.started = datetime.now(UTC)
        self.work_dir = RESULTS_DIR / "runs" / f"{name}-{self.started:%Y%m%dT%H%M%SZ}"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._processes: list[Process] = []
        self._cleanups = contextlib.ExitStack()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._cleanups.close()
        finally:
            self.stop_all()

    def on_exit(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the run ends (peers this module does not start itself)."""
        self._cleanups.callback(callback)

    def stop_all(self) -> None:
        """Stop every process this run started, newest first."""
        while self._processes:
            self._processes.pop().stop()

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Process:
        """Start a process whose output goes to `<work_dir>/<name>.log`."""
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        pythonpath = [str(self.service_src), str(REPO_ROOT), environment.get("PYTHONPATH", "")]
        environment["PYTHONPATH"] = os.pathsep.join(p for p in pythonpath if p)
        for name_ in ("NO_PROXY", "no_proxy"):
            environment[name_] = "127.0.0.1,localhost"
        process = Process(name, argv, self.work_dir / f"{name}.log", environment)
        self._processes.append(process)
        return process

    def peer(
        self, role: str, *, latency: float = 0.0, keep_bodies: bool = False, name: str = ""
    ) -> Endpoint:
        """Start bench.peers (emulator or sink) and wait until it answers."""
        port = free_port()
        argv = [sys.executable, "-m", "bench.peers", "--role", role, "--port", str(port)]
        argv += ["--latency", str(latency)] + (["--keep-bodies"] if keep_bodies else [])
        process = self.spawn(name or role, argv)
        endpoint = Endpoint(process, f"http://127.0.0.1:{port}")
        wait_ready(process, endpoint.url("/stats"), interval=0.02)
        return endpoint

    def floor(
        self,
        inference: Endpoint,
        sink: Endpoint,
        *,
        name: str = "floor",
        wrapper: Sequence[str] = (),
        ready_timeout: float = 20.0,
        stages: bool = False,
    ) -> Endpoint:
        """Start the floor app (bench.floor) against these peers (`wrapper` as for service).

        `stages`: the floor that also does the service's stages inline (`--stages`).
        """
        port = free_port()
        process = self.spawn(
            name,
            [
                *wrapper,
                sys.executable,
                "-m",
                "bench.floor",
                "--port",
                str(port),
                "--inference-url",
                inference.url("/v1/inference/chat/completions"),
                "--sink-url",
                sink.url("/floor"),
                "--api-key",
                API_KEY,
                *(["--stages"] if stages else []),
            ],
        )
        endpoint = Endpoint(process, f"http://127.0.0.1:{port}")
        wait_ready(process, endpoint.url("/readyz"), timeout=ready_timeout)
        return endpoint

    def redis(self) -> Endpoint:
        """Start redis-server without persistence on a free port; its base URL is redis://."""
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        process = self.spawn("redis", [*argv, "--appendonly", "no", "--dir", str(self.work_dir)])
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 1) as c,
            ):
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return Endpoint(process, f"redis://127.0.0.1:{port}/0")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server not ready on port {port}:\n{process.tail()}")

    def service(
        self,
        config: Mapping[str, Any],
        *,
        name: str = "service",
        wait: bool = True,
        wrapper: Sequence[str] = (),
        ready_timeout: float = 20.0,
    ) -> Endpoint:
        """Start `python -m alert_explainer serve` from `service_src` with this config.

        `wrapper` goes before the interpreter on the command line (valgrind and its options).
        """
        config_path = self.work_dir / f"{name}.yaml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        port = free_port()
        process = self.spawn(
            name,
            [
                *wrapper,
                sys.executable,
                "-m",
                "alert_explainer",
                "serve",
                "--config",
                str(config_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
        )
        endpoint = Endpoint(process, f"http://127.0.0.1:{port}")
        if wait:
            wait_ready(process, endpoint.url("/readyz"), timeout=ready_timeout)
        return endpoint


def service_config(
    inference: Endpoint,
    sink: Endpoint,
    *,
    concurrency: int = 8,
    respond_within: float = 8.0,
    inference_timeout: float = 20.0,
    dedup_window: float = 600.0,
    max_connections: int | None = None,
    reexplain_after: float | None = None,
    redis: Endpoint | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """A service configuration: the emulator as inference API, one webhook sink.

    Everything not named here is the service's default (memory state unless `redis` is
    given, one worker process, JSON logs at info, `inference.max_connections` 100 and
    `inference.reexplain_after` 1 h unless given).
    """
    config: dict[str, Any] = {
        "server": {"respond_within": respond_within},
        "inference": {
            "url": inference.url("/v1/inference/chat/completions"),
            "api_key": API_KEY,
            "timeout": inference_timeout,
            "limits": {"concurrency": concurrency},
        },
        "delivery": {"dedup_window": dedup_window},
        "sinks": [{"name": "hook", "type": "webhook", "url": sink.url("/hook")}],
        "routes": [{"name": "default", "sinks": ["hook"]}],
        "log": {"format": "json", "level": "info"},
    }
    if max_connections is not None:
        config["inference"]["max_connections"] = max_connections
    if reexplain_after is not None:
        config["inference"]["reexplain_after"] = reexplain_after
    if redis is not None:
        config["state"] = {"backend": "redis", "url": redis.base_url}
    if workers != 1:
        config["server"]["workers"] = workers
    return config


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, from exposition text."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match.group(1) != name:
            continue
        found = dict(_LABEL.findall(match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def metric_by(text: str, name: str, label: str) -> dict[str, float]:
    """Non-zero samples of `name` summed by one label's value."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match.group(1) != name:
            continue
        value = dict(_LABEL.findall(match.group(2) or "")).get(label, "")
        sums[value] = sums.get(value, 0.0) + float(match.group(3))
    return {k: v for k, v in sums.items() if v}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
    }


def commit_of(path: Path) -> str:
    """The git commit checked out where `path` lives (plus "+dirty" if it has edits)."""
    head = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(path), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}+dirty" if head and dirty else head or "unknown"


def write_results(bench: Bench, data: Mapping[str, Any]) -> Path:
    """Write `data` with run metadata to bench/results/<name>-<time>.json; return the path."""
    document = {
        "benchmark": bench.name,
        "started": bench.started.isoformat(),
        "machine": machine(),
        "service_src": str(bench.service_src),
        "service_commit": commit_of(bench.service_src),
        "command": " ".join(
            [Path(sys.executable).name, "-m", f"bench.{bench.name}", *sys.argv[1:]]
        ),
        **data,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{bench.name}-{bench.started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    """How a target check reads in a table."""
    return "met" if ok else "MISSED"


@contextlib.contextmanager
def step(message: str) -> Iterator[None]:
    """Print what is being done and how long it took."""
    print(f"… {message}", flush=True)
    started = time.perf_counter()
    yield
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
