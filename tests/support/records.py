"""A thread-safe list of recorded items that tests can wait on."""

import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class RecordLog(Generic[T]):
    """Items appended by a server thread, read and awaited by the test thread.

    ``what`` names the items in timeout messages, e.g. "model calls".
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def snapshot(self) -> list[T]:
        """A copy of the items recorded so far."""
        with self._changed:
            return list(self._items)

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def wait_for(self, count: int, timeout: float) -> list[T]:
        """Block until at least ``count`` items exist and return them all.

        Raises AssertionError naming what was expected and what arrived on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._items) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_message(count, timeout))
                self._changed.wait(remaining)
            return list(self._items)

    def _timeout_message(self, count: int, timeout: float) -> str:
        got = len(self._items)
        lines = [f"timed out after {timeout:g} s waiting for {count} {self._what}; got {got}"]
        lines += [f"  #{i}: {repr(item)[:300]}" for i, item in enumerate(self._items[-5:])]
        return "\n".join(lines)
