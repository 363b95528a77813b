"""One serving process: the app on uvicorn, draining on SIGTERM.

`serve` runs one of these; `serve --workers N` runs N, each in its own process (workers.py).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from types import FrameType

import structlog
import uvicorn

from alert_explainer.app import Lifecycle, create_app
from alert_explainer.config import Settings

logger = structlog.get_logger("alert_explainer.server")


class DrainingServer(uvicorn.Server):
    """uvicorn, except that SIGTERM first fails readiness and keeps serving for a while.

    Kubernetes removes an unready pod from its Service; only then does the listener close
    and in-flight notifications get `shutdown_grace` to finish.
    """

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, delay: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._delay = delay
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining or self._delay <= 0:
            self._lifecycle.ready = False
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._lifecycle.ready = False
        logger.info("shutdown_requested", serving_for_seconds=self._delay)
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(loop.call_later, self._delay, super().handle_exit, sig, frame)


def run_server(
    settings: Settings, host: str, port: int, sockets: list[socket.socket] | None = None
) -> bool:
    """Serve until SIGTERM or SIGINT, on `sockets` if given; whether start-up succeeded."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our structlog configuration renders uvicorn's records too
        access_log=False,  # one canonical event per notification instead
        server_header=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_grace),
        lifespan="on",
    )
    server = DrainingServer(config, app.state.lifecycle, settings.server.shutdown_delay)
    server.run(sockets)
    return server.started
