"""Preview: what a pasted payload would become, with nothing sent and no inference call.

The same steps as a real notification up to the network: parse within the configured
limits, pick the route (by matching, or the one asked for), redact and render the prompt
as the inference request body (what `alert-explainer render` prints), and render every
destination of the route. Destinations are rendered with a stand-in explanation, or
without one to show the fallback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.catalogue import Catalogue
from alert_explainer.config import Settings
from alert_explainer.errors import PayloadError, SinkError, TemplateError
from alert_explainer.explainer import inference_request
from alert_explainer.prompts import PromptTemplates
from alert_explainer.redact import Redactor
from alert_explainer.routing import CompiledRoute, Router
from alert_explainer.sinks import Message, Sink
from alert_explainer.ui.display import Display
from alert_explainer.ui.record import masked_json

AUTOMATIC = ""  # the route field's value for "as POST /webhook would choose"
STAND_IN = """Headline: Preview: the model's explanation appears here
What is happening: A real delivery says here, in plain language, what the alerts mean.
Likely cause: Then the most likely cause, from the alert text and any evidence.
First checks:
- The first thing to look at
- The next one"""
NO_CALL = "preview: no inference call was made"


def sample_payload() -> str:
    """The bundled Alertmanager payload the page offers to load."""
    return resources.files("alert_explainer.ui").joinpath("sample.json").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class DestinationPreview:
    """One destination's rendered message, or why it cannot be rendered."""

    name: str
    type: str
    body: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Preview:
    """Everything the preview shows; `error` alone when the payload is unusable."""

    error: str | None = None
    route: str | None = None
    selected: bool = False  # the route was asked for, not matched
    notification: Notification | None = None
    request: str | None = None  # the inference request body, indented JSON
    messages: list[dict[str, str]] = field(default_factory=list)  # its messages, for reading
    redactions: dict[str, int] = field(default_factory=dict)
    no_call: str | None = None  # why a real delivery would make no inference call
    destinations: list[DestinationPreview] = field(default_factory=list)


class Previewer:
    """Builds previews with the running service's routes, templates and sinks."""

    def __init__(
        self,
        settings: Settings,
        router: Router,
        sinks: dict[str, Sink],
        display: Display,
    ) -> None:
        self._settings = settings
        self._router = router
        self._sinks = sinks
        self._display = display
        self._sink_types = {s.name: s.type for s in settings.sinks}
        self._redactor = Redactor.from_settings(
            settings.redaction, settings.server.limits.max_value_length
        )
        self._templates = {
            r.name: PromptTemplates.from_settings(r.templates) for r in settings.routes
        }
        self._catalogue = Catalogue.from_settings(settings)

    def preview(self, payload: str, route: str, *, explained: bool) -> Preview:
        """The preview of `payload` on `route` (AUTOMATIC: chosen as /webhook would)."""
        try:
            notification = parse_notification(
                payload.encode("utf-8", "surrogatepass"), self._settings.server.limits.payload
            )
        except (PayloadError, UnicodeEncodeError) as exc:
            return Preview(error=f"not a usable Alertmanager payload: {exc}")
        compiled = self._router.named(route) if route != AUTOMATIC else None
        if route != AUTOMATIC and compiled is None:
            return Preview(error=f"unknown route {route[:80]!r}")
        compiled = compiled or self._router.select(notification)
        if compiled is None:
            return Preview(
                error=f"no route accepts this notification (receiver "
                f"{notification.receiver[:80]!r}, status {notification.status}); "
                "pick a route to see it anyway",
                notification=notification,
            )
        result = Preview(
            route=compiled.settings.name,
            selected=route != AUTOMATIC,
            notification=notification,
            no_call=self._no_call(compiled, notification),
        )
        self._prompt(result, compiled, notification)
        model = compiled.settings.model or self._settings.inference.model
        message = Message(
            compiled.settings.name,
            notification,
            STAND_IN if explained else None,
            None if explained else NO_CALL,
            model if explained else None,
            backend=self._settings.inference.name if explained else None,
            notes=self._catalogue.notes(notification),
        )
        result.destinations = [self._render(s, message) for s in compiled.settings.sinks]
        return result

    def _prompt(self, result: Preview, compiled: CompiledRoute, notification: Notification) -> None:
        route = compiled.settings
        try:
            body, counts = inference_request(
                self._settings,
                self._redactor,
                self._templates[route.name],
                route,
                notification,
                catalogue=self._catalogue,
            )
        except TemplateError as exc:
            result.error = f"prompt template failed: {exc}"
            return
        result.request = json.dumps(body, indent=2, ensure_ascii=False)
        result.messages = list(body["messages"])
        result.redactions = dict(counts)

    def _no_call(self, compiled: CompiledRoute, notification: Notification) -> str | None:
        route = compiled.settings
        if notification.status == "resolved" and not route.explain_resolved:
            return "resolved notifications are not explained on this route (explain_resolved)"
        if not compiled.worth_explaining(notification):
            return "no alert matches the route's explain matchers"
        if not self._catalogue.worth_explaining(notification):
            return "the catalogue marks these alerts explain: false (delivered as they are)"
        return None

    def _render(self, name: str, message: Message) -> DestinationPreview:
        kind = self._sink_types.get(name, "")
        try:
            rendered = self._sinks[name].render(message)
        except SinkError as exc:
            return DestinationPreview(name, kind, error=str(exc))
        return DestinationPreview(name, kind, body=self._display.body(masked_json(rendered)))
