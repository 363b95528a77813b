"""Recipes: extra queries chosen by the alert, templated with its labels, summarised.

A recipe's query is a Jinja2 template rendered in the sandbox, where every printed value
becomes a PromQL string literal (`namespace={{ labels.namespace }}` -> `namespace="shop"`),
so a label value cannot change the query's shape; only `window`, made by the service, is
printed raw. The rendered query must parse as PromQL. A label the template needs but the
alert lacks skips the recipe quietly. The schema is shared with the built-in catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import jinja2
import structlog
from jinja2.sandbox import SandboxedEnvironment

from alert_explainer.alertmanager import Alert
from alert_explainer.config.evidence import Recipe, RecipeSettings
from alert_explainer.evidence.expression import common_labels
from alert_explainer.evidence.expression import window as window_of
from alert_explainer.evidence.model import EvidenceItem
from alert_explainer.evidence.promql import parse, quote_meta, string_literal, value_type
from alert_explainer.evidence.queries import Queries
from alert_explainer.evidence.summary import (
    MAX_SERIES_SHOWN,
    LabelPolicy,
    Series,
    Window,
    distinguishing,
    labelset,
    summarise,
)
from alert_explainer.evidence.units import Unit, format_value, infer
from alert_explainer.matchers import Matcher, matches_all, parse_matcher

logger = structlog.get_logger("alert_explainer.evidence")

SOURCE = "recipe"


class Raw(str):
    """Text the service made (a duration), printed into a query as it is."""

    __slots__ = ()


def _literal(value: object) -> str:
    return str(value) if isinstance(value, Raw) else string_literal(str(value))


_QUERY = SandboxedEnvironment(undefined=jinja2.StrictUndefined, finalize=_literal, autoescape=False)
_QUERY.filters["regex"] = quote_meta
_LINE = SandboxedEnvironment(autoescape=False)


class MissingLabel(LookupError):
    """The template uses a label the alert does not have: the recipe does not apply."""


class RecipeError(ValueError):
    """A recipe that cannot run: its template fails or its query does not parse."""


@lru_cache(maxsize=512)
def _query_template(source: str) -> jinja2.Template:
    return _QUERY.from_string(source)


@lru_cache(maxsize=512)
def _line_template(source: str) -> jinja2.Template:
    return _LINE.from_string(source)


def render_query(recipe: Recipe, labels: Mapping[str, str], window: str) -> str:
    """The recipe's PromQL for an alert with `labels`; `window` is a PromQL duration."""
    context = {"labels": labels, "alertname": labels.get("alertname", ""), "window": Raw(window)}
    try:
        query = _query_template(recipe.query).render(context).strip()
    except jinja2.UndefinedError as exc:
        raise MissingLabel(str(exc)) from None
    except jinja2.TemplateError as exc:
        raise RecipeError(f"query template: {exc}") from None
    try:
        parsed = parse(query)
    except ValueError as exc:
        raise RecipeError(f"query does not parse once rendered: {exc}") from None
    if value_type(parsed) not in ("vector", "scalar"):
        raise RecipeError(f"query returns a {value_type(parsed)}, not an instant vector")
    return query


def render_line(recipe: Recipe, series: Mapping[str, str], value: str, raw: float) -> str:
    """One result series as the recipe's `line` template prints it (plain text)."""
    assert recipe.line is not None
    try:
        text = _line_template(recipe.line).render(series=dict(series), value=value, raw=raw)
    except jinja2.TemplateError as exc:
        raise RecipeError(f"line template: {exc}") from None
    return " ".join(text.split())


class _EveryLabel(dict[str, str]):
    """The specimen alert: whatever label a template asks for, it is `x`."""

    def __missing__(self, key: str) -> str:
        return "x"


def check_recipe(recipe: Recipe) -> None:
    """Raise ValueError naming the recipe unless it renders and parses for a specimen alert.

    Used when the configuration is loaded and by the catalogue's tests.
    """
    try:
        _QUERY.parse(recipe.query)
        if recipe.line is not None:
            _LINE.parse(recipe.line)
        render_query(recipe, _EveryLabel(alertname="x"), "1h")
        if recipe.line is not None:
            render_line(recipe, _EveryLabel(), "1", 1.0)
    except jinja2.TemplateSyntaxError as exc:
        message = f"recipe {recipe.name!r}: template line {exc.lineno}: {exc.message}"
        raise ValueError(message) from None
    except (RecipeError, MissingLabel) as exc:
        raise ValueError(f"recipe {recipe.name!r}: {exc}") from None


class RecipeSource(Protocol):
    """Where recipes for an alert come from (configured ones, the built-in catalogue)."""

    def recipes_for(self, labels: Mapping[str, str]) -> Sequence[Recipe]:
        """The recipes that apply to an alert with `labels`, in order."""
        ...


