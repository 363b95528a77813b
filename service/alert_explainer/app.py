"""HTTP routes: translate webhook requests to the pipeline and its outcome back to HTTP.

POST /webhook, /webhook/{route}   Alertmanager's webhook_configs
GET  /healthz                     kubelet liveness: the process answers
GET  /readyz                      kubelet readiness: config loaded, able to serve
GET  /metrics                     Prometheus scrape
GET  /ui..., /api/v1/...          the operator's page and its JSON API (ui/web.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from alert_explainer import __version__
from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.auth import Authenticator
from alert_explainer.catalogue import Catalogue
from alert_explainer.config import RouteSettings, Settings, StateSettings
from alert_explainer.deadletters import DeadLetterStore
from alert_explainer.errors import PayloadError
from alert_explainer.evidence import Gatherer, MatchedRecipes, RecipeSource
from alert_explainer.inference import backend_models, build_chain, priority_names
from alert_explainer.jsonout import JSONBody
from alert_explainer.looplag import watch_loop_lag
from alert_explainer.metrics import CONTENT_TYPE, Metrics
from alert_explainer.openapi import openapi_document
from alert_explainer.pipeline import DeliveryFailed, Pipeline
from alert_explainer.queue import DurableQueue, QueueError, open_queue
from alert_explainer.redact import Redactor
from alert_explainer.routing import Router
from alert_explainer.sinks import build_sinks
from alert_explainer.store import MemoryStore, StateStore
from alert_explainer.transport import HttpClient
from alert_explainer.ui import dead_letters as dead_letters_page
from alert_explainer.ui import web
from alert_explainer.ui.guard import Guard
from alert_explainer.ui.history import History
from alert_explainer.ui.preview import Previewer
from alert_explainer.watchdog import WatchdogClock
from alert_explainer.worker import Worker, report

logger = structlog.get_logger("alert_explainer.app")


class State(TypedDict):
    """What the lifespan builds and the handlers use."""

    pipeline: Pipeline
    queue: DurableQueue | None  # only with delivery.mode: async
    dead_letters: DeadLetterStore | None  # beside the queue
    worker: Worker | None
    history: History  # what the operator's page shows
    previewer: Previewer


class Lifecycle:
    """Readiness: true between start-up and the beginning of shutdown (SIGTERM)."""

    ready: bool = False


class PathPrefix:
    """Serves the application under `server.root_path` as well as without it.

    An Ingress forwarding `/alert-explainer/ui` and `kubectl port-forward` sending `/ui`
    reach the same route: Starlette matches paths with the prefix removed when they have it.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self._app = app
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._prefix and scope["type"] == "http":
            scope = {**scope, "root_path": scope.get("root_path", "") + self._prefix}
        await self._app(scope, receive, send)


