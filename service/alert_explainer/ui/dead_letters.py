"""The page's dead letters (deadletters.py): list them, and replay one or all.

GET  /ui/dead-letters          every dead letter, oldest first, each with a Replay button
POST /ui/dead-letters/replay   form: id=<id> (repeatable) or all=1; then back to the list
GET  /api/v1/dead-letters      the letters as JSON

Replay queues a letter again for the destinations that lack it only, as the command line's
`dead-letters replay` does, and the worker of this process takes it at once. Dropping a
letter stays on the command line: it is the one action that loses something. In sync mode
there is no queue, so there are no letters and nothing to replay.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from alert_explainer.config import Settings
from alert_explainer.deadletters import DeadLetterStore
from alert_explainer.jsonout import JSONBody
from alert_explainer.queue import QueueError, backend_errors, uses_redis
from alert_explainer.ui.guard import Guard
from alert_explainer.ui.web import environment, read_limited, root
from alert_explainer.worker import Worker

MAX_FORM_BYTES = 64 * 1024


class DeadLetterPages:
    """The handlers; the store and the worker live in the app's lifespan state."""

    def __init__(self, settings: Settings) -> None:
        self._env = environment()
        self._limits = settings.server.limits.payload
        self._max_age = settings.delivery.max_age
        # Failures of the store's backend: the answer names the kind, never the URL.
        self._unreachable = backend_errors(settings)
        self._where = (
            "in Redis, shared by every replica"
            if uses_redis(settings)
            else f"in {settings.delivery.queue_path}, beside the queue"
        )

    def _page(self, request: Request, status: int = 200, **context: Any) -> Response:
        template = self._env.get_template("dead_letters.html.j2")
        context = {"letters": [], "notice": None, "error": None, **context}
        html = template.render(
            root=root(request), page="dead-letters", where=self._where, **context
        )
        return HTMLResponse(html, status_code=status)

    async def page(self, request: Request) -> Response:
        store = _store(request)
        if store is None:
            return self._page(request, letters=None)
        try:
            letters = [letter.describe(self._limits) for letter in await store.letters()]
        except self._unreachable as exc:
            return self._page(request, 503, error=f"The dead letters cannot be read ({exc}).")
        return self._page(request, letters=letters, notice=_notice(dict(request.query_params)))

    async def replay(self, request: Request) -> Response:
        store = _store(request)
        if store is None:
            return self._page(request, 409, letters=None)
        body = await read_limited(request, MAX_FORM_BYTES)
        if body is None:
            return self._page(request, 413, error="The form is too large.")
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        ids = [value for name, value in fields if name == "id" and value]
        try:
            if any(name == "all" for name, _ in fields):
                ids = [letter.id for letter in await store.letters()]
            replayed = await store.replay(ids)
        except QueueError:
            return self._back(request, full="1")
        except self._unreachable as exc:
            return self._page(request, 503, error=f"Nothing was replayed: {exc}.")
        worker: Worker | None = request.state.worker
        if worker is not None:
            worker.notify()  # deliver now, not at the next poll
            worker.letters_changed.set()  # and show the gauges without the letters
        return self._back(
            request, replayed=str(len(replayed)), unknown=str(len(ids) - len(replayed))
        )

    def _back(self, request: Request, **notice: str) -> Response:
        """To the list, saying what happened (so a reload never replays twice)."""
        query = "&".join(f"{k}={v}" for k, v in notice.items())
        return RedirectResponse(f"{root(request)}ui/dead-letters?{query}", status_code=303)

    async def api(self, request: Request) -> Response:
        store = _store(request)
        if store is None:
            return JSONBody({"dead_letters": []})
        try:
            letters = await store.letters()
        except self._unreachable as exc:
            return JSONBody({"error": f"the dead letters cannot be read ({exc})"}, 503)
        return JSONBody({"dead_letters": [letter.describe(self._limits) for letter in letters]})


def _store(request: Request) -> DeadLetterStore | None:
    store: DeadLetterStore | None = request.state.dead_letters
    return store


def _notice(query: dict[str, str]) -> str | None:
    """What the last replay did, from the numbers it redirected with (nothing else is shown)."""
    if query.get("full") == "1":
        return (
            "The delivery queue is full (delivery.queue_max): the letters not replayed stay "
            "here. Try again once it has drained."
        )
    replayed, unknown = query.get("replayed", ""), query.get("unknown", "0")
    if not replayed.isdigit() or not unknown.isdigit():
        return None
    letters = "dead letter" if replayed == "1" else "dead letters"
    text = f"{replayed} {letters} queued again for their destinations."
    if unknown != "0":
        text += f" {unknown} no longer existed (replayed or dropped meanwhile)."
    return text


def routes(settings: Settings, guard: Guard) -> list[BaseRoute]:
    """The dead letters' page, its replay action and its API, each behind `guard`."""
    pages = DeadLetterPages(settings)
    return [
        Route("/ui/dead-letters", guard(pages.page), methods=["GET"]),
        Route("/ui/dead-letters/replay", guard(pages.replay), methods=["POST"]),
        Route("/api/v1/dead-letters", guard(pages.api), methods=["GET"]),
    ]
