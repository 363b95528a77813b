"""Series summaries: one short line per series, which a model and a person can both read.

`instance="node-1", mountpoint="/": now 4.1%, min 4.1%, max 16%, at start 10.2%,
-6.1%/h, < 15% since 09:32Z (28 min ago) ▇▇▆▆▅▅▄▄▃▃▂▂▁▁`

The change is the least-squares slope per hour; the sparkline has one character per
slice of the window (a space where there are no samples).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alert_explainer.evidence.promql import Threshold, number
from alert_explainer.evidence.units import NONE, Unit, format_value

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 20
MAX_SERIES_SHOWN = 8
MAX_LABELS_CHARS = 160

Point = tuple[float, float]  # (unix seconds, value)
LabelPolicy = Callable[[Mapping[str, str]], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query result: its labels and its samples in time order."""

    labels: dict[str, str]
    points: tuple[Point, ...]

    @property
    def values(self) -> list[float]:
        """The sample values that are numbers (NaN left out)."""
        return [v for _, v in self.points if not math.isnan(v)]

    @property
    def last(self) -> float | None:
        """The latest value, or None without samples."""
        values = self.values
        return values[-1] if values else None


def labelset(labels: Mapping[str, str]) -> str:
    """`a="b", c="d"` in name order, the metric name left out."""
    pairs = [f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__"]
    text = ", ".join(pairs)
    return text if len(text) <= MAX_LABELS_CHARS else text[: MAX_LABELS_CHARS - 1] + "…"


def distinguishing(
    series: Sequence[Series], policy: LabelPolicy, known: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Each series' labels without those every series shares and those already `known`.

    `known` are the labels the alerts have in common: the reader sees them with the alert.
    """
    shown = [policy(s.labels) for s in series]
    common = set.intersection(*(set(s.items()) for s in shown)) if len(shown) > 1 else set()
    common |= set((known or {}).items())
    return [{k: v for k, v in s.items() if (k, v) not in common and k != "__name__"} for s in shown]


def sparkline(points: Sequence[Point], start: float, end: float, width: int = SPARK_WIDTH) -> str:
    """The series as `width` block characters from `start` to `end`; spaces are gaps."""
    values = [v for _, v in points if math.isfinite(v)]
    if not values or end <= start:
        return ""
    low, high = min(values), max(values)
    slices: list[list[float]] = [[] for _ in range(width)]
    for moment, value in points:
        if math.isfinite(value):
            index = min(width - 1, max(0, int((moment - start) / (end - start) * width)))
            slices[index].append(value)
    chars = []
    for slot in slices:
        if not slot:
            chars.append(" ")
            continue
        mean = sum(slot) / len(slot)
        level = 0 if high == low else round((mean - low) / (high - low) * (len(SPARK) - 1))
        chars.append(SPARK[level])
    return "".join(chars).rstrip()


def slope_per_hour(points: Sequence[Point]) -> float | None:
    """The least-squares trend of the samples, per hour; None with fewer than 3 samples."""
    finite = [(t, v) for t, v in points if math.isfinite(v)]
    if len(finite) < 3:
        return None
    mean_t = sum(t for t, _ in finite) / len(finite)
    mean_v = sum(v for _, v in finite) / len(finite)
    spread = sum((t - mean_t) ** 2 for t, _ in finite)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in finite) / spread * 3600


def clock(moment: float, now: float) -> str:
    """A moment as "09:32Z (28 min ago)", with the date when not within the last day."""
    when = datetime.fromtimestamp(moment, UTC)
    text = when.strftime("%H:%MZ") if now - moment < 86400 else when.strftime("%Y-%m-%d %H:%MZ")
    return f"{text} ({ago(now - moment)})"


def ago(seconds: float) -> str:
    """How long ago, e.g. "28 min ago", "1 h 50 min ago", "3 days ago", "just now"."""
    if seconds < 60:
        return "just now"
    return f"{span(seconds)} ago"


def span(seconds: float) -> str:
    """A length of time to the precision a reader needs: "28 min", "1 h 50 min", "3 days"."""
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    if minutes < 360:
        return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
    if seconds < 172800:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def value_at(points: Sequence[Point], moment: float) -> float | None:
    """The sample nearest to `moment`."""
    finite = [(t, v) for t, v in points if math.isfinite(v)]
    if not finite:
        return None
    return min(finite, key=lambda p: abs(p[0] - moment))[1]


@dataclass(frozen=True, slots=True)
class Window:
    """The range a series summary covers, its step, and the moment the alert started."""

    start: float
    end: float
    started_at: float | None
    now: float
    step: float = 60.0


def crossing(points: Sequence[Point], rule: Threshold, unit: Unit, window: Window) -> str:
    """When the series went beyond the threshold: "< 15% since 09:32Z (28 min ago)"."""
    limit = f"{rule.op} {format_value(rule.threshold, unit)}"
    finite = [(t, v) for t, v in points if math.isfinite(v)]
    if not finite:
        return ""
    states = [rule.holds(v) for _, v in finite]
    if not any(states):
        return f"never {limit} in the window"
    now = window.now
    if states[-1]:
        start = len(states) - 1
        while start > 0 and states[start - 1]:
            start -= 1
        began = finite[start][0]
        if start == 0 and began <= window.start + 1.5 * window.step:
            return f"{limit} for the whole window"
        return f"{limit} since {clock(began, now)}"
    last = max(i for i, state in enumerate(states) if state)
    return f"no longer {limit}; last {limit} at {clock(finite[last][0], now)}"


def series_line(
    series: Series,
    labels: Mapping[str, str],
    unit: Unit,
    window: Window,
    rule: Threshold | None = None,
) -> str:
    """One series as one line: labels, now, min, max, at start, trend, crossing, sparkline."""
    values = series.values
    head = labelset(labels)
    prefix = f"{head}: " if head else ""
    if not values:
        return f"{prefix}no samples"
    fmt = _formatter(unit)
    parts = [f"now {fmt(values[-1])}", f"min {fmt(min(values))}", f"max {fmt(max(values))}"]
    if window.started_at is not None and window.started_at > window.start:
        at_start = value_at(series.points, window.started_at)
        if at_start is not None:
            parts.append(f"at start {fmt(at_start)}")
    slope = slope_per_hour(series.points)
    if slope is not None and slope != 0:
        parts.append(f"{'+' if slope > 0 else ''}{fmt(slope)}/h")
    if rule is not None:
        crossed = crossing(series.points, rule, unit, window)
        if crossed:
            parts.append(crossed)
    spark = sparkline(series.points, window.start, window.end)
    return f"{prefix}{', '.join(parts)}" + (f" {spark}" if spark else "")


def rest_line(series: Sequence[Series], unit: Unit) -> str:
    """The series not shown in full: how many, and min/median/max of their last values."""
    lasts = [s.last for s in series if s.last is not None]
    noun = "series"
    if not lasts:
        return f"+{len(series)} more {noun} without samples"
    fmt = _formatter(unit)
    return (
        f"+{len(series)} more {noun}: last values min {fmt(min(lasts))}, "
        f"median {fmt(statistics.median(lasts))}, max {fmt(max(lasts))}"
    )


def _formatter(unit: Unit) -> Callable[[float], str]:
    if unit == NONE:
        return lambda v: format_value(v) if abs(v) >= 1000 or v != int(v) else number(v)
    return lambda v: format_value(v, unit)


def ranked(series: Sequence[Series], rule: Threshold | None) -> list[Series]:
    """Series in the order worth showing: furthest beyond the threshold first."""
    low_first = rule is not None and rule.op in ("<", "<=")

    def key(s: Series) -> tuple[bool, float]:
        last = s.last
        if last is None:
            return (True, 0.0)
        return (False, last if low_first else -last)

    return sorted(series, key=key)


def summarise(
    series: Sequence[Series],
    *,
    policy: LabelPolicy,
    unit: Unit,
    window: Window,
    rule: Threshold | None = None,
    known: Mapping[str, str] | None = None,
) -> list[str]:
    """At most MAX_SERIES_SHOWN series lines, then one line counting the rest."""
    order = ranked(series, rule)
    shown, rest = order[:MAX_SERIES_SHOWN], order[MAX_SERIES_SHOWN:]
    labels = distinguishing(shown, policy, known)
    lines = [series_line(s, lab, unit, window, rule) for s, lab in zip(shown, labels, strict=True)]
    if rest:
        lines.append(rest_line(rest, unit))
    return lines
