"""Retrying an outbound call within a deadline: exponential backoff, full jitter, Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from alert_explainer.errors import DeliveryError

T = TypeVar("T")

BASE_DELAY = 0.25
MAX_DELAY = 8.0


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
    if retry_after is not None:
        return retry_after
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def retry_until(deadline: float, attempt: Callable[[float], Awaitable[T]]) -> T:
    """Call `attempt(seconds_left)` until it succeeds, fails for good, or time runs out.

    `deadline` is on the event loop's clock. A retryable DeliveryError is retried when the
    wait before the next try still ends before the deadline; otherwise the last error is
    raised, so the caller always learns the real reason.
    """
    loop = asyncio.get_running_loop()
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt(deadline - loop.time())
        except DeliveryError as exc:
            if not exc.retryable:
                raise
            wait = backoff(tries, getattr(exc, "retry_after", None))
            if loop.time() + wait >= deadline:
                raise
            await asyncio.sleep(wait)
