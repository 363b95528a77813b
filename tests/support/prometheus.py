"""A real Prometheus (Debian package) on loopback, with history written into its TSDB.

History is written as OpenMetrics text with timestamps relative to now (`History`), turned
into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, and loaded by Prometheus
at start-up: queries then read real TSDB data. Prometheus can also scrape live targets and
evaluate real rules, sending alerts to a real Alertmanager.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import yaml

from tests.support.ports import free_port

PROMETHEUS_BIN = Path(shutil.which("prometheus") or "/usr/bin/prometheus")
PROMTOOL_BIN = Path(shutil.which("promtool") or "/usr/bin/promtool")
READY_TIMEOUT_S = 20.0
BLOCK_SECONDS = 7200  # the TSDB's (and promtool's) block range, aligned to the epoch

Labels = Mapping[str, str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class History:
    """Series with samples at times relative to `now` (seconds since the epoch).

    `add("up", {"job": "x"}, [(-3600, 1), (-60, 0)])` adds samples one hour and one minute
    ago; `ramp` and `constant` build regular samples over a window. Families keep the order
    they were first added in, as OpenMetrics requires them to be contiguous.
    """

    now: float = field(default_factory=time.time)
    _families: dict[
        str, tuple[str, dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]]
    ] = field(default_factory=dict)

    def add(
        self,
        name: str,
        labels: Labels,
        samples: Iterable[tuple[float, float]],
        *,
        kind: str = "gauge",
    ) -> Self:
        """Samples `(seconds relative to now, value)` for one series; offsets are <= 0."""
        family = self._families.setdefault(name, (kind, {}))[1]
        points = family.setdefault(tuple(sorted(labels.items())), [])
        for offset, value in samples:
            if offset > 0:
                raise ValueError("history lies in the past: offsets must be <= 0")
            points.append((self.now + offset, float(value)))
        return self

    def series(
        self,
        name: str,
        labels: Labels,
        value: Callable[[float], float],
        *,
        start: float = -3600,
        end: float = 0,
        step: float = 30,
        kind: str = "gauge",
    ) -> Self:
        """A series sampled every `step` seconds from `start` to `end`: `value(offset)`."""
        count = int((end - start) // step) + 1
        offsets = [start + i * step for i in range(count)]
        return self.add(name, labels, [(t, value(t)) for t in offsets], kind=kind)

    def constant(self, name: str, labels: Labels, value: float, **window: Any) -> Self:
        """A series that holds `value` over the window."""
        return self.series(name, labels, lambda _: value, **window)

    def series_keys(self) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        """Every series as (family name, sorted labels)."""
        return [(name, labels) for name, (_, family) in self._families.items() for labels in family]

    def merge(self, other: History) -> Self:
        """Add `other`'s samples (its times are absolute, so both should share `now`)."""
        for name, (kind, family) in other._families.items():
            mine = self._families.setdefault(name, (kind, {}))[1]
            for labels, points in family.items():
                mine.setdefault(labels, []).extend(points)
        return self

    def openmetrics(self, blocks: Collection[int] | None = None) -> str:
        """The history as OpenMetrics text, ending in `# EOF`.

        With `blocks`, only the samples of those TSDB blocks (2-hour ranges since the epoch,
        numbered as `blocks()` returns them).
        """
        lines: list[str] = []
        for name, (kind, family) in self._families.items():
            lines.append(f"# TYPE {name} {kind}")
            sample_name = f"{name}_total" if kind == "counter" else name
            for labels, points in family.items():
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                selector = f"{sample_name}{{{rendered}}}" if rendered else sample_name
                for moment, value in sorted(points):
                    if blocks is None or moment // BLOCK_SECONDS in blocks:
                        lines.append(f"{selector} {_number(value)} {moment:.3f}")
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def blocks(self) -> dict[int, int]:
        """The TSDB blocks (2-hour ranges since the epoch) holding samples, and how many each."""
        found: Counter[int] = Counter(
            int(moment // BLOCK_SECONDS)
            for _, family in self._families.values()
            for points in family.values()
            for moment, _ in points
        )
        return dict(sorted(found.items()))


class PrometheusProcess:
    """Prometheus on 127.0.0.1:<port>; its TSDB in `tmp_dir/data`, its output in `prometheus.log`.

    `history` is written into the TSDB before start. `scrape` lists `host:port` targets
    (job "scraped", or a mapping of job name to targets); `rules` is the text of one rule
    file; `alertmanager` is the base URL of an Alertmanager to send alerts to.
    """

    def __init__(
        self,
        tmp_dir: Path,
        *,
        history: History | None = None,
        scrape: Sequence[str] | Mapping[str, Sequence[str]] = (),
        rules: str | None = None,
        alertmanager: str | None = None,
        interval: str = "1s",
        external_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.tmp_dir = tmp_dir
        self.external_labels = dict(external_labels or {})
        self.port = free_port()
        self.history = history
        self.scrape = {"scraped": list(scrape)} if isinstance(scrape, Sequence) else dict(scrape)
        self.rules = rules
        self.alertmanager = alertmanager
        self.interval = interval
        self.data_dir = tmp_dir / "data"
        self.log_path = tmp_dir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if self.history is not None:
            write_blocks(self.history, self.data_dir, self.tmp_dir / "history.om")
        config_path = self.tmp_dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False))
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                str(PROMETHEUS_BIN),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                "--storage.tsdb.retention.time=30d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.interval,
                "evaluation_interval": self.interval,
                **({"external_labels": self.external_labels} if self.external_labels else {}),
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.scrape.items()
            ],
        }
        if self.rules is not None:
            rules_path = self.tmp_dir / "rules.yml"
            rules_path.write_text(self.rules)
            config["rule_files"] = [str(rules_path)]
        if self.alertmanager is not None:
            target = urllib.parse.urlsplit(self.alertmanager).netloc
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
        return config

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result vector (raises on an error answer)."""
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def write_blocks(history: History, data_dir: Path, scratch: Path) -> None:
    """Turn `history` into TSDB blocks in `data_dir` with promtool (as an operator backfills).

    promtool reads its whole input once per 2-hour block it writes: a week of dense history
    in one file means 84 passes over all of it. So dense blocks get a file each and sparse
    ones share a file, keeping (blocks in a file) x (samples in it) small.
    """
    group: list[int] = []
    size = 0
    for block, samples in history.blocks().items():
        if group and (len(group) + 1) * (size + samples) > _SAMPLES_PER_PASS:
            _promtool(history.openmetrics(set(group)), data_dir, scratch)
            group, size = [], 0
        group.append(block)
        size += samples
    if group:
        _promtool(history.openmetrics(set(group)), data_dir, scratch)


_SAMPLES_PER_PASS = 100_000  # what promtool parses in a few tenths of a second


def _promtool(text: str, data_dir: Path, scratch: Path) -> None:
    scratch.write_text(text)
    result = subprocess.run(
        [
            str(PROMTOOL_BIN),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            str(scratch),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"promtool could not write the history: {result.stderr or result.stdout}"
        )
