"""prometheus_client's Counter, Gauge and Histogram, with `labels()` cheap on the hot path.

A notification updates a dozen labelled series. prometheus_client's `labels()` checks its
arguments, converts every value with str() and takes a lock each time; these remember the
child made for each tuple of values, so looking it up again is one dict access. Children
are never removed (label values are bounded: metrics.py), so none is remembered stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import prometheus_client

_M = TypeVar("_M")
_CHILDREN = "_remembered_children"


def _child(metric: Any, make: Callable[..., _M], values: tuple[Any, ...], named: Any) -> _M:
    if named:  # labels(route="x"): rare, and as prometheus_client does it
        return make(*values, **named)
    children: dict[tuple[Any, ...], _M] = metric.__dict__.setdefault(_CHILDREN, {})
    child = children.get(values)
    if child is None:
        child = children[values] = make(*values)
    return child


class Counter(prometheus_client.Counter):
    """A Counter whose children are remembered."""

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Counter:
        return _child(self, super().labels, labelvalues, labelkwargs)


class Gauge(prometheus_client.Gauge):
    """A Gauge whose children are remembered."""

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Gauge:
        return _child(self, super().labels, labelvalues, labelkwargs)


class Histogram(prometheus_client.Histogram):
    """A Histogram whose children are remembered."""

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Histogram:
        return _child(self, super().labels, labelvalues, labelkwargs)
