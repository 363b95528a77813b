"""Answers shared between gatherings: one query for many notifications that ask it alike.

Most evidence queries pin an alert's own labels, so no two notifications ask the same. A
few do not: the history of an alertname asked without its labels (the path of every alert
carrying a label the series lack, such as an external label not known yet, external.py)
is the same query for every group of that alertname. In a storm of 200 KubePodCrashLooping
groups that is 200 week-long range queries over the same series. Here the first asker's
query runs once; askers meanwhile wait for it, and askers within `max_age` of it take its
answer, unless it was asked before something they must see happened (`not_before`: an
alert that began firing, or resolved, since). A failed query is not kept, and an asker
it failed for asks again itself: the failure may be the first asker's short deadline.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.client import QueryResult

MAX_ENTRIES = 256  # distinct shared queries kept; the oldest goes first


@dataclass(frozen=True, slots=True)
class _Answer:
    asked_at: float  # the first asker's `now`, unix seconds
    task: asyncio.Task[QueryResult]


class SharedAnswers:
    """Query answers by key, each served to every asker within `max_age` of the first."""

    def __init__(self, shared: Callable[[str], None] = lambda source: None) -> None:
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self._shared = shared  # called with the source for every answer served again

    async def get(
        self,
        source: str,
        key: Hashable,
        *,
        now: float,
        max_age: float,
        ask: Callable[[], Awaitable[QueryResult]],
        not_before: float = 0.0,
    ) -> QueryResult:
        """The answer to `key` asked at most `max_age` before `now` and not before
        `not_before`, else `ask()`'s (which later askers may share)."""
        kept = self._answers.get(key)
        if kept is not None and not_before <= kept.asked_at and 0 <= now - kept.asked_at <= max_age:
            try:
                # Shielded: an asker whose deadline passes must not cancel the others'.
                answer = await asyncio.shield(kept.task)
            except EvidenceError:
                pass  # failed within the first asker's time left: ask with ours
            else:
                self._shared(source)
                return answer
        task = asyncio.ensure_future(ask())
        self._answers[key] = _Answer(now, task)
        self._answers.move_to_end(key)
        if len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)
        task.add_done_callback(lambda done: self._forget_failed(key, done))
        return await asyncio.shield(task)

    def _forget_failed(self, key: Hashable, task: asyncio.Task[QueryResult]) -> None:
        failed = task.cancelled() or task.exception() is not None  # marks it retrieved
        kept = self._answers.get(key)
        if failed and kept is not None and kept.task is task:
            del self._answers[key]
