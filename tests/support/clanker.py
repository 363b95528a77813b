"""Emulator of the hosted Clanker Cloud inference API, for tests and benchmarks.

The contract (../shared/clanker-inference-api.md) is the only truth followed here:
``POST /v1/inference/chat/completions``; a paid-account token as ``X-API-Key`` or
``Authorization: Bearer``; free/beta tokens get ``402 paid account required`` before the model
backend; only the Gemini providers are routed; no streaming; no cloud credentials in the body.

Standalone: ``python -m tests.support.clanker --port 9999 --latency 1.0 --paid-key KEY``
(run from the repository root).
"""

import argparse
import asyncio
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.support.background import BackgroundServer
from tests.support.records import RecordLog

API_PATH = "/v1/inference/chat/completions"
GEMINI_PROVIDERS = frozenset({"gemini", "google", "google-gemini"})
MESSAGE_ROLES = frozenset({"system", "user", "assistant"})
REQUEST_FIELDS = frozenset({"provider", "model", "messages", "metadata"})
DEFAULT_PAID_KEY = "test-paid-key"
DEFAULT_FREE_KEY = "test-free-key"

# Key names (lower-cased, punctuation removed) that smell like credentials, by suffix.
_SECRET_KEY_SUFFIXES = (
    "apikey",
    "token",
    "secret",
    "secretkey",
    "password",
    "credential",
    "credentials",
    "authorization",
    "accesskey",
    "privatekey",
)
# String values that look like cloud credentials: AWS key id, Google API key, PEM private key.
_SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY")

