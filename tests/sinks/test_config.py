"""Sink settings: every type's required fields, secrets inline or from files, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_explainer.config import load_settings
from alert_explainer.errors import ConfigError
from tests.sinks.support import SECRET


def problems(
    tmp_path: Path, sinks: str, routes: str = "[{name: default, sinks: [a]}]"
) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(f"sinks: {sinks}\nroutes: {routes}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    return caught.value.problems


def test_an_unknown_sink_type_lists_the_known_ones(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "[{name: a, type: carrier-pigeon}]")

    assert problem.startswith("sinks[0]: unknown sink type; expected one of: log, webhook, ")
    assert "alertmanager" in problem


def test_a_route_to_an_undefined_sink_is_rejected(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path, "[{name: a, type: log}]", "[{name: default, sinks: [a, pager]}]"
    )

    assert problem == "<root>: routes[0].sinks: unknown sink 'pager' (defined sinks: a)"


@pytest.mark.parametrize(
    ("sink", "missing"),
    [
        ("{name: a, type: slack}", ["url"]),
        ("{name: a, type: msteams}", ["url"]),
        ("{name: a, type: discord}", ["url"]),
        ("{name: a, type: googlechat}", ["url"]),
        ("{name: a, type: mattermost}", ["url"]),
        ("{name: a, type: webhook}", ["url"]),
        ("{name: a, type: alertmanager}", ["url"]),
        ("{name: a, type: slack_api}", ["token", "channel"]),
        ("{name: a, type: pagerduty}", ["routing_key"]),
        ("{name: a, type: opsgenie}", ["api_key"]),
        ("{name: a, type: telegram}", ["token", "chat_id"]),
        ("{name: a, type: ntfy}", ["topic"]),
    ],
)
def test_each_sinks_required_fields_are_named(
    tmp_path: Path, sink: str, missing: list[str]
) -> None:
    assert problems(tmp_path, f"[{sink}]") == [f"sinks[0].{f}: Field required" for f in missing]


def test_a_retired_office_365_connector_url_is_rejected_without_echoing_it(
    tmp_path: Path,
) -> None:
    url = f"https://contoso.webhook.office.com/webhookb2/{SECRET}"
    (problem,) = problems(tmp_path, f"[{{name: a, type: msteams, url: '{url}'}}]")

    assert "retired" in problem
    assert "Workflows" in problem
    assert SECRET not in problem


def test_a_bad_url_is_reported_without_its_value(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, f"[{{name: a, type: slack, url: 'ftp://x/{SECRET}'}}]")

    assert problem == "sinks[0].url: expected an http:// or https:// URL"


def test_secrets_can_come_from_files_read_at_load(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("https://hooks.slack.com/services/T/B/x\n")
    (tmp_path / "key").write_text(f"{SECRET}\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"sinks:\n"
        f"  - {{name: a, type: slack, url_file: {tmp_path / 'url'}}}\n"
        f"  - {{name: b, type: pagerduty, routing_key_file: {tmp_path / 'key'}}}\n"
        f"routes: [{{name: default, sinks: [a, b]}}]\n"
    )

    a, b = load_settings(path, environ={}).sinks

    assert a.url.get_secret_value() == "https://hooks.slack.com/services/T/B/x"  # type: ignore[union-attr]
    assert b.routing_key.get_secret_value() == SECRET  # type: ignore[union-attr]


def test_a_secret_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    (problem,) = problems(
        tmp_path, f"[{{name: a, type: telegram, token_file: {missing}, chat_id: 1}}]"
    )

    assert problem == f"sinks[0]: token_file: no readable file at {missing}"


def test_a_secret_is_given_inline_or_in_a_file_not_both(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("x")
    sink = f"{{name: a, type: ntfy, topic: t, token: y, token_file: {tmp_path / 'token'}}}"

    assert problems(tmp_path, f"[{sink}]") == ["sinks[0]: set token or token_file, not both"]


def test_api_base_urls_default_to_the_public_services(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sinks:\n"
        "  - {name: a, type: slack_api, token: t, channel: C1}\n"
        "  - {name: b, type: pagerduty, routing_key: k}\n"
        "  - {name: c, type: opsgenie, api_key: k}\n"
        "  - {name: d, type: telegram, token: t, chat_id: 1}\n"
        "  - {name: e, type: ntfy, topic: t}\n"
        "routes: [{name: default, sinks: [a]}]\n"
    )

    urls = [getattr(s, "api_url", getattr(s, "server", None)) for s in load_settings(path).sinks]

    assert urls == [
        "https://slack.com/api",
        "https://events.pagerduty.com",
        "https://api.opsgenie.com",
        "https://api.telegram.org",
        "https://ntfy.sh",
    ]