@dataclass(frozen=True, slots=True)
class MatchedRecipes:
    """Recipes that apply to the alerts their matchers select (evidence.recipes)."""

    entries: tuple[tuple[tuple[Matcher, ...], Recipe], ...] = ()

    @classmethod
    def from_settings(cls, recipes: Sequence[RecipeSettings]) -> MatchedRecipes:
        """The configured recipes, their matchers parsed."""
        return cls(tuple((tuple(map(parse_matcher, r.matchers)), r) for r in recipes))

    def recipes_for(self, labels: Mapping[str, str]) -> Sequence[Recipe]:
        """Every recipe whose matchers all hold for `labels`."""
        return [recipe for matchers, recipe in self.entries if matches_all(matchers, labels)]


def choose(sources: Sequence[RecipeSource], labels: Mapping[str, str]) -> list[Recipe]:
    """The recipes for an alert from every source; an earlier source's name wins."""
    chosen: dict[str, Recipe] = {}
    for source in sources:
        for recipe in source.recipes_for(labels):
            chosen.setdefault(recipe.name, recipe)
    return list(chosen.values())


@dataclass(frozen=True, slots=True)
class RecipeRun:
    """One recipe rendered for one alert: what to query and how to title the result."""

    recipe: Recipe
    query: str
    title: str
    alerts: tuple[Alert, ...]


def runs(
    sources: Sequence[RecipeSource],
    alerts: Sequence[Alert],
    window: str,
    *,
    limit: int,
) -> tuple[list[RecipeRun], list[tuple[Recipe, str]]]:
    """The recipe queries for a group (the same query once), and the recipes that failed.

    When several alerts of the group run a recipe, each title names the alert by the
    labels that tell it apart.
    """
    rendered: dict[str, RecipeRun] = {}
    failed: list[tuple[Recipe, str]] = []
    per_recipe: dict[str, int] = {}
    for alert in alerts:
        for recipe in choose(sources, alert.labels):
            try:
                query = render_query(recipe, alert.labels, window)
            except MissingLabel as exc:
                logger.debug("recipe_skipped", recipe=recipe.name, reason=str(exc))
                continue
            except RecipeError as exc:
                failed.append((recipe, str(exc)))
                continue
            known = rendered.get(query)
            if known is not None:
                rendered[query] = RecipeRun(recipe, query, known.title, (*known.alerts, alert))
            elif len(rendered) < limit:
                rendered[query] = RecipeRun(recipe, query, recipe.title, (alert,))
                per_recipe[recipe.name] = per_recipe.get(recipe.name, 0) + 1
    result = list(rendered.values())
    named = [r for r in result if per_recipe[r.recipe.name] > 1]
    if named:
        common = set.intersection(*(set(a.labels.items()) for a in alerts))
        result = [_titled(r, common) if per_recipe[r.recipe.name] > 1 else r for r in result]
    return result, failed


def _titled(run: RecipeRun, common: set[tuple[str, str]]) -> RecipeRun:
    own = sorted(set(run.alerts[0].labels.items()) - common)
    suffix = ", ".join(f"{k}={v}" for k, v in own if k != "alertname")
    return RecipeRun(
        run.recipe, run.query, f"{run.title} ({suffix})" if suffix else run.title, run.alerts
    )


async def recipe_item(
    queries: Queries, run: RecipeRun, *, at: float, lookback: float, now: float
) -> EvidenceItem:
    """The recipe's result as lines: one per series, or range summaries."""
    recipe = run.recipe
    unit = Unit(recipe.unit) if recipe.unit else infer(parse(run.query))
    if recipe.kind == "range":
        start, end, step = window_of(run.alerts, lookback, at)
        result = await queries.range(SOURCE, run.query, start, end, step)
        started = [a.starts_at.timestamp() for a in run.alerts if a.starts_at is not None]
        span = Window(start, end, min(started) if started else None, now, step)
        known = common_labels(run.alerts)
        lines = summarise(result.series, policy=queries.policy, unit=unit, window=span, known=known)
    else:
        result = await queries.instant(SOURCE, run.query, at)
        lines = _instant_lines(recipe, result.series, unit, queries.policy, run.alerts)
    if not result.series:
        lines = [recipe.empty or "no samples"]
    lines += [f"Prometheus warning: {w}" for w in result.warnings]
    return EvidenceItem(SOURCE, run.title, tuple(lines))


def _instant_lines(
    recipe: Recipe,
    series: Sequence[Series],
    unit: Unit,
    policy: LabelPolicy,
    alerts: Sequence[Alert],
) -> list[str]:
    shown = series[:MAX_SERIES_SHOWN]
    labels = distinguishing(shown, policy, common_labels(alerts))
    lines = []
    for s, own in zip(shown, labels, strict=True):
        raw = s.last if s.last is not None else math.nan
        value = format_value(raw, unit)
        if recipe.line is not None:
            line = render_line(recipe, policy(s.labels), value, raw)
        else:
            head = labelset(own)
            line = f"{head}: {value}" if head else value
        lines.append(line)
    if len(series) > len(shown):
        lines.append(f"+{len(series) - len(shown)} more series")
    return lines
