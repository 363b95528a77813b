"""Runs the service under test, ``python -m alert_explainer serve``, as a real subprocess."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Self

from tests.support import http
from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# Put the source tree first on the path so the code under test is what runs, installed or not.
SERVICE_SRC = REPO_ROOT / "service"
READY_TIMEOUT_S = 15.0


class PostResult(NamedTuple):
    """The service's answer to a webhook post; ``json`` is None when the body is not JSON."""

    status: int
    json: Any
    headers: dict[str, str]


class ServiceProcess:
    """The service on 127.0.0.1:<port>, output captured to ``tmp_dir/service.log``.

    ``start()`` launches it and waits for ``GET /readyz`` == 200, raising with the output tail
    if it exits or is not ready within 15 s. ``terminate()`` asks it to stop (SIGTERM);
    ``stop()`` (or leaving ``with``) makes sure it is gone.
    """

    def __init__(
        self,
        config_path: Path,
        tmp_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.config_path = config_path
        self.tmp_dir = tmp_dir
        self.env = dict(env or {})
        self.port = port or free_port()
        self.log_path = tmp_dir / "service.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def webhook_url(self, route: str | None = None) -> str:
        """``/webhook`` or ``/webhook/<route>`` on this service."""
        return f"{self.base_url}/webhook" + (f"/{route}" if route else "")

    @property
    def returncode(self) -> int | None:
        """None while running (or not started), else the exit status."""
        return None if self._process is None else self._process.poll()

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("service already started")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alert_explainer",
                "serve",
                "--config",
                str(self.config_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=self._environment(),
            cwd=self.tmp_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr interleaved)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def post_payload(
        self,
        payload: Mapping[str, Any] | bytes,
        route: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> PostResult:
        """POST a webhook payload (a dict is sent as JSON, bytes as they are)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        result = http.request(
            "POST",
            self.webhook_url(route),
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=timeout,
        )
        return PostResult(result.status, result.json(), result.headers)

    def post_like_alertmanager(
        self, payload: Mapping[str, Any], deadline: float = 10.0
    ) -> list[PostResult]:
        """POST as Alertmanager 0.25 does, retrying 5xx and errors until `deadline` s pass.

        Its backoff (notify/util.go, cenkalti/backoff v4): first try at once, then about
        0.5 s x 1.5^n, +-50 % jitter. Returns every answer; the last one is final.
        """
        answers: list[PostResult] = []
        give_up = time.monotonic() + deadline
        delay = 0.5
        while True:
            remaining = give_up - time.monotonic()
            try:
                answers.append(self.post_payload(payload, timeout=max(0.1, remaining)))
            except OSError:
                answers.append(PostResult(0, None, {}))  # a connection error: retried too
            if answers[-1].status and answers[-1].status < 500:
                return answers
            pause = delay * random.uniform(0.5, 1.5)
            if time.monotonic() + pause >= give_up:
                return answers
            time.sleep(pause)
            delay *= 1.5

    def get(self, path: str, timeout: float = 10.0) -> http.HttpResult:
        return http.request("GET", f"{self.base_url}/{path.lstrip('/')}", timeout=timeout)

    def metrics_text(self) -> str:
        """The Prometheus exposition text from GET /metrics (AssertionError unless 200)."""
        result = self.get("/metrics")
        if result.status != 200:
            raise AssertionError(f"GET /metrics answered {result.status}: {result.body[:500]!r}")
        return result.body.decode()

    def send_signal(self, sig: int) -> None:
        """Deliver a signal without waiting (e.g. SIGTERM while requests are in flight)."""
        if self._process is None:
            raise RuntimeError("service is not started")
        self._process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit; returns its exit status."""
        if self._process is None:
            raise RuntimeError("service is not started")
        return self._process.wait(timeout)

    def terminate(self, timeout: float = 10.0) -> int:
        """Send SIGTERM and wait for exit; returns the exit status, AssertionError on timeout."""
        if self._process is None:
            raise RuntimeError("service is not started")
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"service still running {timeout:g} s after SIGTERM; output tail:\n{self._tail()}"
            ) from None

    def stop(self) -> None:
        """Kill the process if it is still running and release the log file."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self if self._process is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SERVICE_SRC), env.get("PYTHONPATH", "")) if p
        )
        # All peers are on loopback: never send them through a proxy from the environment.
        for name in ("NO_PROXY", "no_proxy"):
            env[name] = ",".join(p for p in (env.get(name, ""), "127.0.0.1,localhost") if p)
        return env

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"service exited with {self._process.returncode} before it was ready; "
                    f"output tail:\n{self._tail()}"
                )
            try:
                if self.get("/readyz", timeout=1.0).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"service not ready within {READY_TIMEOUT_S:g} s; output tail:\n{self._tail()}"
        )

    def _tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])
