"""The page's JSON API and pages in OpenAPI terms, merged into /openapi.json by openapi.py.

Kept beside the code that produces the data (record.py, web.py), so a field added there is
added here in the same change; tests/test_openapi.py checks answers against it.
"""

from __future__ import annotations

from typing import Any

from alert_explainer.deadletters import EVERY_SINK, REASONS
from alert_explainer.ui.record import OUTCOMES

JSON = "application/json"
HTML = "text/html"
SECURITY: list[dict[str, list[str]]] = [
    {},
    {"bearer": []},
    {"basic": []},
]  # open, or ui.auth (else the webhook's auth)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if description:
        schema["description"] = description
    return schema


def _strings() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def _links() -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["label", "url"],
            "properties": {"label": {"type": "string"}, "url": {"type": "string"}},
        },
    }


SUMMARY_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "received": {"type": "string", "format": "date-time"},
    "route": {"type": "string"},
    "receiver": {"type": "string"},
    "status": {"type": "string", "enum": ["firing", "resolved"]},
    "severity": {"type": "string"},
    "group": {"type": "string", "description": "the group labels as one line"},
    "alertnames": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
    "alert_counts": {
        "type": "object",
        "required": ["firing", "resolved", "not_sent"],
        "properties": {k: {"type": "integer"} for k in ("firing", "resolved", "not_sent")},
    },
    "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "explained": {"type": "boolean"},
    "reason": _nullable("string", "why there is no explanation, when there is none"),
    "backend": _nullable("string", "the inference backend that answered"),
    "model": _nullable("string"),
    "reused": {"type": "boolean", "description": "explanation from the cache"},
    "explained_at": _nullable("string", "when the explanation was made (RFC 3339)"),
    "reuse_note": _nullable(
        "string", "for an explanation made for another state of the group: what changed since"
    ),
    "inference_seconds": _nullable("number"),
    "total_seconds": _nullable("number"),
    "destinations": {
        "type": "object",
        "additionalProperties": _nullable("string"),
        "description": 'per destination: "delivered", "duplicate", why it failed, or null '
        "while pending",
    },
    "retries": {"type": "integer", "description": "Alertmanager's later calls for it"},
}

DETAIL_FIELDS: dict[str, Any] = {
    "group_key": {"type": "string"},
    "group_labels": _strings(),
    "common_labels": _strings(),
    "common_annotations": _strings(),
    "external_url": {"type": "string"},
    "links": _links(),
    "alerts": {
        "type": "array",
        "maxItems": 100,
        "items": {
            "type": "object",
            "properties": {
                "status": {"type": "string"},
                "name": {"type": "string"},
                "labels": _strings(),
                "annotations": _strings(),
                "starts_at": _nullable("string"),
                "ends_at": _nullable("string"),
                "links": _links(),
            },
        },
        "description": "as the model was shown them: redacted, values cut to max_value_length",
    },
    "alerts_not_shown": {"type": "integer"},
    "alert_redactions": {"type": "object", "additionalProperties": {"type": "integer"}},
    "evidence": {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "required": ["source", "title", "lines"],
            "properties": {
                "source": {"type": "string"},
                "title": {"type": "string"},
                "lines": {"type": "array", "items": {"type": "string"}},
            },
        },
        "description": "the facts gathered for the prompt (evidence configured), null without",
    },
    "prompt": {
        "type": ["object", "null"],
        "required": ["sent", "messages", "redactions"],
        "properties": {
            "sent": {"type": "boolean", "description": "whether it left for the inference API"},
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                },
            },
            "redactions": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "description": "the exact messages, after redaction; null when nothing was prepared",
    },
    "answer": {
        "type": ["object", "null"],
        "properties": {"received": _nullable("string"), "delivered": _nullable("string")},
        "description": "the model's text as received and as delivered after sanitising",
    },
    "destination_messages": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "type": {"type": "string"},
                "result": _nullable("string"),
                "seconds": _nullable("number"),
                "body": _nullable("string", "the rendered message as JSON text, masked"),
            },
        },
    },
    "retry_calls": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["at", "kind"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "kind": {"type": "string", "enum": ["joined", "attempt"]},
            },
        },
        "description": "Alertmanager's later calls: joined the running work, or a new "
        "attempt after a failed one (only the destinations that lacked it were sent to)",
    },
}


