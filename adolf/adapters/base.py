"""The one interface every marketplace adapter implements, and what it takes and returns."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from adolf.errors import RECOVERABLE_CODES, MarketplaceError
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
    """The outcome for one card of an update request. `raw_response` never holds credentials."""

    sku: str
    success: bool
    nm_id: str | None = None
    raw_response: Any = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None

    @property
    def recoverable(self) -> bool:
        return self.error_code in RECOVERABLE_CODES

    @classmethod
    def failed(cls, sku: str, error: MarketplaceError, raw_response: Any = None) -> PublishResult:
        return cls(
            sku=sku,
            success=False,
            error_code=error.code,
            error_message=error.message,
            retry_after=error.retry_after,
            raw_response=raw_response,
        )


class Card(BaseModel):
    """A card as the marketplace shows it now."""

    sku: str
    nm_id: str | None = None
    title: str
    description: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class MarketplaceAdapter(abc.ABC):
    marketplace: ClassVar[Marketplace]
    max_batch: ClassVar[int]

    async def update_cards(self, cards: Sequence[CardUpdate]) -> list[PublishResult]:
        """One PublishResult per card, in order. Cards go in requests of at most `max_batch`."""
        results: list[PublishResult] = []
        for start in range(0, len(cards), self.max_batch):
            results.extend(await self._update_batch(list(cards[start : start + self.max_batch])))
        return results

    async def update_card(self, sku: str, content: CardContent) -> PublishResult:
        """The seed's one-card call."""
        return (await self.update_cards([CardUpdate(sku=sku, content=content)]))[0]

    @abc.abstractmethod
    async def _update_batch(self, cards: list[CardUpdate]) -> list[PublishResult]:
        """Send one request's worth of cards; a whole-request failure fails every card with its code."""

    @abc.abstractmethod
    async def get_card(self, sku: str) -> Card | None:
        """The card as the marketplace has applied it, or None when it does not exist."""

    async def rejected_cards(self, skus: Sequence[str]) -> dict[str, str]:
        """Cards whose last accepted update the marketplace later rejected, with its reason (async-apply APIs)."""
        return {}
