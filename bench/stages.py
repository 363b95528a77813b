"""The cost of each stage of a notification, in-process: instructions, or CPU time, per call.

A shared machine makes throughput and even CPU seconds move by tens of percent from run to
run. Counted instructions do not: with `--valgrind` each stage runs under
`valgrind --tool=cachegrind --cache-sim=no` twice, for `--calls` and three times as many
calls, and the difference is divided by the extra calls, so start-up and imports cancel out.
That makes a change of a few percent in one stage visible, and comparable across commits.
Without `--valgrind` the stages are timed with process CPU time (best of 7), which is
quicker and noisier.

Every call gets a notification of its own (the shape of bench/payloads.py, as in
scenario 1), so caches keyed by group or alert cannot make a stage look cheaper than it is
under wrk. The stages:

    parse     parse_notification: the webhook body to a Notification
    keys      its identity, group identity and explanation state key
    redact    Redactor.prepare with the default rules
    render    the default prompt templates, within the default budget
    request   the inference request body, encoded
    sanitize  sanitize_explanation of a typical answer
    document  the webhook sink's version 1 document, encoded
    log       one canonical "notification" log line (JSON, to /dev/null)

    .venv/bin/python -m bench.stages --service-src /tmp/bench-wt/service --valgrind
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.harness import DEFAULT_SERVICE_SRC, table
from bench.payloads import crashloop_notification, encode

STAGES = ("parse", "keys", "redact", "render", "request", "sanitize", "document", "log")
ANSWER = (
    "Headline: api pods in payments are crash looping.\n"
    "What is happening: two pods of the api deployment restart again and again; requests "
    "served by them fail. @here the on-call should look.\n"
    "Likely cause: a bad release or a missing secret; the data does not tell.\n"
    "First checks:\n- kubectl logs --previous for the api container\n- the runbook"
)
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


class Inline:
    """The service's own work on one notification, with none of its machinery.

    The stages above as one webhook handler would run them: no task, state, metrics,
    situation, budget, catalogue or page. bench.floor's `--stages` app calls these around
    its two posts, which gives the least CPU any service doing this work on this stack
    could spend. Imports the service from sys.path.
    """

    ROUTE = "default"

    def __init__(self) -> None:
        import structlog

        from alert_explainer import alertmanager, inference, jsonout, sanitize
        from alert_explainer.config import Settings, TemplateSettings
        from alert_explainer.log import configure_logging
        from alert_explainer.prompts import PromptTemplates
        from alert_explainer.redact import Redactor
        from alert_explainer.sinks import base, webhook

        settings = Settings()
        self.limits = settings.server.limits
        self.inference = settings.inference
        self.redactor = Redactor.from_settings(settings.redaction, self.limits.max_value_length)
        self.templates = PromptTemplates.from_settings(TemplateSettings())
        configure_logging("json", "info")
        self.logger = structlog.get_logger("alert_explainer.pipeline")
        self._parse = alertmanager.parse_notification
        self._request_body = inference.request_body
        self._encode = jsonout.encode_json
        self._sanitize = sanitize.sanitize_explanation
        self._message = base.Message
        self._document = webhook.document

    def parse(self, body: bytes) -> Any:
        """The webhook body as a Notification."""
        return self._parse(body, self.limits.payload)

    def keys(self, notification: Any) -> tuple[str, str, str]:
        """Its identity, group identity and explanation state key."""
        return (
            notification.identity(self.ROUTE),
            notification.group_identity(self.ROUTE),
            notification.state_key(self.ROUTE, "model", self.templates.version),
        )

    def redact(self, notification: Any) -> Any:
        """The copy the prompt is rendered from."""
        return self.redactor.prepare(notification)[0]

    def render(self, shown: Any) -> Any:
        """The chat messages, within the default budget."""
        return self.templates.render(
            shown, route=self.ROUTE, budget=self.inference.prompt_budget_bytes
        )

    def request(self, messages: Any, notification: Any) -> bytes:
        """The inference request body, encoded."""
        metadata = {
            "route": self.ROUTE,
            "receiver": notification.receiver,
            "status": notification.status,
            "alert_count": len(notification.alerts),
        }
        return self._encode(
            self._request_body(self.inference, messages, model="m", metadata=metadata)
        )

    def sanitize(self, answer: str) -> str:
        """The model's answer made safe for destinations."""
        return self._sanitize(answer)

    def document(self, notification: Any, text: str) -> bytes:
        """The webhook sink's version 1 document for the explanation, encoded."""
        return self._encode(
            self._document(self._message(self.ROUTE, notification, text, None, "m"))
        )

    def log(self, notification: Any) -> None:
        """One canonical "notification" log line, as the pipeline writes it."""
        bound = self.logger.bind(
            route=self.ROUTE,
            group_key=notification.group_key,
            receiver=notification.receiver,
            status=notification.status,
            alerts=len(notification.alerts),
        )
        bound.info(
            "notification",
            outcome="delivered",
            explained=True,
            reused=False,
            error=None,
            sinks={"hook": "delivered"},
            explain_seconds=0.001,
            total_seconds=0.002,
        )


