"""One chat thread per alert group, even when first notifications of a group race.

Two first notifications of one group can arrive together: different alert states of a new
group a moment apart, an Alertmanager retry while the first post is slow, two replicas.
Without care each posts a new parent message and the group gets two threads. So the
first to claim the group's thread key in the state store (atomic: Redis `SET NX`, or the
one event loop of a process) posts the parent and stores its id; the others wait for that
id and reply under it. When the parent's post fails its claim is released and the next
waiter posts the parent instead. The wait is bounded: past it a message is posted on its
own rather than late.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog

from alert_explainer.store import StateStore

logger = structlog.get_logger("alert_explainer.sinks")

POLL = 0.05  # seconds between looks for the parent's id while another posts it

# post(parent): reply under `parent`, or start the thread when it is None and return its id.
Post = Callable[[str | None], Awaitable[str | None]]


class Threads:
    """Thread ids by key in the state store, and the claim that keeps them unique."""

    def __init__(self, state: StateStore, ttl: float, wait: float) -> None:
        self._state = state
        self._ttl = ttl  # how long a thread is replied to
        self._wait = wait  # the longest a parent's post may take (the sink's timeout and more)

    async def send(self, key: str, post: Post, sink: str) -> None:
        """Post in the thread stored under `key`, starting it when there is none yet."""
        owner = uuid.uuid4().hex
        claim = f"{key}:claim"
        deadline = asyncio.get_running_loop().time() + self._wait
        while True:
            parent = await self._state.get(key)
            if parent:
                await post(parent)
                return
            if await self._state.claim(claim, owner, self._wait):
                try:
                    await self._start(key, post)
                finally:
                    await self._state.release(claim, owner)
                return
            if asyncio.get_running_loop().time() >= deadline:
                logger.warning(
                    "thread_parent_late",
                    sink=sink,
                    message="the group's first message is still being posted; posting this "
                    "one on its own instead of waiting longer",
                )
                await post(None)
                return
            await asyncio.sleep(POLL)

    async def _start(self, key: str, post: Post) -> None:
        # The holder before us may have stored the id between our look and our claim.
        parent = await self._state.get(key)
        if parent:
            await post(parent)
            return
        thread = await post(None)
        if thread:
            await self._state.put(key, thread, self._ttl)
