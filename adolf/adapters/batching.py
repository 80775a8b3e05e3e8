"""Many publish jobs, one update request: the batcher of one marketplace and seller account in one process.

The marketplaces limit requests, not cards (SPEC section 3). Every publish job of this process hands its card to the
batcher and awaits that card's own result. The batcher

- gathers cards for `window` seconds (less when a request is already full, or a card's deadline is near) and
  prepares them together: the reads an update needs go in pages (the WB catalog walk, Ozon's attribute pages), and
  each card is ready as soon as its page is;
- takes the update slot from the shared rate limiter and sends what is ready, up to the marketplace's batch and body
  limits (and at most `max_in_flight` requests at once). While cards are still being read it paces itself at the
  sustained rate, keeping the burst for the end; otherwise it may use the burst. Cards go on gathering while it waits
  for the slot;
- gives each job its card's result. A limit answer that arrives anyway (WB 429, Ozon 429, YM 420) puts exactly the
  cards of that request back; the limiter holds everyone off for the time the answer names and they go again.

A job whose card has not been sent when its deadline comes takes it back: waiting for a slot is not a failure, so it
gets `Deferred` (the job runs again later and that costs no try), unless the marketplace answered that card with its
limit in this run and still had not let it through by then, which is the marketplace's RATE_LIMIT (a try, retried
after the time it names). A card already on its way is waited for until the job's answer deadline; a job that stops
waiting (deadline, cancellation) leaves nothing behind to be sent later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from adolf.adapters.base import CardUpdate, MarketplaceAdapter, Outcome, PreparedCard, PublishResult, chunked
from adolf.adapters.ratelimit import RateLimiter, patient_waits
from adolf.errors import Deferred, QuotaExhausted, RateLimited, Timeout

logger = logging.getLogger(__name__)

DEFER_WHILE_READING = 30.0  # how far to defer a job whose card is still being read when its deadline comes
MIN_DEFER = 1.0


@dataclass(eq=False)
class _Card:
    """One job's card inside the batcher."""

    update: CardUpdate
    send_by: float  # loop time by which it must be on its way, or its job takes it back
    budget: float  # how long its job could wait for a slot
    future: asyncio.Future[PublishResult]
    state: str = "gathering"  # gathering -> reading -> ready -> sending -> done; or withdrawn
    abandoned: bool = False  # its job stopped waiting while it was on its way: never sent again
    prepared: PreparedCard | None = None
    not_before: float = 0.0
    limit_answers: int = 0

    @property
    def sku(self) -> str:
        return self.update.sku


BATCH_CARDS = Histogram(
    "adolf_batch_cards",
    "Cards per update request (publish jobs of one process share requests)",
    ["marketplace"],
    buckets=(1, 5, 10, 50, 100, 500, 1000, 2000, 3000),
)
LIMIT_ANSWERS = Counter(
    "adolf_batch_limit_answers_total", "Update requests the marketplace answered with its rate limit", ["marketplace"]
)
DEFERRED = Counter(
    "adolf_batch_deferred_total", "Cards taken back because their slot was beyond their job's deadline", ["marketplace"]
)
LOOP_ERROR_PAUSE = 1.0


