"""Emulator of an OpenAI-compatible chat-completions API, for tests and benchmarks.

Three flavours, each as strict as the server it stands for:

- ``openai``: ``POST /v1/chat/completions`` with ``Authorization: Bearer <key>``. Like OpenAI's
  own API it answers 400 ``Unrecognized request argument supplied: <field>`` to any body field
  it does not document, checks the documented types (messages, roles, ``max_tokens``,
  ``temperature``, ``metadata`` as up to 16 string values), and answers in the documented
  shape with ``usage``; errors are ``{"error": {"message", "type", "param", "code"}}``. A key in
  ``quota_keys`` gets OpenAI's ``429 insufficient_quota`` (an account out of credit).
- ``azure``: Azure OpenAI's ``POST /openai/deployments/<deployment>/chat/completions
  ?api-version=...`` with the ``api-key`` header; ``model`` may be left out; the answer names the
  deployed model's version and carries content-filter results.
- ``lenient``: what Ollama, vLLM and llama.cpp's server do: any or no key, unknown fields
  ignored (recorded in ``ignored_fields``), the same answer shape.

Scripted behaviours are the Clanker emulator's (``Behaviour``); ``usage=False`` leaves ``usage``
out of answers, as some local servers do. ``stream`` is a documented field, but this emulator
cannot stream, so ``stream: true`` is answered 400 and recorded as a violation: the service
must never send it.

Standalone: ``python -m tests.support.openai_api --port 9998 --key sk-test`` (from the repo root).
"""

import argparse
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qs

from aiohttp import web

from tests.support.clanker import Behaviour, ClankerEmulator, Reply, explain

OPENAI_PATH = "/v1/chat/completions"
DEFAULT_KEY = "sk-test-openai-key"
DEFAULT_DEPLOYMENT = "alerts-gpt"
AZURE_MODEL = "gpt-4o-2024-08-06"
Flavour = Literal["openai", "azure", "lenient"]

# Every request field OpenAI's chat-completions reference documents; anything else is a 400.
DOCUMENTED_FIELDS = frozenset(
    {
        "messages",
        "model",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_FIELDS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "audio", "function_call"}
)


