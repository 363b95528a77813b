"""Inference: the backends that explain a prompt, and the chain that fails over between them.

backend   the interface: one API, its request body, auth, retries and answer parsing
clanker   `api: clanker`, the Clanker Cloud API (the default, today's body byte for byte)
openai    `api: openai`, any OpenAI-compatible chat-completions endpoint
chain     the backends in order, each behind its own spend guard, inside one deadline
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alert_explainer.budget import Priorities, SpendGuard
from alert_explainer.config import BackendSettings, InferenceSettings, Settings
from alert_explainer.inference import clanker, openai
from alert_explainer.inference.backend import Backend, Explanation
from alert_explainer.inference.chain import ChainFailed, FailoverChain, Member
from alert_explainer.metrics import Metrics
from alert_explainer.prompts import ChatMessage
from alert_explainer.store import StateStore
from alert_explainer.transport import HttpClient, tls_context

__all__ = [
    "Backend",
    "ChainFailed",
    "Explanation",
    "FailoverChain",
    "backend_models",
    "build_backend",
    "build_chain",
    "priority_names",
    "request_body",
]

BACKEND_TYPES: dict[str, type[Backend]] = {
    "clanker": clanker.ClankerBackend,
    "openai": openai.OpenAIBackend,
}


def request_body(
    settings: BackendSettings,
    messages: Sequence[ChatMessage],
    *,
    model: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The exact JSON body `settings`' backend is sent for these messages (`render`)."""
    return BACKEND_TYPES[settings.api].body(settings, messages, model=model, metadata=metadata)


def build_backend(
    http: HttpClient,
    settings: BackendSettings,
    metrics: Metrics | None = None,
    *,
    ca_file: Path | None = None,
    verify: bool = True,
) -> Backend:
    """The backend `settings` describe; its own CA (with the global `ca_file`) if it has one."""
    tls = tls_context(ca_file, settings.ca_file) if verify and settings.ca_file else None
    return BACKEND_TYPES[settings.api](http, settings, metrics, tls=tls)


def build_chain(
    http: HttpClient,
    settings: InferenceSettings,
    state: StateStore,
    metrics: Metrics,
    *,
    ca_file: Path | None = None,
    verify: bool = True,
) -> FailoverChain:
    """Every configured backend, in order, each with its own limits and circuit breaker."""
    members = [
        Member(
            build_backend(http, b, metrics, ca_file=ca_file, verify=verify),
            SpendGuard(b.limits, b.breaker, state, metrics, backend=b.name),
            Priorities(b.limits.priority),
        )
        for b in settings.backends
    ]
    return FailoverChain(members, deadline=settings.chain_deadline, metrics=metrics)


def backend_models(settings: Settings) -> dict[str, list[str]]:
    """Each backend and the models it may be asked for (routes choose the first's), for metrics."""
    first, *fallbacks = settings.inference.backends
    routes = {r.model for r in settings.routes if r.model}
    return {first.name: sorted({first.model, *routes})} | {b.name: [b.model] for b in fallbacks}


def priority_names(settings: Settings) -> list[str]:
    """Every priority label value a backend's waiters may be counted by, for metrics."""
    names: dict[str, None] = {}
    for backend in settings.inference.backends:
        names |= dict.fromkeys(Priorities(backend.limits.priority).names)
    return list(names)
