"""JSON out (transport.encode_json): compact UTF-8, whatever a forwarded payload holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alert_explainer.jsonout import encode_json


def standard(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        {"text": 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f', "n": 3},
        {"unicode": "ünïcödé ‹alert-data› 警告 🚨", "line separators": "\u2028\u2029"},
        [None, True, False, 0, -1, 2**63 - 1, {"nested": [[], {}]}],
    ],
)
def test_the_bytes_are_those_the_standard_library_writes(value: Any) -> None:
    assert encode_json(value) == standard(value)


def test_an_integer_beyond_64_bits_in_a_forwarded_payload_is_still_written() -> None:
    payload = {"alerts": [], "extra": 2**70}

    assert json.loads(encode_json(payload)) == payload


def test_a_non_string_key_is_written_as_the_standard_library_does() -> None:
    assert encode_json({1: "one"}) == standard({1: "one"})
