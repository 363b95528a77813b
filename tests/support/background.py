"""Base class for test HTTP servers: an aiohttp app on 127.0.0.1 in a thread with its own loop."""

import asyncio
import ssl
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

# How long stop() lets in-flight handlers (e.g. a scripted hang) finish before cancelling them.
_SHUTDOWN_GRACE_S = 0.25


class BackgroundServer:
    """Serves ``build_app()`` on 127.0.0.1:<free port> from a daemon thread.

    The thread runs its own asyncio loop, so handlers that sleep never block the test and
    concurrent requests are served concurrently. Use ``start()``/``stop()`` or ``with``.
    Set ``tls`` (a server-side context) before starting to serve HTTPS.
    """

    def __init__(self) -> None:
        self.tls: ssl.SSLContext | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port: int | None = None

    def build_app(self) -> web.Application:
        """The application to serve; subclasses override this."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        if not ready.wait(10.0):
            raise RuntimeError(f"{type(self).__name__} did not start within 10 s")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"{type(self).__name__} failed to start") from failure[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} did not stop within 10 s")
        self._thread = self._loop = None
        self._port = None

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(
            self.build_app(), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE_S
        )
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(
                web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls).start()
            )
            self._port = int(runner.addresses[0][1])
        except BaseException as exc:
            failure.append(exc)
            if runner.server is not None:
                loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(_cancel_leftovers())
            loop.close()


async def _cancel_leftovers() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