Reply = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Behaviour:
    """How the emulated model backend answers one authenticated, valid request.

    Build with the class methods; ``delay`` is awaited (never blocks other requests).
    """

    kind: Literal["ok", "status", "garbage", "wrong_shape", "disconnect"] = "ok"
    delay: float = 0.0
    code: int = 200
    body: object = None
    content: str | None = None
    retry_after: float | str | None = None

    @classmethod
    def ok(cls, delay: float = 0.0, content: str | None = None) -> Self:
        """200 in the documented shape; ``content`` overrides the emulator's ``reply``."""
        return cls("ok", delay=delay, content=content)

    @classmethod
    def status(
        cls,
        code: int,
        body: object = None,
        retry_after: float | str | None = None,
        delay: float = 0.0,
    ) -> Self:
        """Answer ``code``; body: None -> ``{"error": <reason>}``, str/bytes raw, else JSON."""
        return cls("status", delay=delay, code=code, body=body, retry_after=retry_after)

    @classmethod
    def garbage(cls, delay: float = 0.0) -> Self:
        """200 labelled application/json whose body is not JSON."""
        return cls("garbage", delay=delay)

    @classmethod
    def wrong_shape(cls, delay: float = 0.0) -> Self:
        """200 JSON completion object without ``choices``."""
        return cls("wrong_shape", delay=delay)

    @classmethod
    def hang(cls, seconds: float) -> Self:
        """Sleep ``seconds`` and then answer a normal 200."""
        return cls("ok", delay=seconds)

    @classmethod
    def disconnect(cls, delay: float = 0.0) -> Self:
        """Close the connection without answering."""
        return cls("disconnect", delay=delay)


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request as the emulator received it (headers are case-insensitive)."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    received_at: float  # time.monotonic()

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError if it is not JSON)."""
        return json.loads(self.body)

    @property
    def token(self) -> str | None:
        """The account token sent, from X-API-Key or a Bearer Authorization header."""
        return _token(self.headers)

    @property
    def user_content(self) -> str:
        """Content of the last user message ('' if there is none)."""
        return _last_user_content(self.json())


def explain(request_body: Mapping[str, Any]) -> str:
    """The default reply: a deterministic explanation built from the last user message."""
    user = _last_user_content(request_body)
    first_line = next((line.strip() for line in user.splitlines() if line.strip()), "(empty)")
    return (
        f"Headline: {first_line[:80]}\n"
        f"What is happening: the alerts described in the request are active "
        f"({len(user)} characters of context).\n"
        "Likely cause: a recent change or resource exhaustion on the affected service.\n"
        "First checks: open the runbook, review recent deploys, read the service's error logs."
    )


class ClankerEmulator(BackgroundServer):
    """Clanker Cloud inference API on 127.0.0.1, recording what it receives.

    ``requests``: every request; ``calls``: those that reached the backend (authenticated by a
    paid token and valid); ``violations``: the reason of every 400. ``script()`` queues
    behaviours for the next calls; ``default`` applies when the queue is empty.
    """

    def __init__(
        self,
        paid_keys: set[str] | None = None,
        free_keys: set[str] | None = None,
        *,
        default: Behaviour | None = None,
        reply: Reply = explain,
    ) -> None:
        super().__init__()
        self.paid_keys = set(paid_keys) if paid_keys is not None else {DEFAULT_PAID_KEY}
        self.free_keys = set(free_keys) if free_keys is not None else {DEFAULT_FREE_KEY}
        self._lock = threading.Lock()
        self._default = default or Behaviour.ok()
        self._reply: Reply = reply
        self._script: deque[Behaviour] = deque()
        self._requests: RecordLog[RecordedCall] = RecordLog("requests")
        self._calls: RecordLog[RecordedCall] = RecordLog("model calls")
        self._violations: RecordLog[str] = RecordLog("violations")

    @property
    def url(self) -> str:
        return f"{self.base_url}{API_PATH}"

    @property
    def requests(self) -> list[RecordedCall]:
        return self._requests.snapshot()

    @property
    def calls(self) -> list[RecordedCall]:
        return self._calls.snapshot()

    @property
    def call_count(self) -> int:
        return len(self._calls)

    @property
    def violations(self) -> list[str]:
        return self._violations.snapshot()

    @property
    def default(self) -> Behaviour:
        with self._lock:
            return self._default

    @default.setter
    def default(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._default = behaviour

    @property
    def reply(self) -> Reply:
        with self._lock:
            return self._reply

    @reply.setter
    def reply(self, reply: Reply) -> None:
        with self._lock:
            self._reply = reply

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, consumed one per model call before ``default`` applies again."""
        with self._lock:
            self._script.extend(behaviours)

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[RecordedCall]:
        """Wait until ``count`` model calls arrived; AssertionError on timeout."""
        return self._calls.wait_for(count, timeout)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedCall]:
        """Wait until ``count`` requests of any kind arrived; AssertionError on timeout."""
        return self._requests.wait_for(count, timeout)

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def record(self, request: web.Request) -> RecordedCall:
        """Read ``request`` and record it among ``requests``."""
        call = RecordedCall(
            method=request.method,
            path=request.path,
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=await request.read(),
            received_at=time.monotonic(),
        )
        self._requests.append(call)
        return call

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = await self.record(request)
        body = call.body
        if request.path != API_PATH:
            return _error(404, f"not found: {request.path}")
        if request.method != "POST":
            return _error(405, f"method {request.method} not allowed", {"Allow": "POST"})
        token = _token(request.headers)
        if token is None:
            return _error(401, "missing API key: send X-API-Key or Authorization: Bearer")
        if token not in self.paid_keys:
            if token in self.free_keys:
                return _error(402, "paid account required")
            return _error(401, "invalid API key")
        problem = validate_request(request.content_type, body)
        if problem is not None:
            self._violations.append(problem)
            return _error(400, problem)
        return await self.answer(request, call)

    async def answer(self, request: web.Request, call: RecordedCall) -> web.StreamResponse:
        """Record ``call`` as reaching the model and perform the next scripted behaviour."""
        self._calls.append(call)
        with self._lock:
            behaviour = self._script.popleft() if self._script else self._default
            reply = self._reply
        body = call.json()
        if behaviour.delay > 0:
            await asyncio.sleep(behaviour.delay)
        model = str(body.get("model") or "")
        if behaviour.kind == "ok":
            content = behaviour.content
            if content is None:
                content = reply if isinstance(reply, str) else reply(body)
            return web.json_response(self.completion(body, model, content))
        if behaviour.kind == "status":
            return self.status_response(behaviour)
        if behaviour.kind == "garbage":
            return web.Response(
                status=200, text="<html>upstream hiccup</html>", content_type="application/json"
            )
        if behaviour.kind == "wrong_shape":
            shape = self.completion(body, model, "")
            del shape["choices"]
            return web.json_response(shape)
        if request.transport is not None:  # "disconnect"
            request.transport.close()
        return web.Response(status=500)  # never reaches the client

    def completion(self, request: dict[str, Any], model: str, content: str) -> dict[str, Any]:
        """The documented 200 body answering ``request`` with ``content``."""
        return _completion(model, content)

    def error(
        self, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """An error answer in this API's shape."""
        return _error(status, message, headers)

    def status_response(self, behaviour: Behaviour) -> web.Response:
        """The answer of a scripted ``Behaviour.status``."""
        headers: dict[str, str] = {}
        if behaviour.retry_after is not None:
            retry = behaviour.retry_after
            headers["Retry-After"] = f"{retry:g}" if isinstance(retry, float | int) else retry
        body = behaviour.body
        if body is None:
            return self.error(behaviour.code, HTTPStatus(behaviour.code).phrase.lower(), headers)
        if isinstance(body, bytes):
            return web.Response(status=behaviour.code, body=body, headers=headers)
        if isinstance(body, str):
            return web.Response(status=behaviour.code, text=body, headers=headers)
        return web.json_response(body, status=behaviour.code, headers=headers)


def validate_request(content_type: str, body: bytes) -> str | None:
    """What is wrong with a chat-completions request, or None if it follows the contract."""
    if content_type != "application/json":
        return f"Content-Type must be application/json, got {content_type!r}"
    try:
        data = json.loads(body)
    except ValueError as exc:
        return f"body is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return f"body must be a JSON object, got {type(data).__name__}"
    if "stream" in data:
        return "stream is not supported by this endpoint"
    unknown = sorted(set(data) - REQUEST_FIELDS)
    if unknown:
        return f"unknown field(s): {', '.join(unknown)}"
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        return "model is required and must be a non-empty string"
    if "provider" in data:
        provider = data["provider"]
        if not isinstance(provider, str):
            return "provider must be a string"
        if provider not in GEMINI_PROVIDERS:
            return f"provider {provider!r} is not routed; use gemini, google or google-gemini"
    problem = _messages_problem(data.get("messages"))
    if problem is not None:
        return problem
    if "metadata" in data and not isinstance(data["metadata"], dict):
        return "metadata must be an object"
    leaks = _credential_paths(data, "body")
    if leaks:
        return (
            f"request carries what looks like credentials at {', '.join(leaks)}; "
            "the endpoint does not receive cloud provider credentials"
        )
    return None


def _messages_problem(messages: object) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages is required and must be a non-empty list"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{i}] must be an object"
        role = message.get("role")
        if not isinstance(role, str) or role not in MESSAGE_ROLES:
            return f"messages[{i}].role must be one of system, user, assistant; got {role!r}"
        if not isinstance(message.get("content"), str):
            return f"messages[{i}].content must be a string"
    return None


def _credential_paths(value: object, path: str) -> list[str]:
    """Paths of keys named like credentials anywhere, and of secret-looking metadata values."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            normalized = re.sub(r"[^a-z0-9]", "", str(key).lower())
            if normalized.endswith(_SECRET_KEY_SUFFIXES):
                found.append(child)
            else:
                found += _credential_paths(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _credential_paths(item, f"{path}[{i}]")
    elif (
        isinstance(value, str) and path.startswith("body.metadata") and _SECRET_VALUE.search(value)
    ):
        found.append(path)
    return found


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"llm_{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _token(headers: Mapping[str, str]) -> str | None:
    api_key = headers.get("X-API-Key")
    if api_key is not None:
        return api_key.strip()
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _last_user_content(body: object) -> str:
    messages = body.get("messages") if isinstance(body, Mapping) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the emulator on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.clanker", description="Clanker Cloud inference emulator"
    )
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--paid-key", action="append", dest="paid_keys", metavar="KEY")
    parser.add_argument("--free-key", action="append", dest="free_keys", metavar="KEY")
    args = parser.parse_args(argv)
    emulator = ClankerEmulator(
        paid_keys=set(args.paid_keys or [DEFAULT_PAID_KEY]),
        free_keys=set(args.free_keys or [DEFAULT_FREE_KEY]),
        default=Behaviour.ok(delay=args.latency),
    )
    print(f"Clanker emulator: POST http://127.0.0.1:{args.port}{API_PATH}", flush=True)
    web.run_app(emulator.build_app(), host="127.0.0.1", port=args.port, access_log=None)


if __name__ == "__main__":
    main()
