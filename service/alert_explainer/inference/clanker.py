"""`api: clanker`: the Clanker Cloud inference API (contract: docs/clanker-inference-api.md).

One call is one POST of `{provider?, model, messages, metadata}` with the key as `X-API-Key`
or `Authorization: Bearer`; nothing else is ever sent (no `stream`, no credentials).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alert_explainer.config import BackendSettings
from alert_explainer.inference.backend import Backend
from alert_explainer.prompts import ChatMessage


def request_body(
    settings: BackendSettings,
    messages: Sequence[ChatMessage],
    *,
    model: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The exact JSON body: `provider` only when configured, static then per-call metadata."""
    body: dict[str, Any] = {}
    if settings.provider:
        body["provider"] = settings.provider
    body["model"] = model
    body["messages"] = [m.as_dict() for m in messages]
    body["metadata"] = {**settings.metadata, "source": settings.source, **metadata}
    return body


class ClankerBackend(Backend):
    """Clanker Cloud's hosted inference."""

    api = "clanker"
    body = staticmethod(request_body)
