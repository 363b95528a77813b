"""Runs the real Prometheus Alertmanager (0.25, Debian package) on loopback for end-to-end tests.

Observed with the timings used here (group_wait 1s, group_interval 10s): the first webhook comes
about 1 s after an alert is posted; a resolution is sent at the next group_interval tick; an
unchanged group is repeated at the first tick after repeat_interval; 5xx answers are retried with
backoff until the per-flush deadline max(10 s, group_interval); 4xx answers are not retried.
"""

import json
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import yaml

from tests.support import http
from tests.support.ports import free_port

ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")
AMTOOL_BIN = Path("/usr/bin/amtool")
READY_TIMEOUT_S = 15.0
# Plain names only: Alertmanager regex-escapes the receiver name in payloads ("a.b" -> "a\.b").
_RECEIVER_NAME = re.compile(r"[A-Za-z0-9_-]+")

Route = tuple[Mapping[str, str], str]  # (label matchers, receiver name)


@dataclass(frozen=True)
class ReceiverSpec:
    """One webhook receiver: the URL Alertmanager posts to, and how it posts."""

    url: str
    send_resolved: bool = True
    bearer_token: str | None = None
    max_alerts: int | None = None


def build_config(
    receivers: Mapping[str, ReceiverSpec],
    *,
    routes: Sequence[Route] = (),
    root_receiver: str | None = None,
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "1s",
    group_interval: str = "10s",
    repeat_interval: str = "1h",
) -> dict[str, Any]:
    """The alertmanager.yml content: a root route grouping by `group_by`, plus child routes."""
    if not receivers:
        raise ValueError("at least one receiver is needed")
    for name in receivers:
        if not _RECEIVER_NAME.fullmatch(name):
            raise ValueError(f"receiver name {name!r}: use letters, digits, '_' and '-' only")
    root = root_receiver or next(iter(receivers))
    for name in [root, *(target for _, target in routes)]:
        if name not in receivers:
            raise ValueError(f"route refers to unknown receiver {name!r}")
    route: dict[str, Any] = {
        "receiver": root,
        "group_by": list(group_by),
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
    }
    if routes:
        route["routes"] = [
            {"receiver": name, "matchers": _matchers(labels), "continue": False}
            for labels, name in routes
        ]
    return {
        "route": route,
        "receivers": [_receiver(name, spec) for name, spec in receivers.items()],
    }


class AlertmanagerProcess:
    """A real ``prometheus-alertmanager`` on 127.0.0.1:<free port>, clustering off.

    Files live in ``tmp_dir``: alertmanager.yml, data/, alertmanager.log. ``start()`` checks the
    config with amtool, starts the binary and waits for /-/ready; ``stop()`` (or ``with``) ends it.
    """

    def __init__(
        self,
        tmp_dir: Path,
        receivers: Mapping[str, ReceiverSpec],
        *,
        routes: Sequence[Route] = (),
        root_receiver: str | None = None,
        group_by: Sequence[str] = ("alertname",),
        group_wait: str = "1s",
        group_interval: str = "10s",
        repeat_interval: str = "1h",
    ) -> None:
        self.tmp_dir = tmp_dir
        self.config = build_config(
            receivers,
            routes=routes,
            root_receiver=root_receiver,
            group_by=group_by,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        )
        self.config_path = tmp_dir / "alertmanager.yml"
        self.log_path = tmp_dir / "alertmanager.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._fired: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("Alertmanager is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("Alertmanager already started")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        check = subprocess.run(
            [str(AMTOOL_BIN), "check-config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(
                f"amtool check-config rejected {self.config_path}:\n{check.stdout}{check.stderr}"
            )
        self.port = free_port()
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                str(ALERTMANAGER_BIN),
                f"--config.file={self.config_path}",
                f"--storage.path={self.tmp_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                f"--web.external-url={self.base_url}",
                "--log.level=debug",
            ],
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

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST /api/v2/alerts; raises RuntimeError unless Alertmanager answers 200."""
        result = http.request(
            "POST",
            f"{self.base_url}/api/v2/alerts",
            body=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
        )
        if result.status != 200:
            raise RuntimeError(
                f"Alertmanager answered {result.status} to POST /api/v2/alerts: "
                f"{result.body.decode(errors='replace')}"
            )

    def fire(
        self,
        alertname: str,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        generator_url: str | None = None,
    ) -> dict[str, Any]:
        """Post a firing alert (startsAt now, endsAt now + 1 h, so it keeps firing); returns it."""
        now = datetime.now(UTC)
        alert: dict[str, Any] = {
            "labels": {**(labels or {}), "alertname": alertname},
            "annotations": dict(annotations or {}),
            "startsAt": _rfc3339(now),
            "endsAt": _rfc3339(now + timedelta(hours=1)),
        }
        if generator_url is not None:
            alert["generatorURL"] = generator_url
        self.post_alerts([alert])
        self._fired[_key(alert["labels"])] = alert
        return alert

    def resolve(self, alertname: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Post the same label set with endsAt now (reusing what fire() sent); returns it."""
        full_labels = {**(labels or {}), "alertname": alertname}
        alert = dict(self._fired.pop(_key(full_labels), {"labels": full_labels}))
        alert["endsAt"] = _rfc3339(datetime.now(UTC))
        self.post_alerts([alert])
        return alert

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, wait up to 5 s, then SIGKILL."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
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

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"Alertmanager exited with {self._process.returncode} before it was ready; "
                    f"log tail:\n{self._log_tail()}"
                )
            try:
                if http.request("GET", f"{self.base_url}/-/ready", timeout=1.0).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"Alertmanager not ready within {READY_TIMEOUT_S:g} s; log tail:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _receiver(name: str, spec: ReceiverSpec) -> dict[str, Any]:
    webhook: dict[str, Any] = {"url": spec.url, "send_resolved": spec.send_resolved}
    if spec.max_alerts is not None:
        webhook["max_alerts"] = spec.max_alerts
    if spec.bearer_token is not None:
        webhook["http_config"] = {
            "authorization": {"type": "Bearer", "credentials": spec.bearer_token}
        }
    return {"name": name, "webhook_configs": [webhook]}


def _matchers(labels: Mapping[str, str]) -> list[str]:
    return [f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in labels.items()]


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
