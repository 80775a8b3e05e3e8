"""In-memory state of one simulator: cards, pending applies, tasks, counters, request log."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .buckets import InFlight, RateLimiter, ResourceWindows
from .config import Accounts, SandboxConfig
from .faults import FaultRegistry
from .models import OzonProduct, WbCard, YmOffer

logger = logging.getLogger(__name__)

MARKETPLACES = ("wb", "ozon", "ym")
REQUEST_LOG_SIZE = 10_000


@dataclass
class WbErrorBatch:
    """One item of the WB error list: the failed cards of one update request."""

    batch_uuid: str
    updated_at: str
    errors: dict[str, list[str]]
    subjects: dict[str, dict[str, Any]] = field(default_factory=dict)
    brands: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "batchUUID": self.batch_uuid,
            "subjects": self.subjects,
            "brands": self.brands,
            "vendorCodes": list(self.errors),
            "errors": self.errors,
        }

    def drop(self, vendor_code: str) -> None:
        for mapping in (self.errors, self.subjects, self.brands):
            mapping.pop(vendor_code, None)


@dataclass
class OzonTaskItem:
    offer_id: str
    product_id: int
    status: str = "pending"
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OzonTask:
    task_id: int
    account: str
    items: list[OzonTaskItem]


@dataclass
class Counters:
    requests: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    cards_updated: Counter[str] = field(default_factory=Counter)
    cards_rejected: Counter[str] = field(default_factory=Counter)
    batches_rejected: Counter[str] = field(default_factory=Counter)

    def record(self, marketplace: str, method: str, template: str, status: int) -> None:
        self.requests[f"{marketplace} {method} {template} {status}"] += 1
        self.by_status[str(status)] += 1
        if status in (420, 429):
            self.rate_limited += 1


class Ids:
    """Monotonic id sources; they survive ``reset`` so stale ids never come back."""

    def __init__(self) -> None:
        self.nm_id = itertools.count(300_000_001)
        self.imt_id = itertools.count(200_000_001)
        self.chrt_id = itertools.count(400_000_001)
        self.product_id = itertools.count(1_000_001)
        self.ozon_sku = itertools.count(2_000_000_001)
        self.ozon_task = itertools.count(9_000_001)
        self.market_sku = itertools.count(100_000_000_001)
        self.request = itertools.count(1)


class Scheduler:
    """Delayed applies.

    They run from a loop timer at their due time and, to stay deterministic, also lazily
    (``run_due``) before every request is handled. ``clear`` drops them and the timer.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def schedule(self, delay_s: float, apply: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), apply))
        self._arm()

    def run_due(self) -> int:
        now, ran = time.monotonic(), 0
        while self._heap and self._heap[0][0] <= now:
            _, _, apply = heapq.heappop(self._heap)
            try:
                apply()
            except Exception:
                logger.exception("sandbox: a delayed apply failed")
            ran += 1
        if ran or (self._timer is None and self._heap):
            self._arm()
        return ran

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._heap:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (plain unit use): applies still run lazily
        delay = max(0.0, self._heap[0][0] - time.monotonic())
        self._timer = loop.call_later(delay + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.run_due()

    def clear(self) -> None:
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __len__(self) -> int:
        return len(self._heap)


class SandboxState:
    """Everything the simulator knows; one instance per app."""

    def __init__(self, config: SandboxConfig) -> None:
        self.ids = Ids()
        self.limiter = RateLimiter()
        self.ym_windows = ResourceWindows()
        self.inflight = InFlight()
        self.faults = FaultRegistry()
        self.scheduler = Scheduler()
        self._wake = asyncio.Event()
        self.generation = 0
        self.set_config(config)
        self._clear_data()

    def set_config(self, config: SandboxConfig) -> None:
        self.config = config
        self.accounts = Accounts(config.accounts)

    def _clear_data(self) -> None:
        self.wb: dict[str, dict[str, WbCard]] = defaultdict(dict)
        self.wb_by_nm: dict[str, dict[int, WbCard]] = defaultdict(dict)
        self.wb_errors: dict[str, list[WbErrorBatch]] = defaultdict(list)
        self.ozon: dict[str, dict[str, OzonProduct]] = defaultdict(dict)
        self.ozon_tasks: dict[int, OzonTask] = {}
        self.ozon_reserved: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
        self.ozon_quota_used: Counter[str] = Counter()  # products updated today, per account
        self.ym: dict[str, dict[str, YmOffer]] = defaultdict(dict)
        self.counters = Counters()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def reset(self) -> None:
        """Forget all data, faults, buckets and in-flight requests; keep the config."""
        self.generation += 1  # requests still in flight belong to the world before the reset
        self.scheduler.clear()
        self.faults.clear()
        self.limiter.reset()
        self.ym_windows.reset()
        self.inflight.reset()
        self.release_sleepers()
        self._clear_data()
        logger.info("sandbox state reset")

    def apply_due(self) -> None:
        ran = self.scheduler.run_due()
        if ran:
            logger.debug("sandbox applied %d pending update(s)", ran)

    def put_wb_card(self, account: str, card: WbCard) -> None:
        old = self.wb[account].get(card.vendor_code)
        if old is not None:
            self.wb_by_nm[account].pop(old.nm_id, None)
        self.wb[account][card.vendor_code] = card
        self.wb_by_nm[account][card.nm_id] = card

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless released by ``reset``/``close``; True when the full time passed."""
        if seconds <= 0:
            return True
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def release_sleepers(self) -> None:
        """Wake every request hanging in latency or a timeout fault."""
        self._wake.set()
        self._wake = asyncio.Event()
