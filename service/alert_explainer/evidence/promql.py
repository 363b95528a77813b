"""PromQL: the alert's expression taken apart with Prometheus' grammar, and printed again.

`promql-parser` parses; its printer does not escape string values (`a="x\"y"` comes out
as `a="x"y"`), so this module prints the tree itself, with every string quoted properly.
While printing it can *pin* labels: add `name="value"` matchers to the selectors whose
series become the result, so Prometheus returns only the alert's series instead of every
filesystem in the cluster. A label is pinned only where that provably keeps the alert's
series unchanged (it survives to the output unchanged); elsewhere nothing is added.

Also here: the threshold of a top-level comparison (`x > 0.9`: query `x`, report `> 0.9`)
and the unit of an expression, inferred from its metric names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as pp

Pins = Mapping[str, frozenset[str]]

COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_FLIPPED = {"==": "==", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}
# By the operator's name: the binding's enum members are not hashable.
_MATCH_OPS = {
    "MatchOp.Equal": "=",
    "MatchOp.NotEqual": "!=",
    "MatchOp.Re": "=~",
    "MatchOp.NotRe": "!~",
}
# Functions whose result series carry their vector argument's labels unchanged.
_LABEL_PRESERVING = frozenset(
    {
        "abs",
        "ceil",
        "floor",
        "round",
        "exp",
        "ln",
        "log2",
        "log10",
        "sqrt",
        "sgn",
        "clamp",
        "clamp_min",
        "clamp_max",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "predict_linear",
        "holt_winters",
        "double_exponential_smoothing",
        "resets",
        "changes",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "quantile_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "last_over_time",
        "present_over_time",
        "mad_over_time",
        "timestamp",
        "sort",
        "sort_desc",
        "sort_by_label",
        "sort_by_label_desc",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "deg",
        "rad",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "hour",
        "minute",
        "month",
        "year",
        "histogram_count",
        "histogram_sum",
        "histogram_avg",
        "histogram_stddev",
        "histogram_stdvar",
    }
)
# Functions that write one label (their second argument) and keep the rest.
_LABEL_WRITING = frozenset({"label_replace", "label_join"})
# Go's regexp.QuoteMeta: the characters RE2 treats as special.
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


class Unprintable(ValueError):
    """The tree holds something this printer does not reproduce faithfully."""


def string_literal(value: str) -> str:
    """`value` as a PromQL double-quoted string: quotes, backslashes, controls escaped."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def quote_meta(value: str) -> str:
    """`value` with RE2's special characters escaped, for use inside a regex matcher."""
    return _RE2_SPECIAL.sub(r"\\\1", value)


