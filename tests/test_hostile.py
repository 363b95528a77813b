"""Hostile input: every request in tests/hostile/ gets its documented answer, never a 500.

One real service process per test module (per xdist worker) takes every case, with the
Clanker emulator as inference API and a recording server as its only destination. Each
case is posted once, on first use; its answer, the prompts the model received and what
the destination got are kept for the tests below, and after each case a normal
notification must still be explained and delivered.

The parser-level limits are specified first, without a service.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from alert_explainer.alertmanager import PayloadLimits, nesting_depth, parse_notification
from alert_explainer.errors import PayloadError
from tests.hostile import HostileCase, all_cases, payload
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordedRequest, RecordingServer
from tests.support.service import PostResult, ServiceProcess

CASES = all_cases()


def encode(data: object) -> bytes:
    return json.dumps(data).encode()


# --- the parser's limits, in process ----------------------------------------------------


def test_nesting_is_measured_outside_strings() -> None:
    text = json.dumps({"a": "[[[[[[{{{{", "b": [{"c": ']]]]\\"[['}]})

    assert nesting_depth(text, 32) == 3


def test_nesting_exactly_at_max_depth_is_accepted() -> None:
    limits = PayloadLimits(max_depth=8)
    body = encode({"status": "firing", "alerts": [], "x": [[[[[[[]]]]]]]})

    assert parse_notification(body, limits).status == "firing"


def test_nesting_one_level_beyond_max_depth_is_a_400() -> None:
    limits = PayloadLimits(max_depth=8)
    body = encode({"status": "firing", "alerts": [], "x": [[[[[[[[]]]]]]]]})

    with pytest.raises(PayloadError) as caught:
        parse_notification(body, limits)
    assert caught.value.status == 400
    assert "max_depth" in str(caught.value)


def test_alerts_exactly_at_max_alerts_are_accepted() -> None:
    limits = PayloadLimits(max_alerts=3)
    body = encode({"status": "firing", "alerts": [{"status": "firing", "labels": {}}] * 3})

    assert len(parse_notification(body, limits).alerts) == 3


def test_one_alert_beyond_max_alerts_is_a_413_naming_alertmanagers_setting() -> None:
    limits = PayloadLimits(max_alerts=3)
    body = encode({"status": "firing", "alerts": [{"status": "firing", "labels": {}}] * 4})

    with pytest.raises(PayloadError) as caught:
        parse_notification(body, limits)
    assert caught.value.status == 413
    assert "set max_alerts in Alertmanager's webhook_config" in str(caught.value)


def test_labels_and_annotations_count_together_against_max_labels() -> None:
    limits = PayloadLimits(max_labels=4)
    alert = {"status": "firing", "labels": {"a": "1", "b": "2"}, "annotations": {"c": "3"}}
    over = {**alert, "annotations": {"c": "3", "d": "4", "e": "5"}}

    assert parse_notification(encode({"status": "firing", "alerts": [alert]}), limits)
    with pytest.raises(PayloadError) as caught:
        parse_notification(encode({"status": "firing", "alerts": [over]}), limits)
    assert caught.value.status == 422
    assert "alerts.0: 5 labels and annotations exceed the limit of 4" in str(caught.value)


def test_a_long_label_name_in_an_error_is_shortened() -> None:
    body = encode({"status": "firing", "alerts": [{"status": "firing", "labels": {"n" * 5000: 1}}]})

    with pytest.raises(PayloadError) as caught:
        parse_notification(body)
    assert len(str(caught.value)) < 300


def test_long_values_are_accepted_by_the_parser() -> None:
    body = encode(
        {"status": "firing", "alerts": [{"status": "firing", "labels": {"v": "x" * 100_000}}]}
    )

    assert len(parse_notification(body).alerts[0].labels["v"]) == 100_000


# --- the running service ----------------------------------------------------------------


@dataclass
class Outcome:
    """What posting one case did."""

    answer: PostResult
    prompts: list[str]
    delivered: list[RecordedRequest]
    healthz: int
    follow_up: PostResult
    log: str  # what the service printed while handling the case


@dataclass
class Peers:
    """The service under test and what it talks to, plus the outcomes so far."""

    service: ServiceProcess
    clanker: ClankerEmulator
    recorder: RecordingServer
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def outcome(self, case: HostileCase) -> Outcome:
        """The outcome of `case`, posting it the first time it is asked for."""
        if case.name not in self.outcomes:
            self.outcomes[case.name] = self._post(case)
        return self.outcomes[case.name]

    def _post(self, case: HostileCase) -> Outcome:
        calls, deliveries = self.clanker.call_count, len(self.recorder.delivered)
        log_start = len(self.service.output())
        if case.model_reply is not None:
            self.clanker.default = Behaviour.ok(content=case.model_reply)
        try:
            answer = post_reading_early(self.service, case.body, case.route)
        finally:
            self.clanker.default = Behaviour.ok()
        prompts = [call.user_content for call in self.clanker.calls[calls:]]
        delivered = self.recorder.delivered[deliveries:]
        healthz = self.service.get("/healthz").status
        follow_up = self.service.post_payload(payload(f"follow-up-after-{case.name}"))
        log = self.service.output()[log_start:]
        return Outcome(answer, prompts, delivered, healthz, follow_up, log)


def post_reading_early(service: ServiceProcess, body: bytes, route: str | None) -> PostResult:
    """POST like Alertmanager's Go client: an answer arriving mid-upload is read, not lost.

    The service answers an oversized body (413) without reading it; a client that insists
    on writing everything first (urllib) only sees the connection reset that follows.
    """
    path = "/webhook" + (f"/{route}" if route else "")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as sock:
        sock.sendall(head)
        view, sent = memoryview(body), 0
        while sent < len(body):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is already there
            try:
                sent += sock.send(view[sent : sent + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return PostResult(response.status, parsed, dict(response.getheaders()))


class RoomyRecorder(RecordingServer):
    """A recording destination that takes the 10 MB documents huge notifications make.

    aiohttp refuses bodies over 1 MiB by default; a real destination's limit is its own
    business, and here it would hide what the service did.
    """

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    """One service for the module: default limits, the emulator, one recording sink."""
    tmp = tmp_path_factory.mktemp("hostile")
    with ClankerEmulator() as clanker, RoomyRecorder() as recorder:
        config = explainer_config(
            clanker.url, {"team": recorder.url_for("/hook")}, server={"respond_within": 30}
        )
        config_path = tmp / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        with ServiceProcess(config_path, tmp) as service:
            yield Peers(service, clanker, recorder)


def cases(*, where: Any = None) -> list[Any]:
    """`CASES` filtered by `where`, as pytest params with readable ids."""
    return [pytest.param(c, id=c.name) for c in CASES if where is None or where(c)]


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def describe(outcome: Outcome) -> str:
    tail = "\n".join(outcome.log.splitlines()[-20:])
    return f"answer {outcome.answer.status} {outcome.answer.json!r:.500}\nservice log:\n{tail}"


@pytest.mark.parametrize("case", cases())
def test_the_answer_has_the_documented_status(peers: Peers, case: HostileCase) -> None:
    outcome = peers.outcome(case)

    assert outcome.answer.status == case.status, describe(outcome)


@pytest.mark.parametrize("case", cases(where=lambda c: c.status >= 400))
def test_a_refusal_is_json_saying_why(peers: Peers, case: HostileCase) -> None:
    answer = peers.outcome(case).answer

    assert isinstance(answer.json, dict)
    assert isinstance(answer.json.get("error"), str)
    if case.error is not None:
        assert case.error in answer.json["error"]


@pytest.mark.parametrize("case", cases())
def test_the_service_stays_healthy_and_delivers_the_next_alert(
    peers: Peers, case: HostileCase
) -> None:
    outcome = peers.outcome(case)

    assert outcome.healthz == 200
    assert outcome.follow_up.status == 200, describe(outcome)
    assert outcome.follow_up.json["explained"] is True
    assert outcome.follow_up.json["sinks"] == {"team": "delivered"}


@pytest.mark.parametrize("case", cases(where=lambda c: c.status == 200))
def test_an_accepted_notification_is_explained_once_and_delivered_once(
    peers: Peers, case: HostileCase
) -> None:
    outcome = peers.outcome(case)

    assert outcome.answer.json["sinks"] == {"team": "delivered"}
    assert len(outcome.prompts) == (1 if outcome.answer.json["explained"] else 0)
    assert len(outcome.delivered) == 1


@pytest.mark.parametrize(
    "case",
    cases(where=lambda c: c.prompt_contains or c.prompt_excludes),
)
def test_alert_text_reaches_the_model_literally_and_without_secrets(
    peers: Peers, case: HostileCase
) -> None:
    (prompt,) = peers.outcome(case).prompts

    for text in case.prompt_contains:
        assert text in prompt
    for text in case.prompt_excludes:
        assert text not in prompt
    assert prompt.count("</alert-data>") == 1


@pytest.mark.parametrize("case", cases(where=lambda c: c.prompt_max_chars is not None))
def test_huge_values_are_cut_before_the_model_sees_them(peers: Peers, case: HostileCase) -> None:
    (prompt,) = peers.outcome(case).prompts

    assert case.prompt_max_chars is not None
    assert len(prompt) <= case.prompt_max_chars


@pytest.mark.parametrize("case", cases(where=lambda c: c.delivered_excludes))
def test_destinations_never_receive_active_markup_from_the_model(
    peers: Peers, case: HostileCase
) -> None:
    (delivered,) = peers.outcome(case).delivered
    document = delivered.json()
    # The original payload travels unchanged by design; everything else is checked.
    shown = "\n".join(strings({k: v for k, v in document.items() if k != "alertmanager"}))

    assert document["explained"] is True
    for text in case.delivered_excludes:
        assert text not in shown


def test_a_chunked_body_over_the_limit_is_refused_without_a_content_length(
    peers: Peers,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", peers.service.port, timeout=30)
    chunks = (b"x" * 65536 for _ in range(160))  # 10 MiB, above max_body_bytes
    try:
        connection.request(
            "POST",
            "/webhook",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the service dropped the connection instead of answering 413")
    finally:
        connection.close()

    assert status == 413
    assert "exceeds the limit" in body["error"]
    assert peers.service.get("/healthz").status == 200


@pytest.mark.parametrize("case", cases())
def test_nothing_crashes_inside_the_service(peers: Peers, case: HostileCase) -> None:
    log = peers.outcome(case).log

    for sign in ("crashed", "Traceback", "Exception in ASGI application"):
        assert sign not in log


def test_the_corpus_files_all_load() -> None:
    files = sorted(p.name for p in (Path(__file__).parent / "hostile").glob("*.json"))

    assert len(CASES) > 100
    assert "secrets.json" in files
    assert {c.needs for c in CASES} <= {None, "redaction", "sanitization"}
