"""Helpers for the deployment tests: run an installed `alert-explainer`, talk HTTP to it."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FIXTURE_PAYLOAD = REPO_ROOT / "tests" / "fixtures" / "alertmanager-firing.json"
READY_TIMEOUT_S = 20.0

# Loopback only, never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    """Status and body of one HTTP exchange."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None, timeout: float = 10.0) -> Answer:
    """One HTTP request to 127.0.0.1; error statuses are returned, not raised."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"deploy tests only talk to 127.0.0.1, not {url!r}")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return Answer(resp.status, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, err.read())


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningService:
    """An `alert-explainer serve` subprocess listening on 127.0.0.1:`port`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Answer:
        return request("GET", self.url + path)

    def post(self, path: str, body: bytes) -> Answer:
        return request("POST", self.url + path, body=body, timeout=30.0)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit status (AssertionError if it does not exit)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {timeout} s after SIGTERM:\n{self.output()}"
            ) from None
        return code


@contextlib.contextmanager
def serve(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> Iterator[RunningService]:
    """Start `command serve --host 127.0.0.1 --port <free>` and wait until /readyz answers 200."""
    port = free_port()
    log_path = cwd / "service.log"
    environment = dict(env if env is not None else os.environ)
    for name in ("NO_PROXY", "no_proxy"):
        environment[name] = "127.0.0.1,localhost"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = RunningService(process, port, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"exited with {process.returncode}:\n{service.output()}")
            with contextlib.suppress(OSError):
                if service.get("/readyz").status == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready in {READY_TIMEOUT_S} s:\n{service.output()}")
            time.sleep(0.05)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s")
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def exposition_labels(text: str) -> dict[str, set[str]]:
    """Sample name -> label names seen on it, from Prometheus text exposition.

    Families declared by `# TYPE` count too, with their sample suffixes, even before their
    first sample (a labelled counter has none until it is first incremented).
    """
    names: dict[str, set[str]] = {}
    for line in text.splitlines():
        declared = _TYPE.match(line)
        if declared:
            for suffix in _SUFFIXES.get(declared.group(2), ("",)):
                names.setdefault(declared.group(1) + suffix, set())
            continue
        match = _SAMPLE.match(line)
        if match:
            labels = names.setdefault(match.group(1), set())
            labels.update(_LABEL.findall(match.group(2) or ""))
    return names


@pytest.fixture(scope="session")
def exported_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Sample names (with their label names) the real service exports on /metrics.

    Started from this venv's `alert-explainer` with its built-in default configuration, and
    scraped after it handled one notification.
    """
    cwd = tmp_path_factory.mktemp("metrics-service")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERT_EXPLAINER")}
    env.pop("CLANKER_CLOUD_API_KEY", None)
    with serve([str(VENV_BIN / "alert-explainer")], cwd=cwd, env=env) as service:
        # One notification first, so series created on first use carry their labels.
        assert service.post("/webhook", FIXTURE_PAYLOAD.read_bytes()).status == 200
        answer = service.get("/metrics")
        assert answer.status == 200
        return exposition_labels(answer.body.decode())
