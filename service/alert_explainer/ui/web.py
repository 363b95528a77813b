"""The page's and the JSON API's routes, rendered on the server from Jinja templates.

GET  /ui                         recent notifications, newest first, with filters
GET  /ui/notifications/{id}      one notification: alerts, prompt, answer, destinations
GET  /ui/preview, POST ...       render a pasted payload, sending nothing
GET  /ui/static/{name}           the stylesheet and the one script (no CDN, no inline code)
GET  /api/v1/notifications       the rows as JSON (limit, route, status, outcome)
GET  /api/v1/notifications/{id}  one notification as JSON

Links are relative, so the page works under any path prefix (an Ingress, or none with
`kubectl port-forward`). Templates autoescape everything; only http(s) URLs become links.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from alert_explainer import __version__
from alert_explainer.config import Settings
from alert_explainer.jsonout import JSONBody
from alert_explainer.ui.guard import Guard
from alert_explainer.ui.history import History
from alert_explainer.ui.preview import AUTOMATIC, Previewer, sample_payload
from alert_explainer.ui.record import OUTCOMES

STATUSES = ("firing", "resolved")
STATIC = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
MAX_FILTER_LENGTH = 200


class BadQuery(ValueError):
    """A query parameter the API cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the list is narrowed to; empty strings mean any."""

    route: str = ""
    status: str = ""
    outcome: str = ""
    limit: int | None = None

    @property
    def active(self) -> bool:
        """Whether anything is filtered."""
        return bool(self.route or self.status or self.outcome)

    @classmethod
    def parse(cls, query: dict[str, str], history: int) -> Filters:
        """The filters of a query string; BadQuery names a parameter it cannot use."""
        route = query.get("route", "")[:MAX_FILTER_LENGTH]
        status = query.get("status", "")
        outcome = query.get("outcome", "")
        if status and status not in STATUSES:
            raise BadQuery(f"status must be one of {', '.join(STATUSES)}")
        if outcome and outcome not in OUTCOMES:
            raise BadQuery(f"outcome must be one of {', '.join(OUTCOMES)}")
        limit = None
        if query.get("limit"):
            text = query["limit"]
            if not text.isdigit() or not 1 <= int(text) <= history:
                raise BadQuery(f"limit must be a whole number from 1 to {history} (ui.history)")
            limit = int(text)
        return cls(route, status, outcome, limit)

    def select(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows that pass, at most `limit`."""
        kept = [
            row
            for row in rows
            if (not self.route or row["route"] == self.route)
            and (not self.status or row["status"] == self.status)
            and (not self.outcome or row["outcome"] == self.outcome)
        ]
        return kept if self.limit is None else kept[: self.limit]


def _clock(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _result_class(result: str | None) -> str:
    if result is None:
        return "pending"
    return result if result in ("delivered", "duplicate") else "failed"


def _result_word(result: str | None) -> str:
    return {"delivered": "delivered", "duplicate": "duplicate", None: "pending"}.get(
        result, "failed"
    )


def _pretty(text: str) -> str:
    """JSON text indented for reading; anything else as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _redaction_text(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{count} × {rule}" for rule, count in sorted(counts.items()))


def environment() -> jinja2.Environment:
    """The page templates: autoescaped, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alert_explainer.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    env.filters.update(
        clock=_clock,
        seconds=_seconds,
        result_class=_result_class,
        result_word=_result_word,
        redaction_text=_redaction_text,
        pretty=_pretty,
        words=lambda text: str(text).replace("_", " "),
    )
    env.globals["version"] = __version__
    return env


def no_prompt_reason(detail: dict[str, Any]) -> str:
    """Why a notification's page shows no prompt."""
    if detail["outcome"] == "duplicate":
        return "Every destination already had this notification: nothing was explained or sent."
    if detail["outcome"] in ("in_progress", "queued"):
        return "Not yet: the notification is still being handled."
    if detail["reused"]:
        why = detail.get("reuse_note") or "the same alert state, from the cache"
        return f"The explanation was reused ({why}): nothing was sent this time."
    if detail["reason"]:
        return f"No prompt was sent: {detail['reason']}."
    if detail["status"] == "resolved":
        return "Resolved notifications need no explanation on this route: nothing was sent."
    return "No alert matched the route's explain matchers: nothing was sent."


def route_path(request: Request) -> str:
    """The request's path without the `server.root_path` prefix, if it came with one."""
    prefix: str = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(prefix) :] if prefix and path.startswith(prefix + "/") else path


def root(request: Request) -> str:
    """The relative path from this page to the service's root ("", "../", "../../")."""
    return "../" * (route_path(request).count("/") - 1)


