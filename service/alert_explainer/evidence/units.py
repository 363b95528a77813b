"""Units: what a number from Prometheus measures, and how a person reads it.

Inferred from the metric names in the expression, following Prometheus' naming
conventions (`_bytes`, `_seconds`, `_ratio`, `_total`): `rate(x_bytes_total[5m])` is
bytes per second, `a_bytes / b_bytes` a ratio shown in percent, `ratio * 100` a percent.
A recipe may state its unit instead. Anything unclear is a plain number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import promql_parser as pp

from alert_explainer.evidence.promql import constant, metric_names

UNITS = ("bytes", "seconds", "percent", "ratio", "count", "none")


@dataclass(frozen=True, slots=True)
class Unit:
    """`kind` is one of UNITS; `per_second` for rates (bytes/s, 1/s)."""

    kind: str = "none"
    per_second: bool = False

    def __str__(self) -> str:
        return f"{self.kind}/s" if self.per_second else self.kind


NONE = Unit()
_RATES = frozenset({"rate", "irate", "deriv"})
_SAME = frozenset(
    {
        "abs",
        "ceil",
        "floor",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "increase",
        "delta",
        "idelta",
        "predict_linear",
        "holt_winters",
        "double_exponential_smoothing",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "quantile_over_time",
        "last_over_time",
        "stddev_over_time",
        "mad_over_time",
        "sort",
        "sort_desc",
        "sort_by_label",
        "sort_by_label_desc",
        "label_replace",
        "label_join",
        "histogram_quantile",
        "histogram_sum",
        "histogram_avg",
        "scalar",
        "vector",
    }
)
_COUNTS = frozenset({"count_over_time", "changes", "resets", "histogram_count"})
_SAME_AGGREGATES = frozenset(
    {"sum", "min", "max", "avg", "topk", "bottomk", "quantile", "stddev", "limitk"}
)


def from_name(name: str) -> Unit:
    """The unit a metric name declares by its suffix."""
    base = name
    for suffix in ("_total", "_sum", "_bucket", "_created"):
        base = base.removesuffix(suffix)
    if name.endswith("_count"):
        return Unit("count")
    for suffix, kind in (
        ("_bytes", "bytes"),
        ("_seconds", "seconds"),
        ("_ratio", "ratio"),
        ("_percent", "percent"),
        ("_percentage", "percent"),
    ):
        if base.endswith(suffix):
            return Unit(kind)
    if name.endswith("_total"):
        return Unit("count")
    return NONE


def infer(node: pp.Expr) -> Unit:
    """The unit of what `node` evaluates to (NONE when the names do not say)."""
    if isinstance(node, pp.VectorSelector):
        names = [node.name] if node.name else []
        names += [m.value for m in node.matchers.matchers if m.name == "__name__"]
        return from_name(names[0]) if names else NONE
    if isinstance(node, pp.MatrixSelector):
        return infer(node.vector_selector)
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return infer(node.expr)
    if isinstance(node, pp.Call):
        return _call(node)
    if isinstance(node, pp.AggregateExpr):
        op = str(node.op)
        if op in ("count", "count_values"):
            return Unit("count")
        return infer(node.expr) if op in _SAME_AGGREGATES else NONE
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    return NONE


def _call(node: pp.Call) -> Unit:
    name = node.func.name
    vectors = [a for a in node.args if not isinstance(a, pp.NumberLiteral | pp.StringLiteral)]
    inner = infer(vectors[-1]) if vectors else NONE
    if name == "histogram_quantile":  # in the unit of the buckets' `le`, whatever the rate
        buckets = [n for n in metric_names(node) if n.endswith("_bucket")]
        return from_name(buckets[0]) if buckets else inner
    if name in _COUNTS:
        return Unit("count")
    if name in _RATES:
        if inner.kind in ("bytes", "count") and not inner.per_second:
            return Unit(inner.kind, per_second=True)
        return NONE  # seconds per second: a share of a CPU, read as a number
    return inner if name in _SAME else NONE


def _binary(node: pp.BinaryExpr) -> Unit:
    op = str(node.op)
    lhs, rhs = node.lhs, node.rhs
    left_number, right_number = constant(lhs), constant(rhs)
    if op in ("and", "or", "unless", "==", "!=", ">", "<", ">=", "<="):
        return infer(rhs) if left_number is not None else infer(lhs)
    left = infer(lhs) if left_number is None else None
    right = infer(rhs) if right_number is None else None
    if op in ("+", "-"):
        if left is None or right is None:  # 100 - x_percent, 1 - ratio
            return left or right or NONE
        return left if left == right else NONE
    if op == "/":
        if left is not None and right is not None:
            same = left == right and left != NONE
            return Unit("ratio") if same else NONE
        return left if right_number == 1 and left else NONE
    if op == "*":
        factor = right_number if right_number is not None else left_number
        unit = left if left is not None else right
        if unit is None or factor is None:
            return NONE
        if factor == 100 and unit.kind == "ratio":
            return Unit("percent")
        return unit if factor == 1 else NONE
    return NONE


_BINARY_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_SI_PREFIXES = ("", "k", "M", "G", "T", "P", "E")


def _significant(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


def format_value(value: float, unit: Unit = NONE) -> str:
    """A number as a person reads it: "4.1 GiB", "350 ms", "93.2%", "12", "1.5k/s"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    suffix = "/s" if unit.per_second else ""
    kind = unit.kind
    if kind == "bytes":
        return _scaled(value, 1024.0, _BINARY_PREFIXES, " ") + suffix
    if kind == "seconds":
        return _duration(value) + suffix
    if kind in ("ratio", "percent"):
        percent = value * 100 if kind == "ratio" else value
        return _plain(percent, decimals=1) + "%" + suffix
    if kind == "count":
        return _scaled(value, 1000.0, _SI_PREFIXES, "", whole=True) + suffix
    return _scaled(value, 1000.0, _SI_PREFIXES, "") + suffix


def _plain(value: float, decimals: int) -> str:
    if value != 0 and abs(value) < 10 ** (-decimals):
        return _significant(value, 2)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(
    value: float, base: float, prefixes: tuple[str, ...], space: str, *, whole: bool = False
) -> str:
    magnitude = abs(value)
    if magnitude < base:
        if whole and abs(value - round(value)) < 0.05:
            return f"{round(value)}{space}{prefixes[0]}".rstrip()
        return f"{_significant(value)}{space}{prefixes[0]}".rstrip()
    index = min(int(math.log(magnitude, base)), len(prefixes) - 1)
    scaled = value / base**index
    if abs(scaled) >= 999.5 and index + 1 < len(prefixes):  # 1023.9 KiB reads as 1 MiB
        index += 1
        scaled = value / base**index
    return f"{_significant(scaled)}{space}{prefixes[index]}"


def _duration(seconds: float) -> str:
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0 s"
    for limit, size, name in (
        (1e-3, 1e-6, "µs"),
        (1.0, 1e-3, "ms"),
        (120.0, 1.0, "s"),
        (7200.0, 60.0, "min"),
        (172800.0, 3600.0, "h"),
    ):
        if magnitude < limit:
            return f"{_significant(seconds / size)} {name}"
    return f"{_significant(seconds / 86400)} d"
