"""The state store in Redis, shared by every replica, and its fallback to memory.

`RedisStore` lets several replicas share the state, so they never pay twice for one group
state nor deliver one notification twice to one sink. `FallbackStore` keeps the service
delivering when Redis is unreachable: it uses per-process state meanwhile, says so in
logs and metrics, and goes back to Redis when Redis answers again.

A module of its own so that a process on the memory backend never imports the Redis
client (6.7 MB of its idle RSS).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from alert_explainer.store import MemoryStore

logger = structlog.get_logger("alert_explainer.store")

T = TypeVar("T")

# Delete a lease only while we still hold it: GET and DEL in one atomic step.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
# INCR, and set the expiry when this increment created the counter.
_INCR = (
    "local n = redis.call('incr', KEYS[1]) "
    "if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end return n"
)

# Bounded lists: KEYS[1] holds the item names, newest at the head; KEYS[2] is a hash of
# item -> "<expiry in ms> <value>". Times come from Redis, so replicas' clocks do not matter.
_NOW = "local t = redis.call('time') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
_ALIVE = "local function alive(v) return v and tonumber(string.match(v, '^%d+')) > now end "
_PUSH = (
    _NOW
    + _ALIVE
    + "local fresh = redis.call('hset', KEYS[2], ARGV[1], (now + ARGV[4]) .. ' ' .. ARGV[2]) "
    "if fresh == 1 then redis.call('lpush', KEYS[1], ARGV[1]) end "
    "local n = redis.call('llen', KEYS[1]) "
    "while n > 0 do "
    "  local oldest = redis.call('lindex', KEYS[1], -1) "
    "  if n <= tonumber(ARGV[3]) and alive(redis.call('hget', KEYS[2], oldest)) then break end "
    "  redis.call('rpop', KEYS[1]) redis.call('hdel', KEYS[2], oldest) n = n - 1 "
    "end "
    "redis.call('pexpire', KEYS[1], ARGV[4]) redis.call('pexpire', KEYS[2], ARGV[4]) return n"
)
_ITEMS = (
    _NOW + _ALIVE + "local names = redis.call('lrange', KEYS[1], 0, tonumber(ARGV[1]) - 1) "
    "local out = {} if #names == 0 then return out end "
    "for _, v in ipairs(redis.call('hmget', KEYS[2], unpack(names))) do "
    "  if alive(v) then out[#out + 1] = string.sub(v, string.find(v, ' ') + 1) end "
    "end return out"
)
_ITEM = (
    _NOW + _ALIVE + "local v = redis.call('hget', KEYS[1], ARGV[1]) "
    "if alive(v) then return string.sub(v, string.find(v, ' ') + 1) end return false"
)


class RedisStore:
    """A StateStore in Redis, shared by every replica. Raises RedisError when unreachable."""

    def __init__(self, url: str, prefix: str, timeout: float = 1.0) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            health_check_interval=30,
        )
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._prefix + key)
        return None if value is None else str(value)

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self._prefix + key, value, px=_ms(ttl))

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        name = self._prefix + key
        if await self._redis.set(name, owner, px=_ms(ttl), nx=True):
            return True
        return str(await self._redis.get(name)) == owner

    async def release(self, key: str, owner: str) -> None:
        await self._redis.eval(_RELEASE, 1, self._prefix + key, owner)

    async def incr(self, key: str, ttl: float) -> int:
        return int(await self._redis.eval(_INCR, 1, self._prefix + key, _ms(ttl)))

    async def push(self, key: str, item: str, value: str, *, max_items: int, ttl: float) -> None:
        name = self._prefix + key
        await self._redis.eval(_PUSH, 2, name + ":order", name, item, value, max_items, _ms(ttl))

    async def items(self, key: str, limit: int) -> list[str]:
        name = self._prefix + key
        values = await self._redis.eval(_ITEMS, 2, name + ":order", name, max(0, limit))
        return [str(v) for v in values]

    async def item(self, key: str, item: str) -> str | None:
        value = await self._redis.eval(_ITEM, 1, self._prefix + key, item)
        return None if value is None else str(value)

    async def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class FallbackStore:
    """Redis first; per-process memory while Redis is unreachable.

    After a failure Redis is left alone for `retry_after` seconds, so an outage costs one
    timeout per interval instead of one per operation.
    """

    def __init__(
        self,
        primary: RedisStore,
        fallback: MemoryStore,
        on_failure: Callable[[], None] = lambda: None,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._on_failure = on_failure
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        """Whether per-process state is in use because Redis failed recently."""
        return self._clock() < self._down_until

    async def _use(
        self, primary: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]
    ) -> T:
        if self.degraded:
            return await fallback()
        try:
            result = await primary()
        except (RedisError, OSError) as exc:
            if not self.degraded:
                logger.error(
                    "state_backend_unavailable",
                    error=type(exc).__name__,
                    message="Redis is unreachable; using per-process state until it answers",
                )
            self._down_until = self._clock() + self._retry_after
            self._on_failure()
            return await fallback()
        if self._down_until:
            logger.info("state_backend_recovered")
            self._down_until = 0.0
        return result

    async def get(self, key: str) -> str | None:
        return await self._use(lambda: self._primary.get(key), lambda: self._fallback.get(key))

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._fallback.put(key, value, ttl)  # kept locally too, for an outage
        await self._use(lambda: self._primary.put(key, value, ttl), _nothing)

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        return await self._use(
            lambda: self._primary.claim(key, owner, ttl),
            lambda: self._fallback.claim(key, owner, ttl),
        )

    async def release(self, key: str, owner: str) -> None:
        await self._fallback.release(key, owner)
        await self._use(lambda: self._primary.release(key, owner), _nothing)

    async def incr(self, key: str, ttl: float) -> int:
        return await self._use(
            lambda: self._primary.incr(key, ttl), lambda: self._fallback.incr(key, ttl)
        )

    # Lists are not written through to memory: they are history, not delivery state, and a
    # local copy of every replica's history would grow without bound.
    async def push(self, key: str, item: str, value: str, *, max_items: int, ttl: float) -> None:
        await self._use(
            lambda: self._primary.push(key, item, value, max_items=max_items, ttl=ttl),
            lambda: self._fallback.push(key, item, value, max_items=max_items, ttl=ttl),
        )

    async def items(self, key: str, limit: int) -> list[str]:
        return await self._use(
            lambda: self._primary.items(key, limit), lambda: self._fallback.items(key, limit)
        )

    async def item(self, key: str, item: str) -> str | None:
        return await self._use(
            lambda: self._primary.item(key, item), lambda: self._fallback.item(key, item)
        )

    async def aclose(self) -> None:
        await self._primary.aclose()
        await self._fallback.aclose()


async def _nothing() -> None:
    return None
