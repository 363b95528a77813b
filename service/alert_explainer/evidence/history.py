"""History: how often the alert fired in the last 7 days, from the ALERTS series.

Prometheus writes `ALERTS{alertname, alertstate="firing", <the alert's labels>}` while an
alert fires. A range query over 7 days at a 5-minute step shows each firing period as a
run of points; runs apart by more than a step are separate periods (so flaps within five
minutes count once). The alert's labels are pinned as for the expression; when that finds
nothing (labels Prometheus adds only when sending, like external labels), the query runs
with the alertname alone and keeps the series whose labels all agree with the alert's.
That query is the same for every group of the alertname, so its answer is shared.
"""

from __future__ import annotations

from collections.abc import Sequence

from alert_explainer.alertmanager import Alert
from alert_explainer.evidence.expression import belongs, pins
from alert_explainer.evidence.model import EvidenceItem
from alert_explainer.evidence.promql import quote_meta, string_literal
from alert_explainer.evidence.queries import Queries
from alert_explainer.evidence.summary import Series, clock, span

SOURCE = "history"
DAYS = 7
STEP = 300
# The alertname-only query is the same for every group of the alertname: one answer serves
# those within a minute of it, when asked after their alerts last began or stopped firing.
SHARED_FOR = 60.0


def selector(alertname: str, pinned: dict[str, frozenset[str]]) -> str:
    """`ALERTS{alertname="X", alertstate="firing", ...}` with each value escaped."""
    matchers = [f"alertname={string_literal(alertname)}", 'alertstate="firing"']
    for name, values in sorted(pinned.items()):
        if name in ("alertname", "alertstate", "__name__"):
            continue
        if len(values) == 1:
            matchers.append(f"{name}={string_literal(next(iter(values)))}")
        else:
            alternatives = "|".join(quote_meta(v) for v in sorted(values))
            matchers.append(f"{name}=~{string_literal(alternatives)}")
    return "ALERTS{" + ",".join(matchers) + "}"


def periods(series: Sequence[Series], step: float = STEP) -> list[tuple[float, float]]:
    """Firing periods (first, last sample time) of every series, in time order."""
    runs: list[tuple[float, float]] = []
    for s in series:
        moments = sorted(t for t, _ in s.points)
        if not moments:
            continue
        first = last = moments[0]
        for moment in moments[1:]:
            if moment - last > step * 1.5:
                runs.append((first, last))
                first = moment
            last = moment
        runs.append((first, last))
    return sorted(runs)


async def history_item(
    queries: Queries, alertname: str, alerts: Sequence[Alert], *, now: float
) -> EvidenceItem:
    """How often `alertname` fired for these alerts in the last 7 days."""
    start = now - DAYS * 86400
    pinned = pins(alerts, queries.external)
    result = await queries.range(SOURCE, selector(alertname, pinned), start, now, STEP)
    if not result.series and pinned:
        result = await queries.range(
            SOURCE,
            selector(alertname, {}),
            start,
            now,
            STEP,
            share_for=SHARED_FOR,
            not_before=_last_change(alerts),
        )
    mine = [
        s
        for s in result.series
        if belongs({k: v for k, v in s.labels.items() if k != "alertstate"}, alerts)
    ]
    title = f"Alert history ({DAYS} days, this Prometheus)"
    return EvidenceItem(SOURCE, title, (_line(alertname, mine, now),))


def _last_change(alerts: Sequence[Alert]) -> float:
    """When the newest of `alerts` began firing, or the last of them resolved."""
    moments = [a.starts_at.timestamp() for a in alerts if a.starts_at is not None]
    moments += [
        a.ends_at.timestamp() for a in alerts if a.status == "resolved" and a.ends_at is not None
    ]
    return max(moments, default=0.0)


def _line(alertname: str, series: Sequence[Series], now: float) -> str:
    runs = periods(series)
    if not runs:
        return f"{alertname}: no firing recorded in the last {DAYS} days"
    ongoing = [r for r in runs if now - r[1] <= STEP * 1.5]
    finished = [r for r in runs if r not in ongoing]
    count = len(runs)
    text = f"{alertname}: fired {count} time{'s' if count != 1 else ''} in the last {DAYS} days"
    if len(series) > 1:
        text += f" (across {len(series)} label sets)"
    if ongoing:
        text += f"; firing now since {clock(min(r[0] for r in ongoing), now)}"
    if finished:
        text += f"; last resolved {clock(max(r[1] for r in finished), now)}"
        total = sum(r[1] - r[0] + STEP for r in runs)
        text += f"; firing {span(total)} in all"
    return text
