"""Yandex Market Partner API (research/marketplaces.md section 3).

offer-mappings/update is a partial update validated synchronously: `status: OK` means accepted (applied within
minutes), `status: ERROR` means nothing in the batch was applied. The offers YM names as bad fail; the rest are sent
again. A rejection that names no offer is split in halves until the bad card is found. YM signals its rate limits with
HTTP 420 and says when the window resets in X-RateLimit-Resource-Until.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from adolf.adapters.base import Card, CardUpdate, MarketplaceAdapter, PublishResult
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status
from adolf.errors import MarketplaceError, NotFound, RateLimited, ValidationFailed
from adolf.models.content import Marketplace

MIN_LIMIT_WAIT = 1.0


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    errors = body.get("errors") or []
    message = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
    message = f"YM: {message or answer.body or f'HTTP {answer.status}'}"
    if answer.status == 420:
        # the header has second resolution and a parallel-request cap has no window: wait at least a second
        until = _until(answer.headers.get("X-RateLimit-Resource-Until"))
        return RateLimited(message, retry_after=max(MIN_LIMIT_WAIT, until or 0.0))
    return classify_status(answer, message)


def _until(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _offer(update: CardUpdate) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "offerId": update.sku,
        "name": update.content.title,
        "description": update.content.description,
    }
    parameters = [
        {"parameterId": int(k), "value": str(v)} for k, v in update.content.attributes.items() if str(k).isdecimal()
    ]
    if parameters:
        offer["parameterValues"] = parameters
    return {"offer": offer}


def _offer_error(errors: list[dict[str, Any]]) -> MarketplaceError:
    message = "YM rejected the card: " + "; ".join(f"{e.get('type')}: {e.get('message')}" for e in errors)
    if any(e.get("type") == "OFFER_NOT_FOUND" for e in errors):
        return NotFound(message)
    return ValidationFailed(message)


class YandexMarketAdapter(MarketplaceAdapter):
    marketplace = Marketplace.YM
    max_batch = 100

    def __init__(self, http: MarketplaceHttp, *, business_id: int | None) -> None:
        self.http = http
        self.business_id = business_id

    def _path(self, suffix: str) -> str:
        return f"/v2/businesses/{self.business_id}/{suffix}"

    async def _update_batch(self, cards: list[CardUpdate]) -> list[PublishResult]:
        results = await self._submit(cards)
        return [results[c.sku] for c in cards]

    async def _submit(self, cards: list[CardUpdate]) -> dict[str, PublishResult]:
        try:
            body = await self.http.post(
                self._path("offer-mappings/update"),
                {"offerMappings": [_offer(c) for c in cards]},
                bucket="ym.offer_mappings_update",
            )
        except ValidationFailed as error:
            return await self._split(cards, error)
        except MarketplaceError as error:
            return {c.sku: PublishResult.failed(c.sku, error) for c in cards}
        if (body or {}).get("status") == "OK":
            return {c.sku: PublishResult(sku=c.sku, success=True, raw_response=body) for c in cards}
        return await self._rejected(cards, body or {})

    async def _rejected(self, cards: list[CardUpdate], body: dict[str, Any]) -> dict[str, PublishResult]:
        in_batch = {c.sku for c in cards}
        named = {
            r.get("offerId"): r.get("errors") or []
            for r in body.get("results") or []
            if r.get("errors") and r.get("offerId") in in_batch
        }
        if not named:
            return await self._split(cards, ValidationFailed(f"YM rejected the batch: {body}"))
        results = {sku: PublishResult.failed(sku, _offer_error(errors), body) for sku, errors in named.items()}
        rest = [c for c in cards if c.sku not in named]
        if rest:
            results.update(await self._submit(rest))
        return results

    async def _split(self, cards: list[CardUpdate], error: MarketplaceError) -> dict[str, PublishResult]:
        """The whole batch was refused without naming an offer: halve it until the bad card stands alone."""
        if len(cards) == 1:
            return {cards[0].sku: PublishResult.failed(cards[0].sku, error)}
        middle = len(cards) // 2
        return {**await self._submit(cards[:middle]), **await self._submit(cards[middle:])}

    async def get_card(self, sku: str) -> Card | None:
        body = await self.http.post(self._path("offer-mappings"), {"offerIds": [sku]}, bucket="ym.offer_mappings")
        for mapping in ((body or {}).get("result") or {}).get("offerMappings") or []:
            offer = mapping.get("offer") or {}
            if offer.get("offerId") == sku:
                market_sku = (mapping.get("mapping") or {}).get("marketSku")
                return Card(
                    sku=sku,
                    nm_id=None if market_sku is None else str(market_sku),
                    title=offer.get("name") or "",
                    description=offer.get("description") or "",
                )
        return None
