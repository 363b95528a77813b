"""A focused JSON Schema for the Adaptive Cards this service sends to Teams.

The official schema (adaptivecards.io, microsoft/AdaptiveCards schemas/1.5.0) is not
available as a package here, so this encodes the documented rules our cards rely on:
the Workflows envelope, `AdaptiveCard` with a version of at most 1.5, and the shapes of
`TextBlock`, `FactSet`/`Fact` and `Action.OpenUrl` (required fields, value types and
enumerations as in the 1.5 schema; no properties outside it). `msteams` is the Teams
extension documented in "Format cards in Teams" (width "Full").
"""

from __future__ import annotations

from typing import Any

_COLORS = ["default", "dark", "light", "accent", "good", "warning", "attention"]
_SPACING = ["default", "none", "small", "medium", "large", "extraLarge", "padding"]

TEXT_BLOCK: dict[str, Any] = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "TextBlock"},
        "text": {"type": "string", "minLength": 1},
        "wrap": {"type": "boolean"},
        "size": {"enum": ["default", "small", "medium", "large", "extraLarge"]},
        "weight": {"enum": ["default", "lighter", "bolder"]},
        "color": {"enum": _COLORS},
        "isSubtle": {"type": "boolean"},
        "spacing": {"enum": _SPACING},
        "separator": {"type": "boolean"},
        "maxLines": {"type": "number"},
    },
}

FACT_SET: dict[str, Any] = {
    "type": "object",
    "required": ["type", "facts"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "FactSet"},
        "facts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["title", "value"],
                "additionalProperties": False,
                "properties": {"title": {"type": "string"}, "value": {"type": "string"}},
            },
        },
        "spacing": {"enum": _SPACING},
        "separator": {"type": "boolean"},
    },
}

OPEN_URL: dict[str, Any] = {
    "type": "object",
    "required": ["type", "url"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "Action.OpenUrl"},
        "title": {"type": "string", "minLength": 1},
        "url": {"type": "string", "pattern": "^https?://"},
    },
}

CARD: dict[str, Any] = {
    "type": "object",
    "required": ["type", "version", "body"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"const": "http://adaptivecards.io/schemas/adaptive-card.json"},
        "type": {"const": "AdaptiveCard"},
        "version": {"enum": ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]},
        "body": {"type": "array", "minItems": 1, "items": {"oneOf": [TEXT_BLOCK, FACT_SET]}},
        "actions": {"type": "array", "items": OPEN_URL},
        "msteams": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"width": {"const": "Full"}},
        },
    },
}

WORKFLOWS_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "attachments"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "contentUrl", "content"],
                "additionalProperties": False,
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": CARD,
                },
            },
        },
    },
}