def schemas() -> dict[str, Any]:
    """The component schemas of the JSON API."""
    return {
        "NotificationSummary": {
            "type": "object",
            "required": list(SUMMARY_FIELDS),
            "properties": SUMMARY_FIELDS,
        },
        "NotificationDetail": {
            "type": "object",
            "required": [*SUMMARY_FIELDS, *DETAIL_FIELDS],
            "properties": {**SUMMARY_FIELDS, **DETAIL_FIELDS},
        },
        "NotificationList": {
            "type": "object",
            "required": ["notifications", "kept"],
            "properties": {
                "notifications": {"type": "array", "items": _ref("NotificationSummary")},
                "kept": {"type": "integer", "description": "notifications in the history"},
            },
        },
        "DeadLetter": DEAD_LETTER,
        "DeadLetterList": {
            "type": "object",
            "required": ["dead_letters"],
            "properties": {"dead_letters": {"type": "array", "items": _ref("DeadLetter")}},
        },
    }


_TIME = {"type": "string", "format": "date-time"}
DEAD_LETTER: dict[str, Any] = {
    "type": "object",
    "description": "A queued notification some destinations never took (deadletters.py)",
    "required": [
        *("id", "route", "reason", "sinks", "errors", "attempts"),
        *("queued_at", "first_try", "last_try", "notification"),
    ],
    "properties": {
        "id": {"type": "string"},
        "route": {"type": "string"},
        "reason": {"type": "string", "enum": list(REASONS)},
        "sinks": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the destinations that lack it; a replay sends to these only "
            f"('{EVERY_SINK}': every destination of the route, when its route was gone)",
        },
        "errors": {**_strings(), "description": "each of those destinations' last error"},
        "attempts": {"type": "integer"},
        "queued_at": _TIME,
        "first_try": _TIME,
        "last_try": _TIME,
        "notification": {
            "type": ["object", "null"],
            "required": ["status", "group_key", "title", "alerts", "receiver"],
            "properties": {
                "status": {"type": "string", "enum": ["firing", "resolved"]},
                "group_key": {"type": "string"},
                "title": {"type": "string"},
                "alerts": {"type": "integer"},
                "receiver": {"type": "string"},
            },
        },
        "unreadable": {"type": "string", "description": "why the body no longer parses"},
    },
}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _id_parameter() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _answer(kind: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {kind: {"schema": schema}}}


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> Any:
    unauthorized = _answer(JSON, _ref("Error"), "Missing or wrong credentials")
    return {
        "summary": summary,
        "operationId": operation_id,
        "tags": ["operator's page"],
        "security": SECURITY,
        "responses": {**responses, "401": unauthorized},
        **extra,
    }


