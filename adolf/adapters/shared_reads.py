"""One read per key, shared by every caller of the process (a category's attributes, a subject's characteristics).

A caller that gives up (its job cancelled) does not cancel the read the others wait for; a read that failed or was
cancelled is made again by the next caller; with a `ttl`, a read older than that is made again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedReads(Generic[T]):
    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = ttl
        self._known: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}

    def get(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """A future of the read's result for this caller alone (cancelling it leaves the shared read running)."""
        known = self._known.get(key)
        if known is None or self._stale(*known):
            known = self._known[key] = (time.monotonic(), asyncio.ensure_future(read()))
        return asyncio.shield(known[1])

    def _stale(self, started: float, future: asyncio.Future[T]) -> bool:
        if future.done() and (future.cancelled() or future.exception() is not None):
            return True
        return self.ttl is not None and time.monotonic() - started >= self.ttl
