"""Durable queues for `delivery.mode: async`: a notification is stored before the 202.

Two backends, each keeping the queue and its dead letters (deadletters.py) side by side so
an entry moves between them in one atomic step:

* `sqlite`: one file on a volume, used by one process (one pod). The default.
* `redis_streams`: a Redis Stream with a consumer group, so any replica can finish another's
  work: entries a crashed replica had claimed are reclaimed once idle. Chosen with
  `state.backend: redis`.

An entry is removed only after every sink of its route has the message; after a partial
failure it remembers which sinks still lack it, so the others are never sent to again.
"""

from __future__ import annotations

import sqlite3

from alert_explainer.config import Settings
from alert_explainer.deadletters import DeadLetterStore
from alert_explainer.queue.base import DurableQueue, Entry, QueueError, QueueStats
from alert_explainer.queue.sqlite import SqliteDeadLetters, SqliteFile, SqliteQueue, check_writable

__all__ = [
    "DurableQueue",
    "Entry",
    "QueueError",
    "QueueStats",
    "SqliteDeadLetters",
    "SqliteFile",
    "SqliteQueue",
    "backend_errors",
    "check_queue_writable",
    "open_dead_letters",
    "open_queue",
    "uses_redis",
]


def uses_redis(settings: Settings) -> bool:
    """Whether the queue lives in Redis (the Redis state backend) rather than in SQLite."""
    return settings.state.backend == "redis" and settings.state.url is not None


def backend_errors(settings: Settings) -> tuple[type[Exception], ...]:
    """What the queue's backend raises when it cannot be reached or read."""
    if uses_redis(settings):
        from redis.exceptions import RedisError  # imported only where Redis is in use: RSS

        return (RedisError, OSError)
    return (sqlite3.Error, OSError)


def open_queue(settings: Settings, consumer: str) -> tuple[DurableQueue, DeadLetterStore]:
    """The service's queue and the dead letters beside it."""
    delivery = settings.delivery
    if uses_redis(settings):
        from alert_explainer.queue.redis_streams import RedisDeadLetters, RedisStreamQueue

        assert settings.state.url is not None
        url, prefix = settings.state.url.get_secret_value(), settings.state.key_prefix
        return (
            RedisStreamQueue(url, prefix, consumer, delivery.queue_max),
            RedisDeadLetters(url, prefix, delivery.queue_max),
        )
    database = SqliteFile(delivery.queue_path)
    return (
        SqliteQueue(database, delivery.queue_max),
        SqliteDeadLetters(database, delivery.queue_max),
    )


def open_dead_letters(settings: Settings) -> DeadLetterStore:
    """The dead letters alone, for the command line, while a service may be running.

    Nothing is created: without a queue file there are simply no letters.
    """
    delivery = settings.delivery
    if uses_redis(settings):
        from alert_explainer.queue.redis_streams import RedisDeadLetters

        assert settings.state.url is not None
        url, prefix = settings.state.url.get_secret_value(), settings.state.key_prefix
        return RedisDeadLetters(url, prefix, delivery.queue_max)
    path = delivery.queue_path
    database = SqliteFile(path) if path.exists() else None
    return SqliteDeadLetters(database, delivery.queue_max)


def check_queue_writable(settings: Settings) -> None:
    """At start-up: raise QueueError, naming the path and what to change, unless the SQLite
    queue can be written. Nothing to check in sync mode or with the queue in Redis."""
    if settings.delivery.mode == "async" and not uses_redis(settings):
        check_writable(settings.delivery.queue_path)
