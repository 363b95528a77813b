"""Fast stand-ins for the service's peers: an inference emulator and a sink, one process each.

Both are a bare asyncio protocol over httptools' parser (no framework), so a few thousand
requests a second cost them little CPU and they are never what a benchmark measures.

    emulator  any POST answers the documented Clanker chat-completion shape after --latency
    sink      any POST answers 200 "ok"

Either one answers `GET /stats` with its counters (requests, in flight, most in flight at
once), `POST /reset` zeroes them, and with --keep-bodies `GET /bodies` returns every body
received as a JSON array (the bodies must be JSON).

    python -m bench.peers --role emulator --port 9101 --latency 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import httptools
import uvloop

MODEL = "gemini-3.5-flash"
# An explanation of realistic length (about 400 characters), the same for every call.
EXPLANATION = (
    "Headline: pods in payments are crash looping.\n"
    "What is happening: the api container restarts repeatedly and is waiting in "
    "CrashLoopBackOff; requests to the service are failing over to fewer replicas.\n"
    "Likely cause: a bad deploy or a missing configuration value at start-up.\n"
    "First checks: kubectl logs --previous for the container, recent deploys, the runbook."
)


@dataclass(slots=True)
class Counters:
    """What a peer has seen since start-up or the last reset."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    bodies: list[bytes] = field(default_factory=list)

    def as_json(self, role: str) -> bytes:
        """The counters as the JSON body of GET /stats."""
        return json.dumps(
            {
                "role": role,
                "requests": self.requests,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "bodies": len(self.bodies),
            }
        ).encode()


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """How a peer answers."""

    role: str
    latency: float = 0.0
    keep_bodies: bool = False


def completion(number: int) -> bytes:
    """A chat-completion answer in the documented shape (docs: clanker-inference-api.md)."""
    return json.dumps(
        {
            "id": f"llm_{number:012x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": EXPLANATION},
                    "finish_reason": "stop",
                }
            ],
        },
        separators=(",", ":"),
    ).encode()


def response(status: int, body: bytes, content_type: bytes, *, keep_alive: bool) -> bytes:
    """The bytes of an HTTP/1.1 response."""
    reason = {200: b"OK", 404: b"Not Found", 400: b"Bad Request"}.get(status, b"Status")
    connection = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n"
        % (status, reason, content_type, len(body), connection)
        + body
    )


class PeerProtocol(asyncio.Protocol):
    """One client connection: parse requests with httptools, answer each in order."""

    def __init__(self, settings: PeerSettings, counters: Counters) -> None:
        self._settings = settings
        self._counters = counters
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._write(response(400, b"bad request", b"text/plain", keep_alive=False), True)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method()
        keep_alive = self._parser.should_keep_alive()
        path = self._url.split(b"?", 1)[0]
        if method == b"GET" and path == b"/stats":
            body = self._counters.as_json(self._settings.role)
            self._write(response(200, body, b"application/json", keep_alive=keep_alive), False)
            return
        if method == b"POST" and path == b"/reset":
            self._counters.requests = self._counters.max_in_flight = 0
            self._counters.bodies.clear()
            self._write(response(200, b"{}", b"application/json", keep_alive=keep_alive), False)
            return
        if method == b"GET" and path == b"/bodies":
            body = b"[" + b",".join(self._counters.bodies) + b"]"
            self._write(response(200, body, b"application/json", keep_alive=keep_alive), False)
            return
        if method != b"POST":
            self._write(response(404, b"not found", b"text/plain", keep_alive=keep_alive), False)
            return
        self._serve(b"".join(self._body), keep_alive)

    def _serve(self, body: bytes, keep_alive: bool) -> None:
        counters = self._counters
        counters.requests += 1
        counters.in_flight += 1
        counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
        if self._settings.keep_bodies:
            counters.bodies.append(body)
        if self._settings.role == "emulator":
            answer = response(
                200, completion(counters.requests), b"application/json", keep_alive=keep_alive
            )
        else:
            answer = response(200, b"ok", b"text/plain; charset=utf-8", keep_alive=keep_alive)
        if self._settings.latency > 0:
            asyncio.get_running_loop().call_later(
                self._settings.latency, self._finish, answer, keep_alive
            )
        else:
            self._finish(answer, keep_alive)

    def _finish(self, answer: bytes, keep_alive: bool) -> None:
        self._counters.in_flight -= 1
        self._write(answer, not keep_alive)

    def _write(self, data: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if close:
            transport.close()


async def serve(settings: PeerSettings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    counters = Counters()
    server = await loop.create_server(
        lambda: PeerProtocol(settings, counters), host, port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{settings.role} listening on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one peer on 127.0.0.1 until SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--role", choices=("emulator", "sink"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--keep-bodies", action="store_true", help="keep every body for GET /bodies"
    )
    args = parser.parse_args(argv)
    settings = PeerSettings(args.role, args.latency, args.keep_bodies)
    uvloop.run(serve(settings, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
