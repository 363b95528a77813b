"""The exceptions alert-explainer raises, each with a message a user can act on.

    AlertExplainerError
    ├── ConfigError            the configuration file or environment is wrong
    ├── PayloadError           a webhook request cannot be accepted (carries its HTTP status)
    ├── TemplateError          a prompt template fails to compile or render
    ├── EvidenceError          an evidence source gave nothing usable (carries a short reason)
    └── DeliveryError          something outbound failed
        ├── InferenceError     the inference API gave no usable explanation (carries a short reason)
        ├── SinkError          one destination did not accept a message
        └── TransportError     the connection itself failed (refused, reset, timed out)

Foreign exceptions (aiohttp, pydantic, jinja2) are mapped to these at the module boundary
that meets them, so callers never need to know which library sits underneath.
"""

from __future__ import annotations


class AlertExplainerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(AlertExplainerError):
    """The configuration cannot be used; `problems` lists every issue found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class PayloadError(AlertExplainerError):
    """A webhook request cannot be accepted; answered with `status` and the message as JSON."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class TemplateError(AlertExplainerError):
    """A prompt template does not compile or does not render for a notification."""


class EvidenceError(AlertExplainerError):
    """An evidence source (Prometheus, Alertmanager) gave nothing usable.

    `reason` is the short text shown after "evidence unavailable: <source>:"; `outcome` is a
    bounded identifier used as a metric label (timeout, error, too_large, invalid, ...).
    """

    def __init__(self, reason: str, *, outcome: str) -> None:
        self.reason = reason
        self.outcome = outcome
        super().__init__(reason)


class DeliveryError(AlertExplainerError):
    """An outbound call failed. `retryable` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


class TransportError(DeliveryError):
    """The connection failed before an HTTP answer arrived (refused, reset, timed out)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        self.timeout = timeout
        super().__init__(message, retryable=True)


class InferenceError(DeliveryError):
    """The inference API gave no usable explanation.

    `reason` is the short human text shown after "explanation unavailable:"; `code` is a
    bounded identifier used as a metric label.
    """

    def __init__(
        self, reason: str, *, code: str, retryable: bool, retry_after: float | None = None
    ) -> None:
        self.reason = reason
        self.code = code
        self.retry_after = retry_after
        super().__init__(reason, retryable=retryable)


class SinkError(DeliveryError):
    """A destination did not accept a message."""

    def __init__(
        self, sink: str, message: str, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        self.sink = sink
        self.retry_after = retry_after
        super().__init__(f"sink {sink!r}: {message}", retryable=retryable)
