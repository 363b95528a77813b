"""The Clanker Cloud inference client (contract: docs/clanker-inference-api.md).

One call = one POST of `{provider?, model, messages, metadata}`; the answer's
`choices[0].message.content` is the explanation. 400/401/402/403 are final; 429, 5xx and
connection failures are retried with backoff inside one overall deadline. A 200 that is
not the documented shape is an error too, and is not retried: it may already be billed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alert_explainer.config import InferenceSettings
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


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the model said, and about what it was asked."""

    text: str
    model: str
    usage: dict[str, int] | None = None


def request_body(
    settings: InferenceSettings,
    messages: Sequence[ChatMessage],
    *,
    model: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The exact JSON body sent for these messages (also what `render` prints).

    `provider` only when configured; never `stream`, never credentials.
    """
    body: dict[str, Any] = {}
    if settings.provider:
        body["provider"] = settings.provider
    body["model"] = model
    body["messages"] = [m.as_dict() for m in messages]
    body["metadata"] = {**settings.metadata, "source": settings.source, **metadata}
    return body


class InferenceClient:
    """Asks the inference API to explain a rendered prompt."""

    def __init__(
        self, http: HttpClient, settings: InferenceSettings, metrics: Metrics | None = None
    ) -> None:
        self._http = http
        self._settings = settings
        self._metrics = metrics
        self._api_key = settings.resolved_api_key()

    @property
    def configured(self) -> bool:
        """Whether an API key is available; without one no call is ever made."""
        return self._api_key is not None

    def _headers(self) -> dict[str, str]:
        assert self._api_key is not None
        if self._settings.auth == "bearer":
            return {"Authorization": f"Bearer {self._api_key}"}
        return {"X-API-Key": self._api_key}

    async def explain(
        self, messages: Sequence[ChatMessage], *, model: str, metadata: dict[str, Any]
    ) -> Explanation:
        """Call the API within `timeout` seconds overall; raise InferenceError with a reason."""
        if not self.configured:
            raise InferenceError("no API key configured", code="no_api_key", retryable=False)
        body = request_body(self._settings, messages, model=model, metadata=metadata)
        deadline = asyncio.get_running_loop().time() + self._settings.timeout

        async def attempt(seconds_left: float) -> Explanation:
            return await self._call(body, model, seconds_left)

        return await retry_until(deadline, attempt)

    async def _call(self, body: dict[str, Any], model: str, seconds_left: float) -> Explanation:
        started = time.perf_counter()
        outcome = "ok"
        try:
            response = await self._http.post_json(
                self._settings.url, body, timeout=seconds_left, headers=self._headers()
            )
            return _parse(response, model)
        except TransportError as exc:
            outcome = "timeout" if exc.timeout else "connection_error"
            reason = (
                f"inference API timed out after {self._settings.timeout:g} s"
                if exc.timeout
                else f"inference API unreachable: {exc}"
            )
            raise InferenceError(reason, code=outcome, retryable=True) from None
        except InferenceError as exc:
            outcome = exc.code
            raise
        finally:
            if self._metrics is not None:
                self._metrics.inference_requests.labels(model, outcome).inc()
                self._metrics.inference_duration.labels(model).observe(
                    time.perf_counter() - started
                )


def _parse(response: HttpResponse, model: str) -> Explanation:
    status = response.status
    if status in _FINAL:
        code, reason = _FINAL[status]
        raise InferenceError(reason, code=code, retryable=False)
    if status == 429:
        raise InferenceError(
            "inference API rate limit reached (429)",
            code="rate_limited",
            retryable=True,
            retry_after=response.retry_after(),
        )
    if status >= 500 or status == 408:
        raise InferenceError(
            f"inference API unavailable ({status})",
            code="server_error",
            retryable=True,
            retry_after=response.retry_after(),
        )
    if status != 200:
        raise InferenceError(
            f"inference API answered {status}", code="client_error", retryable=False
        )
    return _explanation(response, model)


def _explanation(response: HttpResponse, model: str) -> Explanation:
    invalid = InferenceError(
        "inference API answered 200 without a usable explanation",
        code="invalid_response",
        retryable=False,
    )
    try:
        data = response.json()
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise invalid from None
    if not isinstance(content, str) or not content.strip():
        raise invalid
    usage = data.get("usage")
    return Explanation(
        text=content.strip(),
        model=str(data.get("model") or model),
        usage={k: v for k, v in usage.items() if isinstance(v, int)}
        if isinstance(usage, dict)
        else None,
    )
