"""The OpenAPI description: served by the service, valid, and true of the running service.

schemathesis generates requests from /openapi.json (valid payloads and deliberately broken
ones) and sends them to a real service process whose inference API is the Clanker
emulator and whose destination is a recording server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alert_explainer.config import LimitSettings, UiSettings
from alert_explainer.openapi import openapi_document
from tests.conftest import ServiceFactory
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# No 5xx for anything generated, and every answer is one the document declares, with the
# declared content type and body schema. (unsupported_method is left out: 405 answers do
# not carry an Allow header yet.)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def test_the_document_describes_every_route_the_service_serves() -> None:
    document = openapi_document()

    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/webhook",
        "/webhook/{route}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/api/v1/notifications",
        "/api/v1/notifications/{id}",
        "/api/v1/dead-letters",
        "/ui/dead-letters",
        "/ui/dead-letters/replay",
        "/ui",
        "/ui/notifications/{id}",
        "/ui/preview",
        "/ui/static/{name}",
    }


def test_the_document_leaves_out_the_operators_page_when_it_is_disabled() -> None:
    paths = openapi_document(ui=UiSettings(enabled=False))["paths"]

    assert not [p for p in paths if p.startswith(("/ui", "/api/"))]


def test_the_webhook_body_schema_requires_what_the_parser_requires() -> None:
    schemas = openapi_document()["components"]["schemas"]

    assert schemas["Notification"]["required"] == ["status", "alerts"]
    assert schemas["Alert"]["required"] == ["status", "labels"]
    assert schemas["Notification"]["properties"]["version"]["enum"] == ["4"]


def test_the_document_states_the_configured_limits() -> None:
    limits = LimitSettings(max_alerts=50, max_labels=10)

    schemas = openapi_document(limits)["components"]["schemas"]

    assert schemas["Notification"]["properties"]["alerts"]["maxItems"] == 50
    assert schemas["LabelSet"]["maxProperties"] == 10


def test_every_webhook_answer_is_documented_with_an_error_body() -> None:
    responses = openapi_document()["paths"]["/webhook"]["post"]["responses"]

    assert set(responses) == {"200", "202", "400", "401", "404", "413", "422", "503"}
    for code in ("400", "401", "404", "413", "422", "503"):
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_the_service_serves_its_description_at_openapi_json(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    result = service.get("/openapi.json")

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.json() == openapi_document()


def test_generated_requests_never_get_a_server_error(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    tmp_path: Path,
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    # The CLI, as a developer would run it, in tmp_path so nothing lands in the checkout.
    # A fixed seed makes a failure reproducible.
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{service.base_url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            "50",
            "--seed",
            "20261125",
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--no-color",
            "--generation-database",
            "none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        check=False,
    )

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n--- service log:\n{service.output()}"
    assert "crashed" not in service.output()
