"""The processes that do Scout's numeric work (forecasts, scores, report charts), so the event loop never does.

One pool per worker process, started on first use (or warmed at start by a worker that runs Scout's lanes) with
statsforecast, matplotlib and openpyxl imported by its initializer: the first analysis pays no import. Processes are
spawned, not forked (a fork of a process with an event loop and threads is unsafe). A pool whose process died is
replaced, and the call that met it fails as an infrastructure error (the job retries).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar, TypeVar

from adolf.errors import InfraError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _initialize() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")


def _ready() -> int:
    return os.getpid()


class AnalysisPool:
    _shared: ClassVar[AnalysisPool | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    @classmethod
    def shared(cls, workers: int) -> AnalysisPool:
        """The process's pool (the first caller's size wins)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls(workers)
                atexit.register(cls._shared.shutdown)
            return cls._shared

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_initialize
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in a pool process (fn and its arguments must pickle). A caller cancelled while its work runs (a
        job's time limit, a lost lease, shutdown) takes the pool's processes down with it: a process cannot be told to
        stop one call, and left alone it would keep a slot busy for work nobody waits for. The other calls running
        in the pool then fail as infrastructure errors (their jobs retry) and the next call starts a fresh pool."""
        pool = self._pool()
        future = pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise InfraError(f"a Scout analysis process died: {exc}") from exc
        except asyncio.CancelledError:
            if not future.cancel():  # already running in a process
                logger.warning("scout analysis pool restarted: a running %s was cancelled", getattr(fn, "__name__", fn))
                self._discard(pool, kill=True)
            raise

    def _discard(self, pool: ProcessPoolExecutor, *, kill: bool = False) -> None:
        if self._executor is pool:
            self._executor = None
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):  # the stdlib offers no per-call stop
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def warm(self) -> None:
        """Start every process now (imports done) instead of at the first analysis."""
        pids = await asyncio.gather(*(self.run(_ready) for _ in range(self.workers)))
        logger.info("scout analysis pool ready: %d processes", len(set(pids)))

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
