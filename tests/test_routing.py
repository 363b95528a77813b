"""Matchers and route selection: which route a notification takes, and what gets explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import RouteSettings
from alert_explainer.matchers import parse_matcher
from alert_explainer.routing import Router, receiver_name

SAMPLE = Path(__file__).parent / "fixtures" / "alertmanager-firing.json"


def notification(**changes: Any) -> Notification:
    payload = json.loads(SAMPLE.read_text())
    payload.update(changes)
    return parse_notification(json.dumps(payload).encode())


def route(name: str, **conditions: Any) -> RouteSettings:
    return RouteSettings.model_validate({"name": name, "sinks": ["log"], **conditions})


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ("severity=critical", {"severity": "critical"}, True),
        ('severity!="critical"', {"severity": "warning"}, True),
        ('team!="db"', {}, True),
        ('severity=~"critical|warning"', {"severity": "warning"}, True),
        ('severity=~"crit"', {"severity": "critical"}, False),  # anchored, as in Alertmanager
        ('severity!~"info|none"', {"severity": "critical"}, True),
        ('summary="say \\"hi\\""', {"summary": 'say "hi"'}, True),
    ],
)
def test_matchers_follow_alertmanager_semantics(
    matcher: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


@pytest.mark.parametrize("text", ["severity", "=x", 'a=~"("', '1a="b"', 'a="unterminated'])
def test_invalid_matchers_are_rejected_with_the_expected_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="matcher"):
        parse_matcher(text)


def test_the_first_route_whose_conditions_hold_is_taken_in_configuration_order() -> None:
    router = Router(
        [
            route("db", matchers=['team="db"']),
            route("payments", matchers=['namespace="payments"', 'severity="critical"']),
            route("everything-else"),
            route("never", matchers=['namespace="payments"']),
        ]
    )
    selected = router.select(notification())
    assert selected is not None
    assert selected.settings.name == "payments"


def test_a_route_without_conditions_is_a_catch_all() -> None:
    router = Router([route("db", matchers=['team="db"']), route("default")])
    selected = router.select(notification())
    assert selected is not None
    assert selected.settings.name == "default"


def test_no_matching_route_selects_nothing() -> None:
    assert Router([route("db", matchers=['team="db"'])]).select(notification()) is None


def test_routes_can_match_on_status_and_the_unescaped_receiver_name() -> None:
    router = Router(
        [
            route("resolved-only", status="resolved"),
            route("llm", receiver=r"llm\.explainer-.*"),
        ]
    )
    firing = notification(receiver=r"llm\.explainer-v1")  # as Alertmanager's QuoteMeta sends it
    selected = router.select(firing)
    assert selected is not None
    assert selected.settings.name == "llm"
    assert receiver_name(r"llm\.explainer-v1") == "llm.explainer-v1"


def test_explain_matchers_pick_which_notifications_are_worth_a_call() -> None:
    router = Router(
        [
            route("critical-only", explain=['severity=~"critical|warning"']),
            route("info-only", explain=['severity="info"']),
        ]
    )
    critical, info = router.named("critical-only"), router.named("info-only")
    assert critical is not None
    assert info is not None
    assert critical.worth_explaining(notification()) is True
    assert info.worth_explaining(notification()) is False
