"""Metrics across worker processes: prometheus_client's multiprocess mode.

With `serve --workers N` every worker records its metrics in files in one directory,
PROMETHEUS_MULTIPROC_DIR, which the supervisor sets before it starts the workers (the
moment prometheus_client reads it). Whichever worker is scraped reports them all:

* counters and histograms are summed over every worker that ever ran, so they never go
  backwards when a worker is replaced;
* each gauge says how the workers' values combine (`multiprocess_mode` in metrics.py:
  `livesum` for work in progress, `livemax` or `max` for flags and peaks);
* what those files do not hold (build info, python_info, custom collectors) is the
  scraped worker's own view;
* process_* (CPU, memory, file descriptors) add up the supervisor and every process it
  started, the way the container's cgroup sees them; python_gc_* are per process and left
  out.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PER_PROCESS = ("process_", "python_gc_")
_SUMMED = frozenset(
    {
        "process_cpu_seconds",
        "process_virtual_memory_bytes",
        "process_resident_memory_bytes",
        "process_open_fds",
    }
)


def multiprocess_enabled() -> bool:
    """Whether metrics live in shared files: what prometheus_client checked at import."""
    return MULTIPROC_DIR_ENV in os.environ


def exposition(local: CollectorRegistry) -> bytes:
    """Every worker's metrics in Prometheus text format, with this worker's `local` ones."""
    registry = CollectorRegistry(support_collectors_without_names=True)
    registry.register(_WorkersCollector(local))
    return generate_latest(registry)


class _WorkersCollector:
    """The shared files, then what only `local` knows, then the process tree."""

    def __init__(self, local: CollectorRegistry) -> None:
        self._local = local

    def collect(self) -> Iterator[Metric]:
        shared = list(multiprocess.MultiProcessCollector(None).collect())  # type: ignore[no-untyped-call]
        yield from shared
        names = {family.name for family in shared}
        for family in self._local.collect():
            if family.name not in names and not family.name.startswith(_PER_PROCESS):
                yield family
        yield from process_tree_metrics()


def process_tree_metrics() -> Iterable[Metric]:
    """process_* for the supervisor (this process when there is none) and its descendants."""
    parent = multiprocessing.parent_process()
    root = parent.pid if parent is not None and parent.pid is not None else os.getpid()
    combined: dict[str, Metric] = {}
    for pid in [root, *descendants(root)]:
        for family in ProcessCollector(pid=functools.partial(int, pid), registry=None).collect():
            first = combined.setdefault(family.name, family)
            if first is family or not family.samples or not first.samples:
                continue
            value = family.samples[0].value
            if family.name in _SUMMED:
                value += first.samples[0].value
            elif family.name == "process_start_time_seconds":
                value = min(value, first.samples[0].value)
            else:  # process_max_fds: the supervisor's limit, which its workers inherit
                continue
            first.samples[0] = first.samples[0]._replace(value=value)
    return combined.values()


def descendants(pid: int) -> list[int]:
    """Every live process started by `pid`, its children's children included."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):  # it exited while we looked
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    children = [int(x) for x in (task / "children").read_text().split()]
                    found += children
                    pending += children
    return found
