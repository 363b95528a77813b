"""Prompt templating: sandboxed, delimited, complete, and within its size budget."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import TemplateSettings
from alert_explainer.errors import TemplateError
from alert_explainer.prompts import PromptTemplates

SAMPLE = json.loads((Path(__file__).parent / "fixtures" / "alertmanager-firing.json").read_text())


def notification(alerts: list[dict[str, Any]] | None = None) -> Notification:
    payload = copy.deepcopy(SAMPLE)
    if alerts is not None:
        payload["alerts"] = alerts
    return parse_notification(json.dumps(payload).encode())


def storm(count: int, names: int) -> list[dict[str, Any]]:
    template = SAMPLE["alerts"][0]
    return [
        {
            **template,
            "labels": {
                **template["labels"],
                "alertname": f"Alert{i % names}",
                "pod": f"pod-{i}",
                "severity": ("critical", "warning")[i % 2],
            },
            "fingerprint": f"{i:016x}",
        }
        for i in range(count)
    ]


def test_default_templates_render_a_system_then_a_user_message() -> None:
    system, user = PromptTemplates.from_settings(TemplateSettings()).render(
        notification(), route="default"
    )
    assert (system.role, user.role) == ("system", "user")
    assert "Headline:" in system.content
    assert user.content.count("\n<alert-data>\n") == 1
    assert user.content.endswith("\n</alert-data>")


def test_a_template_cannot_reach_python_internals() -> None:
    hostile = "{{ alerts.__class__.__mro__[1].__subclasses__() }}"
    templates = PromptTemplates(system_source="x", user_source=hostile)
    with pytest.raises(TemplateError):
        templates.render(notification(), route="r")


def test_a_template_with_a_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match="user template, line 2"):
        PromptTemplates(system_source="x", user_source="ok\n{% if %}")


def test_an_unknown_variable_is_an_error_not_blank_text() -> None:
    templates = PromptTemplates(system_source="x", user_source="{{ no_such_thing }}")
    with pytest.raises(TemplateError, match="no_such_thing"):
        templates.render(notification(), route="r")


def test_custom_templates_see_the_documented_context() -> None:
    templates = PromptTemplates(
        system_source="Route {{ route }}",
        user_source="{% for a in alerts %}{{ a.alertname }}/{{ a.labels.pod }} {% endfor %}",
    )
    system, user = templates.render(notification(), route="payments")
    assert system.content == "Route payments"
    assert user.content == "KubePodCrashLooping/api-7d9f KubePodCrashLooping/api-8e1a"


def test_a_system_template_that_renders_empty_is_an_error_on_every_render() -> None:
    templates = PromptTemplates(system_source="{# nothing #}", user_source="u")
    for _ in range(2):
        with pytest.raises(TemplateError, match="system template rendered an empty message"):
            templates.render(notification(), route="r")


def test_a_system_template_without_variables_still_draws_a_random_choice_per_render() -> None:
    templates = PromptTemplates(system_source="{{ range(1000) | random }}", user_source="u")
    drawn = {templates.render(notification(), route="r")[0].content for _ in range(5)}
    assert len(drawn) > 1


def test_a_system_template_reading_the_render_time_renders_with_each_notification() -> None:
    templates = PromptTemplates(system_source="{{ 'x' if now }}{{ route }}", user_source="u")
    assert templates.render(notification(), route="a")[0].content == "xa"
    assert templates.render(notification(), route="b")[0].content == "xb"


def test_the_template_version_changes_with_the_templates() -> None:
    a = PromptTemplates(system_source="a", user_source="b")
    b = PromptTemplates(system_source="a", user_source="c")
    assert a.version != b.version


def test_a_ten_thousand_alert_group_fits_the_budget_and_names_every_alertname() -> None:
    big = notification(storm(10_000, names=37))
    _, user = PromptTemplates.from_settings(TemplateSettings()).render(
        big, route="r", budget=24_000
    )
    assert len(user.content.encode()) <= 24_000
    for i in range(37):
        assert f"Alert{i} " in user.content
    assert "10000 alerts in this notification" in user.content
    assert "summarised (counted by alertname, severity and namespace" in user.content
    assert "(+" in user.content  # distinct label values are capped, with a count


def test_a_group_within_the_budget_is_listed_in_full() -> None:
    _, user = PromptTemplates.from_settings(TemplateSettings()).render(
        notification(storm(20, names=3)), route="r", budget=24_000
    )
    assert "Alert 20 of 20" in user.content
    assert "summarised" not in user.content
