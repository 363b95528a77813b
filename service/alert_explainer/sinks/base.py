"""What every destination receives (`Message`) and the one method it implements (`Sink`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.errors import SinkError, TransportError
from alert_explainer.prompts import timestamp
from alert_explainer.retry import retry_until
from alert_explainer.transport import HttpClient, HttpResponse

UNAVAILABLE = "explanation unavailable"


@dataclass(frozen=True, slots=True)
class Message:
    """A notification ready to deliver: the alerts plus their explanation or why there is none."""

    route: str
    notification: Notification
    explanation: str | None = None
    error: str | None = None
    model: str | None = None

    @property
    def explained(self) -> bool:
        """Whether the model's explanation is included."""
        return self.explanation is not None

    @property
    def headline(self) -> str:
        """One line: status, alert count and group, e.g. "[FIRING:2] alertname=X"."""
        n = self.notification
        count = len(n.firing) if n.status == "firing" else len(n.alerts)
        return f"[{n.status.upper()}:{count}] {n.title}"

    @property
    def summary(self) -> str:
        """The text to show: the explanation, or the marked fallback with the plain alerts."""
        if self.explanation is not None:
            return self.explanation
        plain = plain_text(self.notification)
        if self.error is not None:
            return f"{UNAVAILABLE}: {self.error}\n\n{plain}"
        return plain


def plain_text(notification: Notification, limit: int = 20) -> str:
    """The alerts without any model: a headline per alert and its main annotations."""
    lines = [f"[{notification.status.upper()}] {notification.title}"]
    for alert in notification.alerts[:limit]:
        lines.extend(_alert_lines(alert))
    hidden = len(notification.alerts) - limit + notification.truncated_alerts
    if hidden > 0:
        lines.append(f"... and {hidden} more alert{'s' if hidden != 1 else ''}")
    return "\n".join(lines)


def _alert_lines(alert: Alert) -> list[str]:
    severity = f" ({alert.severity})" if alert.severity else ""
    text = alert.annotations.get("summary") or alert.annotations.get("description", "")
    lines = [f"- {alert.status}: {alert.name}{severity}{': ' + text if text else ''}"]
    others = {k: v for k, v in alert.labels.items() if k not in ("alertname", "severity")}
    if others:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(others.items())))
    lines.append(f"  since: {timestamp(alert.starts_at)}")
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        lines.append(f"  runbook: {runbook}")
    return lines


class Sink(Protocol):
    """A destination. `send` returns once the destination accepted the message.

    It raises SinkError otherwise, with `retryable` telling whether Alertmanager's retry
    may succeed. It never logs or raises its URL: the URL is usually the secret.
    """

    name: str

    async def send(self, message: Message) -> None:
        """Deliver one message."""
        ...


class HttpPoster:
    """POSTs JSON to one destination URL with retries on 429 and 5xx inside `timeout`."""

    def __init__(self, sink: str, http: HttpClient, url: str, timeout: float) -> None:
        self._sink = sink
        self._http = http
        self._url = url
        self._timeout = timeout

    async def post(self, payload: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        """The destination's 2xx answer; SinkError for anything else."""
        deadline = asyncio.get_running_loop().time() + self._timeout

        async def attempt(seconds_left: float) -> HttpResponse:
            try:
                response = await self._http.post_json(
                    self._url, payload, timeout=seconds_left, headers=headers
                )
            except TransportError as exc:
                raise SinkError(self._sink, str(exc), retryable=True) from None
            if 200 <= response.status < 300:
                return response
            retryable = response.status == 429 or response.status >= 500
            raise SinkError(
                self._sink,
                f"answered {response.status}: {response.text() or '(empty body)'}",
                retryable=retryable,
                retry_after=response.retry_after(),
            )

        return await retry_until(deadline, attempt)
