"""Without an explanation, a catalogued alert is delivered with the catalogue's notes.

In every destination, within its limits: marked as not written by a model, then what it
means, its usual causes and the first checks (placeholders filled), and the evidence.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alert_explainer.catalogue import shipped
from alert_explainer.evidence import Evidence, EvidenceItem
from alert_explainer.sinks.base import Message
from alert_explainer.sinks.layout import Budget, view
from tests.conftest import PrometheusFactory, ServiceFactory
from tests.sinks.support import deliver, fixture_payload, notification, storm_message, texts
from tests.sinks.test_delivery import DESTINATIONS, configured
from tests.support.prometheus import History
from tests.support.recorder import RecordingServer

pytestmark = pytest.mark.anyio

SAMPLE = Path(__file__).parent.parent.parent / "examples" / "alertmanager-payload.json"
ATTRIBUTION = "Not written by a model: alert-explainer's built-in catalogue on KubePodCrashLooping."
MEANING = "The container has exited again and again"
EVIDENCE = Evidence(
    (EvidenceItem("recipe", "Last termination reason", ("api: OOMKilled", "api: exit code 137")),)
)


def fallback(original: Message | None = None) -> Message:
    """The message delivered when the explanation could not be had, notes and evidence in."""
    base = original or Message("default", notification(), model="m")
    return Message(
        base.route,
        base.notification,
        error="no API key configured",
        evidence=EVIDENCE,
        notes=shipped().notes(base.notification),
    )


def shown(recorder: RecordingServer) -> str:
    """Every text the destination got, its markup's escaping undone (HTML, backslashes)."""
    (request,) = recorder.delivered
    return html.unescape("\n".join(texts(request.json()))).replace("\\", "")


@pytest.mark.parametrize("original", [None, storm_message], ids=["small", "500 alerts"])
@pytest.mark.parametrize("name", sorted(DESTINATIONS))
async def test_every_destination_shows_the_notes_marked_as_not_written_by_a_model(
    name: str, original: Callable[[], Message] | None, recorder: RecordingServer
) -> None:
    recorder.default = DESTINATIONS[name].ok
    message = fallback(original() if original else None)

    await deliver(configured(name, recorder.url), message)

    text = shown(recorder)
    assert ATTRIBUTION in text
    assert MEANING in text
    assert "explanation unavailable: no API key configured" in text
    if original is None:  # 500 alerts: the evidence gives way first where room is short
        assert "api: OOMKilled" in text


def test_the_notes_have_their_sections_and_are_shortened_like_an_explanation() -> None:
    message = fallback()

    full = view(message, Budget(10_000, 10, 1000))
    short = view(message, Budget(200, 10, 1000))

    labels = [s.label for s in full.sections]
    assert labels == ["Catalogue notes", "What it means", "Usual causes", "First checks"]
    checks = full.sections[-1].items
    assert (
        "kubectl -n payments describe pod <pod>   (Last State, Exit Code and the Events at the end)"
        in (checks)
    )
    assert short.sections[0].text == ATTRIBUTION  # never shortened away
    assert any(s.text.endswith("… [shortened]") or s.items for s in short.sections[1:])


def test_an_explained_message_shows_no_notes_but_keeps_the_runbook_link() -> None:
    payload = fixture_payload()
    for alert in payload["alerts"]:
        alert["annotations"].pop("runbook_url", None)
    payload["commonAnnotations"].pop("runbook_url", None)
    n = notification(payload)
    message = Message("default", n, "Headline: h\nWhat is happening: w", notes=shipped().notes(n))

    shown_view = view(message, Budget(10_000, 10))

    assert "Catalogue notes" not in [s.label for s in shown_view.sections]
    assert [link.url for link in shown_view.links if link.label == "Runbook"] == [
        "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
    ]


async def test_the_webhook_version_2_carries_the_notes(recorder: RecordingServer) -> None:
    await deliver(configured("webhook", recorder.url).model_copy(update={"version": 2}), fallback())

    (request,) = recorder.delivered
    notes = request.json()["notes"]
    assert notes["alertname"] == "KubePodCrashLooping"
    assert notes["attribution"] == ATTRIBUTION
    assert notes["whatItMeans"].startswith(MEANING)
    assert notes["usualCauses"][0].startswith("the process runs out of memory")
    assert "kubectl -n payments describe pod <pod>" in notes["firstChecks"][0]
    assert request.json()["explanation"] is None


def crash_loop_history() -> History:
    """The sample payload's two pods: OOMKilled, exit code 137, at their memory limit."""
    history = History()
    ksm = {"job": "kube-state-metrics", "instance": "10.244.3.17:8080"}
    for pod in ("api-7d9f", "api-8e1a"):
        own = {**ksm, "namespace": "payments", "pod": pod, "container": "api"}
        history.constant(
            "kube_pod_container_status_last_terminated_reason", {**own, "reason": "OOMKilled"}, 1
        )
        history.constant("kube_pod_container_status_last_terminated_exitcode", own, 137)
    return history


def test_with_no_api_key_the_sample_reaches_every_destination_with_notes_and_evidence(
    service_factory: ServiceFactory,
    prometheus_factory: PrometheusFactory,
    make_recorder: Callable[[], RecordingServer],
) -> None:
    prometheus = prometheus_factory(history=crash_loop_history())
    recorders = {name: make_recorder() for name in sorted(DESTINATIONS)}
    for name, server in recorders.items():
        server.default = DESTINATIONS[name].ok
    sinks = [
        {"name": name, **DESTINATIONS[name].configure(server.url)}
        for name, server in recorders.items()
    ]
    config: dict[str, Any] = {
        "sinks": sinks,
        "routes": [{"name": "default", "sinks": list(recorders)}],
        "evidence": {"prometheus": {"url": prometheus.url}},
    }
    service = service_factory(config)

    result = service.post_payload(json.loads(SAMPLE.read_text()))

    assert result.status == 200, result.json
    assert result.json["explained"] is False
    assert set(result.json["sinks"].values()) == {"delivered"}
    for name, server in recorders.items():
        text = shown(server)
        assert ATTRIBUTION in text, name
        assert MEANING in text, name
        assert "kubectl -n payments logs <pod> -c api --previous" in text, name
        assert "api: OOMKilled" in text, name
        assert "api: exit code 137 (SIGKILL: out of memory, or killed by the kubelet)" in text, name
