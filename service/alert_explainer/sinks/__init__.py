"""Destinations: one module per kind behind the `Sink` protocol (sinks/base.py).

Shared pieces: `facts` (status, severity, counts, links), `layout` (the `View` every
destination renders and `fit`, which shortens it to a size limit) and `markup` (text
layout in a destination's dialect).
"""

from __future__ import annotations

from functools import partial

from alert_explainer.config import (
    AlertmanagerSinkSettings,
    DiscordSinkSettings,
    GoogleChatSinkSettings,
    LogSinkSettings,
    MattermostSinkSettings,
    MSTeamsSinkSettings,
    NtfySinkSettings,
    OpsgenieSinkSettings,
    PagerDutySinkSettings,
    SinkSettings,
    SlackApiSinkSettings,
    SlackSinkSettings,
    TelegramSinkSettings,
    WebhookSinkSettings,
)
from alert_explainer.sinks import (
    alertmanager,
    discord,
    googlechat,
    mattermost,
    msteams,
    slack,
    webhook,
)
from alert_explainer.sinks.base import Message, PostingSink, Rendered, Sink
from alert_explainer.sinks.log import LogSink
from alert_explainer.sinks.ntfy import NtfySink
from alert_explainer.sinks.opsgenie import OpsgenieSink
from alert_explainer.sinks.pagerduty import PagerDutySink
from alert_explainer.sinks.slack_api import SlackApiSink
from alert_explainer.sinks.telegram import TelegramSink
from alert_explainer.store import StateStore
from alert_explainer.transport import HttpClient

__all__ = ["Message", "Rendered", "Sink", "build_sink", "build_sinks"]


def build_sink(settings: SinkSettings, http: HttpClient, state: StateStore) -> Sink:
    """The sink a `sinks:` entry describes. Secret files were read at config load."""
    match settings:
        case LogSinkSettings():
            return LogSink(settings.name)
        case WebhookSinkSettings():
            return webhook.build(settings, http)
        case SlackSinkSettings():
            return PostingSink(settings, http, slack.payload)
        case SlackApiSinkSettings():
            return SlackApiSink(settings, http, state)
        case MSTeamsSinkSettings():
            return PostingSink(settings, http, msteams.payload)
        case DiscordSinkSettings():
            return PostingSink(
                settings,
                http,
                partial(discord.payload, username=settings.username),
                url=discord.with_wait,
                retry_after=discord.retry_after,
            )
        case GoogleChatSinkSettings():
            return googlechat.GoogleChatSink(settings, http, state)
        case MattermostSinkSettings():
            render = partial(
                mattermost.payload, channel=settings.channel, username=settings.username
            )
            return PostingSink(settings, http, render)
        case PagerDutySinkSettings():
            return PagerDutySink(settings, http)
        case OpsgenieSinkSettings():
            return OpsgenieSink(settings, http)
        case TelegramSinkSettings():
            return TelegramSink(settings, http)
        case NtfySinkSettings():
            return NtfySink(settings, http)
        case AlertmanagerSinkSettings():
            return alertmanager.build(settings, http)
    raise AssertionError(f"unhandled sink type {settings.type!r}")  # pragma: no cover


def build_sinks(
    settings: list[SinkSettings], http: HttpClient, state: StateStore
) -> dict[str, Sink]:
    """Every configured sink, by name. `state` keeps what sinks must remember (thread ids)."""
    return {s.name: build_sink(s, http, state) for s in settings}
