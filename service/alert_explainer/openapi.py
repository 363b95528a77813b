"""The service's HTTP API as an OpenAPI 3.1 document, served at GET /openapi.json.

The request body schema is Alertmanager's webhook payload (version 4) exactly as
`alertmanager.parse_notification` accepts it, with the configured limits; the responses
are those `app.py` gives. tests/test_openapi.py runs schemathesis against a live service
from this document, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

from alert_explainer import __version__
from alert_explainer.config import LimitSettings, UiSettings
from alert_explainer.ui import schema as ui_schema

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _schemas(limits: LimitSettings) -> dict[str, Any]:
    label_set = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "maxProperties": limits.max_labels,
        "description": "Label or annotation names and their values. An alert's labels and "
        f"annotations together may have at most {limits.max_labels} entries "
        "(server.limits.max_labels); values longer than "
        f"{limits.max_value_length} characters are cut in the prompt, not refused.",
    }
    time = {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "RFC 3339; Go's zero time (0001-01-01T00:00:00Z) means not set.",
    }
    status = {"type": "string", "enum": ["firing", "resolved"]}
    return {
        "LabelSet": label_set,
        "Alert": {
            "type": "object",
            "required": ["status", "labels"],
            "properties": {
                "status": status,
                "labels": _ref("LabelSet"),
                "annotations": _ref("LabelSet"),
                "startsAt": time,
                "endsAt": time,
                "generatorURL": {"type": "string"},
                "fingerprint": {"type": "string"},
            },
        },
        "Notification": {
            "type": "object",
            "description": "Alertmanager's webhook payload, version 4 (notify/webhook.Message). "
            "Unknown fields are ignored and forwarded unchanged. JSON nesting deeper than "
            f"{limits.max_depth} levels is refused with 400 (server.limits.max_depth).",
            "required": ["status", "alerts"],
            "properties": {
                "version": {"type": "string", "enum": ["4"], "default": "4"},
                "groupKey": {"type": "string"},
                "truncatedAlerts": {"type": "integer", "minimum": 0},
                "status": status,
                "receiver": {"type": "string"},
                "groupLabels": _ref("LabelSet"),
                "commonLabels": _ref("LabelSet"),
                "commonAnnotations": _ref("LabelSet"),
                "externalURL": {"type": "string"},
                "alerts": {
                    "type": "array",
                    "items": _ref("Alert"),
                    "maxItems": limits.max_alerts,
                    "description": f"At most {limits.max_alerts} (server.limits.max_alerts), "
                    "else 413; set max_alerts in Alertmanager's webhook_config to stay below.",
                },
            },
        },
        "DeliveryReport": {
            "type": "object",
            "required": [
                "status",
                "route",
                "explained",
                "reused",
                "explained_at",
                "error",
                "backend",
                "sinks",
            ],
            "properties": {
                "status": {"type": "string", "enum": ["delivered"]},
                "route": {"type": "string"},
                "explained": {"type": "boolean"},
                "reused": {
                    "type": "boolean",
                    "description": "no call was made: the explanation was made earlier, for "
                    "this alert state or for the group's unchanged situation",
                },
                "explained_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "when the explanation delivered was made (UTC)",
                },
                "error": {
                    "type": ["string", "null"],
                    "description": "why there is no explanation, when there is none",
                },
                "backend": {
                    "type": ["string", "null"],
                    "description": "the inference backend that explained it (inference.name "
                    "or a fallback's name)",
                },
                "sinks": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": 'per sink: "delivered" or "duplicate"',
                },
            },
        },
        "Queued": {
            "type": "object",
            "required": ["status", "route"],
            "properties": {
                "status": {"type": "string", "enum": ["queued"]},
                "route": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "what went wrong, for a person"},
                "status": {"type": "string", "description": "503 only: in_progress, failed…"},
                "sinks": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "503 failed: the reason per failed sink",
                },
            },
        },
    }


def _webhook(summary: str, route_parameter: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": "postWebhookRoute" if route_parameter else "postWebhook",
        "tags": ["alertmanager"],
        # Open when no credential is configured; otherwise Alertmanager's http_config
        # authorization (Bearer) or basic_auth.
        "security": [{}, {"bearer": []}, {"basic": []}],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": _ref("Notification")}},
        },
        "responses": {
            "200": _json(_ref("DeliveryReport"), "Explained (or not) and delivered to every sink"),
            "202": _json(_ref("Queued"), "delivery.mode async: stored, a worker delivers it"),
            "400": _error("Not UTF-8, not JSON, or nested too deeply"),
            "401": _error("Missing or wrong credentials (see WWW-Authenticate)"),
            "404": _error("Unknown route, or no route accepts this notification"),
            "413": _error("Body larger than server.max_body_bytes, or too many alerts"),
            "422": _error("JSON that is not an Alertmanager payload, or too many labels"),
            "503": _error("Still processing, a sink failed, or the queue is full: retry"),
        },
    }
    if route_parameter:
        operation["parameters"] = [
            {
                "name": "route",
                "in": "path",
                "required": True,
                "description": "A configured route name",
                "schema": {"type": "string"},
            }
        ]
    return {"post": operation}


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "operationId": operation_id,
            "tags": ["operations"],
            "responses": responses,
        }
    }


def openapi_document(
    limits: LimitSettings | None = None, ui: UiSettings | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route, with `limits` and `ui` (defaults when None).

    The operator's page and its JSON API are described when `ui.enabled`.
    """
    limits = limits or LimitSettings()
    ui = ui or UiSettings()
    status_ok = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alert-explainer",
            "version": __version__,
            "description": "Receives Alertmanager webhook notifications, explains each alert "
            "group in plain language with an LLM, and delivers the result to chat and "
            "paging tools. Alertmanager retries 5xx answers and never retries 4xx.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": {
            "/webhook": _webhook("Receive a notification; the route is chosen by matching", False),
            "/webhook/{route}": _webhook("Receive a notification for one named route", True),
            "/healthz": _get(
                "getHealthz",
                "Liveness: the process answers",
                {"200": _json(status_ok, "Alive")},
            ),
            "/readyz": _get(
                "getReadyz",
                "Readiness: started and not shutting down",
                {"200": _json(status_ok, "Ready"), "503": _error("Starting or shutting down")},
            ),
            "/metrics": _get(
                "getMetrics",
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            ),
            "/openapi.json": _get(
                "getOpenapi",
                "This document",
                {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            ),
            **(ui_schema.paths(ui.history) if ui.enabled else {}),
        },
        "components": {
            "schemas": {**_schemas(limits), **(ui_schema.schemas() if ui.enabled else {})},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Alertmanager http_config.authorization (type Bearer); "
                    "for the operator's page, ui.auth (else auth)",
                },
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "Alertmanager http_config.basic_auth",
                },
            },
        },
    }
