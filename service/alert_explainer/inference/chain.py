"""Failover: the backends asked in order until one explains, all inside one deadline.

The next backend is asked whenever the one before ends without an explanation, whatever
the reason: a final answer (402, 401/403, 400), 429 or 5xx after its retries, a timeout, a
bad answer, its own limits or open circuit breaker, no key configured, or a wait for one of
its permits that ran out. Each backend has its own spend guard, so a dead primary is skipped
quickly while its breaker is open. When every backend fails, the reason names each:
`clanker: paid account required; in-cluster: timed out after 30 s`; with a single backend
it is that backend's reason alone.

The deadline bounds the time backends spend answering; a wait for a busy backend's permit
(its `limits.max_wait`, issue-15 bursts) does not eat into it, so a burst is explained
later rather than failed over at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from alert_explainer.alertmanager import Notification
from alert_explainer.budget import UNRANKED, Priorities, SpendGuard
from alert_explainer.errors import InferenceError
from alert_explainer.inference.backend import Backend, Explanation, no_api_key
from alert_explainer.metrics import Metrics
from alert_explainer.prompts import ChatMessage

logger = structlog.get_logger("alert_explainer.inference")

# A backend left less time than this is not called: the request would be sent (and perhaps
# billed) with no time to read its answer.
MIN_ATTEMPT_SECONDS = 0.25


class ChainFailed(InferenceError):
    """Every backend failed. `failures` holds (backend name, its error) in the order tried;
    `sent` says whether any request left for a backend.

    `code` is the last failure other than "no API key" (the reason that mattered), or
    "no_api_key" when no backend had a key. The reason names each backend's, or is the one
    backend's own when there is only one.
    """

    def __init__(self, failures: Sequence[tuple[str, InferenceError]], *, sent: bool) -> None:
        self.failures = list(failures)
        self.sent = sent
        real = [exc for _, exc in self.failures if exc.code != "no_api_key"]
        code = real[-1].code if real else "no_api_key"
        if len(self.failures) == 1:
            reason = self.failures[0][1].reason
        else:
            reason = "; ".join(f"{name}: {_short(exc.reason)}" for name, exc in self.failures)
        super().__init__(reason, code=code, retryable=False)


def _short(reason: str) -> str:
    # After the backend's name, "inference API" says nothing more.
    return reason.removeprefix("inference API ")


@dataclass(frozen=True, slots=True)
class Member:
    """One backend of the chain, the guard over its spending and how it ranks waiters."""

    backend: Backend
    guard: SpendGuard
    priorities: Priorities


class FailoverChain:
    """Asks each backend in turn until one explains."""

    def __init__(self, members: Sequence[Member], *, deadline: float, metrics: Metrics) -> None:
        if not members:
            raise ValueError("a chain needs at least one backend")
        self._members = list(members)
        self._deadline = deadline
        self._metrics = metrics

    @property
    def backends(self) -> list[Backend]:
        """The backends in the order they are asked."""
        return [m.backend for m in self._members]

    @property
    def configured(self) -> bool:
        """Whether any backend can be called at all."""
        return any(m.backend.configured for m in self._members)

    @property
    def deadline(self) -> float:
        """Seconds the backends may spend answering one explanation, all of them together."""
        return self._deadline

    @property
    def longest(self) -> float:
        """Seconds one explanation may take at most: the deadline and every longest wait."""
        return self._deadline + sum(m.backend.settings.limits.max_wait for m in self._members)

    def end_waits_within(self, grace: float) -> None:
        """Shutdown: calls waiting for a permit give up in time for one to end within `grace`."""
        for member in self._members:
            member.guard.end_waits_within(grace - member.backend.settings.timeout)

    def warn_about_keys(self) -> None:
        """Say once, at start-up, which backends will never be called for want of a key."""
        backends = self.backends
        if len(backends) == 1:
            if not self.configured:
                logger.warning(
                    "no_api_key",
                    message="no inference API key configured: every alert is delivered with "
                    "'explanation unavailable: no API key configured'. Set "
                    "CLANKER_CLOUD_API_KEY or inference.api_key.",
                )
            return
        consequence = (
            ""
            if self.configured
            else (
                "; no backend has one, so every alert is delivered with 'explanation unavailable'"
            )
        )
        for backend in backends:
            if not backend.configured:
                logger.warning(
                    "no_api_key",
                    backend=backend.name,
                    message=f"inference backend {backend.name!r} has no API key and is skipped"
                    + consequence,
                )

    async def explain(
        self,
        messages: Sequence[ChatMessage],
        *,
        route: str,
        model: str,
        metadata: dict[str, Any],
        notification: Notification | None = None,
        wait: bool = True,
    ) -> Explanation:
        """The first explanation a backend gives; ChainFailed if none does.

        `model` is the first backend's (a route may choose it); the fallbacks ask for their own.
        A busy backend is waited for (unless not `wait`), `notification` ranked by that
        backend's priority (first come, first served without one).
        """
        ask = _Ask(messages, route, metadata, notification, wait, self._deadline)
        failures: list[tuple[str, InferenceError]] = []
        for position, member in enumerate(self._members):
            backend = member.backend
            asked = model if position == 0 else backend.model
            try:
                return await self._ask(member, ask, asked)
            except InferenceError as exc:
                self._metrics.inference_failures.labels(backend.name, exc.code).inc()
                if exc.code != "no_api_key":  # warned about once, at start-up
                    logger.warning(
                        "inference_failed",
                        route=route,
                        backend=backend.name,
                        model=asked,
                        reason=exc.reason,
                        code=exc.code,
                    )
                failures.append((backend.name, exc))
        raise ChainFailed(failures, sent=ask.sent)

    async def _ask(self, member: Member, ask: _Ask, model: str) -> Explanation:
        backend = member.backend
        if not backend.configured:
            raise no_api_key()  # before the guard: a call never made spends no budget
        if ask.seconds_left() < MIN_ATTEMPT_SECONDS:
            raise InferenceError(
                "no time left before the deadline", code="timeout", retryable=False
            )
        priority = UNRANKED if ask.notification is None else member.priorities.of(ask.notification)
        waiting = asyncio.get_running_loop().time()
        async with member.guard.permit(priority, wait=ask.wait):
            ask.waited(asyncio.get_running_loop().time() - waiting)
            ask.sent = True
            self._metrics.inference_calls.labels(ask.route, backend.name, model).inc()
            return await backend.explain(
                ask.messages, model=model, metadata=ask.metadata, deadline=ask.deadline
            )


class _Ask:
    """One explanation asked of the chain: what to send, and the deadline it shares.

    The deadline moves on by every wait for a permit: waiting is not answering.
    """

    def __init__(
        self,
        messages: Sequence[ChatMessage],
        route: str,
        metadata: dict[str, Any],
        notification: Notification | None,
        wait: bool,
        seconds: float,
    ) -> None:
        self.messages = messages
        self.route = route
        self.metadata = metadata
        self.notification = notification
        self.wait = wait
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.sent = False  # whether a request left for any backend

    def seconds_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def waited(self, seconds: float) -> None:
        self.deadline += seconds
