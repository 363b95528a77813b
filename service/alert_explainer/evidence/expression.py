"""The alert's own expression: its series over the window, summarised, with the threshold.

The expression comes from the alert's generatorURL (`/graph?g0.expr=...`, as Prometheus,
Thanos Ruler and Mimir write it; also accepted in the URL's fragment). When it compares a
value with a number (`x > 0.9`), the value is queried and the threshold reported apart:
a range query of `x > 0.9` would only show the points above it. The alert's labels are
pinned into the query where that provably selects the same series; if that finds nothing
(a label came from the rule, not the series), the query runs again without them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import promql_parser as pp

from alert_explainer.alertmanager import Alert
from alert_explainer.evidence.client import QueryResult
from alert_explainer.evidence.model import EvidenceItem
from alert_explainer.evidence.promql import (
    Pins,
    Threshold,
    Unprintable,
    faithful,
    parse,
    render,
    threshold,
)
from alert_explainer.evidence.queries import Queries
from alert_explainer.evidence.summary import LabelPolicy, Series, Window, clock, summarise
from alert_explainer.evidence.units import NONE, Unit, format_value, infer

SOURCE = "expression"
MAX_EXPRESSION = 8192
POINTS = 120
MAX_WINDOW = 7 * 86400.0
# Labels an alert carries that its series almost never do: pinning them finds nothing.
UNPINNED = frozenset({"alertname", "severity"})
MAX_PINNED_VALUES = 20
MAX_SHOWN_QUERY = 300


def expression_of(generator_url: str) -> str | None:
    """`g0.expr` of a generatorURL (decoded once), from its query or its fragment."""
    parts = urlsplit(generator_url)
    for text in (parts.query, parts.fragment.partition("?")[2] or parts.fragment):
        values = parse_qs(text).get("g0.expr")
        if values and values[0].strip():
            return values[0].strip()[:MAX_EXPRESSION]
    return None


def pins(
    alerts: Sequence[Alert], external: Mapping[str, str] | None = None
) -> dict[str, frozenset[str]]:
    """Labels every alert has, each with the values the alerts have (a few at most).

    A label every alert has with the queried Prometheus' `external` value is left out: it
    added that when sending, its series lack it.
    """
    if not alerts:
        return {}
    names = set.intersection(*(set(a.labels) for a in alerts)) - UNPINNED
    found = {name: frozenset(a.labels[name] for a in alerts) for name in names}
    for name, value in (external or {}).items():
        if found.get(name) == frozenset((value,)):
            del found[name]
    return {k: v for k, v in found.items() if len(v) <= MAX_PINNED_VALUES}


def belongs(series: Mapping[str, str], alerts: Sequence[Alert]) -> bool:
    """Whether a series is one of the alerts' (each of its labels equals the alert's)."""
    return any(
        all(a.labels.get(k) == v for k, v in series.items() if k != "__name__") for a in alerts
    )


def common_labels(alerts: Sequence[Alert]) -> dict[str, str]:
    """The labels (and values) every alert has."""
    if not alerts:
        return {}
    shared = set.intersection(*(set(a.labels.items()) for a in alerts))
    return dict(shared)


def window(alerts: Sequence[Alert], lookback: float, end: float) -> tuple[float, float, int]:
    """Start, end and step (seconds) of a range covering the alerts and `lookback` before.

    The start is a whole number of steps before the end, so the last point is at `end`
    itself: an alert that began a second ago still has its one sample.
    """
    starts = [a.starts_at.timestamp() for a in alerts if a.starts_at is not None]
    span = min(end - min([*starts, end]) + lookback, MAX_WINDOW)
    step = max(1, math.ceil(span / POINTS))
    return end - math.ceil(span / step) * step, end, step


@dataclass(frozen=True, slots=True)
class Plan:
    """What to query for an expression: the pinned and the plain query, and its threshold."""

    pinned: str
    plain: str
    rule: Threshold | None
    unit: Unit


def plan(expression: str, pinned: Pins) -> Plan:
    """The queries for `expression`: its value side when it compares with a number."""
    try:
        tree = parse(expression)
    except ValueError:  # newer syntax than the parser knows: query it as it is
        return Plan(expression, expression, None, NONE)
    rule = threshold(tree)
    target: pp.Expr = rule.value if rule is not None else tree
    try:
        return Plan(faithful(target, pinned), faithful(target), rule, infer(target))
    except Unprintable:
        if rule is None:
            return Plan(expression, expression, None, infer(tree))
        return Plan(expression, expression, None, NONE)  # its value side cannot be cut out


async def expression_item(
    queries: Queries,
    expression: str,
    alerts: Sequence[Alert],
    *,
    lookback: float,
    end: float,
    now: float,
) -> EvidenceItem:
    """The expression's series over the window, as an evidence item."""
    chosen = plan(expression, pins(alerts, queries.external))
    start, stop, step = window(alerts, lookback, end)
    result = await queries.range(SOURCE, chosen.pinned, start, stop, step)
    if not result.series and chosen.pinned != chosen.plain:
        result = await queries.range(SOURCE, chosen.plain, start, stop, step)
    started = [a.starts_at.timestamp() for a in alerts if a.starts_at is not None]
    span = Window(start, stop, min(started) if started else None, now, step)
    lines = _lines(chosen, result, alerts, span, queries.policy)
    return EvidenceItem(SOURCE, "Alert expression", tuple(lines))


def _lines(
    chosen: Plan,
    result: QueryResult,
    alerts: Sequence[Alert],
    span: Window,
    policy: LabelPolicy,
) -> list[str]:
    query = chosen.plain
    shown = query if len(query) <= MAX_SHOWN_QUERY else query[: MAX_SHOWN_QUERY - 1] + "…"
    rule = chosen.rule
    head = f"query: {shown}"
    if rule is not None:
        head += f" (alert when {rule.op} {format_value(rule.threshold, chosen.unit)})"
        for condition in rule.conditions:
            extra = render(condition)
            head += f"; and {extra if len(extra) <= 120 else extra[:119] + '…'}"
    step = span.step
    every = f"{step:g} s" if step < 120 else f"{round(step / 60)} min"
    window_text = f"{clock(span.start, span.now)} to {clock(span.end, span.now)}"
    lines = [head, f"window: {window_text}, one point every {every}"]
    mine = [s for s in result.series if belongs(s.labels, alerts)]
    series: list[Series] = mine or result.series
    if not series:
        lines.append("no samples")
    else:
        if not mine:
            lines.append("no series carries the alert's labels; all series of the query:")
        known = common_labels(alerts) if mine else {}
        lines += summarise(
            series, policy=policy, unit=chosen.unit, window=span, rule=rule, known=known
        )
    lines += [f"Prometheus warning: {w}" for w in result.warnings]
    return lines
