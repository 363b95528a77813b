"""One scenario per catalogued alert: the series that state its decisive fact, and the alert.

A scenario writes realistic kube-state-metrics, kubelet/cAdvisor, node-exporter and
control-plane series (label shapes as kube-prometheus-stack scrapes them, see `shapes`) into
a `History`, and says which fact each of the entry's recipes must find there: a regular
expression its summary lines must match. All scenarios share one Prometheus, so each keeps
to its own namespace, node or `cluster` label, and `merged` refuses two that write the
same series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.support.prometheus import History

Write = Callable[[History], None]


@dataclass(frozen=True)
class Scenario:
    """An alert as Alertmanager sends it, the history behind it, and the facts to find."""

    alertname: str
    labels: dict[str, str]  # every label of the alert, alertname and severity included
    # recipe name -> regular expression(s) each of which one of its lines must match
    facts: dict[str, str | tuple[str, ...]]
    write: Write
    starts: float = -1200.0  # startsAt, seconds relative to now
    # Labels the alert carries that describe the exporter, not the thing alerted on
    # (kube-state-metrics' own pod on a Deployment alert): no recipe or check may use them.
    foreign: frozenset[str] = field(default_factory=frozenset)
    name: str = ""  # the test id; the alertname unless one alert has several scenarios

    @property
    def id(self) -> str:
        return self.name or self.alertname

    def patterns(self, recipe: str) -> tuple[str, ...]:
        """The regular expressions the recipe's lines must match here (none: not planted)."""
        found = self.facts.get(recipe, ())
        return (found,) if isinstance(found, str) else found


SCENARIOS: list[Scenario] = []


def scenario(
    labels: dict[str, str],
    facts: dict[str, str | tuple[str, ...]],
    *,
    starts: float = -1200.0,
    foreign: Iterable[str] = (),
    name: str = "",
) -> Callable[[Write], Write]:
    """Register the decorated history writer as the scenario for `labels["alertname"]`."""

    def register(write: Write) -> Write:
        SCENARIOS.append(
            Scenario(labels["alertname"], labels, facts, write, starts, frozenset(foreign), name)
        )
        return write

    return register


def merged(scenarios: Iterable[Scenario], now: float) -> History:
    """One history holding every scenario's series; two scenarios may not share a series."""
    history = History(now=now)
    owners: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    for item in scenarios:
        own = History(now=now)
        item.write(own)
        for key in own.series_keys():
            if key in owners:
                raise ValueError(f"{item.id} and {owners[key]} both write {key}")
            owners[key] = item.id
        history.merge(own)
    return history
