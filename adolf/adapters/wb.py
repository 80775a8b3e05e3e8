"""Wildberries Content API (research/marketplaces.md section 1).

An update overwrites the whole card, so each card is read first (cards/list) and sent back whole with our title,
description and characteristics. 200 means accepted, not applied: a card WB rejects later shows up in cards/error/list
under its vendorCode, which `rejected_cards` reads for sync_publication_status. WB has no keyword field, so SEO tags
travel in title, description and characteristics only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from adolf.adapters.base import Card, CardUpdate, MarketplaceAdapter, PublishResult
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status, seconds_header
from adolf.errors import MarketplaceError, NotFound, RateLimited
from adolf.models.content import Marketplace

logger = logging.getLogger(__name__)

UPDATE = "/content/v2/cards/update"
LIST = "/content/v2/get/cards/list"
ERRORS = "/content/v2/cards/error/list"


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    message = (
        body.get("errorText") or body.get("detail") or body.get("title") or str(answer.body or "")
    ) or f"HTTP {answer.status}"
    return classify_status(answer, f"WB: {message}", retry_after=seconds_header(answer.headers, "X-Ratelimit-Retry"))


def _characteristics(existing: list[dict[str, Any]], attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """Existing characteristics with our values put in, matched by WB characteristic id or name."""
    wanted = {str(k): v for k, v in attributes.items()}
    merged = []
    for charc in existing:
        value = wanted.get(str(charc.get("id")), wanted.get(str(charc.get("name")), charc.get("value")))
        merged.append({"id": charc["id"], "value": value if isinstance(value, list | int | float) else [value]})
    known = {str(c.get("id")) for c in existing} | {str(c.get("name")) for c in existing}
    merged += [
        {"id": int(k), "value": v if isinstance(v, list) else [v]}
        for k, v in wanted.items()
        if k.isdecimal() and k not in known
    ]
    return merged


def _card_for_update(current: dict[str, Any], update: CardUpdate) -> dict[str, Any]:
    card = {key: current[key] for key in ("nmID", "vendorCode", "brand", "dimensions", "sizes") if key in current}
    card["title"] = update.content.title
    card["description"] = update.content.description
    card["characteristics"] = _characteristics(current.get("characteristics") or [], update.content.attributes)
    return card


class WildberriesAdapter(MarketplaceAdapter):
    marketplace = Marketplace.WB
    max_batch = 3000

    def __init__(self, http: MarketplaceHttp) -> None:
        self.http = http

    async def _update_batch(self, cards: list[CardUpdate]) -> list[PublishResult]:
        current = await asyncio.gather(*(self._find(c.sku) for c in cards), return_exceptions=True)
        results: dict[str, PublishResult] = {}
        payload = []
        for update, found in zip(cards, current, strict=True):
            if isinstance(found, MarketplaceError):
                results[update.sku] = PublishResult.failed(update.sku, found)
            elif isinstance(found, BaseException):
                raise found
            elif found is None:
                results[update.sku] = PublishResult.failed(update.sku, NotFound(f"WB has no card {update.sku}"))
            else:
                payload.append(_card_for_update(found, update))
        if payload:
            results.update(await self._send(payload))
        return [results[c.sku] for c in cards]

    async def _send(self, payload: list[dict[str, Any]]) -> dict[str, PublishResult]:
        try:
            body = await self.http.post(UPDATE, payload, bucket="wb.cards_update")
        except MarketplaceError as error:
            return {card["vendorCode"]: PublishResult.failed(card["vendorCode"], error) for card in payload}
        return {
            card["vendorCode"]: PublishResult(
                sku=card["vendorCode"], success=True, nm_id=str(card["nmID"]), raw_response=body
            )
            for card in payload
        }

    async def _find(self, sku: str) -> dict[str, Any] | None:
        query = {"settings": {"cursor": {"limit": 100}, "filter": {"textSearch": sku, "withPhoto": -1}}}
        body = await self.http.post(LIST, query, bucket="wb.cards_list")
        cards = body.get("cards") if isinstance(body, dict) else None
        return next((c for c in cards or [] if c.get("vendorCode") == sku), None)

    async def get_card(self, sku: str) -> Card | None:
        found = await self._find(sku)
        if found is None:
            return None
        return Card(
            sku=sku,
            nm_id=str(found.get("nmID")),
            title=found.get("title") or "",
            description=found.get("description") or "",
            attributes={str(c.get("name") or c.get("id")): c.get("value") for c in found.get("characteristics") or []},
        )

    async def rejected_cards(self, skus: Sequence[str]) -> dict[str, str]:
        """vendorCode -> WB's reason, for the given cards present in cards/error/list (an entry leaves the list when a
        later update of that card is applied). Newest batches first; if WB's 10/min limit stops the paging, the
        rejections found so far are returned."""
        wanted, rejected = set(skus), {}
        cursor: dict[str, Any] = {"limit": 100}
        while True:
            try:
                body = await self.http.post(
                    ERRORS, {"cursor": cursor, "order": {"ascending": False}}, bucket="wb.cards_errors"
                )
            except RateLimited:
                if cursor.get("batchUUID") is None:
                    raise
                logger.warning("WB error list read partly: rate limit reached after %d rejections", len(rejected))
                return rejected
            data = body.get("data") if isinstance(body, dict) else None
            for item in (data or {}).get("items") or []:
                for vendor_code, messages in (item.get("errors") or {}).items():
                    if vendor_code in wanted:
                        rejected.setdefault(vendor_code, "; ".join(map(str, messages)))
            page = (data or {}).get("cursor") or {}
            if not page.get("next"):
                return rejected
            cursor = {"limit": 100, "updatedAt": page.get("updatedAt"), "batchUUID": page.get("batchUUID")}
