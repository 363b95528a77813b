"""`alert-explainer catalogue`: the catalogue's entries, or one with the queries it runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from alert_explainer.catalogue import Catalogue, show
from alert_explainer.config import EvidenceSettings, Settings
from alert_explainer.evidence.gather import promql_duration


def add_catalogue_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The `catalogue` command, taking --config."""
    command = commands.add_parser(
        "catalogue",
        help="list the catalogue's entries, or show one with the queries its recipes run",
    )
    with_config(command)
    command.add_argument("--alert", metavar="NAME", help="show the entry for this alertname")
    command.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a label of the sample alert the queries are rendered for (repeatable)",
    )
    command.add_argument(
        "--markdown", action="store_true", help="print the shipped entries as docs/catalogue.md"
    )


def catalogue(settings: Settings, args: argparse.Namespace) -> int:
    """List the entries in effect, or print one with its queries for a sample alert."""
    if args.markdown:
        print(show.markdown())
        return 0
    entries = Catalogue.from_settings(settings)
    if args.alert is None:
        print(show.listing(entries))
        return 0
    given: dict[str, str] = {}
    for pair in args.label:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            print(f"alert-explainer: --label expects NAME=VALUE, got {pair!r}", file=sys.stderr)
            return 1
        given[name] = value
    items = [i for i in entries.entries if i.entry.alert == args.alert]
    if not items:
        print(f"alert-explainer: no catalogue entry for {args.alert!r}", file=sys.stderr)
        return 1
    chosen = entries.listed_for({**given, "alertname": args.alert})
    shown = [chosen] if given and chosen is not None else items
    evidence = settings.evidence
    lookback = evidence.lookback if evidence else EvidenceSettings.model_fields["lookback"].default
    print("\n\n".join(show.describe(i, given, promql_duration(lookback)) for i in shown))
    return 0


def catalogue_summary(settings: Settings) -> str:
    """ "catalogue 63 entries (1 configured)": for check-config's line."""
    entries = Catalogue.from_settings(settings).entries
    configured = sum(1 for item in entries if not item.builtin)
    return f"catalogue {len(entries)} entries ({configured} configured)"
