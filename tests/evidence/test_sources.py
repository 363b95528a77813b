"""Sources that fail, hang, lie or flood: each becomes one line, on time, never an error."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alert_explainer.metrics import Metrics
from alert_explainer.transport import HttpClient
from tests.evidence.support import crash_loop_alert, gather, gatherer, lines, notification
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer, Reply
from tests.support.silent import SilentServer

pytestmark = pytest.mark.anyio

MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": []}}


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


async def test_prometheus_down_is_said_once(recorder: RecordingServer) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    evidence = await gather(url, notification(crash_loop_alert()))

    assert lines(evidence) == [
        "evidence unavailable: prometheus: cannot connect: connection refused"
    ]


async def test_a_prometheus_that_accepts_and_never_answers_times_out_within_the_budget(
    silent: SilentServer,
) -> None:
    started = time.monotonic()

    evidence = await gather(silent.url, notification(crash_loop_alert()), timeout=1)

    assert time.monotonic() - started < 1.5
    (line,) = lines(evidence)
    assert line.startswith("evidence unavailable: prometheus: timed out after 0.9")


async def test_a_slow_prometheus_times_out_within_the_budget(recorder: RecordingServer) -> None:
    recorder.default = Reply.json(MATRIX, delay=3)
    started = time.monotonic()

    evidence = await gather(recorder.url, notification(crash_loop_alert()), timeout=1)

    assert time.monotonic() - started < 1.5
    assert lines(evidence)[0].startswith("evidence unavailable: prometheus: timed out after")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, b"upstream connect error"), "answered 500"),
        (
            Reply.json(
                {"status": "error", "errorType": "timeout", "error": "query timed out"}, 503
            ),
            "query failed (timeout): query timed out",
        ),
        (Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}), "answer is not JSON"),
        (Reply.json({"status": "success", "data": {"resultType": "string"}}), "not a query result"),
        (Reply(401, b"no"), "unauthorised (401)"),
        (Reply(200, b"[" + b"0," * 3_000_000 + b"0]"), "answer larger than 4 MiB"),
    ],
    ids=["500", "error-json", "not-json", "wrong-shape", "401", "huge"],
)
async def test_a_broken_answer_becomes_one_line_with_the_reason(
    recorder: RecordingServer, reply: Reply, reason: str
) -> None:
    recorder.default = reply

    evidence = await gather(recorder.url, notification(crash_loop_alert()))

    (line,) = lines(evidence)
    assert line.startswith("evidence unavailable: prometheus: ")
    assert line.endswith(reason)


async def test_the_query_apis_warnings_are_passed_on(recorder: RecordingServer) -> None:
    recorder.default = Reply.json({**MATRIX, "warnings": ["partial response: store down"]})

    evidence = await gather(recorder.url, notification(crash_loop_alert()))

    assert "Prometheus warning: partial response: store down" in lines(evidence, "expression")


async def test_credentials_and_headers_are_sent_and_long_queries_are_posted(
    recorder: RecordingServer, tmp_path: object
) -> None:
    recorder.default = Reply.json(MATRIX)
    long_pod = "p" * 2500
    note = notification(crash_loop_alert(labels={"pod": long_pod}))

    await gather(
        recorder.url + "/prometheus",
        note,
        prometheus={
            "url": recorder.url + "/prometheus",
            "bearer_token": "s3cret-token",
            "headers": {"X-Scope-OrgID": "tenant-1"},
        },
    )

    requests = recorder.received
    # The external labels' reading runs in the background: it may have been sent too.
    assert {r.path for r in requests} - {"/prometheus/api/v1/status/config"} == {
        "/prometheus/api/v1/query",
        "/prometheus/api/v1/query_range",
    }
    assert all(r.headers["Authorization"] == "Bearer s3cret-token" for r in requests)
    assert all(r.headers["X-Scope-OrgID"] == "tenant-1" for r in requests)
    posted = [r for r in requests if r.method == "POST"]
    assert posted
    assert all(long_pod in r.body.decode() for r in posted)
    assert all(len(r.path) + len(json.dumps(r.query)) < 2100 for r in requests if r.method == "GET")
    # Prometheus is told the time left, so an expensive query stops there too.
    queries = [r for r in requests if r.method == "GET" and "/query" in r.path]
    assert all(r.query.get("timeout", "").endswith("ms") for r in queries)


async def test_in_a_storm_gatherings_beyond_the_concurrency_are_skipped_at_once(
    silent: SilentServer, http: HttpClient
) -> None:
    metrics = Metrics(["default"], [], {})
    evidence_of = gatherer(silent.url, http, metrics=metrics, timeout=1, concurrency=4)
    now = datetime.now(UTC)
    storm = [
        asyncio.create_task(evidence_of.gather(notification(crash_loop_alert()), now))
        for _ in range(4)
    ]
    await asyncio.sleep(0.1)  # every one of them is waiting on Prometheus
    started = time.monotonic()

    skipped = await evidence_of.gather(notification(crash_loop_alert()), now)

    assert time.monotonic() - started < 0.5  # at once, not after the 1 s timeout
    assert lines(skipped) == [
        "evidence unavailable: all sources: skipped, 4 notifications are gathering evidence already"
    ]
    assert metrics.registry.get_sample_value("alert_explainer_evidence_skipped_total") == 1
    await asyncio.gather(*storm)
    after = await evidence_of.gather(notification(crash_loop_alert()), now)
    assert lines(after)[0].startswith("evidence unavailable: prometheus: timed out")
