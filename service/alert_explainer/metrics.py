"""Every Prometheus metric the service exports, in one registry per app.

Labels are bounded: route, sink and backend names and models come from the configuration,
outcomes and reasons from fixed lists below. Never an alertname, fingerprint, group key or URL.

Every Gauge names its `multiprocess_mode`: how the values of `serve --workers` processes
combine (worker_metrics.py). A gauge computed when scraped (`set_function`) cannot be
shared between workers; use a custom collector, which reports the scraped worker's view.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from alert_explainer import __version__
from alert_explainer.deadletters import REASONS as DEAD_LETTER_REASONS
from alert_explainer.metric_types import Counter, Gauge, Histogram
from alert_explainer.worker_metrics import exposition, multiprocess_enabled

PREFIX = "alert_explainer"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Why an HTTP call to the inference API gave no explanation (also its `outcome` label).
INFERENCE_FAILURES = (
    "payment_required",
    "unauthorized",
    "forbidden",
    "bad_request",
    "client_error",
    "rate_limited",
    "server_error",
    "timeout",
    "connection_error",
    "invalid_response",
)
# Why the spend guard made no call (budget.py): a spent budget, the open breaker, a wait
# for a permit that ran out, a wait list already full.
GUARD_REFUSALS = ("budget_exhausted", "circuit_open", "model_busy", "too_many_waiting")
# Why an explanation was unavailable (the `reason` label of fallbacks_total).
FALLBACK_REASONS = ("no_api_key", *INFERENCE_FAILURES, "template_error", *GUARD_REFUSALS)
INFERENCE_OUTCOMES = ("ok", *INFERENCE_FAILURES)
LIMITS = ("concurrency", "waiters", "per_minute", "per_hour", "per_day", "circuit")
DELIVERY_OUTCOMES = ("ok", "failed", "duplicate")
PROCESSING_OUTCOMES = ("delivered", "failed", "duplicate")
STATUSES = ("firing", "resolved")
EVIDENCE_SOURCES = ("expression", "recipe", "history", "alertmanager")
EVIDENCE_OUTCOMES = ("ok", "empty", "error", "timeout", "too_large", "invalid", "unauthorized")
# LLM calls take seconds, not milliseconds: the default buckets stop at 10 s.
INFERENCE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Waiting for a permit: none at all in quiet times, up to inference.limits.max_wait in a burst.
WAIT_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 120.0, 300.0)


class Metrics:
    """The service's metrics; one instance per app so tests can run several apps."""

    def __init__(
        self,
        routes: list[str],
        sinks: list[str],
        backends: Mapping[str, Sequence[str]],
        priorities: Sequence[str] = (),
        route_sinks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """`backends`: each backend's name and the models it may be asked for; `priorities`:
        the priority label values waiters are counted by."""
        # `_created` series double the output and nobody queries them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry

        Info(f"{PREFIX}_build", "Version of alert-explainer running.", registry=r).info(
            {"version": __version__, "python_version": platform.python_version()}
        )
        self.notifications_received = Counter(
            f"{PREFIX}_notifications_received_total",
            "Webhook notifications accepted, by route and notification status.",
            ["route", "status"],
            registry=r,
        )
        self.alerts_received = Counter(
            f"{PREFIX}_alerts_received_total",
            "Alerts inside accepted notifications, by route and alert status.",
            ["route", "status"],
            registry=r,
        )
        self.notifications_processed = Counter(
            f"{PREFIX}_notifications_processed_total",
            "Notifications whose processing finished: delivered to every sink, failed "
            "(Alertmanager will retry), or duplicate (every sink already had it).",
            ["route", "outcome"],
            registry=r,
        )
        self.webhook_responses = Counter(
            f"{PREFIX}_webhook_responses_total",
            "Answers to webhook requests by HTTP status code.",
            ["code"],
            registry=r,
        )
        self.requests_in_flight = Gauge(
            f"{PREFIX}_requests_in_flight",
            "Webhook requests currently being answered.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.notifications_in_progress = Gauge(
            f"{PREFIX}_notifications_in_progress",
            "Notifications being explained or delivered (they outlive a timed-out request).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.inference_requests = Counter(
            f"{PREFIX}_inference_requests_total",
            "HTTP calls to an inference backend (each retry counts), by backend, model and "
            "outcome.",
            ["backend", "model", "outcome"],
            registry=r,
        )
        self.inference_duration = Histogram(
            f"{PREFIX}_inference_request_duration_seconds",
            "Duration of each HTTP call to an inference backend.",
            ["backend", "model"],
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.inference_failures = Counter(
            f"{PREFIX}_inference_failures_total",
            "Explanations a backend did not give (after its retries), by backend and reason; "
            "the next backend, if any, is asked.",
            ["backend", "reason"],
            registry=r,
        )
        self.explanations_reused = Counter(
            f"{PREFIX}_explanations_reused_total",
            "Notifications explained without an inference call, by reason: the same alert "
            "state (same_state), or the same situation with other alerts firing "
            "(members_changed) or other annotation values (details_changed).",
            ["route", "reason"],
            registry=r,
        )
        self.reexplanations = Counter(
            f"{PREFIX}_reexplanations_total",
            "Groups explained again because their situation changed, by trigger: alertname, "
            "severity, growth, refired, expired (inference.reexplain_after).",
            ["route", "trigger"],
            registry=r,
        )
        self.fallbacks = Counter(
            f"{PREFIX}_fallbacks_total",
            "Notifications delivered without an explanation, by reason.",
            ["route", "reason"],
            registry=r,
        )
        self.deliveries = Counter(
            f"{PREFIX}_deliveries_total",
            "Messages handed to destinations, by sink and outcome.",
            ["sink", "outcome"],
            registry=r,
        )
        self.delivery_duration = Histogram(
            f"{PREFIX}_delivery_duration_seconds",
            "Time to deliver one message to one sink, retries included.",
            ["sink"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.inference_limited = Counter(
            f"{PREFIX}_inference_limited_total",
            "Inference calls not made because a limit refused them, by backend and limit.",
            ["backend", "limit"],
            registry=r,
        )
        self.inference_waiters = Gauge(
            f"{PREFIX}_inference_waiters",
            "Notifications waiting for an inference permit (all concurrency permits taken), "
            "by the value of the priority label (inference.limits.priority; other: none listed).",
            ["severity"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.inference_wait = Histogram(
            f"{PREFIX}_inference_wait_seconds",
            "Time each inference call waited for its permit (0 when one was free), by priority "
            "label value. Waits that ran out are in inference_limited_total{limit=concurrency}.",
            ["severity"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.inference_circuit_open = Gauge(
            f"{PREFIX}_inference_circuit_open",
            "1 while a backend's circuit breaker refuses calls after consecutive failures.",
            ["backend"],
            registry=r,
            multiprocess_mode="livemax",  # each worker has its own breaker: 1 if any is open
        )
        self.inference_calls = Counter(
            f"{PREFIX}_inference_calls_total",
            "Explanations asked of a backend (one per notification state and backend tried, "
            "retries excluded).",
            ["route", "backend", "model"],
            registry=r,
        )
        self.prompt_characters = Counter(
            f"{PREFIX}_inference_prompt_characters_total",
            "Characters sent in prompts that were answered (system and user message).",
            ["route", "backend", "model"],
            registry=r,
        )
        self.completion_characters = Counter(
            f"{PREFIX}_inference_completion_characters_total",
            "Characters received in explanations.",
            ["route", "backend", "model"],
            registry=r,
        )
        self.tokens = Counter(
            f"{PREFIX}_inference_tokens_total",
            "Tokens reported by the backend's usage object, by kind (prompt, completion).",
            ["route", "backend", "model", "kind"],
            registry=r,
        )
        self.state_backend_errors = Counter(
            f"{PREFIX}_state_backend_errors_total",
            "Operations on the shared state backend (Redis) that failed; per-process state "
            "was used instead.",
            registry=r,
        )
        self.loop_lag = Histogram(
            f"{PREFIX}_event_loop_lag_seconds",
            "How late a 50 ms event-loop timer fired: time the loop was blocked.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.loop_lag_max = Gauge(
            f"{PREFIX}_event_loop_lag_max_seconds",
            "The largest event-loop lag seen since start-up.",
            registry=r,
            multiprocess_mode="max",
        )
        self.loop_lag_max_value = 0.0
        self.auth_failures = Counter(
            f"{PREFIX}_webhook_auth_failures_total",
            "Webhook requests refused for missing or wrong credentials, by route ('' before "
            "a route is chosen).",
            ["route"],
            registry=r,
        )
        self.redactions = Counter(
            f"{PREFIX}_redactions_total",
            "Values replaced by [REDACTED:<rule>] before inference, by rule.",
            ["rule"],
            registry=r,
        )
        self.evidence_queries = Counter(
            f"{PREFIX}_evidence_queries_total",
            "Queries for evidence, by source (expression, recipe, history, alertmanager) and "
            "outcome (ok, empty, error, timeout, too_large, invalid, unauthorized).",
            ["source", "outcome"],
            registry=r,
        )
        self.evidence_skipped = Counter(
            f"{PREFIX}_evidence_skipped_total",
            "Notifications explained without evidence because too many others were "
            "gathering theirs at the time (a storm).",
            registry=r,
        )
        self.evidence_answers_shared = Counter(
            f"{PREFIX}_evidence_answers_shared_total",
            "Evidence queries not sent because another notification's identical query "
            "(in flight, or asked within the last minute) answered them, by source.",
            ["source"],
            registry=r,
        )
        self.evidence_query_duration = Histogram(
            f"{PREFIX}_evidence_query_duration_seconds",
            "Duration of each evidence query, by source.",
            ["source"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.evidence_duration = Histogram(
            f"{PREFIX}_evidence_duration_seconds",
            "Time to gather the evidence for one notification (all sources in parallel).",
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.evidence_bytes = Counter(
            f"{PREFIX}_evidence_bytes_total",
            "Bytes of evidence text added to prompts and messages.",
            registry=r,
        )
        self.explanations_not_needed = Counter(
            f"{PREFIX}_explanations_not_needed_total",
            "Notifications delivered as they are, without an inference call, because the "
            "catalogue marks every alert in them explain: false (Watchdog, InfoInhibitor).",
            ["route"],
            registry=r,
        )
        self.watchdog_last_received = Gauge(
            f"{PREFIX}_watchdog_last_received_timestamp_seconds",
            "When a firing Watchdog alert last arrived (Unix time; 0 before the first): the "
            "dead man's switch for the alerting path.",
            registry=r,
            multiprocess_mode="max",  # the latest arrival at any worker
        )
        self.watchdog_interval = Gauge(
            f"{PREFIX}_watchdog_interval_seconds",
            "The interval Watchdog arrives at (its route's repeat_interval), learned from the "
            "gaps between its notifications; 0 until two have arrived.",
            registry=r,
            # Each worker learns it from the arrivals it saw, which with several workers can
            # be every other one: the largest is never 0 once one has learnt it, and errs long.
            multiprocess_mode="livemax",
        )
        self.queue_entries = Gauge(
            f"{PREFIX}_queue_entries",
            "Notifications in the async delivery queue, waiting or being delivered.",
            registry=r,
            multiprocess_mode="livemostrecent",  # the shared queue, as last looked at
        )
        self.queue_oldest_age = Gauge(
            f"{PREFIX}_queue_oldest_age_seconds",
            "How long the oldest notification in the async delivery queue has waited (0 "
            "when the queue is empty).",
            registry=r,
            multiprocess_mode="livemostrecent",  # the shared queue, as last looked at
        )
        self.dead_letters = Gauge(
            f"{PREFIX}_dead_letters",
            "Dead letters waiting for a replay or a drop, by route and by the sink they lack.",
            ["route", "sink"],
            registry=r,
            multiprocess_mode="livemostrecent",  # the shared queue, as last looked at
        )
        # Not "dead_letters_total": a counter's family would be named like the gauge above.
        self.dead_lettered = Counter(
            f"{PREFIX}_notifications_dead_lettered_total",
            "Queued notifications given up on for some sinks, by reason: final_error (the "
            "sink refused it for good) or max_age (still undelivered after delivery.max_age).",
            ["reason"],
            registry=r,
        )
        self._initialise(routes, sinks, backends, priorities)
        for route, route_sink_names in (route_sinks or {}).items():
            for sink in route_sink_names:
                self.dead_letters.labels(route, sink)

    def _initialise(
        self,
        routes: list[str],
        sinks: list[str],
        backends: Mapping[str, Sequence[str]],
        priorities: Sequence[str],
    ) -> None:
        """Create every known series at zero, so rate() and absent() work from the start."""
        for priority in priorities:
            self.inference_waiters.labels(priority)
            self.inference_wait.labels(priority)
        for route in routes:  # explanations_reused and reexplanations: situation.py
            for status in STATUSES:
                self.notifications_received.labels(route, status)
                self.alerts_received.labels(route, status)
            for outcome in PROCESSING_OUTCOMES:
                self.notifications_processed.labels(route, outcome)
            for reason in FALLBACK_REASONS:
                self.fallbacks.labels(route, reason)
            self.explanations_not_needed.labels(route)
        for sink in sinks:
            self.delivery_duration.labels(sink)
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(sink, outcome)
        for reason in DEAD_LETTER_REASONS:
            self.dead_lettered.labels(reason)
        for source in EVIDENCE_SOURCES:
            self.evidence_query_duration.labels(source)
            self.evidence_answers_shared.labels(source)
            for evidence_outcome in EVIDENCE_OUTCOMES:
                self.evidence_queries.labels(source, evidence_outcome)
        for route in ["", *routes]:
            self.auth_failures.labels(route)
        for backend, models in backends.items():
            self.inference_circuit_open.labels(backend)
            for limit in LIMITS:
                self.inference_limited.labels(backend, limit)
            for reason in FALLBACK_REASONS:
                if reason != "template_error":  # decided before any backend is asked
                    self.inference_failures.labels(backend, reason)
            for model in models:
                for route in routes:
                    self.inference_calls.labels(route, backend, model)
                    self.prompt_characters.labels(route, backend, model)
                    self.completion_characters.labels(route, backend, model)
                    for kind in ("prompt", "completion"):
                        self.tokens.labels(route, backend, model, kind)
                self.inference_duration.labels(backend, model)
                for outcome in INFERENCE_OUTCOMES:
                    self.inference_requests.labels(backend, model, outcome)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format; every worker's with `serve --workers`."""
        if multiprocess_enabled():
            return exposition(self.registry)
        return generate_latest(self.registry)
