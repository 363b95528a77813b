"""JSON out: the bytes of every body we send, record we keep and line we log.

orjson writes them, several times faster than the standard library; json takes over for
what orjson refuses, such as an integer beyond 64 bits in a payload forwarded as it came.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def encode_json(payload: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """`payload` as compact UTF-8 JSON; `default` turns what JSON has no type for into one."""
    try:
        return orjson.dumps(payload, default=default)
    except orjson.JSONEncodeError:
        return json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), default=default
        ).encode("utf-8")
