"""CPU accounting from /proc: per process, for the whole machine, and "is it quiet?".

The machine is shared (other people's test suites run on it), so every benchmark reads
how much CPU each of its processes used, how much went to interrupts (loopback TCP) and
how much to anyone else, and waits for a quiet machine before it measures.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU seconds a process had used at a moment."""

    cpu: float
    at: float


def process_cpu(pid: int) -> CpuSample:
    """CPU seconds process `pid` and all its descendants used so far, all threads.

    A multi-process service (`serve --workers N`) does its work in child processes: live
    ones are read from /proc one by one, and those that have exited and were waited for
    are in the parent's cutime and cstime.
    """
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += _own_and_reaped_ticks(current) / _CLOCK_TICKS
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited since it was listed; its time is in its parent's cutime
        pending += _children(current)
    return CpuSample(total, time.perf_counter())


def _own_and_reaped_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields[11:15] are utime, stime, cutime and cstime (fields 14 to 17 of proc(5)).
    return sum(int(x) for x in fields[11:15])


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            children += [int(x) for x in (task / "children").read_text().split()]
    return children


@dataclass(frozen=True, slots=True)
class MachineSample:
    """CPU seconds the whole machine had spent busy, and in interrupt handling, at a moment."""

    busy: float
    interrupts: float  # irq + softirq: mostly loopback TCP, charged to no process
    at: float


def machine_cpu() -> MachineSample:
    """Busy and interrupt CPU seconds of all processes on the machine (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return MachineSample(
        busy / _CLOCK_TICKS, (fields[5] + fields[6]) / _CLOCK_TICKS, time.perf_counter()
    )


def machine_share(before: MachineSample, after: MachineSample) -> tuple[float, float]:
    """Cores busy, and cores in interrupt handling, between two samples."""
    elapsed = after.at - before.at
    if elapsed <= 0:
        return 0.0, 0.0
    return (after.busy - before.busy) / elapsed, (after.interrupts - before.interrupts) / elapsed


def wait_quiet(threshold: float = 0.15, window: float = 1.0, limit: float = 120.0) -> float:
    """Wait until the machine's busy CPU over `window` s is below `threshold` cores.

    Call it while this run's own processes are idle: then all busy time is someone
    else's (a test suite, a build). Returns the foreign load finally seen; gives up after
    `limit` seconds and says so.
    """
    deadline = time.perf_counter() + limit
    waited = False
    while True:
        before = machine_cpu()
        time.sleep(window)
        load = machine_share(before, machine_cpu())[0]
        if load < threshold:
            if waited:
                print(f"  machine quiet again ({load:.2f} cores busy)", flush=True)
            return load
        if time.perf_counter() > deadline:
            print(f"  WARNING: machine still busy ({load:.2f} cores) after {limit:g} s", flush=True)
            return load
        if not waited:
            print(f"  waiting for a quiet machine ({load:.2f} cores busy elsewhere)", flush=True)
            waited = True


def cpu_share(before: CpuSample, after: CpuSample) -> float:
    """Cores used between two samples (1.0 = one core fully busy)."""
    elapsed = after.at - before.at
    return (after.cpu - before.cpu) / elapsed if elapsed > 0 else 0.0


class Measured(Protocol):
    """Anything whose CPU use can be read, such as a harness.Process."""

    def cpu(self) -> CpuSample:
        """CPU seconds used so far."""
        ...


class CpuWatch:
    """Cores each watched process, this process, interrupts and everyone else used."""

    def __init__(self, processes: Mapping[str, Measured]) -> None:
        self._processes = dict(processes)
        self._before = {name: p.cpu() for name, p in self._processes.items()}
        self._self_before = _own_cpu()
        self._machine_before = machine_cpu()

    def read(self) -> dict[str, float]:
        """Cores used since the watch began, by name, plus "interrupts" and "foreign"."""
        cores = {
            name: round(cpu_share(self._before[name], p.cpu()), 2)
            for name, p in self._processes.items()
        }
        cores["loader"] = round(cpu_share(self._self_before, _own_cpu()), 2)
        busy, interrupts = machine_share(self._machine_before, machine_cpu())
        cores["interrupts"] = round(interrupts, 2)
        cores["foreign"] = round(max(0.0, busy - sum(cores.values())), 2)
        return cores


def _own_cpu() -> CpuSample:
    times = os.times()
    return CpuSample(times.user + times.system, time.perf_counter())
