"""The `alert-explainer` command: serve, check-config, render, dead-letters, catalogue."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from alert_explainer import __version__
from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.app import build_gatherer
from alert_explainer.catalogue import Catalogue
from alert_explainer.catalogue_command import add_catalogue_command, catalogue, catalogue_summary
from alert_explainer.config import (
    CONFIG_PATH_ENV,
    BackendSettings,
    RouteSettings,
    Settings,
    load_settings,
)
from alert_explainer.deadletters_command import add_dead_letters_command, dead_letters
from alert_explainer.errors import ConfigError, PayloadError, TemplateError
from alert_explainer.evidence import Evidence
from alert_explainer.explainer import inference_request
from alert_explainer.jsonout import encode_json
from alert_explainer.log import configure_logging
from alert_explainer.prompts import PromptTemplates, specimen, specimen_evidence
from alert_explainer.queue import QueueError, check_queue_writable
from alert_explainer.redact import Redactor
from alert_explainer.routing import CompiledRoute
from alert_explainer.server import run_server
from alert_explainer.since import member_noun
from alert_explainer.situation import Rule, Situation
from alert_explainer.transport import HttpClient
from alert_explainer.workers import STARTUP_FAILURE, serve_workers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alert-explainer",
        description="Explain Alertmanager notifications in plain language and forward them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=os.environ.get(CONFIG_PATH_ENV) or None,
            help=f"YAML configuration file (default: ${CONFIG_PATH_ENV}, else built-in defaults)",
        )

    serve = commands.add_parser("serve", help="run the HTTP service")
    with_config(serve)
    serve.add_argument("--host", help="address to listen on (default: server.host, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default: server.port, 8080)")
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes on that port (default: server.workers, 1; more need Redis state)",
    )

    check = commands.add_parser("check-config", help="validate the configuration and exit")
    with_config(check)

    render = commands.add_parser(
        "render",
        help="print the inference request body for a payload, calling nothing; its "
        "situation and whether it would call go to stderr",
    )
    with_config(render)
    render.add_argument("--route", default="default", help="route whose templates to use")
    render.add_argument(
        "--backend",
        help="inference backend whose request to print (default: the first, inference.name)",
    )
    render.add_argument("--pretty", action="store_true", help="indent the JSON for reading")
    render.add_argument(
        "--no-evidence",
        action="store_true",
        help="do not query the evidence sources (evidence section of the config)",
    )
    render.add_argument("payload", type=Path, help="Alertmanager webhook payload (JSON file)")

    add_dead_letters_command(commands, with_config)
    add_catalogue_command(commands, with_config)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    workers = getattr(args, "workers", None)
    try:
        settings = load_settings(
            args.config, overrides={"server": {"workers": workers}} if workers else None
        )
        templates = {r.name: PromptTemplates.from_settings(r.templates) for r in settings.routes}
        for name, route_templates in templates.items():
            try:  # compiled is not enough: an unknown variable only fails when rendered
                route_templates.render(specimen(), route=name, evidence=specimen_evidence())
            except TemplateError as exc:
                raise TemplateError(f"routes {name!r}: {exc}") from None
    except ConfigError as exc:
        print(f"alert-explainer: {exc}", file=sys.stderr)
        return 1
    except TemplateError as exc:
        print(f"alert-explainer: invalid configuration:\n  - {exc}", file=sys.stderr)
        return 1
    if args.command == "serve":
        return serve(settings, args.host, args.port)
    if args.command == "check-config":
        print(summary(settings, args.config))
        return 0
    if args.command == "dead-letters":
        return dead_letters(settings, args)
    if args.command == "catalogue":
        return catalogue(settings, args)
    return render(
        settings,
        templates,
        args.route,
        args.payload,
        backend=args.backend,
        pretty=args.pretty,
        evidence=not args.no_evidence,
    )


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    """Run the service until SIGTERM or SIGINT: one process, or server.workers of them."""
    try:  # now, rather than on the first notification
        check_queue_writable(settings)
    except QueueError as exc:
        print(f"alert-explainer: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.log.format, settings.log.level)
    host = host or settings.server.host
    port = port or settings.server.port
    if settings.server.workers > 1:
        return serve_workers(settings, host, port)
    return 0 if run_server(settings, host, port) else STARTUP_FAILURE


def summary(settings: Settings, path: Path | None) -> str:
    """One line describing a valid configuration, without any secret."""
    inference = settings.inference
    routes = "; ".join(f"{r.name} -> {', '.join(r.sinks)}" for r in settings.routes)
    line = (
        f"config OK ({path or 'built-in defaults'}): {len(settings.sinks)} sink(s), "
        f"{len(settings.routes)} route(s) [{routes}]; model {inference.model}"
        f"{' via provider ' + inference.provider if inference.provider else ''}; "
    )
    if not inference.fallbacks:
        keys = f"API key {_key_state(inference, 'fallback text only')}"
    else:
        keys = "backends in order: " + " -> ".join(
            f"{b.name} ({b.api}, {b.model}, key {_key_state(b, 'skipped')})"
            for b in inference.backends
        )
        keys += f"; deadline {inference.chain_deadline:g} s"
    return line + keys + _evidence_summary(settings) + f"; {catalogue_summary(settings)}"


def _key_state(backend: BackendSettings, without: str) -> str:
    if not backend.needs_key:
        return "not needed"
    return "set" if backend.api_key or backend.api_key_file else f"NOT set ({without})"


def _evidence_summary(settings: Settings) -> str:
    """Where evidence comes from, by host only (a URL may carry credentials)."""
    evidence = settings.evidence
    if evidence is None:
        return ""
    where = urlsplit(evidence.prometheus.url).netloc.rpartition("@")[2]
    if evidence.alertmanager is not None:
        where += " and " + urlsplit(evidence.alertmanager.url).netloc.rpartition("@")[2]
    return f"; evidence from {where}, {len(evidence.recipes)} configured recipe(s)"


def render(
    settings: Settings,
    templates: dict[str, PromptTemplates],
    route_name: str,
    payload: Path,
    *,
    backend: str | None = None,
    pretty: bool,
    evidence: bool = True,
) -> int:
    """Print the exact request body `backend` (the first by default) would be sent for
    `payload` on `route_name`.

    With an `evidence` section (and `evidence`), the evidence is gathered as the service
    would, so the body shows it; what was gathered is summarised on stderr.
    """
    route = settings.route(route_name)
    if route is None:
        known = ", ".join(r.name for r in settings.routes)
        print(
            f"alert-explainer: unknown route {route_name!r}; configured: {known}", file=sys.stderr
        )
        return 1
    chosen = settings.inference if backend is None else settings.inference.backend(backend)
    if chosen is None:
        known = ", ".join(b.name for b in settings.inference.backends)
        print(f"alert-explainer: unknown backend {backend!r}; configured: {known}", file=sys.stderr)
        return 1
    redactor = Redactor.from_settings(settings.redaction, settings.server.limits.max_value_length)
    if evidence and settings.evidence is not None:  # stdout is the body: log to stderr
        configure_logging(settings.log.format, settings.log.level, stream=sys.stderr)
    try:
        notification = parse_notification(payload.read_bytes(), settings.server.limits.payload)
        gathered = asyncio.run(gather(settings, notification)) if evidence else Evidence()
        body, _ = inference_request(
            settings, redactor, templates[route.name], route, notification, gathered, chosen
        )
    except OSError as exc:
        print(f"alert-explainer: cannot read {payload}: {exc.strerror}", file=sys.stderr)
        return 1
    except (PayloadError, TemplateError) as exc:
        print(f"alert-explainer: {payload}: {exc}", file=sys.stderr)
        return 1
    if pretty:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        sys.stdout.buffer.write(encode_json(body) + b"\n")
        sys.stdout.flush()
    version = templates[route.name].version
    print("\n".join(situation_lines(settings, route, notification, version)), file=sys.stderr)
    if settings.evidence is not None:
        print(evidence_line(gathered, skipped=not evidence), file=sys.stderr)
    return 0


async def gather(settings: Settings, notification: Notification) -> Evidence:
    """The evidence the service would gather for `notification` now (none unconfigured)."""
    if settings.evidence is None:
        return Evidence()
    http = HttpClient(user_agent=f"alert-explainer/{__version__}", ca_file=settings.http.ca_file)
    try:
        gatherer = build_gatherer(settings, http, Catalogue.from_settings(settings))
        assert gatherer is not None
        # A running service knows the external labels by now; read them first, as briefly.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gatherer.external_labels(), settings.evidence.timeout)
        return await gatherer.gather(notification, datetime.now(UTC))
    finally:
        await http.aclose()


def evidence_line(evidence: Evidence, *, skipped: bool) -> str:
    """One stderr line: what render gathered, or that it was told not to."""
    if skipped:
        return "evidence: not gathered (--no-evidence)"
    missing = sum(1 for item in evidence if item.unavailable)
    return f"evidence: {len(evidence)} item(s), {evidence.size} bytes in the prompt" + (
        f", {missing} source(s) unavailable" if missing else ""
    )


def situation_lines(
    settings: Settings, route: RouteSettings, notification: Notification, version: str
) -> list[str]:
    """Which situation `notification` maps to and whether it would call (render keeps no
    state, so it cannot know whether the service holds an explanation of it)."""
    model = route.model or settings.inference.model
    rule = Rule.from_settings(settings.inference)
    situation = Situation.of(route.name, notification)
    noun = member_noun(notification)
    names = ", ".join(json.dumps(n, ensure_ascii=False) for n in sorted(situation.alertnames))
    lines = [
        f"situation: route {json.dumps(route.name)}, group "
        f"{json.dumps(notification.group_key, ensure_ascii=False)}",
        f"  firing: {noun.count(situation.firing)}; alertnames: {names or 'none'}; "
        f"highest severity: {json.dumps(situation.severity) if situation.severity else 'none'}",
        f"  state-store key: {situation.key(model, version)}",
    ]
    if notification.status == "resolved":
        call = "yes" if route.explain_resolved else "no: resolved notices need no call"
        lines.append(f"  would call: {call} (and it ends the situation)")
    elif not CompiledRoute.compile(route).worth_explaining(notification):
        lines.append("  would call: no: no alert matches the route's explain matchers")
    else:
        held = "this alert state or situation" if rule.enabled else "this alert state"
        lines.append(
            f"  would call: yes, unless the service holds an explanation of {held} "
            "(render keeps no state)"
        )
        lines.append(f"  rule: {rule.describe(situation, noun)}")
    return lines
