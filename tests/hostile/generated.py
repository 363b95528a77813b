"""Hostile cases too big (or too regular) to keep as files: built when the tests start."""

from __future__ import annotations

import json
from typing import Any

from alert_explainer.config import LimitSettings
from tests.hostile import BASE_PAYLOAD, HostileCase, payload

LIMITS = LimitSettings()  # the service under test runs with the documented defaults
MEBIBYTE = 1_048_576


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _alerts(count: int) -> list[dict[str, Any]]:
    template = BASE_PAYLOAD["alerts"][0]
    return [
        {
            **template,
            "labels": {**template["labels"], "instance": f"web-{i}"},
            "fingerprint": f"{i:016x}",
        }
        for i in range(count)
    ]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


def generated_cases() -> list[HostileCase]:
    """Huge bodies, many alerts, long values, deep nesting and label floods."""
    over_depth = LIMITS.max_depth + 1
    many_labels = {f"label_{i}": "x" for i in range(LIMITS.max_labels)}
    return [
        HostileCase(
            "body-over-max-body-bytes",
            b'{"status":"firing","alerts":[],"pad":"' + b"x" * (9 * MEBIBYTE) + b'"}',
            413,
            why="9 MiB body, above the 8 MiB server.max_body_bytes default",
            error="exceeds the limit",
        ),
        HostileCase(
            "ten-thousand-alerts",
            _encode(payload("ten-thousand-alerts", alerts=_alerts(10_000))),
            200,
            why="a large but legal group (max_alerts defaults to 20000)",
            prompt_contains=("HostileInput",),
        ),
        HostileCase(
            "alerts-over-max-alerts",
            _encode(
                payload(
                    "alerts-over-max-alerts",
                    alerts=[{"status": "firing", "labels": {}}] * (LIMITS.max_alerts + 1),
                )
            ),
            413,
            why="one alert more than server.limits.max_alerts",
            error="max_alerts in Alertmanager's webhook_config",
        ),
        HostileCase(
            "megabyte-label-value",
            _encode(
                payload(
                    "megabyte-label-value",
                    alerts=[
                        {
                            **BASE_PAYLOAD["alerts"][0],
                            "labels": {
                                **BASE_PAYLOAD["alerts"][0]["labels"],
                                "huge": "v" * MEBIBYTE,
                            },
                        }
                    ],
                )
            ),
            200,
            why="a 1 MiB label value is accepted and cut in the prompt, not refused",
            prompt_contains=("…[truncated ",),
            prompt_max_chars=64_000,
            needs="redaction",
        ),
        HostileCase(
            "megabyte-annotation-value",
            _encode(
                payload(
                    "megabyte-annotation-value",
                    alerts=[
                        {
                            **BASE_PAYLOAD["alerts"][0],
                            "annotations": {"description": "d" * MEBIBYTE},
                        }
                    ],
                )
            ),
            200,
            why="a 1 MiB description is accepted and cut in the prompt",
            prompt_contains=("…[truncated ",),
            prompt_max_chars=64_000,
            needs="redaction",
        ),
        HostileCase(
            "megabyte-label-name",
            _encode(
                payload(
                    "megabyte-label-name",
                    alerts=[
                        {
                            **BASE_PAYLOAD["alerts"][0],
                            "labels": {**BASE_PAYLOAD["alerts"][0]["labels"], "n" * MEBIBYTE: "v"},
                        }
                    ],
                )
            ),
            200,
            why="a 1 MiB label name is cut like a value",
            prompt_max_chars=64_000,
            needs="redaction",
        ),
        HostileCase(
            "hundred-thousand-open-brackets",
            b"[" * 100_000,
            400,
            why="deep nesting must not reach the recursive parser",
            error="nested too deeply",
        ),
        HostileCase(
            "balanced-nesting-beyond-max-depth",
            b"[" * 100_000 + b"]" * 100_000,
            400,
            error="nested too deeply",
        ),
        HostileCase(
            "nested-extra-field-beyond-max-depth",
            _encode(payload("nested-extra-field-beyond-max-depth", extra=_nested(over_depth))),
            400,
            why="depth counts everywhere, also in fields the service ignores",
            error="max_depth",
        ),
        HostileCase(
            "nested-label-value-beyond-max-depth",
            _encode(
                payload(
                    "nested-label-value-beyond-max-depth",
                    commonLabels={"deep": _nested(over_depth)},
                )
            ),
            400,
            error="nested too deeply",
        ),
        HostileCase(
            "nested-extra-field-within-max-depth",
            _encode(
                payload("nested-extra-field-within-max-depth", extra=_nested(LIMITS.max_depth - 2))
            ),
            200,
            why="unknown fields are ignored (and forwarded) when within the limits",
        ),
        HostileCase(
            "labels-over-max-labels",
            _encode(
                payload(
                    "labels-over-max-labels",
                    alerts=[
                        {
                            **BASE_PAYLOAD["alerts"][0],
                            "labels": {"alertname": "HostileInput", **many_labels},
                        }
                    ],
                )
            ),
            422,
            why="labels plus annotations above server.limits.max_labels",
            error="max_labels",
        ),
        HostileCase(
            "common-labels-over-max-labels",
            _encode(
                payload(
                    "common-labels-over-max-labels",
                    commonLabels={"alertname": "HostileInput", **many_labels},
                )
            ),
            422,
            error="max_labels",
        ),
        HostileCase(
            "number-with-five-thousand-digits",
            _encode(payload("number-with-five-thousand-digits"))[:-1]
            + b',"big":'
            + b"9" * 5000
            + b"}",
            400,
            error="a number is too long",
        ),
    ]
