"""The backend interface: one inference API asked for one explanation, within a deadline.

A backend turns the chat messages into its API's request body, sends it with its
authentication and reads `choices[0].message.content` from the answer. Statuses mean the
same for every API: 400/401/402/403 and other 4xx are final; 408, 429, 5xx and connection
failures are retried with backoff until the backend's timeout (or the chain's deadline, if
that comes first). A 200 that is not a usable completion is an error too, and is not
retried: it may already be billed.
"""

from __future__ import annotations

import abc
import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from alert_explainer.config import BackendSettings
from alert_explainer.config.inference import AUTH_HEADERS
from alert_explainer.errors import InferenceError, TransportError
from alert_explainer.metrics import Metrics
from alert_explainer.prompts import ChatMessage
from alert_explainer.retry import retry_until
from alert_explainer.transport import HttpClient, HttpResponse

# Final answers with a fixed meaning: (metric code, reason shown to the on-call engineer).
_FINAL = {
    400: ("bad_request", "inference API rejected the request (400)"),
    401: ("unauthorized", "inference API key rejected (401)"),
    402: ("payment_required", "paid account required"),
    403: ("forbidden", "inference API access denied (403)"),
}


def no_api_key() -> InferenceError:
    """The error of a backend that needs a key and has none: it is never called."""
    return InferenceError("no API key configured", code="no_api_key", retryable=False)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the model said, which model said it, and through which backend.

    `model` is the name the answer gives (Azure names the exact version, for example);
    `requested` is the configured name that was asked for, what metrics are labelled by.
    """

    text: str
    model: str
    usage: dict[str, int] | None = None
    backend: str | None = None
    requested: str | None = None


class Backend(abc.ABC):
    """An inference API the service can ask; subclasses say how its requests look."""

    api: ClassVar[str]

    def __init__(
        self,
        http: HttpClient,
        settings: BackendSettings,
        metrics: Metrics | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._http = http
        self.settings = settings
        self._metrics = metrics
        self._tls = tls
        self._api_key = settings.resolved_api_key() if settings.needs_key else None

    @property
    def name(self) -> str:
        """The backend's name in configuration, metrics, logs and fallback texts."""
        return self.settings.name

    @property
    def model(self) -> str:
        """The model asked for unless a route names another."""
        return self.settings.model

    @property
    def configured(self) -> bool:
        """Whether it can be called: it needs no key, or it has one."""
        return not self.settings.needs_key or self._api_key is not None

    @staticmethod
    @abc.abstractmethod
    def body(
        settings: BackendSettings,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        """The exact JSON body this API is sent for these messages (also what `render` prints)."""

    def request_body(
        self, messages: Sequence[ChatMessage], *, model: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """This backend's body for these messages."""
        return self.body(self.settings, messages, model=model, metadata=metadata)

    def headers(self) -> dict[str, str]:
        """The configured extra headers plus the authentication header."""
        headers = {k: v.get_secret_value() for k, v in self.settings.headers.items()}
        if self.settings.auth == "none" or self._api_key is None:
            return headers
        value = f"Bearer {self._api_key}" if self.settings.auth == "bearer" else self._api_key
        return {**headers, AUTH_HEADERS[self.settings.auth]: value}

    def content(self, data: Any) -> str:
        """The explanation in a parsed 200 answer; raises LookupError or TypeError if absent."""
        content = data["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("content is not a string")
        return content

    def refusal(self, response: HttpResponse) -> InferenceError:
        """The error a non-200 answer means (retryable or not)."""
        status = response.status
        if status in _FINAL:
            code, reason = _FINAL[status]
            return InferenceError(reason, code=code, retryable=False)
        if status == 429:
            return InferenceError(
                "inference API rate limit reached (429)",
                code="rate_limited",
                retryable=True,
                retry_after=response.retry_after(),
            )
        if status >= 500 or status == 408:
            return InferenceError(
                f"inference API unavailable ({status})",
                code="server_error",
                retryable=True,
                retry_after=response.retry_after(),
            )
        return InferenceError(
            f"inference API answered {status}", code="client_error", retryable=False
        )

    async def explain(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        metadata: dict[str, Any],
        deadline: float | None = None,
    ) -> Explanation:
        """Ask within `timeout` seconds, or until `deadline` (loop clock) if that is sooner.

        Raises InferenceError with a reason when no explanation comes.
        """
        if not self.configured:
            raise no_api_key()
        body = self.request_body(messages, model=model, metadata=metadata)
        loop = asyncio.get_running_loop()
        own = loop.time() + self.settings.timeout
        ends = own if deadline is None else min(own, deadline)
        allowed = ends - loop.time()

        async def attempt(seconds_left: float) -> Explanation:
            return await self._call(body, model, seconds_left, allowed)

        return await retry_until(ends, attempt)

    async def _call(
        self, body: dict[str, Any], model: str, seconds_left: float, allowed: float
    ) -> Explanation:
        started = time.perf_counter()
        outcome = "ok"
        try:
            response = await self._http.post_json(
                self.settings.url,
                body,
                timeout=seconds_left,
                headers=self.headers(),
                tls=self._tls,
            )
            if response.status != 200:
                raise self.refusal(response)
            return self._explanation(response, model)
        except TransportError as exc:
            outcome = "timeout" if exc.timeout else "connection_error"
            reason = (
                f"inference API timed out after {max(round(allowed, 1), 0.1):g} s"
                if exc.timeout
                else f"inference API unreachable: {exc}"
            )
            raise InferenceError(reason, code=outcome, retryable=True) from None
        except InferenceError as exc:
            outcome = exc.code
            raise
        finally:
            if self._metrics is not None:
                self._metrics.inference_requests.labels(self.name, model, outcome).inc()
                self._metrics.inference_duration.labels(self.name, model).observe(
                    time.perf_counter() - started
                )

    def _explanation(self, response: HttpResponse, model: str) -> Explanation:
        invalid = InferenceError(
            "inference API answered 200 without a usable explanation",
            code="invalid_response",
            retryable=False,
        )
        try:
            data = response.json()
            content = self.content(data).strip()
        except (ValueError, LookupError, TypeError):
            raise invalid from None
        if not content:
            raise invalid
        usage = data.get("usage")
        answered = data.get("model")
        return Explanation(
            text=content,
            model=answered if isinstance(answered, str) and answered.strip() else model,
            usage={k: v for k, v in usage.items() if type(v) is int}
            if isinstance(usage, dict)
            else None,
            backend=self.name,
            requested=model,
        )
