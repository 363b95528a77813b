"""The alert facts every destination shows beside the explanation, computed once.

Status, severity, counts, group labels and the links an on-call engineer needs (runbook,
the alert's source graph, Alertmanager and a pre-filled silence form). Nothing here is
escaped: each destination escapes for its own markup when it renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.prompts import timestamp

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled http(s) URL."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about a notification without the model."""

    title: str  # "[FIRING:2] alertname=X, namespace=y"
    status: str  # "firing" or "resolved"
    severity: str  # the common severity label, "mixed" or "none"
    firing: int
    resolved: int
    not_sent: int  # alerts Alertmanager left out (max_alerts)
    group: str  # the group labels as one line
    group_labels: dict[str, str]
    links: list[Link]

    @property
    def alerts_text(self) -> str:
        """E.g. "2 firing, 1 resolved (+3 not sent)"."""
        text = f"{self.firing} firing, {self.resolved} resolved"
        return f"{text} (+{self.not_sent} not sent)" if self.not_sent else text

    def pairs(self) -> list[tuple[str, str]]:
        """The facts as (label, value) rows, in the order destinations show them."""
        return [
            ("Status", self.status),
            ("Severity", self.severity),
            ("Alerts", self.alerts_text),
            ("Group", self.group),
        ]


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL, the only kind we ever turn into a link."""
    return url.startswith(("http://", "https://")) and len(url) > len("https://")


def silence_url(notification: Notification) -> str | None:
    """Alertmanager's "new silence" page pre-filled with the group's labels."""
    if not is_http_url(notification.external_url):
        return None
    labels = notification.group_labels or notification.common_labels
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    base = notification.external_url.rstrip("/")
    return f"{base}/#/silences/new?filter={quote('{' + matchers + '}')}"


def severity(notification: Notification) -> str:
    """The group's severity: the common label, "mixed" when alerts differ, "none" without."""
    common = notification.common_labels.get("severity")
    if common:
        return common
    return "mixed" if any(a.severity for a in notification.alerts) else "none"


def group_links(notification: Notification, runbook_fallback: str | None = None) -> list[Link]:
    """Runbook, source, Alertmanager and silence links for the whole group, when known.

    Without a runbook_url annotation, the catalogue's runbook (`runbook_fallback`) is shown.
    """
    runbook = (
        notification.common_annotations.get("runbook_url")
        or next(
            (
                a.annotations["runbook_url"]
                for a in notification.alerts
                if "runbook_url" in a.annotations
            ),
            "",
        )
        or runbook_fallback
        or ""
    )
    source = next((a.generator_url for a in notification.alerts if a.generator_url), "")
    candidates = [
        Link("Runbook", runbook),
        Link("Source", source),
        Link("Alertmanager", notification.external_url),
        Link("Silence", silence_url(notification) or ""),
    ]
    return [link for link in candidates if is_http_url(link.url)]


def alert_links(alert: Alert) -> list[Link]:
    """The alert's own runbook and source links."""
    candidates = [
        Link("runbook", alert.annotations.get("runbook_url", "")),
        Link("source", alert.generator_url),
    ]
    return [link for link in candidates if is_http_url(link.url)]


def alert_summary(alert: Alert) -> str:
    """The alert's one-line text: its summary annotation, else its description."""
    return alert.annotations.get("summary") or alert.annotations.get("description", "")


def alert_labels(alert: Alert) -> str:
    """The labels that tell alerts of a group apart (alertname and severity are shown anyway)."""
    others = {k: v for k, v in alert.labels.items() if k not in ("alertname", "severity")}
    return ", ".join(f"{k}={v}" for k, v in sorted(others.items()))


def alert_since(alert: Alert) -> str:
    """When the alert started, as RFC 3339 UTC, or "" when unknown."""
    return timestamp(alert.starts_at) if alert.starts_at else ""


def facts(notification: Notification, title: str, runbook: str | None = None) -> Facts:
    """The facts of `notification`; `title` is the message's status headline.

    `runbook` is the catalogue's, for a group whose alerts carry none.
    """
    return Facts(
        title=title,
        status=notification.status,
        severity=severity(notification),
        firing=len(notification.firing),
        resolved=len(notification.resolved),
        not_sent=notification.truncated_alerts,
        group=notification.title,
        group_labels=dict(notification.group_labels),
        links=group_links(notification, runbook),
    )
