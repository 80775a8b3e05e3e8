"""Wildberries Content API (research/marketplaces.md section 1).

An update overwrites the whole card, so each card's current state comes from the seller's catalog (read in pages,
adolf/adapters/wb_catalog.py) and is sent back whole, in exactly the documented fields (nmID, vendorCode, brand,
title, description, dimensions {length, width, height, weightBrutto}, characteristics [{id, value}], sizes), with our
title, description and characteristics (typed per the subject's characteristics, adolf/adapters/wb_charcs.py), up to
3,000 cards and 10 MB a request. 200 means accepted, not applied: a card WB rejects later shows up in
cards/error/list under its vendorCode, which `rejected_cards` reads for sync_publication_status. WB has no keyword
field, so SEO tags travel in title, description and characteristics only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from adolf.adapters.base import (
    Card,
    CardUpdate,
    MarketplaceAdapter,
    Outcome,
    PreparedCard,
    PublishResult,
    Ready,
    Sent,
    json_array,
)
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status, seconds_header
from adolf.adapters.wb_catalog import WbCatalog
from adolf.adapters.wb_charcs import Charc, WbSubjects, characteristics
from adolf.errors import MarketplaceError, NotFound, RateLimited, ValidationFailed
from adolf.models.content import Marketplace

logger = logging.getLogger(__name__)

UPDATE = "/content/v2/cards/update"
ERRORS = "/content/v2/cards/error/list"
MAX_BODY = 10 * 1024 * 1024


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    message = (
        body.get("errorText") or body.get("detail") or body.get("title") or str(answer.body or "")
    ) or f"HTTP {answer.status}"
    extra = body.get("additionalErrors")
    if extra and extra != message:  # it names the field or the card at fault
        message = f"{message} ({extra if isinstance(extra, str) else orjson.dumps(extra).decode()})"
    return classify_status(
        answer,
        f"WB: {message}",
        retry_after=seconds_header(answer.headers, "X-Ratelimit-Retry"),
        details=answer.body,
    )


UPDATE_FIELDS = ("nmID", "vendorCode", "brand", "title", "description")
DIMENSIONS = ("length", "width", "height", "weightBrutto")
SIZE_FIELDS = ("chrtID", "techSize", "wbSize", "skus")  # a price only goes with a new size


def card_for_update(
    current: dict[str, Any], update: CardUpdate, characteristics: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The whole card as cards/update takes it: what was read, in the documented fields only, with our content."""
    card = {key: current[key] for key in UPDATE_FIELDS if key in current}
    card["title"] = update.content.title
    card["description"] = update.content.description
    dimensions = current.get("dimensions") or {}
    card["dimensions"] = {key: dimensions[key] for key in DIMENSIONS if key in dimensions}
    if characteristics is None:
        characteristics = [{"id": c["id"], "value": c.get("value")} for c in current.get("characteristics") or []]
    card["characteristics"] = characteristics
    card["sizes"] = [{k: size[k] for k in SIZE_FIELDS if k in size} for size in current.get("sizes") or []]
    return card


def _as_card(sku: str, found: dict[str, Any]) -> Card:
    return Card(
        sku=sku,
        nm_id=str(found.get("nmID")),
        title=found.get("title") or "",
        description=found.get("description") or "",
        attributes={str(c.get("id")): c.get("value") for c in found.get("characteristics") or []},
    )


