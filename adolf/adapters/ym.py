"""Yandex Market Partner API (research/marketplaces.md section 3).

offer-mappings/update is a partial update of up to 100 offers, validated synchronously: `status: OK` means accepted
(applied within minutes), `status: ERROR` means nothing in the batch was applied. The offers YM names as bad fail; the
rest are sent again. A rejection that names no offer is split in halves until the bad card is found. YM signals its
rate limits with HTTP 420 and says when the window resets in X-RateLimit-Resource-Until. Read-back takes 100 offerIds
a request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Any

from adolf.adapters.base import (
    Card,
    CardUpdate,
    MarketplaceAdapter,
    PreparedCard,
    PublishResult,
    Ready,
    Sent,
    json_array,
)
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status
from adolf.errors import MarketplaceError, NotFound, RateLimited, ValidationFailed
from adolf.models.content import Marketplace

MIN_LIMIT_WAIT = 1.0
MAX_IDS = 100  # offerIds per read request


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    errors = body.get("errors") or []
    message = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
    message = f"YM: {message or answer.body or f'HTTP {answer.status}'}"
    if answer.status == 420:
        # the header has second resolution and a parallel-request cap has no window: wait at least a second
        until = _until(answer.headers.get("X-RateLimit-Resource-Until"))
        return RateLimited(message, retry_after=max(MIN_LIMIT_WAIT, until or 0.0), details=errors)
    return classify_status(answer, message, details=errors or None)


def _until(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def offer_mapping(update: CardUpdate) -> dict[str, Any]:
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
        return NotFound(message, details=errors)
    return ValidationFailed(message, details=errors)


class YandexMarketAdapter(MarketplaceAdapter):
    marketplace = Marketplace.YM
    max_batch = 100  # the schema allows 500, the docs say to send at most 100
    update_bucket = "ym.offer_mappings_update"
    max_in_flight = 2  # YM answers a fifth parallel request of a business with 420; reads need room too

    def __init__(self, http: MarketplaceHttp, *, business_id: int | None) -> None:
        self.http = http
        self.account = http.account
        self.business_id = business_id

    def _path(self, suffix: str) -> str:
        return f"/v2/businesses/{self.business_id}/{suffix}"

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        """A partial update: fields not sent stay as they are, so nothing needs reading first."""
        for update in cards:
            ready(update, PreparedCard(update, offer_mapping(update)))

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return await self.send_split(cards, self._request, slot_held=slot_held)

    async def _request(self, cards: Sequence[PreparedCard], slot_held: bool) -> Sent:
        body = b'{"offerMappings":' + json_array(cards) + b"}"
        try:
            answer = await self.http.post(
                self._path("offer-mappings/update"), body, bucket=self.update_bucket, slot_held=slot_held
            )
        except ValidationFailed:
            raise  # refused as a whole, naming nobody: send_split halves it
        except MarketplaceError as error:
            return Sent({c.sku: PublishResult.failed(c.sku, error) for c in cards})
        if (answer or {}).get("status") == "OK":
            return Sent({c.sku: PublishResult(sku=c.sku, success=True, raw_response=answer) for c in cards})
        return await self._rejected(cards, answer or {})

    async def _rejected(self, cards: Sequence[PreparedCard], body: dict[str, Any]) -> Sent:
        """`status: ERROR`: nothing was applied. The offers YM names fail; the rest are sent again."""
        in_batch = {c.sku for c in cards}
        named = {
            r.get("offerId"): r.get("errors") or []
            for r in body.get("results") or []
            if isinstance(r, dict) and r.get("errors") and r.get("offerId") in in_batch
        }
        if not named:
            raise ValidationFailed(f"YM rejected the batch: {str(body)[:500]}", details=body)
        results = {sku: PublishResult.failed(sku, _offer_error(errors), body) for sku, errors in named.items()}
        rest = [c for c in cards if c.sku not in named]
        if rest:
            results.update((await self.send(rest)).results)
        return Sent(results)

    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, Card | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), MAX_IDS):
            page = wanted[start : start + MAX_IDS]
            body = await self.http.post(self._path("offer-mappings"), {"offerIds": page}, bucket="ym.offer_mappings")
            for mapping in ((body or {}).get("result") or {}).get("offerMappings") or []:
                offer = mapping.get("offer") or {}
                sku = offer.get("offerId")
                if sku in found:
                    market_sku = (mapping.get("mapping") or {}).get("marketSku")
                    found[sku] = Card(
                        sku=sku,
                        nm_id=None if market_sku is None else str(market_sku),
                        title=offer.get("name") or "",
                        description=offer.get("description") or "",
                    )
        return found
