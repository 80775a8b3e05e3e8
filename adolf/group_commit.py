"""Group commit: calls made while a round trip is on its way share the next one.

Each caller submits its item and awaits its own answer. One flusher at a time hands every waiting item (up to
`max_batch`) to `flush`, which answers them all in one round trip; whatever arrives meanwhile waits for the next
flush. Under load this batches as much as the load offers; with one caller it costs nothing but a loop tick.

Items with the same `key` never share a flush (a statement that touches one row twice is an error), and when a
shared flush fails for a reason other than the infrastructure, each item is tried on its own, so one bad item fails
alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from adolf.errors import is_infra_error

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        key: Callable[[T], Hashable] | None = None,
        max_batch: int = 500,
    ) -> None:
        self._flush = flush
        self._key = key
        self.max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._run(), name="adolf-group-commit")
        return await future

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # the callers of this loop tick join the first flush
            while self._waiting:
                batch = self._take()
                if batch:
                    await self._answer(batch)
        except BaseException:  # cancelled with its process: whoever still waits gets no answer
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []
            raise

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        kept: list[tuple[T, asyncio.Future[R]]] = []
        keys: set[Hashable] = set()
        for item, future in self._waiting:
            if future.done():  # its caller stopped waiting before the item was sent: dropped
                continue
            key = self._key(item) if self._key else None
            if len(batch) >= self.max_batch or (key is not None and key in keys):
                kept.append((item, future))
                continue
            if key is not None:
                keys.add(key)
            batch.append((item, future))
        self._waiting = kept
        return batch

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and not is_infra_error(exc):
                logger.warning("a shared round trip of %d items failed (%s): each tried alone", len(batch), exc)
                for one in batch:
                    await self._answer([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # the flusher cancelled with its process: no answer comes
            for _, future in batch:
                future.cancel()
            raise
        if len(results) != len(batch):
            error = RuntimeError(f"a flush answered {len(results)} of {len(batch)} items")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
