"""A stand-in for any HTTP destination (Slack, Teams, webhooks, ...) that records requests."""

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.support.background import BackgroundServer
from tests.support.records import RecordLog


@dataclass(frozen=True)
class Reply:
    """The answer to one request: status, body, extra headers, and a delay before answering."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, data: object, status: int = 200, delay: float = 0.0) -> Self:
        """A JSON answer, e.g. Slack chat.postMessage's ``{"ok": true, "ts": "..."}``."""
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
            delay=delay,
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received, with the status it was (or is being) answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    status: int
    received_at: float  # time.monotonic()

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError if it is not JSON)."""
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class RecordingServer(BackgroundServer):
    """Accepts any method on any path and records it.

    ``received``: every request, recorded on arrival. ``delivered``: those answered 2xx,
    recorded once the answer (after its delay) is handed back. Replies come from the
    ``script()`` queue first, then ``default``.
    """

    def __init__(self, default: Reply | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._default = default or Reply()
        self._script: deque[Reply] = deque()
        self._received: RecordLog[RecordedRequest] = RecordLog("received requests")
        self._delivered: RecordLog[RecordedRequest] = RecordLog("delivered (2xx) requests")

    @property
    def url(self) -> str:
        return self.base_url

    def url_for(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def received(self) -> list[RecordedRequest]:
        return self._received.snapshot()

    @property
    def delivered(self) -> list[RecordedRequest]:
        return self._delivered.snapshot()

    @property
    def default(self) -> Reply:
        with self._lock:
            return self._default

    @default.setter
    def default(self, reply: Reply) -> None:
        with self._lock:
            self._default = reply

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order, before ``default`` applies again."""
        with self._lock:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until ``count`` requests were answered 2xx; AssertionError on timeout."""
        return self._delivered.wait_for(count, timeout)

    def wait_for_received(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until ``count`` requests arrived, whatever the answer; AssertionError on timeout."""
        return self._received.wait_for(count, timeout)

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        with self._lock:
            reply = self._script.popleft() if self._script else self._default
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=await request.read(),
            status=reply.status,
            received_at=time.monotonic(),
        )
        self._received.append(recorded)
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if 200 <= reply.status < 300:
            self._delivered.append(recorded)
        headers = CIMultiDict(reply.headers)
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        body = None if reply.status in (204, 304) else reply.body
        return web.Response(status=reply.status, body=body, headers=headers)