def stage_functions(count: int) -> dict[str, Callable[[int], object]]:
    """Each stage as a function of the call number; imports the service from sys.path."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the log stage writes here
    inline = Inline()
    bodies = [encode(crashloop_notification(f"stage{i:06d}-1-{i}")) for i in range(count)]
    notifications = [inline.parse(b) for b in bodies]
    shown = [inline.redact(n) for n in notifications]
    inline.redactor = Inline().redactor  # cold: no value remembered from the line above
    messages = [inline.render(s) for s in shown[:1]] * count
    return {
        "parse": lambda i: inline.parse(bodies[i]),
        "keys": lambda i: inline.keys(notifications[i]),
        "redact": lambda i: inline.redact(notifications[i]),
        "render": lambda i: inline.render(shown[i]),
        "request": lambda i: inline.request(messages[i], notifications[i]),
        "sanitize": lambda i: inline.sanitize(ANSWER),
        "document": lambda i: inline.document(notifications[i], ANSWER),
        "log": lambda i: inline.log(notifications[i]),
    }


def child(service_src: Path, stage: str, calls: int, items: int) -> None:
    """Prepare `items` notifications, then run one stage on `calls` of them after a warm-up.

    The preparation is the same whatever `calls` is, so it cancels out of the difference.
    """
    sys.path.insert(0, str(service_src))
    run = stage_functions(items)[stage]
    for i in range(calls + 1):
        run(i)


def instructions(service_src: Path, stage: str, calls: int) -> float:
    """Instructions per call of `stage`, from two counted runs of different lengths."""
    items = 3 * calls + 1

    def counted(n: int) -> int:
        argv = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
        argv += ["--cachegrind-out-file=/dev/null", sys.executable, "-m", "bench.stages"]
        argv += ["--service-src", str(service_src), "--child", stage, str(n), str(items)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        match = _REFS.search(done.stderr)
        if done.returncode != 0 or match is None:
            raise RuntimeError(f"valgrind run of {stage} failed:\n{done.stderr[-2000:]}")
        return int(match.group(1).replace(",", ""))

    return (counted(3 * calls) - counted(calls)) / (2 * calls)


def cpu_time(run: Callable[[int], object], calls: int, rounds: int = 7) -> float:
    """Seconds of process CPU per call, best of `rounds`, each on notifications of its own."""
    best = float("inf")
    for r in range(rounds):
        started = time.process_time()
        for i in range(r * calls, (r + 1) * calls):
            run(i)
        best = min(best, (time.process_time() - started) / calls)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Print the cost of each stage."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.stages", description="Per-stage cost of one notification."
    )
    parser.add_argument("--service-src", type=Path, default=DEFAULT_SERVICE_SRC)
    parser.add_argument("--valgrind", action="store_true", help="count instructions")
    parser.add_argument("--calls", type=int, default=100, help="calls per measurement")
    parser.add_argument("--stage", choices=STAGES, nargs="+", default=list(STAGES))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stage, calls, items = args.child
        child(args.service_src.resolve(), stage, int(calls), int(items))
        return 0

    rows: list[list[object]] = []
    results: dict[str, Any] = {}
    if args.valgrind:
        for stage in args.stage:
            count = instructions(args.service_src.resolve(), stage, args.calls)
            results[stage] = round(count)
            rows.append([stage, round(count)])
            print(f"  {stage:<9} {count:12,.0f} instructions per call", flush=True)
        total = sum(results.values())
        print(table(["stage", "instructions per call"], [*rows, ["total", total]]))
    else:
        sys.path.insert(0, str(args.service_src.resolve()))
        stdout = sys.stdout
        functions = stage_functions(7 * args.calls + 1)
        for stage in args.stage:
            seconds = cpu_time(functions[stage], args.calls)
            results[stage] = seconds
            rows.append([stage, round(seconds * 1e6, 1)])
        sys.stdout = stdout
        total = sum(results.values()) * 1e6
        print(table(["stage", "CPU µs per call"], [*rows, ["total", round(total, 1)]]))
    print(json.dumps({"service_src": str(args.service_src), "per_call": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
