"""`alert-explainer dead-letters`: list, show, replay and drop the async worker's dead letters.

It opens the store beside the queue (deadletters.py) with the service's configuration, while
the service runs: the SQLite file is shared safely between processes, Redis anyway. What it
prints comes from alerts, so control characters are shown escaped, never sent to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from alert_explainer.alertmanager import PayloadLimits
from alert_explainer.config import Settings
from alert_explainer.deadletters import DeadLetter
from alert_explainer.queue import QueueError, backend_errors, open_dead_letters, uses_redis


def add_dead_letters_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The `dead-letters` command and its actions, each taking --config."""
    letters = commands.add_parser(
        "dead-letters",
        help="list, show, replay or drop queued notifications that sinks never took",
        description="Dead letters are async-mode notifications some sinks refused for good or "
        "did not take within delivery.max_age. Replay queues one again for those sinks only.",
    )
    actions = letters.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every dead letter, oldest first")
    show = actions.add_parser("show", help="one dead letter in full, with its notification")
    show.add_argument("id", help="the dead letter's id (from list)")
    replay = actions.add_parser("replay", help="queue dead letters again for their sinks")
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letters to replay")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    drop = actions.add_parser("drop", help="delete dead letters for good")
    drop.add_argument("ids", nargs="+", metavar="ID", help="dead letters to delete")
    drop.set_defaults(all=False)
    for action in (listing, show, replay, drop):
        with_config(action)
    for action in (listing, show):
        action.add_argument("--json", action="store_true", help="print JSON instead of text")


def dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    """`alert-explainer dead-letters ACTION`: work on the store beside the queue."""
    if args.action == "replay" and bool(args.ids) == args.all:
        print("alert-explainer: give dead letter ids or --all, not both", file=sys.stderr)
        return 2
    if args.action == "replay" and settings.delivery.mode != "async":
        print(
            "alert-explainer: delivery.mode is sync, so no worker would deliver replayed "
            "entries; run replay with the configuration of the async-mode service",
            file=sys.stderr,
        )
        return 1
    unreachable = backend_errors(settings)
    try:
        return asyncio.run(_dead_letters(settings, args))
    except QueueError as exc:
        print(f"alert-explainer: {exc}", file=sys.stderr)
    except unreachable as exc:  # never the URL: it may hold a password
        where = "Redis (state.url)" if uses_redis(settings) else str(settings.delivery.queue_path)
        print(f"alert-explainer: cannot reach the dead letters in {where}: {exc}", file=sys.stderr)
    return 1


async def _dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    store = open_dead_letters(settings)
    limits = settings.server.limits.payload
    try:
        if args.action == "list":
            described = [letter.describe(limits) for letter in await store.letters()]
            print(json.dumps(described, indent=2) if args.json else letters_table(described))
            return 0
        if args.action == "show":
            letter = await store.get(args.id)
            if letter is None:
                print(f"alert-explainer: no dead letter {args.id!r}", file=sys.stderr)
                return 1
            print(letter_text(letter, limits, as_json=args.json))
            return 0
        ids = [letter.id for letter in await store.letters()] if args.all else args.ids
        work = store.replay if args.action == "replay" else store.drop
        done = await work(ids)
    finally:
        await store.aclose()
    verb = "replayed (queued again for their sinks)" if args.action == "replay" else "dropped"
    print(f"{len(done)} dead letter(s) {verb}{': ' + ', '.join(done) if done else ''}")
    missing = [i for i in ids if i not in done]
    if missing:
        print(f"alert-explainer: no dead letter {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def letters_table(described: list[dict[str, Any]]) -> str:
    """One line per letter and one per sink error, with a count at the end."""
    if not described:
        return "no dead letters"
    header = ("ID", "LAST TRY", "ROUTE", "REASON", "ATTEMPTS", "SINKS", "NOTIFICATION")
    rows = [
        (
            d["id"],
            d["last_try"],
            d["route"],
            d["reason"],
            str(d["attempts"]),
            ",".join(d["sinks"]),
            _notification_line(d),
        )
        for d in described
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row, d in zip([header, *rows], [None, *described], strict=True):
        lines.append("  ".join([*map(str.ljust, row[:-1], widths), row[-1]]))
        for sink, error in (d or {}).get("errors", {}).items():
            lines.append(f"    {sink}: {printable(error)}")
    lines.append(f"{len(described)} dead letter(s)")
    return "\n".join(lines)


def letter_text(letter: DeadLetter, limits: PayloadLimits, *, as_json: bool) -> str:
    """One letter in full: its facts, each sink's error and the notification body."""
    described = letter.describe(limits)
    try:
        body: Any = json.loads(letter.body)
    except ValueError:
        body = letter.body.decode("utf-8", errors="replace")
    if as_json:
        return json.dumps(described | {"body": body}, indent=2)
    lines = [f"dead letter {described['id']}"]
    for label, key in (
        ("route", "route"),
        ("reason", "reason"),
        ("attempts", "attempts"),
        ("queued at", "queued_at"),
        ("first try", "first_try"),
        ("last try", "last_try"),
    ):
        lines.append(f"  {label + ':':<12}{described[key]}")
    lines.append(f"  {'sinks:':<12}{', '.join(letter.sinks)} (replay sends to these only)")
    lines.append(f"  {'group:':<12}{_notification_line(described)}")
    lines.append("  errors:")
    lines += [f"    {sink}: {printable(error)}" for sink, error in letter.errors.items()]
    lines.append("  body:")
    lines += ["    " + line for line in json.dumps(body, indent=2).splitlines()]
    return "\n".join(lines)


def _notification_line(described: dict[str, Any]) -> str:
    notification = described["notification"]
    if notification is None:
        return f"(unreadable: {described['unreadable']})"
    return printable(
        f"{notification['status']}, {notification['alerts']} alert(s): {notification['title']}"
    )


def printable(text: str) -> str:
    """Untrusted text for a terminal: control characters shown escaped, never acted on."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
