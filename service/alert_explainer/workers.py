"""Several processes serving one port: `serve --workers N` (server.workers).

Each worker is the whole service (server.run_server) in its own process, started with
multiprocessing's spawn method so that it begins from a fresh interpreter, and listening
on the same address with SO_REUSEPORT: the kernel spreads new connections evenly over the
workers' sockets. What the workers must share (leases, delivery records, the explanation
cache, the budgets) lives in Redis, which is why more than one worker needs
`state.backend: redis` (config/settings.py).

The parent process only supervises. SIGTERM and SIGINT are passed on to every worker, and
each then drains exactly as a single process does (server.DrainingServer); a worker that
dies is replaced; one that cannot start stops the service with an error. Metrics are kept
in prometheus_client's multiprocess files in one directory, and whichever worker is
scraped reports them all (worker_metrics.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from types import FrameType

import structlog
from prometheus_client import multiprocess

from alert_explainer.config import Settings
from alert_explainer.log import configure_logging
from alert_explainer.server import run_server
from alert_explainer.worker_metrics import MULTIPROC_DIR_ENV

logger = structlog.get_logger("alert_explainer.workers")

# uvicorn's exit status for a server that never finished starting (uvicorn.config).
STARTUP_FAILURE = 3
# A worker that dies this soon after it started is replaced only after a pause, so that a
# crash early in its life cannot become a busy loop of restarts.
_QUICK_DEATH = 10.0
_RESTART_PAUSE = 1.0


def serve_workers(settings: Settings, host: str, port: int) -> int:
    """Run server.workers worker processes on host:port until SIGTERM or SIGINT."""
    with metrics_directory() as directory:
        context = multiprocessing.get_context("spawn")
        return Supervisor(settings, host, port, directory, context).run()


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR for the workers: the one configured, emptied, or a new one.

    It is set in this process's environment before any worker starts, so every worker
    finds it at start-up, when prometheus_client reads it.
    """
    configured = os.environ.get(MULTIPROC_DIR_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # a previous run's values would be added in
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="alert-explainer-metrics-"))
    os.environ[MULTIPROC_DIR_ENV] = str(path)
    try:
        yield path
    finally:
        del os.environ[MULTIPROC_DIR_ENV]
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class _Worker:
    index: int
    process: SpawnProcess
    started_at: float


class Supervisor:
    """Starts the workers, passes signals on, replaces a worker that dies."""

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        metrics_dir: Path,
        context: SpawnContext,
    ) -> None:
        self._settings = settings
        self._host = host
        self._port = port
        self._metrics_dir = metrics_dir
        self._context = context
        self._workers: dict[int, _Worker] = {}
        self._stop_signal: int | None = None
        self._failed = False

    def run(self) -> int:
        """Supervise until every worker has exited; 0, or 1 when a worker could not start."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for index in range(self._settings.server.workers):
            self._start(index)
        logger.info(
            "workers_started",
            workers=len(self._workers),
            pids=[w.process.pid for w in self._workers.values()],
            host=self._host,
            port=self._port,
        )
        while self._workers:  # each entry is a worker whose exit is not handled yet
            running = {w.process.sentinel: w for w in self._workers.values()}
            for sentinel in multiprocessing.connection.wait(list(running), timeout=1.0):
                self._exited(running[sentinel])  # type: ignore[index]
        logger.info("workers_stopped", failed=self._failed)
        return 1 if self._failed else 0

    def _start(self, index: int) -> None:
        process = self._context.Process(
            target=work,
            args=(self._settings, self._host, self._port, index),
            name=f"alert-explainer-worker-{index}",
        )
        process.start()
        self._workers[index] = _Worker(index, process, time.monotonic())
        if self._stop_signal is not None and process.pid is not None:
            os.kill(process.pid, self._stop_signal)  # the signal came while it was starting

    def _exited(self, worker: _Worker) -> None:
        worker.process.join()
        code, pid = worker.process.exitcode, worker.process.pid
        # Its live gauges (work in progress) end with it; its counters stay in the sums.
        multiprocess.mark_process_dead(pid, str(self._metrics_dir))  # type: ignore[no-untyped-call]
        del self._workers[worker.index]
        if self._stop_signal is not None:
            logger.info("worker_stopped", worker=worker.index, pid=pid, exit_code=code)
            return
        if code == STARTUP_FAILURE:
            logger.error(
                "worker_start_failed",
                worker=worker.index,
                pid=pid,
                message="a worker could not start (see its log lines above); stopping",
            )
            self._failed = True
            self._stop(signal.SIGTERM)
            return
        logger.error(
            "worker_died", worker=worker.index, pid=pid, exit_code=code, message="replacing it"
        )
        if time.monotonic() - worker.started_at < _QUICK_DEATH:
            time.sleep(_RESTART_PAUSE)
        if self._stop_signal is None:
            self._start(worker.index)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._stop(sig)

    def _stop(self, sig: int) -> None:
        if self._stop_signal is None:
            logger.info("stopping_workers", signal=signal.Signals(sig).name)
        self._stop_signal = sig
        self._forward(sig)

    def _forward(self, sig: int) -> None:
        """Send `sig` to every running worker; a second one hurries them as it would one."""
        for worker in self._workers.values():
            if worker.process.pid is not None and worker.process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, sig)


def work(settings: Settings, host: str, port: int, index: int) -> None:
    """One worker process: its own socket on the shared port, then the whole service."""
    os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the supervisor only, which passes it on
    configure_logging(settings.log.format, settings.log.level)
    structlog.contextvars.bind_contextvars(worker=index)
    _stop_when_orphaned()
    try:
        sock = reuse_port_socket(host, port)
    except OSError as exc:
        logger.error("listen_failed", host=host, port=port, error=exc.strerror or str(exc))
        sys.exit(STARTUP_FAILURE)
    started = run_server(settings, host, port, sockets=[sock])
    sys.exit(0 if started else STARTUP_FAILURE)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that the other workers bind too (SO_REUSEPORT)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _stop_when_orphaned() -> None:
    """Stop if the supervisor goes away (killed), instead of serving on alone.

    Without a supervisor nobody waits for readiness to fail, so it stops as on SIGINT: no
    serving delay, but the notifications in progress still get shutdown_grace.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        logger.error("supervisor_gone", message="the supervising process exited; stopping")
        os.kill(os.getpid(), signal.SIGINT)

    context = contextvars.copy_context()  # its log line names the worker too
    threading.Thread(
        target=context.run, args=(watch,), name="supervisor-watch", daemon=True
    ).start()
