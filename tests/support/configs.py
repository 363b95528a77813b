"""Service configurations for tests: the emulator as inference API, recorders as sinks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def explainer_config(
    inference_url: str,
    webhooks: Mapping[str, str],
    *,
    api_key: str | None = "test-paid-key",
    routes: list[dict[str, Any]] | None = None,
    server: Mapping[str, Any] | None = None,
    delivery: Mapping[str, Any] | None = None,
    inference: Mapping[str, Any] | None = None,
    **top_level: Any,
) -> dict[str, Any]:
    """A config with one `webhook` sink per entry of `webhooks` (name -> URL).

    Without `routes`, the `default` route sends to every sink.
    """
    inference_settings: dict[str, Any] = {"url": inference_url, "timeout": 5, **(inference or {})}
    if api_key is not None:
        inference_settings["api_key"] = api_key
    return {
        "server": {"respond_within": 5, **(server or {})},
        "inference": inference_settings,
        "delivery": dict(delivery or {}),
        "sinks": [
            {"name": name, "type": "webhook", "url": url, "timeout": 2}
            for name, url in webhooks.items()
        ],
        "routes": routes or [{"name": "default", "sinks": list(webhooks)}],
        "log": {"format": "json", "level": "info"},
        **top_level,
    }
