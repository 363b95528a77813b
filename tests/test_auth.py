"""Webhook authentication: only Alertmanager (holding a credential) gets in."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.conftest import ServiceFactory
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_post_without_credentials_is_refused_with_a_challenge(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, auth={"bearer_tokens": ["t-1"]})
    service = service_factory(config)

    for headers in ({}, bearer("wrong"), {"Authorization": "t-1"}, basic("t", "1")):
        result = service.post_payload(sample_payload, headers=headers)
        assert result.status == 401
        assert result.json == {"error": "authentication required"}
        assert result.headers["www-authenticate"] == 'Bearer realm="alert-explainer"'
    assert recorder.received == []
    assert clanker.requests == []
    assert 'alert_explainer_webhook_auth_failures_total{route=""} 4.0' in service.metrics_text()


def test_any_of_several_bearer_tokens_is_accepted_so_tokens_can_rotate(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    auth = {"bearer_tokens": ["old", "new"], "bearer_token_files": [str(token_file)]}
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}, auth=auth))

    assert service.post_payload(sample_payload, headers=bearer("old")).status == 200
    assert service.post_payload(sample_payload, headers=bearer("new")).status == 200
    assert service.post_payload(sample_payload, headers=bearer("from-file")).status == 200


def test_basic_auth_is_accepted_as_alertmanager_sends_it(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    auth = {"basic_auth": [{"username": "am", "password": "s3cret"}]}
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}, auth=auth))

    assert service.post_payload(sample_payload, headers=basic("am", "s3cret")).status == 200
    refused = service.post_payload(sample_payload, headers=basic("am", "guess"))
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="alert-explainer"')


def test_a_route_can_require_its_own_credentials(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    routes: list[dict[str, Any]] = [
        {"name": "secure", "sinks": ["team"], "auth": {"bearer_tokens": ["route-token"]}},
        {"name": "default", "sinks": ["team"]},
    ]
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}, routes=routes))

    assert service.post_payload(sample_payload, route="secure").status == 401
    assert (
        service.post_payload(sample_payload, route="secure", headers=bearer("route-token")).status
        == 200
    )
    # POST /webhook selects "secure" (first catch-all), whose own credentials then apply.
    assert service.post_payload(sample_payload).status == 401


def test_health_and_metrics_stay_open_when_auth_is_on(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, auth={"bearer_tokens": ["t"]})
    service = service_factory(config)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert service.get(path).status == 200
