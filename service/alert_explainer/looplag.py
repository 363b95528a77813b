"""Event-loop lag: how late a timer fires tells how long the loop was blocked.

Anything that blocks the loop delays every webhook answer at once, so the worst lag
is exported as a metric (and read by the storm benchmark).
"""

from __future__ import annotations

import asyncio
import time

from alert_explainer.metrics import Metrics

INTERVAL = 0.05


async def watch_loop_lag(metrics: Metrics, interval: float = INTERVAL) -> None:
    """Run until cancelled, recording each tick's lateness."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(interval)
        lag = max(0.0, time.perf_counter() - started - interval)
        metrics.loop_lag.observe(lag)
        if lag > metrics.loop_lag_max_value:
            metrics.loop_lag_max_value = lag
            metrics.loop_lag_max.set(lag)
