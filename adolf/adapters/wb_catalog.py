"""The seller's Wildberries cards as cards/list shows them, read in pages of 100.

cards/list filters by one search text, which WB matches as a substring of vendor codes, nmIDs and barcodes. A card is
therefore found either by a search (paging through every hit until its exact vendorCode or nmID turns up) or by
walking the seller's catalog with the list cursor, 100 cards a page: ceil(catalog / 100) requests however many cards
are wanted. A walk is chosen when more cards are wanted (counting those searched for since the last walk) than it has
pages.

Walks and searches go in ascending updatedAt order, so a card updated meanwhile moves ahead of the cursor and is met
again rather than skipped. A walk stops as soon as every card wanted so far has been found, resumes from its cursor
when more are wanted, and what it read is a snapshot later batches reuse for `ttl` seconds.

Matching is always exact, never a substring hit: a card id is the card's vendorCode (the seller's article, unique per
seller); only when no card has that vendorCode, an all-digit id may name a card by its nmID (known for sure only once
a whole walk or every page of a search has been read, so a vendor code that looks like another card's nmID never
picks that other card).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.ratelimit import patient_waits
from adolf.errors import ApiError, RateLimited, Timeout

logger = logging.getLogger(__name__)

LIST = "/content/v2/get/cards/list"
BUCKET = "wb.cards_list"
PAGE = 100
SEARCH_BELOW = 20  # wanted cards under which searching beats walking, while the catalog's size is unknown
PAGE_ATTEMPTS = 3
LIMIT_ANSWERS_PER_PAGE = 10

Card = dict[str, Any]


def vendor_code(card: Card) -> str:
    return str(card.get("vendorCode"))


def nm_id(card: Card) -> str:
    return str(card.get("nmID"))


@dataclass
class _Entry:
    card: Card
    read_at: float


@dataclass
class _Walk:
    started_at: float
    cursor: dict[str, Any] = field(default_factory=lambda: {"limit": PAGE})
    done: bool = False
    pages: int = 0
    seen: int = 0


class WbCatalog:
    def __init__(self, http: MarketplaceHttp, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.ttl = ttl
        self.clock = clock
        self._by_vendor: dict[str, _Entry] = {}
        self._by_nm: dict[str, _Entry] = {}
        self._walk: _Walk | None = None
        self._walker: asyncio.Task[None] | None = None
        self._waiting: dict[str, list[asyncio.Future[Card | None]]] = defaultdict(list)
        self._size: int | None = None  # cards the last complete walk met
        self._searches: set[asyncio.Task[None]] = set()
        self._searched = 0  # searches since the last walk began: many small batches add up to a walk's worth
        self._booked_at: float | None = None  # loop time of a list slot booked for the walk's next page

    def lookup(self, skus: Iterable[str], *, max_age: float) -> dict[str, asyncio.Future[Card | None]]:
        """A future per card id: the card as read at most `max_age` seconds ago, None when the seller has none."""
        loop = asyncio.get_running_loop()
        now = self.clock()
        futures: dict[str, asyncio.Future[Card | None]] = {}
        missing: list[str] = []
        for sku in dict.fromkeys(skus):
            future: asyncio.Future[Card | None] = loop.create_future()
            futures[sku] = future
            entry = self._by_vendor.get(sku)
            if entry is not None and now - entry.read_at <= max_age:
                future.set_result(entry.card)
            else:
                missing.append(sku)
        if missing:
            self._find({sku: futures[sku] for sku in missing}, max_age, now)
        return futures

    @property
    def size(self) -> int | None:
        return self._size

    def _find(self, wanted: dict[str, asyncio.Future[Card | None]], max_age: float, now: float) -> None:
        walk = self._walk
        running = walk is not None and not walk.done
        recent = walk is not None and walk.done and now - walk.started_at <= max_age
        join: dict[str, asyncio.Future[Card | None]] = {}
        search: dict[str, asyncio.Future[Card | None]] = {}
        open_: dict[str, asyncio.Future[Card | None]] = {}
        for sku, future in wanted.items():
            entry = self._by_vendor.get(sku)
            if running and (entry is None or entry.read_at < walk.started_at):  # type: ignore[union-attr]
                join[sku] = future  # the walk has not met it yet
            elif running or recent:
                search[sku] = future  # the walk went past it (or a recent complete walk did not meet it)
            else:
                open_[sku] = future
        if open_ and self._walk_is_cheaper(len(open_)):
            self._walk = _Walk(started_at=now)
            self._searched = 0
            logger.info("walking the WB catalog for %d card(s)", len(open_))
            join.update(open_)
        else:
            search.update(open_)
        if join:
            for sku, future in join.items():
                self._waiting[sku].append(future)
            if self._walker is None or self._walker.done():
                self._walker = asyncio.get_running_loop().create_task(self._run_walk(), name="adolf-wb-catalog-walk")
        if search:
            self._search_each(search)

    def _walk_is_cheaper(self, wanted: int) -> bool:
        wanted += self._searched
        if self._size is None:
            return wanted >= SEARCH_BELOW
        return wanted > math.ceil(max(self._size, 1) / PAGE)

    async def _run_walk(self) -> None:
        with patient_waits():  # the walk serves many jobs; each of them gives up on its own deadline
            try:
                while self._waiting and self._walk is not None and not self._walk.done:
                    await self._next_page(self._walk)
            except Exception as error:
                self._fail_waiting(error)
                if not isinstance(error, ApiError | Timeout | RateLimited):
                    logger.exception("the WB catalog walk failed")

    async def _next_page(self, walk: _Walk) -> None:
        """One page of the walk. The next page's slot is booked while this page's request is on its way, so a busy
        event loop only delays a request, never the schedule: sending later than a booked slot is always within the
        limit, and the lateness is made up by the next slot."""
        query = {"settings": {"sort": {"ascending": True}, "filter": {"withPhoto": -1}, "cursor": walk.cursor}}
        loop = asyncio.get_running_loop()
        if self._booked_at is None:
            self._booked_at = loop.time() + await self._book()
        await asyncio.sleep(max(0.0, self._booked_at - loop.time()))
        request = loop.create_task(self._read(query, slot_held=True))
        try:
            self._booked_at = loop.time() + await self._book()
        except BaseException:
            self._booked_at = None
            request.cancel()
            raise
        body = await request
        cards = [c for c in (body.get("cards") if isinstance(body, dict) else None) or [] if isinstance(c, dict)]
        self._record(cards)
        walk.pages += 1
        walk.seen += len(cards)
        cursor = body.get("cursor") if isinstance(body, dict) else None
        if len(cards) < PAGE or not isinstance(cursor, dict) or cursor.get("nmID") is None:
            walk.done = True
            self._size = walk.seen
            logger.info("WB catalog walked: %d cards in %d pages", walk.seen, walk.pages)
            self._resolve_waiting_with_none()
            return
        walk.cursor = {"limit": PAGE, "updatedAt": cursor.get("updatedAt"), "nmID": cursor.get("nmID")}

    def _record(self, cards: list[Card]) -> None:
        now = self.clock()
        for card in cards:
            entry = _Entry(card, now)
            self._by_vendor[vendor_code(card)] = entry
            self._by_nm[nm_id(card)] = entry
            for future in self._waiting.pop(vendor_code(card), ()):
                if not future.done():
                    future.set_result(card)

    def _resolve_waiting_with_none(self) -> None:
        """The walk is complete: whatever is still wanted has no card by vendorCode; an all-digit id may be an nmID
        the walk met."""
        waiting, self._waiting = self._waiting, defaultdict(list)
        walk_started = self._walk.started_at if self._walk is not None else 0.0
        for sku, futures in waiting.items():
            entry = self._by_nm.get(sku) if sku.isdecimal() else None
            found = entry.card if entry is not None and entry.read_at >= walk_started else None
            for future in futures:
                if not future.done():
                    future.set_result(found)

    def _fail_waiting(self, error: BaseException) -> None:
        waiting, self._waiting = self._waiting, defaultdict(list)
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)

    def _search_each(self, wanted: dict[str, asyncio.Future[Card | None]]) -> None:
        self._searched += len(wanted)
        for sku, future in wanted.items():
            task = asyncio.get_running_loop().create_task(self._search_into(sku, future))
            self._searches.add(task)
            task.add_done_callback(self._searches.discard)

    async def _search_into(self, sku: str, future: asyncio.Future[Card | None]) -> None:
        try:
            found = await self.search(sku)
        except BaseException as error:
            if not future.done():
                future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        if not future.done():
            future.set_result(found)

    async def search(self, sku: str) -> Card | None:
        """One card by textSearch, paging through every substring hit until the exact vendorCode (or, with every
        page read and no such vendorCode, the exact nmID of an all-digit id)."""
        cursor: dict[str, Any] = {"limit": PAGE}
        by_nm: Card | None = None
        while True:
            query = {
                "settings": {
                    "sort": {"ascending": True},
                    "filter": {"textSearch": sku, "withPhoto": -1},
                    "cursor": cursor,
                }
            }
            body = await self._read(query)
            cards = [c for c in (body.get("cards") if isinstance(body, dict) else None) or [] if isinstance(c, dict)]
            self._record(cards)
            found = next((card for card in cards if vendor_code(card) == sku), None)
            if found is not None:
                return found
            by_nm = by_nm or next((c for c in cards if sku.isdecimal() and nm_id(c) == sku), None)
            next_cursor = body.get("cursor") if isinstance(body, dict) else None
            if len(cards) < PAGE or not isinstance(next_cursor, dict):
                return by_nm
            cursor = {"limit": PAGE, "updatedAt": next_cursor.get("updatedAt"), "nmID": next_cursor.get("nmID")}

    async def _book(self) -> float:
        limiter = self.http.limiter
        return 0.0 if limiter is None else await limiter.book(BUCKET, self.http.account)

    async def _read(self, query: dict[str, Any], *, slot_held: bool = False) -> Any:
        """One page, tried again after a limit answer (the limiter then waits as WB said) or a transient error."""
        failures = limit_answers = 0
        while True:
            try:
                return await self.http.post(LIST, query, bucket=BUCKET, slot_held=slot_held)
            except RateLimited:
                limit_answers += 1
                if limit_answers >= LIMIT_ANSWERS_PER_PAGE:
                    raise
            except (ApiError, Timeout):
                failures += 1
                if failures >= PAGE_ATTEMPTS:
                    raise
                await asyncio.sleep(failures)
            slot_held = False  # a second try takes a slot of its own

    async def close(self) -> None:
        tasks = [t for t in (self._walker, *self._searches) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
