"""Destinations: one module per kind behind the `Sink` protocol (sinks/base.py)."""

from __future__ import annotations

from alert_explainer.config import (
    LogSinkSettings,
    SinkSettings,
    SlackSinkSettings,
    WebhookSinkSettings,
)
from alert_explainer.sinks.base import Message, Sink
from alert_explainer.sinks.log import LogSink
from alert_explainer.sinks.slack import SlackSink
from alert_explainer.sinks.webhook import WebhookSink
from alert_explainer.store import StateStore
from alert_explainer.transport import HttpClient

__all__ = ["Message", "Sink", "build_sink", "build_sinks"]


def build_sink(settings: SinkSettings, http: HttpClient, state: StateStore) -> Sink:
    """The sink a `sinks:` entry describes."""
    match settings:
        case LogSinkSettings():
            return LogSink(settings.name)
        case WebhookSinkSettings():
            return WebhookSink(settings, http)
        case SlackSinkSettings():
            return SlackSink(settings, http)
    raise AssertionError(f"unhandled sink type {settings.type!r}")  # pragma: no cover


def build_sinks(
    settings: list[SinkSettings], http: HttpClient, state: StateStore
) -> dict[str, Sink]:
    """Every configured sink, by name. `state` keeps what sinks must remember (thread ids)."""
    return {s.name: build_sink(s, http, state) for s in settings}
