"""Messages and delivery helpers shared by the destination tests."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import SinkSettings
from alert_explainer.evidence import Evidence, EvidenceItem
from alert_explainer.since import Noun, Since
from alert_explainer.sinks import build_sink
from alert_explainer.sinks.base import Message
from alert_explainer.store import MemoryStore, StateStore
from alert_explainer.transport import HttpClient

FIXTURES = Path(__file__).parent.parent / "fixtures"
SECRET = "s3cr3t-T0KEN-do-not-leak"
# Everything a hostile label, annotation or model answer might try in some markup.
HOSTILE = (
    "<!channel> <!here> @everyone @here @channel @all <@123> <users/all> "
    "<script>alert(1)</script> & *bold* _it_ ~strike~ `code` [click](http://evil.example)"
)
EXPLANATION = """Headline: Payments API pods are crash looping in namespace payments
What is happening: Two api pods restart repeatedly, so part of the payments traffic fails.
Likely cause: A bad deploy or a missing secret makes the container exit at start-up.
First checks:
- kubectl -n payments logs api-7d9f --previous
- Check the KubePodCrashLooping runbook
"""

# What gathering finds for the fixture's crash-looping pods.
EVIDENCE = Evidence(
    (
        EvidenceItem(
            "expression",
            "Alert expression",
            (
                "query: max_over_time(kube_pod_container_status_waiting_reason[5m]) "
                "(alert when >= 1)",
                'pod="api-7d9f": now 1, min 0, max 1, >= 1 since 09:32Z (28 min ago) ▁▁▁███',
            ),
        ),
        EvidenceItem("recipe", "Last termination reason", ("api: OOMKilled",)),
        EvidenceItem(
            "prometheus", "Evidence unavailable", ("evidence unavailable: history: timed out",)
        ),
    )
)
MARKER = "evidence-marker"

_SETTINGS: TypeAdapter[SinkSettings] = TypeAdapter(SinkSettings)


def fixture_payload(name: str = "alertmanager-firing.json") -> dict[str, Any]:
    """A fresh copy of a stored Alertmanager webhook body."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def notification(payload: dict[str, Any] | None = None) -> Notification:
    """The notification a webhook body parses to (the firing fixture by default)."""
    return parse_notification(json.dumps(payload or fixture_payload()).encode())


def message(
    explanation: str | None = EXPLANATION,
    payload: dict[str, Any] | None = None,
    error: str | None = None,
    evidence: Evidence | None = None,
) -> Message:
    """A message for the firing fixture (or `payload`) with `explanation` (and `evidence`)."""
    return Message(
        "default",
        notification(payload),
        explanation,
        error,
        "test-model",
        evidence=evidence or Evidence(),
        backend="test-backend" if explanation is not None else None,
    )


EXPLAINED_AT = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
SINCE = Since(
    explained_at=EXPLAINED_AT,
    seen_at=datetime(2026, 11, 25, 10, 40, tzinfo=UTC),
    firing=5,
    then=4,
    new=3,
    resolved=2,
    noun=Noun("pod", "pods"),
)
REUSE_NOTE = (
    "explanation from 10:05 UTC (35 min ago), still applies: "
    "5 pods firing now, 3 new since, 2 resolved"
)


def reused(original: Message) -> Message:
    """`original` as delivered when its explanation was made for another state of the group."""
    return replace(original, reused=True, explained_at=EXPLAINED_AT, since=SINCE)


def resolved_message() -> Message:
    """The fixture group, resolved, without an explanation (the default for resolutions)."""
    return message(None, fixture_payload("alertmanager-resolved.json"))


def hostile_message() -> Message:
    """HOSTILE text in a label, the annotations, group labels, every explanation part and
    the evidence (its title and lines)."""
    payload = fixture_payload()
    alert = payload["alerts"][0]
    alert["labels"]["pod"] = HOSTILE
    alert["annotations"]["summary"] = HOSTILE
    payload["groupLabels"]["namespace"] = HOSTILE
    explanation = (
        f"Headline: {HOSTILE}\nWhat is happening: {HOSTILE}\n"
        f"Likely cause: {HOSTILE}\nFirst checks:\n- {HOSTILE}\n"
    )
    evidence = Evidence((EvidenceItem("recipe", HOSTILE, (f"{MARKER} {HOSTILE}", HOSTILE)),))
    return message(explanation, payload, evidence=evidence)


def big_explanation(size: int = 10_000) -> str:
    """A structured explanation of about `size` characters (a model ignoring its limit)."""
    sentence = "The payments API keeps restarting because its database pool is exhausted. "
    prose = (sentence * (size // len(sentence) // 3 + 1)).strip()
    checks = "\n".join(f"- Check dependency number {i} of the payments API" for i in range(60))
    return (
        "Headline: Payments API is down for all customers\n"
        f"What is happening: {prose}\nLikely cause: {prose}\nFirst checks:\n{checks}\n"
    )


def storm_message(alerts: int = 500) -> Message:
    """A group of `alerts` firing alerts with a 10 kB explanation."""
    payload = fixture_payload()
    template = payload["alerts"][0]
    payload["alerts"] = []
    for i in range(alerts):
        alert = copy.deepcopy(template)
        alert["labels"]["pod"] = f"api-{i:04d}"
        alert["fingerprint"] = f"{i:016x}"
        payload["alerts"].append(alert)
    return message(big_explanation(), payload, evidence=big_evidence())


def big_evidence(items: int = 20) -> Evidence:
    """Far more evidence than any destination takes (a gathering without its byte cap)."""
    line = 'instance="node-{}": now 4.1%, min 4.1%, max 16%, -6%/h, < 15% since 09:32Z ' + "▁" * 20
    return Evidence(
        tuple(
            EvidenceItem("recipe", f"Recipe {i}", tuple(line.format(j) for j in range(8)))
            for i in range(items)
        )
    )


def settings(**fields: Any) -> SinkSettings:
    """Sink settings validated exactly as the configuration file's `sinks:` entries are."""
    return _SETTINGS.validate_python({"name": "dest", **fields})


async def deliver(
    sink_settings: SinkSettings, *messages: Message, state: StateStore | None = None
) -> None:
    """Build the sink with a real HTTP client and send each message in turn."""
    http = HttpClient()
    try:
        sink = build_sink(sink_settings, http, state or MemoryStore())
        for m in messages:
            await sink.send(m)
    finally:
        await http.aclose()


def unescaped(text: str, specials: str) -> list[str]:
    """The characters of `specials` in `text` that no backslash escapes."""
    found: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in specials:
            found.append(text[i])
        i += 1
    return found


def without_urls(text: str) -> str:
    """`text` with link targets removed: characters inside a URL are never formatting."""
    return re.sub(r"https?://[^\s)\]>\"|]*", "", text)


def texts(node: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(node, dict):
        return [t for v in node.values() for t in texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in texts(v)]
    return [node] if isinstance(node, str) else []
