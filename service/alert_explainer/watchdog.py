"""Watchdog, the alert that always fires, as a dead man's switch for the alerting path.

kube-prometheus ships Watchdog (`vector(1)`) so that its absence can be noticed. Routed to
this service, each arrival is recorded in a gauge, and so is the interval it arrives at
(Alertmanager's repeat_interval for its route), learned from the gaps between arrivals.
The rule AlertExplainerWatchdogMissing (deploy/prometheus/rules.yml) fires once the last
arrival is older than twice that interval: Prometheus, Alertmanager, the route, the
receiver's URL and credentials and the network between them are all in that path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from alert_explainer.alertmanager import Notification
from alert_explainer.metrics import Metrics

WATCHDOG = "Watchdog"
# Closer arrivals are Alertmanager's retries of one notification or its HA peer's copy,
# not the repeat interval.
MIN_INTERVAL = 15.0


class WatchdogClock:
    """Records Watchdog's arrivals in the metrics; one per process."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self._metrics = metrics
        self._clock = clock
        self._last: float | None = None

    def saw(self, notification: Notification) -> None:
        """Note `notification` if it carries a firing Watchdog alert."""
        if not any(a.name == WATCHDOG and a.status == "firing" for a in notification.alerts):
            return
        now = self._clock()
        self._metrics.watchdog_last_received.set(now)
        if self._last is not None and now - self._last < MIN_INTERVAL:
            return
        if self._last is not None:
            self._metrics.watchdog_interval.set(now - self._last)
        self._last = now
