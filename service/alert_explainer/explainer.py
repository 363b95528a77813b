"""Explain: the outcome for one notification, from the cache or from one paid call.

An explanation is keyed by what it depends on (route, model, templates, each alert's
fingerprint, status and annotations), so Alertmanager's retries, its HA peer and
repeat_interval reminders reuse it. A firing group's explanation is also reused while its
situation stays the same (situation.py: other pods, same problem). Otherwise the evidence
is gathered (when configured), the notification is redacted, rendered within the prompt
budget and sent to the inference backends, each in turn until one answers (inference.chain).
Any failure becomes an `Outcome` with the reason, which is delivered as "explanation
unavailable: ..." with the evidence. The evidence is cached with the outcome: a reused
explanation brings the evidence it was made with, and no new queries.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from alert_explainer.alertmanager import Notification
from alert_explainer.catalogue import Catalogue, Notes
from alert_explainer.config import BackendSettings, RouteSettings, Settings
from alert_explainer.errors import TemplateError
from alert_explainer.evidence import Evidence, Gatherer
from alert_explainer.inference import ChainFailed, Explanation, FailoverChain, request_body
from alert_explainer.jsonout import encode_json
from alert_explainer.metrics import Metrics
from alert_explainer.prompts import ChatMessage, PromptTemplates
from alert_explainer.redact import Redactor
from alert_explainer.sanitize import sanitize_explanation
from alert_explainer.since import Since
from alert_explainer.situation import Situations
from alert_explainer.store import StateStore

logger = structlog.get_logger("alert_explainer.explainer")

_RENDER_INLINE_MAX_ALERTS = 100

# A failed explanation is remembered briefly, so Alertmanager's retries of one flush
# deliver the same fallback instead of calling the API again.
FAILURE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """An explanation, or the reason there is none; what the explanation cache holds."""

    text: str | None = None
    error: str | None = None
    code: str | None = None
    model: str | None = None
    reused: bool = False
    explained_at: float | None = None  # Unix time the explanation was made
    since: Since | None = None  # what changed, when made for another state of the group
    evidence: Evidence = field(default_factory=Evidence)
    backend: str | None = None  # the backend that answered
    # For the operator's page, never cached (a reused outcome sent nothing): the messages
    # after redaction, the replacements by rule, whether they left for the inference API,
    # and the model's answer as received, before sanitising.
    prompt: tuple[ChatMessage, ...] = ()
    redactions: tuple[tuple[str, int], ...] = ()
    sent: bool = False
    answer: str | None = None

    def dumps(self) -> str:
        """JSON for the state store."""
        return encode_json(
            {
                "text": self.text,
                "error": self.error,
                "code": self.code,
                "model": self.model,
                "explained_at": self.explained_at,
                "evidence": self.evidence.as_dicts(),
                "backend": self.backend,
            }
        ).decode()

    @classmethod
    def loads(cls, raw: str) -> Outcome:
        """The outcome a cached JSON string describes, marked as reused."""
        data = orjson.loads(raw)
        return cls(
            data["text"],
            data["error"],
            data["code"],
            data["model"],
            reused=True,
            explained_at=data.get("explained_at"),
            evidence=Evidence.from_dicts(data.get("evidence")),  # absent in older entries
            backend=data.get("backend"),  # absent in entries cached before backends existed
        )


class Explainer:
    """Produces the `Outcome` for a notification, paying for at most one call per state."""

    def __init__(
        self,
        settings: Settings,
        *,
        inference: FailoverChain,
        metrics: Metrics,
        state: StateStore,
        evidence: Gatherer | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._settings = settings
        self._inference = inference
        self._evidence = evidence
        self._catalogue = catalogue or Catalogue.from_settings(settings)
        self._metrics = metrics
        self._state = state
        self._redactor = Redactor.from_settings(
            settings.redaction, settings.server.limits.max_value_length
        )
        for rule in self._redactor.rule_names:
            metrics.redactions.labels(rule)
        self._templates = {
            r.name: PromptTemplates.from_settings(r.templates) for r in settings.routes
        }
        routes = [r.name for r in settings.routes]
        self._situations = Situations(settings.inference, state, metrics, routes)

    async def explain(self, route: RouteSettings, notification: Notification) -> Outcome:
        """The explanation for this notification: cached, fresh, skipped or a fallback."""
        model = route.model or self._settings.inference.model
        templates = self._templates[route.name]
        if notification.status == "resolved":
            await self._situations.end(route.name, model, templates.version, notification)
            if not route.explain_resolved:
                return Outcome()  # a resolution needs no paid call by default
        key = "explanation:" + notification.state_key(route.name, model, templates.version)
        cached = await self._state.get(key)
        if cached is not None:
            outcome = Outcome.loads(cached)
            if outcome.text is not None:
                self._metrics.explanations_reused.labels(route.name, "same_state").inc()
            else:
                self._count_fallback(route, outcome.code)
            return outcome
        if notification.status == "resolved":
            return await self._explain_state(key, route, notification, model, templates)
        situation = self._situations.consult(route.name, model, templates.version, notification)
        async with situation as consulted:
            if (reusable := consulted.reusable()) is not None:
                made, since = reusable
                return replace(Outcome.loads(made), since=since)
            outcome = await self._explain_state(key, route, notification, model, templates)
            if outcome.text is not None and outcome.explained_at is not None:
                await self._situations.remember(consulted, outcome.dumps(), outcome.explained_at)
            return outcome

    async def _explain_state(
        self,
        key: str,
        route: RouteSettings,
        notification: Notification,
        model: str,
        templates: PromptTemplates,
    ) -> Outcome:
        """One call for this alert state, its outcome cached under `key`."""
        evidence = await self._gather(notification)
        outcome = await self._ask(route, notification, model, templates, evidence)
        if outcome.text is not None:
            outcome = replace(outcome, evidence=evidence, explained_at=self._situations.now())
            await self._state.put(key, outcome.dumps(), self._settings.inference.explanation_ttl)
        else:
            outcome = replace(outcome, evidence=evidence)
            self._count_fallback(route, outcome.code)
            if outcome.code != "no_api_key":
                await self._state.put(
                    key, outcome.dumps(), min(FAILURE_TTL, self._settings.delivery.dedup_window)
                )
        return outcome

    def end_waits_within(self, grace: float) -> None:
        """Shutdown: notifications still waiting for a call give up in time for one to end
        within `grace`, then get the fallback."""
        self._inference.end_waits_within(grace)

    async def _gather(self, notification: Notification) -> Evidence:
        """The evidence for a notification about to be explained (or to get a fallback)."""
        if self._evidence is None:
            return Evidence()
        return await self._evidence.gather(notification, datetime.now(UTC))

    async def _ask(
        self,
        route: RouteSettings,
        notification: Notification,
        model: str,
        templates: PromptTemplates,
        evidence: Evidence,
    ) -> Outcome:
        shown_prompt: dict[str, Any] = {}
        try:
            messages, shown, counts = await self._prompt(
                templates, notification, route.name, evidence
            )
            shown_prompt = {"prompt": tuple(messages), "redactions": tuple(counts.items())}
            # Each backend in turn, each behind its own spend guard (limits, breaker, waits
            # by priority). A resolution is not worth a wait: it goes out at once, explained or not.
            explanation = await self._inference.explain(
                messages,
                route=route.name,
                model=model,
                metadata=request_metadata(route, shown),
                notification=notification,
                wait=notification.status == "firing",
            )
        except TemplateError as exc:
            logger.error("template_failed", route=route.name, error=str(exc))
            return Outcome(
                error=f"prompt template failed: {exc}", code="template_error", model=model
            )
        except ChainFailed as exc:  # every backend failed; each was logged
            shown_prompt["sent"] = exc.sent
            return Outcome(error=exc.reason, code=exc.code, model=model, **shown_prompt)
        self._count_spend(route.name, messages, explanation)
        # The model's answer is untrusted too: no mass mentions or active markup go onward.
        return Outcome(
            text=sanitize_explanation(explanation.text),
            model=explanation.model,
            answer=explanation.text,
            backend=explanation.backend,
            sent=True,
            **shown_prompt,
        )

    async def _prompt(
        self,
        templates: PromptTemplates,
        notification: Notification,
        route: str,
        evidence: Evidence,
    ) -> tuple[list[ChatMessage], Notification, Counter[str]]:
        budget = self._settings.inference.prompt_budget_bytes
        notes = self._catalogue.prompt_notes(notification)
        args = (self._redactor, templates, notification, route, budget, evidence, notes)
        if len(notification.alerts) <= _RENDER_INLINE_MAX_ALERTS:
            messages, shown, counts = build_prompt(*args)
        else:
            # A big group takes tens of milliseconds to redact and render: keep the loop free.
            messages, shown, counts = await asyncio.to_thread(build_prompt, *args)
        for rule, count in counts.items():
            self._metrics.redactions.labels(rule).inc(count)
        return messages, shown, counts

    def _count_spend(
        self, route: str, messages: list[ChatMessage], explanation: Explanation
    ) -> None:
        m = self._metrics
        labels = (route, explanation.backend or "", explanation.requested or explanation.model)
        m.prompt_characters.labels(*labels).inc(sum(len(x.content) for x in messages))
        m.completion_characters.labels(*labels).inc(len(explanation.text))
        usage = explanation.usage or {}
        for kind in ("prompt", "completion"):
            if f"{kind}_tokens" in usage:
                m.tokens.labels(*labels, kind).inc(usage[f"{kind}_tokens"])

    def _count_fallback(self, route: RouteSettings, code: str | None) -> None:
        self._metrics.fallbacks.labels(route.name, code or "unknown").inc()


def build_prompt(
    redactor: Redactor,
    templates: PromptTemplates,
    notification: Notification,
    route: str,
    budget: int,
    evidence: Evidence | None = None,
    notes: Sequence[Notes] = (),
) -> tuple[list[ChatMessage], Notification, Counter[str]]:
    """What the inference API sees: the notification redacted, rendered within `budget`.

    Returns the messages, the redacted notification (for request metadata) and the number
    of redactions by rule. The original notification stays untouched for identity and sinks.
    `evidence` was redacted when it was gathered; `notes` are the catalogue's (trusted text).
    """
    shown, counts = redactor.prepare(notification)
    messages = templates.render(shown, route=route, budget=budget, evidence=evidence, notes=notes)
    return messages, shown, counts


def inference_request(
    settings: Settings,
    redactor: Redactor,
    templates: PromptTemplates,
    route: RouteSettings,
    notification: Notification,
    evidence: Evidence | None = None,
    backend: BackendSettings | None = None,
    catalogue: Catalogue | None = None,
) -> tuple[dict[str, Any], Counter[str]]:
    """The exact body `backend` (the first by default) would be sent for `notification` on
    `route`, and its redactions.

    Calls nothing (`evidence`, when given, was gathered before): what `render` prints and
    the operator's page previews. A route's model is asked of the first backend; the
    fallbacks ask for their own.
    """
    budget = settings.inference.prompt_budget_bytes
    notes = (catalogue or Catalogue.from_settings(settings)).prompt_notes(notification)
    messages, shown, counts = build_prompt(
        redactor, templates, notification, route.name, budget, evidence, notes
    )
    chosen = backend or settings.inference
    first = chosen is settings.inference
    body = request_body(
        chosen,
        messages,
        model=(route.model if first else None) or chosen.model,
        metadata=request_metadata(route, shown),
    )
    return body, counts


def request_metadata(route: RouteSettings, notification: Notification) -> dict[str, Any]:
    """Per-notification metadata sent with the inference request."""
    return {
        "route": route.name,
        "receiver": notification.receiver,
        "status": notification.status,
        "alert_count": len(notification.alerts),
    }
