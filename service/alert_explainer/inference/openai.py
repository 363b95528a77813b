"""`api: openai`: any OpenAI-compatible chat-completions endpoint.

OpenAI, Azure OpenAI, LiteLLM, vLLM, Ollama, llama.cpp's server, Gemini's OpenAI endpoint...
The body holds only what OpenAI's API accepts, `model`, `messages` and the optional
`max_tokens` and `temperature`: OpenAI answers 400 to any field it does not know, so no
`provider`, `metadata` or `stream` is ever sent. The key goes as `Authorization: Bearer`,
Azure's `api-key` header, or not at all (a local server).

Answers are read as OpenAI documents them, with what compatible servers do differently:
content given as a list of parts (Mistral), and a model's reasoning left in the content as
a leading `<think>...</think>` block (reasoning models served without a reasoning parser).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from alert_explainer.config import BackendSettings
from alert_explainer.errors import InferenceError
from alert_explainer.inference.backend import Backend
from alert_explainer.prompts import ChatMessage
from alert_explainer.transport import HttpResponse

_REASONING = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)


def request_body(
    settings: BackendSettings, messages: Sequence[ChatMessage], *, model: str
) -> dict[str, Any]:
    """The exact JSON body: model and messages, plus max_tokens/temperature when configured."""
    body: dict[str, Any] = {"model": model, "messages": [m.as_dict() for m in messages]}
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    return body


def completion_text(content: object) -> str:
    """The answer's text: a string, or the text parts of a list; reasoning left out."""
    if isinstance(content, list):
        content = "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    if not isinstance(content, str):
        raise TypeError("content is not text")
    if content.lstrip().startswith("<think>"):
        # A cut-off reasoning block (max_tokens reached while thinking) holds no answer.
        return _REASONING.sub("", content, count=1).lstrip() if _REASONING.match(content) else ""
    return content


class OpenAIBackend(Backend):
    """An OpenAI-compatible chat-completions API."""

    api = "openai"

    @staticmethod
    def body(
        settings: BackendSettings,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        # `metadata` stays here: OpenAI would store it with the completion, not use it.
        return request_body(settings, messages, model=model)

    def content(self, data: Any) -> str:
        return completion_text(data["choices"][0]["message"]["content"])

    def refusal(self, response: HttpResponse) -> InferenceError:
        # OpenAI says "out of credit" as a 429; waiting for it inside the deadline is useless.
        if response.status == 429 and _error_code(response) == "insufficient_quota":
            return InferenceError(
                "inference API quota exhausted (429 insufficient_quota)",
                code="payment_required",
                retryable=False,
            )
        return super().refusal(response)


def _error_code(response: HttpResponse) -> str | None:
    """`error.code` (or `error.type`) of an OpenAI error body, if it is one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    code = error.get("code") or error.get("type")
    return code if isinstance(code, str) else None