def error(status_code: int, message: str, **extra: Any) -> JSONBody:
    """The JSON error body every non-2xx answer uses: {"error": "..."}."""
    return JSONBody({"error": message, **extra}, status_code=status_code)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise PayloadError(400, "invalid Content-Length header")
        if int(declared) > limit:
            raise PayloadError(
                413, f"request body of {declared} bytes exceeds the limit of {limit}"
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def warn_if_open(settings: Settings, webhook_auth: Authenticator, ui_auth: Authenticator) -> None:
    """Say at start-up what anyone who can reach the service may do without credentials."""
    if not webhook_auth.enabled:
        logger.warning(
            "webhook_unauthenticated",
            message="no auth configured: anyone who can reach the service can post "
            "notifications to /webhook. Set auth.bearer_tokens or auth.basic_auth.",
        )
    if settings.ui.enabled and not ui_auth.enabled:
        logger.warning(
            "ui_unauthenticated",
            message="the operator's page (/ui, /api/v1/notifications) is open to anyone who "
            "can reach the service and shows alert text, prompts and answers. Set ui.auth "
            "(or auth), or ui.enabled: false.",
        )


def build_store(settings: StateSettings, metrics: Metrics) -> StateStore:
    """The state store the configuration asks for."""
    if settings.backend == "memory" or settings.url is None:
        return MemoryStore()
    from alert_explainer.redis_store import FallbackStore, RedisStore  # only when used: RSS

    redis = RedisStore(settings.url.get_secret_value(), settings.key_prefix)
    return FallbackStore(redis, MemoryStore(), on_failure=metrics.state_backend_errors.inc)


def build_gatherer(
    settings: Settings,
    http: HttpClient,
    catalogue: Catalogue,
    metrics: Metrics | None = None,
) -> Gatherer | None:
    """The evidence gatherer the configuration asks for, or None without `evidence`.

    Configured recipes come first, then the catalogue's for each alert.
    """
    if settings.evidence is None:
        return None
    redactor = Redactor.from_settings(settings.redaction, settings.server.limits.max_value_length)
    sources: list[RecipeSource] = [
        MatchedRecipes.from_settings(settings.evidence.recipes),
        catalogue,
    ]
    return Gatherer(settings.evidence, http, redactor=redactor, metrics=metrics, sources=sources)


def create_app(settings: Settings) -> Starlette:
    """The ASGI application for `settings`; clients and stores open in its lifespan."""
    metrics = Metrics(
        routes=[r.name for r in settings.routes],
        sinks=[s.name for s in settings.sinks],
        backends=backend_models(settings),
        priorities=priority_names(settings),
        route_sinks={r.name: r.sinks for r in settings.routes},
    )

    lifecycle = Lifecycle()
    router = Router(settings.routes)
    watchdog = WatchdogClock(metrics)
    catalogue = Catalogue.from_settings(settings)
    global_auth = Authenticator.from_settings(settings.auth)
    authenticators = {
        r.name: Authenticator.from_settings(r.auth) if r.auth else global_auth
        for r in settings.routes
    }
    ui_auth = Authenticator.from_settings(settings.ui.auth) if settings.ui.auth else global_auth

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        if settings.http.insecure_skip_verify:
            logger.warning(
                "tls_verification_disabled",
                message="http.insecure_skip_verify is on: HTTPS certificates of the inference "
                "API and every destination are NOT checked. Use only in a lab.",
            )
        http = HttpClient(
            max_connections=settings.inference.max_connections,
            user_agent=f"alert-explainer/{__version__}",
            ca_file=settings.http.ca_file,
            verify=not settings.http.insecure_skip_verify,
        )
        state = build_store(settings.state, metrics)
        inference = build_chain(
            http,
            settings.inference,
            state,
            metrics,
            ca_file=settings.http.ca_file,
            verify=not settings.http.insecure_skip_verify,
        )
        inference.warn_about_keys()
        warn_if_open(settings, global_auth, ui_auth)
        history = History(settings, state)
        history_writer = asyncio.create_task(history.run())
        sinks = build_sinks(settings.sinks, http, state)
        pipeline = Pipeline(
            settings,
            inference=inference,
            sinks=sinks,
            metrics=metrics,
            state=state,
            evidence=build_gatherer(settings, http, catalogue, metrics),
            history=history,
            catalogue=catalogue,
        )
        previewer = Previewer(settings, router, sinks, history.display)
        queue: DurableQueue | None = None
        dead_letters: DeadLetterStore | None = None
        worker: Worker | None = None
        background = [asyncio.create_task(watch_loop_lag(metrics))]
        if settings.delivery.mode == "async":
            queue, dead_letters = open_queue(settings, pipeline.owner)
            worker = Worker(
                queue,
                pipeline,
                router,
                limits=settings.server.limits.payload,
                metrics=metrics,
                max_age=settings.delivery.max_age,
                lease=pipeline.lease_ttl,
            )
            background.append(asyncio.create_task(worker.run()))
            background.append(asyncio.create_task(report(queue, dead_letters, metrics, worker)))
        # What start-up built (config, templates, the catalogue, imported modules) lives as
        # long as the process: keep full collections from scanning it again. In a storm of
        # 1,000 waiting notifications that cuts each pause by about a third (bench/storm).
        # No collection first: over the whole start-up heap it would delay readiness by
        # about 0.15 s, for the little garbage start-up leaves.
        gc.freeze()
        lifecycle.ready = True
        logger.info(
            "started",
            routes=[r.name for r in settings.routes],
            sinks=[s.name for s in settings.sinks],
        )
        try:
            yield {
                "pipeline": pipeline,
                "queue": queue,
                "dead_letters": dead_letters,
                "worker": worker,
                "history": history,
                "previewer": previewer,
            }
        finally:
            lifecycle.ready = False
            for task in background:
                task.cancel()
            unfinished = await pipeline.drain(settings.server.shutdown_grace)
            if unfinished:
                logger.error("shutdown_abandoned", notifications=unfinished)
            await history.flush(timeout=2.0)
            history_writer.cancel()
            await http.aclose()
            await state.aclose()
            if queue is not None:
                await queue.aclose()
            if dead_letters is not None:
                await dead_letters.aclose()
            logger.info("stopped")

    async def webhook(request: Request) -> Response:
        metrics.requests_in_flight.inc()
        try:
            response = await handle_webhook(request)
        finally:
            metrics.requests_in_flight.dec()
        metrics.webhook_responses.labels(str(response.status_code)).inc()
        return response

    def unauthorized(route: str, authenticator: Authenticator) -> Response:
        metrics.auth_failures.labels(route).inc()
        response = error(401, "authentication required")
        response.headers["WWW-Authenticate"] = authenticator.challenge
        return response

    async def handle_webhook(request: Request) -> Response:
        pipeline: Pipeline = request.state.pipeline
        header = request.headers.get("authorization")
        name = request.path_params.get("route")
        named = router.named(name) if name is not None else None
        if name is not None and named is None:
            return error(
                404, f"unknown route {name!r}; configured routes: {', '.join(router.names)}"
            )
        # Checked before the body is read: an unauthenticated sender costs us no parsing.
        gate = authenticators[named.settings.name] if named else global_auth
        if not gate.allows(header):
            return unauthorized(name or "", gate)
        try:
            body = await read_body(request, settings.server.max_body_bytes)
            notification = parse_notification(body, settings.server.limits.payload)
        except PayloadError as exc:
            return error(exc.status, str(exc))
        compiled = named or router.select(notification)
        if compiled is None:
            return error(
                404,
                f"no route accepts this notification (receiver {notification.receiver[:80]!r}, "
                f"status {notification.status}); add a route without conditions as a catch-all",
            )
        route = compiled.settings
        if named is None and not authenticators[route.name].allows(header):
            return unauthorized(route.name, authenticators[route.name])
        metrics.notifications_received.labels(route.name, notification.status).inc()
        watchdog.saw(notification)
        for alert in notification.alerts:
            metrics.alerts_received.labels(route.name, alert.status).inc()
        if request.state.queue is not None:
            return await enqueue(request, route, notification, body)
        task = pipeline.submit(compiled, notification)
        try:
            # asyncio.timeout: the same deadline as wait_for without its extra future
            async with asyncio.timeout(settings.server.respond_within):
                report = await asyncio.shield(task)
        except TimeoutError:
            # Still working: 503 makes Alertmanager retry, and the retry joins this same task.
            return error(
                503,
                "notification is still being processed; retry to collect the result",
                status="in_progress",
            )
        except DeliveryFailed as exc:
            return error(503, str(exc), status="failed", sinks=exc.failures)
        except Exception:
            logger.exception(
                "notification_crashed", route=route.name, group_key=notification.group_key
            )
            return error(
                500, "internal error while processing the notification; it will be retried"
            )
        return JSONBody(report.as_dict())

    async def enqueue(
        request: Request, route: RouteSettings, notification: Notification, body: bytes
    ) -> Response:
        """Async mode: 202 once the notification is durably queued; 503 if it cannot be."""
        try:
            await request.state.queue.put(route.name, body)
        except QueueError as exc:
            return error(503, str(exc), status="not_queued")
        request.state.worker.notify()
        identity = notification.identity(route.name)
        request.state.history.begin(route.name, route.sinks, notification, identity, "queued")
        return JSONBody({"status": "queued", "route": route.name}, status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONBody({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if not lifecycle.ready:
            return error(503, "not ready: starting up or shutting down")
        return JSONBody({"status": "ready"})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    async def openapi_endpoint(request: Request) -> Response:
        return JSONBody(openapi_document(settings.server.limits, settings.ui))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = error(exc.status_code, exc.detail)
        if exc.headers:  # e.g. Allow on a 405, as RFC 9110 requires
            response.headers.update(exc.headers)
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.exception("request_crashed", path=request.url.path)
        return error(500, "internal error")

    routes: list[BaseRoute] = [
        Route("/webhook", webhook, methods=["POST"]),  # Alertmanager
        Route("/webhook/{route}", webhook, methods=["POST"]),  # Alertmanager, per route
        Route("/healthz", healthz, methods=["GET"]),  # kubelet liveness
        Route("/readyz", readyz, methods=["GET"]),  # kubelet readiness
        Route("/metrics", metrics_endpoint, methods=["GET"]),  # Prometheus
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),  # API description
    ]
    if settings.ui.enabled:
        guard = Guard(ui_auth)
        routes += web.routes(settings, guard)  # people: the page and its API
        routes += dead_letters_page.routes(settings, guard)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
        middleware=[Middleware(PathPrefix, prefix=settings.server.root_path)],
    )
    app.state.lifecycle = lifecycle
    return app
