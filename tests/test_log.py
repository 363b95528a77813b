"""Log lines: one JSON object per line, whatever an event carries."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import structlog

from alert_explainer.log import configure_logging


def logged(**fields: object) -> dict[str, object]:
    stream = io.StringIO()
    configure_logging("json", "info", cache=False, stream=stream)
    structlog.get_logger("alert_explainer.test").info("checked", **fields)
    line: dict[str, object] = json.loads(stream.getvalue().splitlines()[-1])
    return line


def test_a_line_is_json_with_event_level_logger_and_time() -> None:
    line = logged(route="default")

    assert line["event"] == "checked"
    assert line["level"] == "info"
    assert line["logger"] == "alert_explainer.test"
    assert str(line["timestamp"]).endswith("Z")
    assert line["route"] == "default"


def test_an_integer_beyond_64_bits_is_still_logged() -> None:
    assert logged(value=2**70)["value"] == 2**70


def test_a_value_json_has_no_type_for_is_logged_as_its_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    assert logged(value=Opaque())["value"] == "<opaque>"


def test_a_non_string_key_is_logged_as_a_string() -> None:
    assert logged(counts={1: "one"})["counts"] == {"1": "one"}


def test_a_lone_surrogate_is_logged_escaped() -> None:
    assert logged(path="caf\udce9")["path"] == "caf\udce9"


def test_a_dataclass_is_logged_as_its_repr_not_field_by_field() -> None:
    @dataclass
    class Held:
        name: str
        token: str = field(repr=False)

    assert (
        logged(value=Held("hook", "s3cr3t"))["value"]
        == "test_a_dataclass_is_logged_as_its_repr_not_field_by_field.<locals>.Held(name='hook')"
    )


def test_a_stream_that_cannot_take_utf8_gets_ascii_escapes() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    configure_logging("json", "info", cache=False, stream=stream)
    structlog.get_logger("alert_explainer.test").info("checked", city="Zürich")
    stream.flush()
    assert json.loads(raw.getvalue().decode("ascii").splitlines()[-1])["city"] == "Zürich"
