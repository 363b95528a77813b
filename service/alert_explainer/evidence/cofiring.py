"""Co-firing alerts: what else is firing right now where this group is.

Alertmanager's API (`GET /api/v2/alerts?active=true&silenced=false&inhibited=false`) is
asked once per place the group is in (its namespace, node, instance or service), with a
`filter` matcher whose value is escaped, so a label value cannot widen the filter. The
group's own alerts are left out; the rest are counted by alertname, at most ten.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

from alert_explainer.alertmanager import Alert
from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.model import EvidenceItem
from alert_explainer.evidence.promql import string_literal
from alert_explainer.evidence.queries import Queries

SOURCE = "alertmanager"
PLACES = ("namespace", "node", "instance", "service")
MAX_VALUES_PER_PLACE = 3
MAX_NAMES = 10


def places(alerts: Sequence[Alert]) -> list[tuple[str, str]]:
    """(label, value) pairs the group is in, a few values per label at most."""
    found: list[tuple[str, str]] = []
    for label in PLACES:
        values = sorted({a.labels[label] for a in alerts if a.labels.get(label)})
        found += [(label, v) for v in values[:MAX_VALUES_PER_PLACE]]
    return found


def filter_matcher(label: str, value: str) -> str:
    r"""An Alertmanager filter matcher for label == value, the value quoted and escaped.

    Only the escapes both of Alertmanager's matcher parsers read alike: \\, \" and \n.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


async def cofiring_item(queries: Queries, alerts: Sequence[Alert]) -> EvidenceItem | None:
    """Other alerts firing in the group's places, by alertname; None when it has none."""
    where = places(alerts)
    if not where:
        return None
    answers = await asyncio.gather(*(_active(queries, label, v) for label, v in where))
    own = {a.fingerprint for a in alerts if a.fingerprint}
    own_labels = [a.labels for a in alerts]
    counts: Counter[str] = Counter()
    shared: dict[str, set[str]] = {}
    seen: set[str] = set()
    for (label, value), found in zip(where, answers, strict=True):
        for alert in found:
            fingerprint = str(alert.get("fingerprint", ""))
            labels = alert.get("labels")
            if not isinstance(labels, dict) or fingerprint in own or labels in own_labels:
                continue
            shared.setdefault(str(labels.get("alertname", "(unnamed)")), set()).add(
                f"{label}={string_literal(value)}"  # shown, not sent
            )
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            counts[str(labels.get("alertname", "(unnamed)"))] += 1
    title = "Other alerts firing now (same " + "/".join(sorted({p for p, _ in where})) + ")"
    if not counts:
        return EvidenceItem(SOURCE, title, ("none",))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    lines = [
        f"{name}: {count} ({', '.join(sorted(shared[name]))})" for name, count in ranked[:MAX_NAMES]
    ]
    if len(ranked) > MAX_NAMES:
        rest = sum(count for _, count in ranked[MAX_NAMES:])
        lines.append(f"+{len(ranked) - MAX_NAMES} more alertnames ({rest} alerts)")
    return EvidenceItem(SOURCE, title, tuple(lines))


async def _active(queries: Queries, label: str, value: str) -> list[dict[str, object]]:
    params = [
        ("active", "true"),
        ("silenced", "false"),
        ("inhibited", "false"),
        ("filter", filter_matcher(label, value)),
    ]
    response = await queries.alerts(params)
    if response.status != 200:
        raise EvidenceError(f"answered {response.status}", outcome="error")
    try:
        data = json.loads(response.body)
    except ValueError:
        raise EvidenceError("answer is not JSON", outcome="invalid") from None
    if not isinstance(data, list):
        raise EvidenceError("answer is not a list of alerts", outcome="invalid")
    return [a for a in data if isinstance(a, dict)]