def parse(text: str) -> pp.Expr:
    """The parsed expression; ValueError with the parser's message when it does not parse."""
    try:
        return pp.parse(text)
    except BaseException as exc:  # the Rust binding raises ValueError, and panics as others
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def number(value: float) -> str:
    """A float as PromQL writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _duration(delta: timedelta | None) -> str:
    if delta is None or delta <= timedelta(0):
        raise Unprintable("a zero or negative duration")
    return pp.display_duration(delta)


def _modifiers(node: pp.VectorSelector | pp.SubqueryExpr) -> str:
    try:
        offset = node.offset
    except ValueError:  # a negative offset cannot be read back through the binding
        raise Unprintable("a negative offset") from None
    text = f" offset {_duration(offset)}" if offset else ""
    at = node.at
    if at is not None:
        if at.type == pp.AtModifierType.Start:
            text += " @ start()"
        elif at.type == pp.AtModifierType.End:
            text += " @ end()"
        elif at.at is not None:
            text += f" @ {at.at.timestamp():.3f}"
    return text


def _selector(node: pp.VectorSelector, pins: Pins) -> str:
    if node.matchers.or_matchers:
        raise Unprintable("`or` inside a selector")
    matchers = [
        f"{m.name}{_MATCH_OPS[str(m.op)]}{string_literal(m.value)}" for m in node.matchers.matchers
    ]
    pinned = {m.name for m in node.matchers.matchers if m.op == pp.MatchOp.Equal}
    for name, values in sorted(pins.items()):
        if name in pinned or name == "__name__" or not values:
            continue
        if len(values) == 1:
            (value,) = values
            matchers.append(f"{name}={string_literal(value)}")
        else:
            alternatives = "|".join(quote_meta(v) for v in sorted(values))
            matchers.append(f"{name}=~{string_literal(alternatives)}")
    name = node.name or ""
    body = f"{name}{{{','.join(matchers)}}}" if matchers or not name else name
    return body


def value_type(node: pp.Expr) -> str:
    """What the expression evaluates to: "scalar", "string", "vector" or "matrix"."""
    if isinstance(node, pp.NumberLiteral):
        return "scalar"
    if isinstance(node, pp.StringLiteral):
        return "string"
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr):
        return value_type(node.expr)
    if isinstance(node, pp.Call):
        kind = node.func.return_type
        if kind == pp.ValueType.Scalar:
            return "scalar"
        return "string" if kind == pp.ValueType.String else "vector"
    if isinstance(node, pp.BinaryExpr):
        both = value_type(node.lhs) == value_type(node.rhs) == "scalar"
        return "scalar" if both else "vector"
    if isinstance(node, pp.MatrixSelector | pp.SubqueryExpr):
        return "matrix"
    return "vector"


def _only(pins: Pins, names: list[str]) -> dict[str, frozenset[str]]:
    return {k: v for k, v in pins.items() if k in names}


def _without(pins: Pins, names: list[str]) -> dict[str, frozenset[str]]:
    return {k: v for k, v in pins.items() if k not in names}


def _matched(pins: Pins, modifier: pp.BinModifier | None) -> dict[str, frozenset[str]]:
    """The pins on labels two vectors are matched by (on(...), or all but ignoring(...))."""
    matching = modifier.matching if modifier is not None else None
    if matching is None:
        return dict(pins)
    if matching.type == pp.LabelModifierType.Include:
        return _only(pins, matching.labels)
    return _without(pins, matching.labels)


def _binary(node: pp.BinaryExpr, pins: Pins) -> str:
    op = str(node.op)
    modifier = node.modifier
    lhs_pins: Pins
    rhs_pins: Pins
    lhs_scalar = value_type(node.lhs) == "scalar"
    rhs_scalar = value_type(node.rhs) == "scalar"
    if lhs_scalar or rhs_scalar:
        lhs_pins, rhs_pins = ({}, pins) if lhs_scalar else (pins, {})
    elif op == "or":
        lhs_pins = rhs_pins = {}
    elif op in ("and", "unless"):
        lhs_pins, rhs_pins = pins, _matched(pins, modifier)
    else:
        card = modifier.card if modifier is not None else pp.VectorMatchCardinality.OneToOne
        include = (modifier.group_labels or []) if modifier is not None else []
        matched = _matched(pins, modifier)
        if card == pp.VectorMatchCardinality.ManyToOne:
            lhs_pins, rhs_pins = _without(pins, include), matched | _only(pins, include)
        elif card == pp.VectorMatchCardinality.OneToMany:
            lhs_pins, rhs_pins = matched | _only(pins, include), _without(pins, include)
        else:
            lhs_pins = rhs_pins = matched
    return (
        f"{render(node.lhs, lhs_pins)} {op}{_bin_modifier(modifier)} {render(node.rhs, rhs_pins)}"
    )


def _bin_modifier(modifier: pp.BinModifier | None) -> str:
    if modifier is None:
        return ""
    fill = modifier.fill_values
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise Unprintable("fill modifiers")
    text = " bool" if modifier.return_bool else ""
    matching = modifier.matching
    if matching is not None:
        word = "on" if matching.type == pp.LabelModifierType.Include else "ignoring"
        text += f" {word}({', '.join(matching.labels)})"
    if modifier.card == pp.VectorMatchCardinality.ManyToOne:
        text += f" group_left({', '.join(modifier.group_labels or [])})"
    elif modifier.card == pp.VectorMatchCardinality.OneToMany:
        text += f" group_right({', '.join(modifier.group_labels or [])})"
    return text


def _aggregate(node: pp.AggregateExpr, pins: Pins) -> str:
    op = str(node.op)
    modifier = node.modifier
    grouping = ""
    inner: Pins = {}
    if modifier is not None:
        labels = modifier.labels
        word = "by" if modifier.type == pp.AggModifierType.By else "without"
        grouping = f" {word} ({', '.join(labels)})"
        inner = _only(pins, labels) if word == "by" else _without(pins, labels)
    if op == "count_values" and isinstance(node.param, pp.StringLiteral):
        inner = _without(inner, [node.param.val])
    param = f"{render(node.param, {})}, " if node.param is not None else ""
    return f"{op}{grouping} ({param}{render(node.expr, inner)})"


def _call(node: pp.Call, pins: Pins) -> str:
    name = node.func.name
    args = list(node.args)
    arg_pins: list[Pins] = [{} for _ in args]
    if name in _LABEL_PRESERVING or name in _LABEL_WRITING or name == "histogram_quantile":
        kept: Pins = pins
        if name in _LABEL_WRITING and len(args) > 1 and isinstance(args[1], pp.StringLiteral):
            kept = _without(pins, [args[1].val])
        elif name == "histogram_quantile":
            kept = _without(pins, ["le"])
        arg_pins = [kept if value_type(a) in ("vector", "matrix") else {} for a in args]
    return f"{name}({', '.join(render(a, p) for a, p in zip(args, arg_pins, strict=True))})"


def render(node: pp.Expr, pins: Pins | None = None) -> str:
    """The expression as PromQL text, with `pins` added where they select the same series."""
    pins = pins or {}
    if isinstance(node, pp.NumberLiteral):
        return number(node.val)
    if isinstance(node, pp.StringLiteral):
        return string_literal(node.val)
    if isinstance(node, pp.VectorSelector):
        return _selector(node, pins) + _modifiers(node)
    if isinstance(node, pp.MatrixSelector):
        selector = node.vector_selector
        return f"{_selector(selector, pins)}[{_duration(node.range)}]{_modifiers(selector)}"
    if isinstance(node, pp.ParenExpr):
        return f"({render(node.expr, pins)})"
    if isinstance(node, pp.UnaryExpr):
        return f"-{render(node.expr, pins)}"
    if isinstance(node, pp.BinaryExpr):
        return _binary(node, pins)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate(node, pins)
    if isinstance(node, pp.Call):
        return _call(node, pins)
    if isinstance(node, pp.SubqueryExpr):
        step = _duration(node.step) if node.step else ""
        return f"{render(node.expr, pins)}[{_duration(node.range)}:{step}]{_modifiers(node)}"
    raise Unprintable(type(node).__name__)


def faithful(node: pp.Expr, pins: Pins | None = None) -> str:
    """`render`, checked: the unpinned text must parse back to the same tree."""
    text = render(node)
    if str(parse(text)) != str(node):
        raise Unprintable("the printed expression parses differently")
    return render(node, pins) if pins else text


def constant(node: pp.Expr) -> float | None:
    """The value of an expression made only of numbers (`4 * 60 * 60`), else None."""
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.ParenExpr):
        return constant(node.expr)
    if isinstance(node, pp.UnaryExpr):
        inner = constant(node.expr)
        return None if inner is None else -inner
    if isinstance(node, pp.BinaryExpr) and str(node.op) in _ARITHMETIC:
        lhs, rhs = constant(node.lhs), constant(node.rhs)
        if lhs is None or rhs is None:
            return None
        try:
            return _ARITHMETIC[str(node.op)](lhs, rhs)
        except (ZeroDivisionError, OverflowError, ValueError):
            return None
    return None


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": math.fmod,
    "^": lambda a, b: float(a**b),
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """`value op threshold` is what makes the alert fire, for the series of `value`."""

    value: pp.Expr
    op: str
    threshold: float
    conditions: tuple[pp.Expr, ...] = ()  # what `and` / `unless` add to it

    def holds(self, sample: float) -> bool:
        """Whether a sample is beyond the threshold (the alert's condition is true)."""
        return _COMPARE[self.op](sample, self.threshold)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def threshold(node: pp.Expr) -> Threshold | None:
    """The comparison against a number at the top of an alert expression, if there is one.

    Through parentheses and down the left of `and` / `unless` (whose result series are the
    left side's): `a > 0.9 and b` has the threshold `> 0.9` on `a`. `x > bool 1` filters
    nothing, so it has none.
    """
    conditions: list[pp.Expr] = []
    while True:
        if isinstance(node, pp.ParenExpr):
            node = node.expr
        elif isinstance(node, pp.BinaryExpr) and str(node.op) in ("and", "unless"):
            conditions.insert(0, node.rhs)
            node = node.lhs
        else:
            break
    if not isinstance(node, pp.BinaryExpr) or str(node.op) not in COMPARISONS:
        return None
    if node.modifier is not None and node.modifier.return_bool:
        return None
    op = str(node.op)
    right, left = constant(node.rhs), constant(node.lhs)
    if right is not None and left is None:
        return Threshold(node.lhs, op, right, tuple(conditions))
    if left is not None and right is None:
        return Threshold(node.rhs, _FLIPPED[op], left, tuple(conditions))
    return None


def metric_names(node: pp.Expr) -> list[str]:
    """The metric names of every selector in the expression, left to right."""
    names: list[str] = []

    def visit(child: pp.Expr) -> bool:
        if isinstance(child, pp.VectorSelector):
            if child.name:
                names.append(child.name)
            else:
                names.extend(m.value for m in child.matchers.matchers if m.name == "__name__")
        return True

    pp.walk(node, visit)
    return names