class CardBatcher:
    def __init__(self, adapter: MarketplaceAdapter, limiter: RateLimiter | None, *, window: float) -> None:
        self.adapter = adapter
        self.limiter = limiter
        self.window = window
        self.marketplace = adapter.marketplace.value
        self._gathering: list[_Card] = []
        self._ready: deque[_Card] = deque()
        self._reading = 0
        self._next_slot_at = 0.0
        self._last_sent_at = float("-inf")
        self._in_flight = asyncio.Semaphore(adapter.max_in_flight)
        self._reads_done = asyncio.Event()
        self._wake_reader = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    async def publish(self, update: CardUpdate, *, send_by: float, answer_by: float) -> PublishResult:
        """This card's result, from a request shared with other jobs' cards (deadlines in event-loop time)."""
        loop = asyncio.get_running_loop()
        card = _Card(update, send_by, max(0.0, send_by - loop.time()), loop.create_future())
        card.future.add_done_callback(_retrieve)
        self._start()
        self._gathering.append(card)
        self._wake_reader.set()
        try:
            return await self._wait(card, answer_by)
        finally:
            if not card.future.done() and self._withdraw(card) is None:
                card.abandoned = True  # on its way; a limit answer will not put it back

    async def _wait(self, card: _Card, answer_by: float) -> PublishResult:
        try:
            async with asyncio.timeout_at(card.send_by):
                return await asyncio.shield(card.future)
        except TimeoutError:
            if card.future.done():
                return card.future.result()
            was = self._withdraw(card)
            if was is not None:
                return self._taken_back(card, was, asyncio.get_running_loop().time())
        try:  # on its way: wait for the marketplace until the answer deadline
            async with asyncio.timeout_at(answer_by):
                return await asyncio.shield(card.future)
        except TimeoutError:
            if card.future.done():
                return card.future.result()
            was = self._withdraw(card)  # a limit answer put it back, and its time came after the deadline
            if was is not None:
                return self._taken_back(card, was, asyncio.get_running_loop().time())
            return PublishResult.failed(card.sku, Timeout("soft time limit reached while publishing"))

    def _taken_back(self, card: _Card, was: str, now: float) -> PublishResult:
        if card.limit_answers:
            error = RateLimited(
                f"{self.adapter.marketplace.value} kept answering with its rate limit",
                retry_after=max(0.0, card.not_before - now),
            )
            return PublishResult.failed(card.sku, error)
        DEFERRED.labels(self.marketplace).inc()
        if was == "ready":  # come back while the slot this process booked is still ahead, with time to wait for it
            slot_in = self._next_slot_at - now
            delay = max(MIN_DEFER, slot_in - card.budget / 2)
            raise Deferred(f"the next {self.adapter.update_bucket} slot is {slot_in:.1f}s away", delay=delay)
        delay = max(MIN_DEFER, min(DEFER_WHILE_READING, card.budget))  # about as long again as it could wait
        raise Deferred(f"{self.marketplace} cards are still being read", delay=delay)

    def _withdraw(self, card: _Card) -> str | None:
        """Take a card back unless it is already on its way; the state it was taken back from, or None."""
        was = card.state
        if was in ("gathering", "reading", "ready"):
            card.state = "withdrawn"
            return was
        return None

    # --- the two loops -----------------------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._loops and not any(task.done() for task in self._loops):
            return
        for task in self._loops:
            task.cancel()
        loop = asyncio.get_running_loop()
        name = f"adolf-batcher-{self.adapter.marketplace.value}"
        self._loops = [
            loop.create_task(self._reader_loop(), name=f"{name}-reader"),
            loop.create_task(self._sender_loop(), name=f"{name}-sender"),
        ]

    async def _reader_loop(self) -> None:
        with patient_waits():
            while True:
                await self._wake_reader.wait()
                self._wake_reader.clear()
                try:
                    await self._gather_and_read()
                except Exception:  # the loop must outlive any one batch; the cards stay for the next round
                    logger.exception("gathering %s cards failed", self.marketplace)
                    await asyncio.sleep(LOOP_ERROR_PAUSE)
                    self._wake_reader.set()

    async def _gather_and_read(self) -> None:
        loop = asyncio.get_running_loop()
        self._gathering = [c for c in self._gathering if c.state == "gathering"]
        if not self._gathering:
            return
        if len(self._gathering) < self.adapter.max_batch:  # woken by the first card: gather for a window,
            first_due = min(c.send_by for c in self._gathering)  # but never past half a card's time left
            await asyncio.sleep(min(self.window, max(0.0, first_due - loop.time()) / 2))
        batch, self._gathering = [c for c in self._gathering if c.state == "gathering"], []
        if batch:
            self._spawn(self._read(batch))

    async def _read(self, batch: list[_Card]) -> None:
        by_update = {id(card.update): card for card in batch}
        unreported = set(by_update)
        for card in batch:
            card.state = "reading"
        self._reading += len(batch)
        self._reads_done.clear()

        def ready(update: CardUpdate, outcome: Outcome) -> None:
            if id(update) not in unreported:
                return
            unreported.discard(id(update))
            self._read_one()
            card = by_update[id(update)]
            if card.state == "withdrawn":
                return
            if isinstance(outcome, PreparedCard):
                card.prepared, card.state = outcome, "ready"
                self._ready.append(card)
                self._wake_sender.set()
            elif isinstance(outcome, PublishResult):
                self._finish(card, outcome)
            else:
                card.state = "done"
                card.future.set_exception(outcome)

        try:
            await self.adapter.prepare([card.update for card in batch], ready)
        except Exception as error:
            logger.exception("preparing %s cards failed", self.marketplace)
            for update_id in list(unreported):
                ready(by_update[update_id].update, error)
        finally:
            for _ in unreported:
                self._read_one()
            unreported.clear()

    def _read_one(self) -> None:
        self._reading -= 1
        if self._reading == 0:
            self._reads_done.set()

    async def _sender_loop(self) -> None:
        with patient_waits():
            while True:
                await self._wake_sender.wait()
                self._wake_sender.clear()
                try:
                    await self._send_next()
                except Exception:  # e.g. Redis away while booking a slot: the cards wait, the loop goes on
                    logger.exception("sending %s cards failed before the request", self.marketplace)
                    await asyncio.sleep(LOOP_ERROR_PAUSE)
                if self._ready:
                    self._wake_sender.set()

    async def _send_next(self) -> None:
        loop = asyncio.get_running_loop()
        self._ready = deque(c for c in self._ready if c.state == "ready")
        if not self._ready:
            return
        await self._in_flight.acquire()  # a slow answer holds up no more than its own cards
        try:
            if not self._request_is_full():  # one request per gathering window, unless the last one was full
                await asyncio.sleep(max(0.0, self._last_sent_at + self.window - loop.time()))
            await self._wait_until_allowed(loop)
            await self._take_slot(loop)
            chunk = self._take_chunk(loop.time())
        except BaseException:
            self._in_flight.release()
            raise
        if not chunk:
            self._in_flight.release()
            return
        self._last_sent_at = loop.time()
        self._spawn(self._send(chunk))

    async def _wait_until_allowed(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cards that met a limit answer wait for the time it named."""
        waiting = [c.not_before for c in self._ready if c.state == "ready"]
        if waiting and min(waiting) > loop.time():
            await asyncio.sleep(min(waiting) - loop.time())

    async def _take_slot(self, loop: asyncio.AbstractEventLoop) -> None:
        """While cards are still being read, pace at the sustained rate so the burst is left for the end; once the
        reads are done (or nothing is being read), take the first slot there is."""
        spec = None if self.limiter is None else self.limiter.spec(self.adapter.update_bucket)
        if self.limiter is None or spec is None:
            return
        bucket, account = self.adapter.update_bucket, self.adapter.account
        while self._reading:
            paced_in = await self.limiter.peek(bucket, account, spare=spec.client_burst - 1)
            if paced_in <= 0:
                break
            with contextlib.suppress(TimeoutError):  # woken early when the reads are done
                await asyncio.wait_for(self._reads_done.wait(), paced_in)
        spare = spec.client_burst - 1 if self._reading else 0
        wait = await self.limiter.book(bucket, account, spare=spare)
        self._next_slot_at = loop.time() + wait
        await asyncio.sleep(wait)

    def _request_is_full(self) -> bool:
        ready = [c.prepared for c in self._ready if c.state == "ready" and c.prepared is not None]
        return len(chunked(ready, self.adapter.max_batch, self.adapter.max_body_bytes)) > 1 or (
            len(ready) >= self.adapter.max_batch
        )

    def _take_chunk(self, now: float) -> list[_Card]:
        """The oldest ready cards that fit one request: one card per id, none still waiting out a limit answer."""
        candidates: list[_Card] = []
        skus: set[str] = set()
        for card in self._ready:
            if card.state != "ready" or card.not_before > now or card.sku in skus:
                continue
            candidates.append(card)
            skus.add(card.sku)
            if len(candidates) >= self.adapter.max_batch:
                break
        by_prepared = {id(c.prepared): c for c in candidates}
        prepared = [c.prepared for c in candidates if c.prepared is not None]
        first = chunked(prepared, self.adapter.max_batch, self.adapter.max_body_bytes)[:1]
        chunk = [by_prepared[id(p)] for p in (first[0] if first else [])]
        for card in chunk:
            card.state = "sending"
        self._ready = deque(c for c in self._ready if c.state == "ready")
        return chunk

    async def _send(self, chunk: list[_Card]) -> None:
        try:
            await self._send_chunk(chunk)
        finally:
            self._in_flight.release()

    async def _send_chunk(self, chunk: list[_Card]) -> None:
        BATCH_CARDS.labels(self.marketplace).observe(len(chunk))
        try:
            sent = await self.adapter.send([c.prepared for c in chunk if c.prepared is not None], slot_held=True)
        except Exception as error:
            logger.exception("sending %d %s cards failed", len(chunk), self.marketplace)
            for card in chunk:
                card.state = "done"
                if not card.future.done():
                    card.future.set_exception(error)
            return
        self._deliver(chunk, sent.results)
        if sent.confirm is not None:
            self._spawn(self._confirmed(chunk, sent.confirm))

    async def _confirmed(self, chunk: list[_Card], confirm: asyncio.Future[dict[str, PublishResult]]) -> None:
        try:
            results = await confirm
        except Exception as error:  # e.g. Redis away while polling: each job gets the error (infra: retried)
            for card in chunk:
                card.state = "done"
                if not card.future.done():
                    card.future.set_exception(error)
            return
        self._deliver(chunk, results)

    def _deliver(self, chunk: Sequence[_Card], results: dict[str, PublishResult]) -> None:
        now = asyncio.get_running_loop().time()
        again = []
        for card in chunk:
            result = results.get(card.sku)
            if result is None or card.future.done():
                continue
            if result.error_code == QuotaExhausted.code:  # a daily quota is waited out, never a try
                card.state = "done"
                delay = result.retry_after or DEFER_WHILE_READING
                card.future.set_exception(Deferred(result.error_message or "quota used up", delay=delay))
                continue
            if result.error_code == RateLimited.code and not card.abandoned:
                card.limit_answers += 1
                card.not_before = now + (result.retry_after or MIN_DEFER)
                card.state = "ready"
                again.append(card)
                continue
            self._finish(card, result)
        if again:
            LIMIT_ANSWERS.labels(self.marketplace).inc()
            logger.warning("%d %s card(s) met a limit answer and go again", len(again), self.marketplace)
            self._ready.extendleft(reversed(again))
            self._wake_sender.set()

    def _finish(self, card: _Card, result: PublishResult) -> None:
        card.state = "done"
        if not card.future.done():
            card.future.set_result(result)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops = []


def _retrieve(future: asyncio.Future[PublishResult]) -> None:
    """A result nobody awaits any more (its job was cancelled) must not be reported as never retrieved."""
    if not future.cancelled():
        future.exception()