class Pages:
    """The handlers. The history and the previewer live in the app's lifespan state."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._routes = [r.name for r in settings.routes]
        self._env = environment()
        self._max_body = settings.server.max_body_bytes
        self._static = {
            name: resources.files("alert_explainer.ui").joinpath("static", name).read_bytes()
            for name in STATIC
        }
        shared = settings.state.backend == "redis"
        self._about = {
            "max": settings.ui.history,
            "max_age": _duration(settings.ui.max_age),
            "scope": "shared by every replica (Redis)" if shared else "this process only",
        }

    def _page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        html = self._env.get_template(template).render(root=root(request), **context)
        return HTMLResponse(html, status_code=status)

    def _not_found(self, request: Request, message: str) -> Response:
        return self._page(
            request, "error.html.j2", 404, title="Not found", message=message, page=""
        )

    async def notifications(self, request: Request) -> Response:
        try:
            filters = Filters.parse(dict(request.query_params), self._settings.ui.history)
        except BadQuery as exc:
            return self._page(
                request,
                "error.html.j2",
                400,
                title="Bad filter",
                message=str(exc),
                page="notifications",
            )
        rows = await _history(request).summaries()
        return self._page(
            request,
            "notifications.html.j2",
            page="notifications",
            rows=filters.select(rows),
            kept=len(rows),
            filters=filters,
            routes=self._routes,
            statuses=STATUSES,
            outcomes=OUTCOMES,
            history=self._about,
        )

    async def notification(self, request: Request) -> Response:
        detail = await _history(request).detail(request.path_params["id"])
        if detail is None:
            return self._not_found(
                request, "This notification is not in the history (it may have aged out)."
            )
        return self._page(
            request, "notification.html.j2", page="", n=detail, no_prompt=no_prompt_reason(detail)
        )

    async def preview_form(self, request: Request) -> Response:
        payload = sample_payload() if request.query_params.get("sample") else ""
        return self._preview_page(request, payload, AUTOMATIC, explained=True, result=None)

    async def preview(self, request: Request) -> Response:
        body = await read_limited(request, self._max_body)
        if body is None:
            return self._page(
                request,
                "error.html.j2",
                413,
                title="Payload too large",
                message=f"The form is over {self._max_body} bytes (server.max_body_bytes).",
                page="preview",
            )
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        payload = form.get("payload", "")
        route = form.get("route", AUTOMATIC)
        explained = form.get("explanation", "stand-in") != "none"
        previewer: Previewer = request.state.previewer
        result = previewer.preview(payload, route, explained=explained)
        return self._preview_page(request, payload, route, explained=explained, result=result)

    def _preview_page(
        self, request: Request, payload: str, route: str, *, explained: bool, result: Any
    ) -> Response:
        return self._page(
            request,
            "preview.html.j2",
            page="preview",
            payload=payload,
            route=route,
            explained=explained,
            routes=self._routes,
            result=result,
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self._static:
            return JSONBody({"error": f"no static file {name[:80]!r}"}, status_code=404)
        return Response(self._static[name], media_type=STATIC[name])

    async def api_notifications(self, request: Request) -> Response:
        try:
            filters = Filters.parse(dict(request.query_params), self._settings.ui.history)
        except BadQuery as exc:
            return JSONBody({"error": str(exc)}, status_code=400)
        rows = await _history(request).summaries()
        selected = filters.select(rows)
        return JSONBody({"notifications": selected, "kept": len(rows)})

    async def api_notification(self, request: Request) -> Response:
        detail = await _history(request).detail(request.path_params["id"])
        if detail is None:
            return JSONBody(
                {"error": "no such notification in the history (it may have aged out)"},
                status_code=404,
            )
        return JSONBody(detail)


def _history(request: Request) -> History:
    history: History = request.state.history
    return history


async def read_limited(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _duration(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length and seconds % length == 0:
            return f"{int(seconds // length)}{unit}"
    return f"{seconds:g}s"


def routes(settings: Settings, guard: Guard) -> list[BaseRoute]:
    """Every route of the page and its API, each behind `guard`."""
    pages = Pages(settings)
    static_cache = "private, max-age=300"
    return [
        Route("/ui", guard(pages.notifications), methods=["GET"]),
        Route("/ui/notifications/{id}", guard(pages.notification), methods=["GET"]),
        Route("/ui/preview", guard(pages.preview_form), methods=["GET"]),
        Route("/ui/preview", guard(pages.preview), methods=["POST"]),
        Route("/ui/static/{name}", guard(pages.static, cache=static_cache), methods=["GET"]),
        Route("/api/v1/notifications", guard(pages.api_notifications), methods=["GET"]),
        Route("/api/v1/notifications/{id}", guard(pages.api_notification), methods=["GET"]),
    ]