class BadRequest(Exception):
    """A request OpenAI would answer 400: the message and the offending parameter."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class OpenAIEmulator(ClankerEmulator):
    """An OpenAI-compatible API on 127.0.0.1, recording what it receives.

    ``requests``: every request; ``calls``: those that reached the model; ``violations``: the
    reason of every 400; ``ignored_fields``: unknown fields a lenient server ignored.
    """

    def __init__(
        self,
        keys: set[str] | None = None,
        *,
        flavour: Flavour = "openai",
        quota_keys: set[str] | None = None,
        deployment: str = DEFAULT_DEPLOYMENT,
        answered_model: str | None = None,
        usage: bool = True,
        default: Behaviour | None = None,
        reply: Reply = explain,
    ) -> None:
        super().__init__(paid_keys=keys or {DEFAULT_KEY}, default=default, reply=reply)
        self.flavour = flavour
        self.quota_keys = set(quota_keys or ())
        self.deployment = deployment
        self.answered_model = answered_model or (AZURE_MODEL if flavour == "azure" else None)
        self.usage = usage
        self.ignored_fields: list[str] = []

    @property
    def path(self) -> str:
        if self.flavour == "azure":
            return f"/openai/deployments/{self.deployment}/chat/completions"
        return OPENAI_PATH

    @property
    def url(self) -> str:
        query = "?api-version=2024-10-21" if self.flavour == "azure" else ""
        return f"{self.base_url}{self.path}{query}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = await self.record(request)
        if request.path != self.path:
            return self.error(404, f"Invalid URL (POST {request.path})", code="not_found")
        if self.flavour == "azure" and "api-version" not in parse_qs(request.query_string):
            return self.error(404, "Resource not found", code="404")
        if request.method != "POST":
            return self.error(405, f"method {request.method} not allowed", {"Allow": "POST"})
        refusal = self._authenticate(request.headers)
        if refusal is not None:
            return refusal
        try:
            self._validate(request.content_type, call.body)
        except BadRequest as exc:
            self._violations.append(str(exc))
            return self.error(400, str(exc), code=None, param=exc.param)
        return await self.answer(request, call)

    def _authenticate(self, headers: Mapping[str, str]) -> web.Response | None:
        if self.flavour == "lenient":
            return None
        if self.flavour == "azure":
            key = headers.get("api-key")
            if key is None or key not in self.paid_keys:
                return self.error(
                    401,
                    "Access denied due to invalid subscription key or wrong API endpoint. Make "
                    "sure to provide a valid key for an active subscription and use a correct "
                    "regional API endpoint for your resource.",
                    code="401",
                )
            return None
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        token = token.strip()
        if token in self.quota_keys:
            return self.error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                code="insufficient_quota",
                kind="insufficient_quota",
            )
        if token not in self.paid_keys:
            masked = f"{token[:3]}*****{token[-4:]}" if len(token) > 8 else "*****"
            return self.error(401, f"Incorrect API key provided: {masked}.", code="invalid_api_key")
        return None

    def _validate(self, content_type: str, raw: bytes) -> None:
        if content_type != "application/json":
            raise BadRequest(f"Content-Type must be application/json, got {content_type!r}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise BadRequest("We could not parse the JSON body of your request.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        unknown = sorted(set(data) - DOCUMENTED_FIELDS)
        if unknown and self.flavour == "lenient":
            self.ignored_fields.extend(unknown)
        elif unknown:
            raise BadRequest(f"Unrecognized request argument supplied: {', '.join(unknown)}")
        if data.get("stream"):
            raise BadRequest("stream: this emulator does not stream", "stream")
        model = data.get("model")
        optional = self.flavour == "azure" and model is None  # the deployment names it
        if not optional and (not isinstance(model, str) or not model.strip()):
            raise BadRequest("you must provide a model parameter", "model")
        _check_messages(data.get("messages"))
        _check_number(data, "max_tokens", integer=True, low=1, high=None)
        _check_number(data, "temperature", integer=False, low=0, high=2)
        _check_metadata(data.get("metadata"))

    def completion(self, request: dict[str, Any], model: str, content: str) -> dict[str, Any]:
        answered = self.answered_model or model or AZURE_MODEL
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
        document: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answered,
            "choices": [choice],
            "system_fingerprint": "fp_ollama" if self.flavour == "lenient" else "fp_50cad350e4",
        }
        if self.flavour == "openai":
            choice["message"]["annotations"] = []
            document["service_tier"] = "default"
        if self.flavour == "azure":
            filters = {
                kind: {"filtered": False, "severity": "safe"}
                for kind in ("hate", "self_harm", "sexual", "violence")
            }
            choice["content_filter_results"] = filters
            document["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": filters}
            ]
        if self.usage:
            document["usage"] = usage_for(request, content)
        return document

    def error(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str | None = None,
    ) -> web.Response:
        if kind is None:  # the `type` OpenAI gives each kind of failure
            kind = "requests" if status == 429 else "server_error" if status >= 500 else None
            kind = kind or "invalid_request_error"
            code = code or ("rate_limit_exceeded" if status == 429 else None)
        if self.flavour == "azure" and status in (401, 404):
            return web.json_response(
                {"error": {"code": code or str(status), "message": message}},
                status=status,
                headers=headers,
            )
        return web.json_response(
            {"error": {"message": message, "type": kind, "param": param, "code": code}},
            status=status,
            headers=headers,
        )


def usage_for(request: Mapping[str, Any], content: str) -> dict[str, Any]:
    """A deterministic `usage` object (about four characters a token), in OpenAI's shape."""
    messages = request.get("messages") or []
    prompt = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    prompt_tokens, completion_tokens = prompt // 4 + 1, len(content) // 4 + 1
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("[] is too short - 'messages'", "messages")
    for i, message in enumerate(messages):
        where = f"messages.[{i}]"
        if not isinstance(message, dict):
            raise BadRequest(f"Invalid type for '{where}': expected an object", where)
        extra = sorted(set(message) - MESSAGE_FIELDS)
        if extra:
            raise BadRequest(
                f"Additional properties are not allowed ({', '.join(map(repr, extra))} "
                f"was unexpected) - '{where}'",
                where,
            )
        if message.get("role") not in ROLES:
            raise BadRequest(f"Invalid value for '{where}.role'", f"{where}.role")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise BadRequest(f"Invalid type for '{where}.content'", f"{where}.content")


def _check_number(
    data: Mapping[str, Any], name: str, *, integer: bool, low: float, high: float | None
) -> None:
    if name not in data or data[name] is None:
        return
    value = data[name]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"Invalid type for '{name}': expected {kind}", name)
    if value < low or (high is not None and value > high):
        bound = f"at most {high:g}" if high is not None and value > high else f"at least {low:g}"
        raise BadRequest(f"Invalid '{name}': {value} must be {bound}", name)


def _check_metadata(metadata: object) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise BadRequest("metadata must be an object of at most 16 pairs", "metadata")
    for key, value in metadata.items():
        if not isinstance(value, str) or len(value) > 512:
            raise BadRequest(
                f"Invalid type for 'metadata.{key}': expected a string of at most 512 characters",
                f"metadata.{key}",
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the emulator on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.openai_api", description="OpenAI-compatible emulator"
    )
    parser.add_argument("--port", type=int, default=9998)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--key", action="append", dest="keys", metavar="KEY")
    parser.add_argument("--flavour", choices=["openai", "azure", "lenient"], default="openai")
    args = parser.parse_args(argv)
    emulator = OpenAIEmulator(
        set(args.keys or [DEFAULT_KEY]),
        flavour=args.flavour,
        default=Behaviour.ok(delay=args.latency),
    )
    print(f"OpenAI emulator ({args.flavour}): POST http://127.0.0.1:{args.port}{emulator.path}")
    web.run_app(emulator.build_app(), host="127.0.0.1", port=args.port, access_log=None)


if __name__ == "__main__":
    main()