class WildberriesAdapter(MarketplaceAdapter):
    marketplace = Marketplace.WB
    max_batch = 3000
    max_body_bytes = MAX_BODY - 64 * 1024  # WB answers 413 above 10 MB; keep a margin for what we cannot count
    update_bucket = "wb.cards_update"

    def __init__(self, http: MarketplaceHttp, *, catalog_ttl: float = 300.0) -> None:
        self.http = http
        self.account = http.account
        self.catalog = WbCatalog(http, ttl=catalog_ttl)
        self.subjects = WbSubjects(http)

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        """Each card as soon as its catalog page (and, for a draft with attributes, its subject's characteristics)
        has been read."""
        if not cards:
            return
        futures = self.catalog.lookup([c.sku for c in cards], max_age=self.catalog.ttl)
        all_reported = asyncio.get_running_loop().create_future()
        remaining = len(cards)

        def report(update: CardUpdate, outcome: Outcome) -> None:
            nonlocal remaining
            ready(update, outcome)
            remaining -= 1
            if remaining == 0:
                all_reported.set_result(None)

        def found(update: CardUpdate, future: asyncio.Future[dict[str, Any] | None]) -> None:
            try:
                current = _current(update, future)
                if not isinstance(current, dict):
                    report(update, current)
                elif not update.content.attributes:
                    report(update, _prepared(update, current, None))
                else:
                    charcs = self.subjects.charcs(int(current.get("subjectID") or 0))
                    charcs.add_done_callback(lambda f: with_charcs(update, current, f))
            except Exception as error:  # reported, never left unanswered: prepare would wait for it for ever
                report(update, error)

        def with_charcs(update: CardUpdate, current: dict[str, Any], charcs: asyncio.Future[list[Charc]]) -> None:
            try:
                outcome = _prepared(update, current, charcs)
            except Exception as error:
                outcome = error
            report(update, outcome)

        for update in cards:
            futures[update.sku].add_done_callback(functools.partial(found, update))
        await all_reported

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return await self.send_split(cards, self._request, slot_held=slot_held)

    async def _request(self, cards: Sequence[PreparedCard], slot_held: bool) -> Sent:
        try:
            body = await self.http.post(UPDATE, json_array(cards), bucket=self.update_bucket, slot_held=slot_held)
        except ValidationFailed as error:
            named = _named(error, cards)
            if not named:
                raise  # nothing named: send_split halves the request to find the bad card
            rest = [c for c in cards if c.sku not in named]
            results = {
                sku: PublishResult.failed(sku, ValidationFailed(f"WB: {reason}", details=error.details))
                for sku, reason in named.items()
            }
            sent = await self.send(rest) if rest else Sent()
            return Sent({**results, **sent.results})
        except MarketplaceError as error:
            return Sent({c.sku: PublishResult.failed(c.sku, error) for c in cards})
        results = {
            c.sku: PublishResult(sku=c.sku, success=True, nm_id=c.nm_id, raw_response=body, attributes=c.attributes)
            for c in cards
        }
        return Sent(results)

    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        futures = self.catalog.lookup(skus, max_age=0.0)  # read back now, not from an earlier walk
        if futures:
            await asyncio.wait(futures.values())
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            raise errors[0]
        return {sku: None if f.result() is None else _as_card(sku, f.result()) for sku, f in futures.items()}

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

    async def close(self) -> None:
        await self.catalog.close()


def _current(update: CardUpdate, future: asyncio.Future[dict[str, Any] | None]) -> dict[str, Any] | Outcome:
    error = asyncio.CancelledError() if future.cancelled() else future.exception()
    if isinstance(error, MarketplaceError):
        return PublishResult.failed(update.sku, error)
    if error is not None:
        return error
    current = future.result()
    if current is None:
        return PublishResult.failed(update.sku, NotFound(f"WB has no card {update.sku}"))
    return current


def _prepared(update: CardUpdate, current: dict[str, Any], charcs: asyncio.Future[list[Charc]] | None) -> Outcome:
    nm_id = str(current.get("nmID"))
    if charcs is None:
        return PreparedCard(update, card_for_update(current, update), nm_id=nm_id)
    error = asyncio.CancelledError() if charcs.cancelled() else charcs.exception()
    if error is not None:
        return PublishResult.failed(update.sku, error) if isinstance(error, MarketplaceError) else error
    subject = f"«{current.get('subjectName')}» ({current.get('subjectID')})"
    existing = current.get("characteristics") or []
    try:
        merged, sent = characteristics(existing, update.content.attributes, charcs.result(), subject)
    except ValidationFailed as refused:
        return PublishResult.failed(update.sku, refused)
    return PreparedCard(update, card_for_update(current, update, merged), nm_id=nm_id, attributes=sent)


def _named(error: MarketplaceError, cards: Sequence[PreparedCard]) -> dict[str, str]:
    """Cards a refused request names in additionalErrors (keyed by vendorCode), with WB's reason."""
    details = error.details if isinstance(error.details, dict) else {}
    in_request = {c.sku for c in cards}
    return {str(k): str(v) for k, v in details.items() if str(k) in in_request}
