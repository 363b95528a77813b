"""The floor: the least a webhook-to-LLM-to-sink service can do, on the service's own stack.

A bare Starlette app on uvicorn (uvloop, httptools, no access log, as `alert-explainer
serve` runs) whose POST /webhook reads the body, posts it to the inference emulator,
posts the answer to the sink and answers 200, all through one aiohttp session with the
service's connection limit. No parsing, no prompt, no state, no metrics, no logging.

With `--stages` the same app also does the service's own work on each notification,
inline (bench.stages.Inline): it parses the payload, derives its keys, redacts it, renders
the prompt and posts that, sanitizes the answer, posts the webhook sink's document and logs
the notification line. Still no task, state, metrics, budget or page: the least any
service doing this work could spend on this stack.

    python -m bench.floor --port 9100 --inference-url URL --sink-url URL [--stages]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TypedDict

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.stages import Inline

# The service's default inference.max_connections, shared by inference and sinks as there.
MAX_CONNECTIONS = 100


class State(TypedDict):
    """The lifespan's one client session."""

    session: aiohttp.ClientSession


def delivered() -> Response:
    """The 200 both floor apps answer once the sink has the message."""
    return Response(b'{"status":"delivered"}', media_type="application/json")


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, api_key: str | None = None
) -> bytes | None:
    """POST JSON `body` (with the API key when given); the answer's body, None unless 2xx."""
    headers = {"Content-Type": "application/json"}
    if api_key is not None:
        headers["X-API-Key"] = api_key
    async with session.post(url, data=body, headers=headers) as answer:
        content = await answer.read()
        return content if 200 <= answer.status < 300 else None


def create_floor_app(
    inference_url: str, sink_url: str, api_key: str, *, stages: bool = False
) -> Starlette:
    """The floor ASGI app posting to `inference_url`, then to `sink_url` (`stages`: see above)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=MAX_CONNECTIONS)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield {"session": session}

    async def webhook(request: Request) -> Response:
        session: aiohttp.ClientSession = request.state.session
        body = await request.body()
        explanation = await post(session, inference_url, body, api_key)
        if explanation is None or await post(session, sink_url, explanation) is None:
            return Response(status_code=502)
        return delivered()

    inline = Inline() if stages else None

    async def webhook_with_stages(request: Request) -> Response:
        assert inline is not None
        session: aiohttp.ClientSession = request.state.session
        notification = inline.parse(await request.body())
        inline.keys(notification)
        messages = inline.render(inline.redact(notification))
        answer = await post(session, inference_url, inline.request(messages, notification), api_key)
        if answer is None:
            return Response(status_code=502)
        text = inline.sanitize(orjson.loads(answer)["choices"][0]["message"]["content"])
        if await post(session, sink_url, inline.document(notification, text)) is None:
            return Response(status_code=502)
        inline.log(notification)
        return delivered()

    async def readyz(request: Request) -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/webhook", webhook_with_stages if stages else webhook, methods=["POST"]),
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
    parser.add_argument("--stages", action="store_true", help="do the service's stages inline")
    args = parser.parse_args(argv)
    app = create_floor_app(args.inference_url, args.sink_url, args.api_key, stages=args.stages)
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
