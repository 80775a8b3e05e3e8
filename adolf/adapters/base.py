"""The one interface every marketplace adapter implements, and what it takes and returns.

Publishing is two steps, so that many cards can share one request (adolf/adapters/batching.py):

- `prepare(cards, ready)` reads what each card's update needs (in pages of the documented size) and reports every card
  as soon as it can go into a request, as a `PreparedCard`, or as its failure (NOT_FOUND, ...);
- `send(cards)` makes one update request for prepared cards and returns a `PublishResult` per card. Ozon confirms
  asynchronously: its `Sent.confirm` polls the import task while the next request is already on its way.

`update_cards` chains the two for callers that do not batch (one-off calls, tests).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from adolf.errors import MarketplaceError, ValidationFailed, is_recoverable
from adolf.models.content import Marketplace


class CardContent(BaseModel):
    """What Content Factory publishes: SEO title, description, attributes (by the marketplace's attribute id or
    name) and SEO tags."""

    model_config = ConfigDict(frozen=True)

    title: str
    description: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    seo_tags: list[str] = Field(default_factory=list)


class CardUpdate(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    content: CardContent


class PublishResult(BaseModel):
    """The outcome for one card of an update request. `raw_response` never holds credentials; for a failure it is
    the marketplace's own account of it (WB additionalErrors, Ozon details, YM errors). `attributes`: the draft's
    attributes as the marketplace was sent them, by its attribute id (what verification compares)."""

    sku: str
    success: bool
    nm_id: str | None = None
    raw_response: Any = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    attributes: dict[str, Any] | None = None

    @property
    def recoverable(self) -> bool:
        return is_recoverable(self.error_code)

    @classmethod
    def failed(cls, sku: str, error: MarketplaceError, raw_response: Any = None) -> PublishResult:
        return cls(
            sku=sku,
            success=False,
            error_code=error.code,
            error_message=error.message,
            retry_after=error.retry_after,
            raw_response=raw_response if raw_response is not None else error.details,
        )


class Card(BaseModel):
    """A card as the marketplace shows it now."""

    sku: str
    nm_id: str | None = None
    title: str
    description: str
    attributes: dict[str, Any] = Field(default_factory=dict)  # by the marketplace's attribute id
    processing: bool = False  # an accepted update is still being applied (YM cardStatus *_PROCESSING)
    rejection: str | None = None  # the marketplace did not accept the last accepted update, and why (YM)


@dataclass(eq=False)
class PreparedCard:
    """A card ready for an update request: its element of the request, serialized once (its size counts against
    the request body limit)."""

    update: CardUpdate
    item: dict[str, Any]
    nm_id: str | None = None
    attributes: dict[str, Any] | None = None  # the draft's attributes as sent, by the marketplace's attribute id
    body: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.body = orjson.dumps(self.item)

    @property
    def sku(self) -> str:
        return self.update.sku


Outcome = PreparedCard | PublishResult | BaseException
Ready = Callable[[CardUpdate, Outcome], None]


@dataclass
class Sent:
    """What one update request returned: final results, and for asynchronous apply (Ozon) a running confirmation
    (it never raises: a failure to confirm is a per-card result)."""

    results: dict[str, PublishResult] = field(default_factory=dict)
    confirm: asyncio.Future[dict[str, PublishResult]] | None = None


def json_array(cards: Sequence[PreparedCard]) -> bytes:
    return b"[" + b",".join(card.body for card in cards) + b"]"


class MarketplaceAdapter(abc.ABC):
    marketplace: ClassVar[Marketplace]
    max_batch: ClassVar[int]  # cards per update request
    max_body_bytes: ClassVar[int | None] = None  # update request body limit, when documented
    update_bucket: ClassVar[str]  # the rate-limit bucket of the update request
    max_in_flight: ClassVar[int] = 4  # update requests one process has on their way at once
    account: str = ""  # the seller account this adapter speaks for (names limiter and batcher keys, never a secret)

    @abc.abstractmethod
    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        """Report every card through `ready` (as soon as it is known) and return once all are reported."""

    @abc.abstractmethod
    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        """One update request (more only to isolate cards a whole-request rejection did not name); `slot_held`: the
        caller already holds the rate-limit slot of the first request."""

    @abc.abstractmethod
    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        """The cards as the marketplace has applied them (None: no such card), read in pages."""

    async def get_card(self, sku: str) -> Card | None:
        return (await self.get_cards([sku]))[sku]

    async def rejected_cards(self, skus: Sequence[str]) -> dict[str, str]:
        """Cards whose last accepted update the marketplace later rejected, with its reason (async-apply APIs)."""
        return {}

    async def update_cards(self, cards: Sequence[CardUpdate]) -> list[PublishResult]:
        """One PublishResult per card, in order, without batching across callers."""
        outcomes: dict[int, Outcome] = {}
        index = {id(update): i for i, update in enumerate(cards)}
        await self.prepare(cards, lambda update, outcome: outcomes.__setitem__(index[id(update)], outcome))
        prepared = [o for _, o in sorted(outcomes.items()) if isinstance(o, PreparedCard)]
        results: dict[str, PublishResult] = {}
        for chunk in chunked(prepared, self.max_batch, self.max_body_bytes):
            sent = await self.send(chunk)
            results.update(sent.results)
            if sent.confirm is not None:
                results.update(await sent.confirm)
        return [_outcome_result(outcomes[i], results) for i in range(len(cards))]

    async def update_card(self, sku: str, content: CardContent) -> PublishResult:
        """The seed's one-card call."""
        return (await self.update_cards([CardUpdate(sku=sku, content=content)]))[0]

    async def send_split(
        self,
        cards: Sequence[PreparedCard],
        request: Callable[[Sequence[PreparedCard], bool], Awaitable[Sent]],
        *,
        slot_held: bool,
    ) -> Sent:
        """Send, and if the marketplace refuses the whole request without naming a card, halve it until the bad
        card stands alone (every other card is sent again; only the bad one fails)."""
        try:
            return await request(cards, slot_held)
        except ValidationFailed as error:
            if len(cards) == 1:
                return Sent({cards[0].sku: PublishResult.failed(cards[0].sku, error)})
        middle = len(cards) // 2  # halves go one after the other: YM allows only 4 requests in parallel
        first = await self.send_split(cards[:middle], request, slot_held=False)
        second = await self.send_split(cards[middle:], request, slot_held=False)
        return _merged(first, second)


def chunked(cards: Sequence[PreparedCard], max_cards: int, max_bytes: int | None = None) -> list[list[PreparedCard]]:
    """Consecutive requests' worth of cards: at most `max_cards` each, and bodies (a JSON array) within `max_bytes`."""
    chunks: list[list[PreparedCard]] = []
    current: list[PreparedCard] = []
    size = 2
    for card in cards:
        grows = len(card.body) + 1
        if current and (len(current) >= max_cards or (max_bytes is not None and size + grows > max_bytes)):
            chunks.append(current)
            current, size = [], 2
        current.append(card)
        size += grows
    if current:
        chunks.append(current)
    return chunks


def _merged(first: Sent, second: Sent) -> Sent:
    confirms = [c for c in (first.confirm, second.confirm) if c is not None]

    async def both() -> dict[str, PublishResult]:
        merged: dict[str, PublishResult] = {}
        for confirm in confirms:
            merged.update(await confirm)
        return merged

    return Sent({**first.results, **second.results}, asyncio.ensure_future(both()) if confirms else None)


def _outcome_result(outcome: Outcome, results: dict[str, PublishResult]) -> PublishResult:
    if isinstance(outcome, PreparedCard):
        return results[outcome.sku]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
