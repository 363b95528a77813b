"""The floor: the least a webhook-to-LLM-to-sink service can do, on the service's own stack.

A bare Starlette app on uvicorn (uvloop, httptools, no access log, as `alert-explainer
serve` runs) whose POST /webhook reads the body, posts it to the inference emulator,
posts the answer to the sink and answers 200, all through one aiohttp session with the
service's connection limit. No parsing, no prompt, no state, no metrics, no logging.

    python -m bench.floor --port 9100 --inference-url URL --sink-url URL
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TypedDict

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The service's default inference.max_connections, shared by inference and sinks as there.
MAX_CONNECTIONS = 100


class State(TypedDict):
    """The lifespan's one client session."""

    session: aiohttp.ClientSession


def create_floor_app(inference_url: str, sink_url: str, api_key: str) -> Starlette:
    """The floor ASGI app posting to `inference_url`, then to `sink_url`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=MAX_CONNECTIONS)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield {"session": session}

    async def webhook(request: Request) -> Response:
        session: aiohttp.ClientSession = request.state.session
        body = await request.body()
        headers = {"Content-Type": "application/json", "X-API-Key": api_key}
        async with session.post(inference_url, data=body, headers=headers) as answer:
            explanation = await answer.read()
            if answer.status != 200:
                return Response(status_code=502)
        async with session.post(
            sink_url, data=explanation, headers={"Content-Type": "application/json"}
        ) as delivered:
            await delivered.read()
            if delivered.status >= 300:
                return Response(status_code=502)
        return Response(b'{"status":"delivered"}', media_type="application/json")

    async def readyz(request: Request) -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the floor app on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description="Bare Starlette + aiohttp floor app"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--inference-url", required=True)
    parser.add_argument("--sink-url", required=True)
    parser.add_argument("--api-key", default="bench-key")
    args = parser.parse_args(argv)
    app = create_floor_app(args.inference_url, args.sink_url, args.api_key)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        server_header=False,
        log_level="warning",
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