def paths(history: int) -> dict[str, Any]:
    """The API's and the page's paths; `history` is ui.history (the largest `limit`)."""
    page = {"type": "string"}
    filters = [
        _query(
            "limit",
            f"at most this many (1 to {history})",
            {"type": "integer", "minimum": 1, "maximum": history},
        ),
        _query("route", "only this route", {"type": "string"}),
        _query(
            "status", "only firing or resolved", {"type": "string", "enum": ["firing", "resolved"]}
        ),
        _query("outcome", "only this outcome", {"type": "string", "enum": list(OUTCOMES)}),
    ]
    bad = _answer(JSON, _ref("Error"), "A filter it cannot use (the message says which)")
    return {
        "/api/v1/notifications": {
            "get": _operation(
                "listNotifications",
                "Recent notifications, newest first",
                {"200": _answer(JSON, _ref("NotificationList"), "The rows"), "400": bad},
                parameters=filters,
            )
        },
        "/api/v1/notifications/{id}": {
            "get": _operation(
                "getNotification",
                "One notification: alerts, prompt, answer, destinations, retries",
                {
                    "200": _answer(JSON, _ref("NotificationDetail"), "The notification"),
                    "404": _answer(JSON, _ref("Error"), "Not in the history"),
                },
                parameters=[_id_parameter()],
            )
        },
        "/ui": {
            "get": _operation(
                "getPage",
                "The operator's page: recent notifications",
                {
                    "200": _answer(HTML, page, "The page"),
                    "400": _answer(HTML, page, "A filter it cannot use"),
                },
                parameters=filters[1:],
            )
        },
        "/ui/notifications/{id}": {
            "get": _operation(
                "getNotificationPage",
                "One notification's page",
                {
                    "200": _answer(HTML, page, "The page"),
                    "404": _answer(HTML, page, "Not in the history"),
                },
                parameters=[_id_parameter()],
            )
        },
        "/ui/static/{name}": {
            "get": _operation(
                "getStatic",
                "The page's stylesheet (ui.css), script (ui.js) and icon (favicon.svg)",
                {
                    "200": {
                        "description": "The file",
                        "content": {
                            "text/css": {"schema": page},
                            "text/javascript": {"schema": page},
                            "image/svg+xml": {"schema": page},
                        },
                    },
                    "404": _answer(JSON, _ref("Error"), "No such file"),
                },
                parameters=[
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
        "/api/v1/dead-letters": {
            "get": _operation(
                "listDeadLetters",
                "Dead letters of the async queue, oldest first (none in sync mode)",
                {
                    "200": _answer(JSON, _ref("DeadLetterList"), "The letters"),
                    "503": _answer(JSON, _ref("Error"), "The queue's backend is unreachable"),
                },
            )
        },
        "/ui/dead-letters": {
            "get": _operation(
                "getDeadLettersPage",
                "The dead letters, each with a Replay button",
                {
                    "200": _answer(HTML, page, "The page"),
                    "503": _answer(HTML, page, "The queue's backend is unreachable"),
                },
                parameters=[
                    _query("replayed", "how many the last replay queued", {"type": "string"}),
                    _query("unknown", "how many it no longer found", {"type": "string"}),
                    _query("full", "1: the queue was full", {"type": "string"}),
                ],
            )
        },
        "/ui/dead-letters/replay": {
            "post": _operation(
                "postDeadLettersReplay",
                "Queue dead letters again for the destinations that lack them",
                {
                    "303": {"description": "Done: back to the list, which says what happened"},
                    "403": _answer(JSON, _ref("Error"), "Posted from another site"),
                    "409": _answer(HTML, page, "delivery.mode is sync: there is no queue"),
                    "413": _answer(HTML, page, "Form too large"),
                    "503": _answer(HTML, page, "The queue's backend is unreachable"),
                },
                requestBody={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "description": "a letter's id"},
                                    "all": {"type": "string", "description": "any: every one"},
                                },
                            }
                        }
                    },
                },
            )
        },
        "/ui/preview": {
            "get": _operation(
                "getPreviewForm",
                "The preview form",
                {"200": _answer(HTML, page, "The form")},
                parameters=[
                    _query("sample", "prefill the bundled sample payload", {"type": "string"})
                ],
            ),
            "post": _operation(
                "postPreview",
                "Render a pasted payload: prompt and destination messages, nothing sent",
                {
                    "200": _answer(HTML, page, "The preview (or what is wrong with it)"),
                    "403": _answer(JSON, _ref("Error"), "Posted from another site"),
                    "413": _answer(HTML, page, "Form larger than server.max_body_bytes"),
                },
                requestBody={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["payload"],
                                "properties": {
                                    "payload": {"type": "string"},
                                    "route": {"type": "string"},
                                    "explanation": {"type": "string", "enum": ["stand-in", "none"]},
                                },
                            }
                        }
                    },
                },
            ),
        },
    }
