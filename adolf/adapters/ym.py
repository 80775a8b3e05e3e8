"""Yandex Market Partner API (research/marketplaces.md section 3).

offer-mappings/update is a partial update of up to 100 offers, validated synchronously: `status: OK` means accepted
(applied within minutes, the card `*_PROCESSING` meanwhile), `status: ERROR` means nothing in the batch was applied.
The offers YM names as bad fail; the rest are sent again. A rejection that names no offer is split in halves until
the bad card is found; what YM's schema refuses for sure (a name over 256 or a description over 6000 characters) fails
its card before it is sent, because every refused request costs YM quota.

A draft with attributes sends them as `parameterValues` together with the offer's `marketCategoryId` (read from
offer-mappings), typed by the category's parameters (adolf/adapters/ym_parameters.py). YM's limits, the 4 parallel
requests of a business and the per-method resource windows of its X-RateLimit-Resource-* headers, are kept fleet-wide
by adolf/adapters/ym_limits.py. 420 is YM's rate-limit answer; 423 (method locked for this store) is permanent and
names no card, so it fails the request's cards as they are. Read-back takes 100 offerIds a request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
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
from adolf.adapters.ym_parameters import YmCategories, parameter_values
from adolf.errors import AuthFailed, MarketplaceError, NotFound, RateLimited, ValidationFailed
from adolf.models.content import Marketplace

MIN_LIMIT_WAIT = 1.0
MAX_IDS = 100  # offerIds per read request
NAME_MAX = 256
DESCRIPTION_MAX = 6000
NOT_ACCEPTED = "HAS_CARD_CAN_UPDATE_ERRORS", "NO_CARD_ERRORS"


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    errors = body.get("errors") or []
    message = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
    message = f"YM: {message or answer.body or f'HTTP {answer.status}'}"
    details = body or answer.body or None
    if answer.status == 420:
        return RateLimited(message, retry_after=_limit_wait(answer.headers), details=details)
    if answer.status == 423:
        return AuthFailed(f"{message} (the method is locked for this store)", details=details)
    return classify_status(answer, message, details=details)


def _limit_wait(headers: Mapping[str, str]) -> float:
    """A used-up window reopens at X-RateLimit-Resource-Until; a 420 with units left in the window is the parallel
    cap (or a request bigger than what is left, which YmTraffic then waits out): a second is enough."""
    remaining = headers.get("X-RateLimit-Resource-Remaining", "")
    until = _until(headers.get("X-RateLimit-Resource-Until"))
    if until is None or (remaining.isdecimal() and int(remaining) > 0):
        return MIN_LIMIT_WAIT
    return max(MIN_LIMIT_WAIT, until)


def _until(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def offer_mapping(update: CardUpdate, category_id: int | None = None, values: list[dict] | None = None) -> dict:
    offer: dict[str, Any] = {
        "offerId": update.sku,
        "name": update.content.title,
        "description": update.content.description,
    }
    if values:
        offer["marketCategoryId"] = category_id
        offer["parameterValues"] = values
    return {"offer": offer}


def _too_long(update: CardUpdate) -> ValidationFailed | None:
    for field, text, limit in (
        ("name", update.content.title, NAME_MAX),
        ("description", update.content.description, DESCRIPTION_MAX),
    ):
        if len(text) > limit:
            return ValidationFailed(f"YM: {field} is {len(text)} characters long, the maximum is {limit}")
    return None


def _offer_error(errors: list[dict[str, Any]]) -> MarketplaceError:
    parts = []
    for error in errors:
        parameter = f" (parameter {error['parameterId']})" if error.get("parameterId") is not None else ""
        parts.append(f"{error.get('type')}{parameter}: {error.get('message')}")
    message = "YM rejected the card: " + "; ".join(parts)
    if any(e.get("type") == "OFFER_NOT_FOUND" for e in errors):
        return NotFound(message, details=errors)
    return ValidationFailed(message, details=errors)


def _as_card(mapping: dict[str, Any]) -> Card:
    offer = mapping.get("offer") or {}
    market_sku = (mapping.get("mapping") or {}).get("marketSku")
    status = offer.get("cardStatus") or ""
    attributes: dict[str, list[Any]] = {}
    for value in offer.get("parameterValues") or []:
        if isinstance(value, dict):
            attributes.setdefault(str(value.get("parameterId")), []).append(value.get("value"))
    return Card(
        sku=offer["offerId"],
        nm_id=None if market_sku is None else str(market_sku),
        title=offer.get("name") or "",
        description=offer.get("description") or "",
        attributes=attributes,
        processing=str(status).endswith("_PROCESSING"),
        rejection=f"YM did not accept the card's changes (cardStatus {status})" if status in NOT_ACCEPTED else None,
    )


class YandexMarketAdapter(MarketplaceAdapter):
    marketplace = Marketplace.YM
    max_batch = 100  # the schema allows 500, the docs say to send at most 100
    update_bucket = "ym.offer_mappings_update"
    max_in_flight = 2  # of the business's 4 parallel requests: the rest stay free for reads

    def __init__(self, http: MarketplaceHttp, *, business_id: int | None, parameters_ttl: float = 3600.0) -> None:
        self.http = http
        self.account = http.account
        self.business_id = business_id
        self.categories = YmCategories(http, business_id=business_id, ttl=parameters_ttl)

    def _path(self, suffix: str) -> str:
        return f"/v2/businesses/{self.business_id}/{suffix}"

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        """A partial update: fields not sent stay as they are, so only a draft with attributes needs its offer's
        category read first."""
        with_attributes = []
        for update in cards:
            refused = _too_long(update)
            if refused is not None:
                ready(update, PublishResult.failed(update.sku, refused))
            elif update.content.attributes:
                with_attributes.append(update)
            else:
                ready(update, PreparedCard(update, offer_mapping(update)))
        for start in range(0, len(with_attributes), MAX_IDS):
            page = with_attributes[start : start + MAX_IDS]
            try:
                offers = await self._read([u.sku for u in page])
            except MarketplaceError as error:
                for update in page:
                    ready(update, PublishResult.failed(update.sku, error))
                continue
            for update in page:
                ready(update, await self._with_parameters(update, offers.get(update.sku)))

    async def _with_parameters(self, update: CardUpdate, found: dict[str, Any] | None) -> PreparedCard | PublishResult:
        if found is None:
            return PublishResult.failed(update.sku, NotFound(f"YM has no offer {update.sku}"))
        offer, mapping = found.get("offer") or {}, found.get("mapping") or {}
        category_id = offer.get("marketCategoryId") or mapping.get("marketCategoryId")
        if not category_id:
            refused = ValidationFailed(f"YM: offer {update.sku} has no market category to take its attributes")
            return PublishResult.failed(update.sku, refused)
        try:
            known = await self.categories.parameters(int(category_id))
            values, sent = parameter_values(update.content.attributes, known)
        except MarketplaceError as error:
            return PublishResult.failed(update.sku, error)
        return PreparedCard(update, offer_mapping(update, int(category_id), values), attributes=sent)

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return await self.send_split(cards, self._request, slot_held=slot_held)

    async def _request(self, cards: Sequence[PreparedCard], slot_held: bool) -> Sent:
        body = b'{"offerMappings":' + json_array(cards) + b"}"
        try:
            answer = await self.http.post(
                self._path("offer-mappings/update"),
                body,
                bucket=self.update_bucket,
                slot_held=slot_held,
                cost=len(cards),
            )
        except ValidationFailed:
            raise  # refused as a whole, naming nobody: send_split halves it
        except MarketplaceError as error:
            return Sent({c.sku: PublishResult.failed(c.sku, error) for c in cards})
        if (answer or {}).get("status") == "OK":
            return Sent(
                {
                    c.sku: PublishResult(sku=c.sku, success=True, raw_response=answer, attributes=c.attributes)
                    for c in cards
                }
            )
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
        results = {sku: PublishResult.failed(sku, _offer_error(errors), errors) for sku, errors in named.items()}
        rest = [c for c in cards if c.sku not in named]
        if rest:
            results.update((await self.send(rest)).results)
        return Sent(results)

    async def _read(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The offer mappings of up to 100 offers, by offerId (absent: YM has no such offer)."""
        ids = list(dict.fromkeys(skus))  # YM refuses a repeated id
        body = await self.http.post(self._path("offer-mappings"), {"offerIds": ids}, bucket="ym.offer_mappings")
        found = {}
        for mapping in ((body or {}).get("result") or {}).get("offerMappings") or []:
            offer = mapping.get("offer") if isinstance(mapping, dict) else None
            if isinstance(offer, dict) and offer.get("offerId") in ids:
                found[offer["offerId"]] = mapping
        return found

    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, Card | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), MAX_IDS):
            for sku, mapping in (await self._read(wanted[start : start + MAX_IDS])).items():
                found[sku] = _as_card(mapping)
        return found
