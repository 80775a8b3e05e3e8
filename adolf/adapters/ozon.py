"""Ozon Seller API (research/marketplaces.md section 2).

/v3/product/import is a full import (up to 100 products a request): the products are read first, in pages of up to
1000 (/v3/product/info/list has the prices and VAT, /v4/product/info/attributes everything else), and sent back whole,
in exactly the documented import fields, with the name, the description (attribute 4191), the hashtags (23171) and
the draft's attributes (resolved against the category, adolf/adapters/ozon_attributes.py) replaced.

Ozon answers with a task id; the card is published once /v1/product/import/info says `imported` (or `skipped`: no
change), rejected when it says `failed` (with Ozon's errors), and still pending after `import_wait` seconds counts as
a TIMEOUT. A task whose `items` stay empty dropped the product (Ozon documents it: a wrong category or a missing
VAT), which is a refusal, not a wait. The daily update quota (/v4/product/info/limit, `item_limit_exceeded`) is
waited out (adolf/adapters/quota.py). Read-back uses the attributes endpoint, in pages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

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
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status, seconds_header
from adolf.adapters.ozon_attributes import Attribute, OzonCategories, chosen_attributes, wire_attribute
from adolf.adapters.quota import DailyQuota
from adolf.errors import (
    ApiError,
    AuthFailed,
    MarketplaceError,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Timeout,
    ValidationFailed,
    is_infra_error,
)
from adolf.models.content import Marketplace

logger = logging.getLogger(__name__)

IMPORT = "/v3/product/import"
IMPORT_INFO = "/v1/product/import/info"
INFO_LIST = "/v3/product/info/list"
ATTRIBUTES = "/v4/product/info/attributes"
BUCKET = "ozon.global"
MAX_IDS = 1000  # ids per read request
EMPTY_ANSWERS = 3  # import/info answers with no items after which the product counts as dropped
RATE_LIMIT_CODE = 8  # "You have reached request rate limit per second", whatever the status

NAME_ATTR, DESCRIPTION_ATTR, HASHTAGS_ATTR = 4180, 4191, 23171
# the documented import fields, and which read has them
FROM_ATTRIBUTES = (
    "barcode",
    "depth",
    "width",
    "height",
    "dimension_unit",
    "weight",
    "weight_unit",
    "images",
    "primary_image",
    "color_image",
    "pdf_list",
    "complex_attributes",
)
FROM_INFO_LIST = ("price", "old_price", "currency_code", "vat", "images360")


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    message = str(body.get("message") or answer.body or f"HTTP {answer.status}")
    retry_after = seconds_header(answer.headers, "retry-after")
    details = answer.body
    if body.get("code") == RATE_LIMIT_CODE:
        return RateLimited(f"Ozon: {message}", retry_after=retry_after or 1.0, details=details)
    if answer.status == 404 and "api-key" in message.lower():
        return AuthFailed(f"Ozon: {message}", details=details)  # Ozon answers a bad key with 404
    return classify_status(answer, f"Ozon: {message}", retry_after=retry_after, details=details)


def hashtags(tags: list[str]) -> str:
    return " ".join("#" + "_".join(tag.split()) for tag in tags if tag.strip())


def import_item(product: dict[str, Any], attributes: list[dict[str, Any]], update: CardUpdate) -> dict[str, Any]:
    """The whole product as the import takes it: what was read, in the documented fields only, with our content."""
    item = {key: product[key] for key in ("offer_id", "description_category_id", "type_id") if key in product}
    item.update({k: product[k] for k in (*FROM_ATTRIBUTES, *FROM_INFO_LIST) if product.get(k) not in (None, "", [])})
    item["name"] = update.content.title
    item["attributes"] = attributes
    return item


class OzonAdapter(MarketplaceAdapter):
    marketplace = Marketplace.OZON
    max_batch = 100
    update_bucket = BUCKET

    def __init__(self, http: MarketplaceHttp, *, import_wait: float = 30.0, redis: Redis | None = None) -> None:
        self.http = http
        self.account = http.account
        self.import_wait = import_wait
        self.categories = OzonCategories(http)
        self.quota = DailyQuota(http, redis)

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        offer_ids = list(dict.fromkeys(c.sku for c in cards))
        for start in range(0, len(offer_ids), MAX_IDS):
            page = set(offer_ids[start : start + MAX_IDS])
            mine = [c for c in cards if c.sku in page]
            try:
                current = await self._products(sorted(page), with_prices=True)
            except MarketplaceError as error:
                for update in mine:
                    ready(update, PublishResult.failed(update.sku, error))
                continue
            await asyncio.gather(*(self._prepare_one(update, current.get(update.sku), ready) for update in mine))

    async def _prepare_one(self, update: CardUpdate, product: dict[str, Any] | None, ready: Ready) -> None:
        if product is None:
            ready(update, PublishResult.failed(update.sku, NotFound(f"Ozon has no product {update.sku}")))
            return
        try:
            attributes, sent = await self._attributes(product, update)
        except MarketplaceError as error:
            ready(update, PublishResult.failed(update.sku, error))
            return
        item = import_item(product, attributes, update)
        ready(update, PreparedCard(update, item, nm_id=str(product.get("id")), attributes=sent))

    async def _attributes(
        self, product: dict[str, Any], update: CardUpdate
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The product's attributes with ours put in (checked against its category), and the draft's as sent."""
        category = (int(product.get("description_category_id") or 0), int(product.get("type_id") or 0))
        known = await self.categories.attributes(category)
        content = update.content
        ours: list[tuple[Attribute, list[str]]] = []
        for attribute_id, value in (
            (DESCRIPTION_ATTR, content.description),
            (HASHTAGS_ATTR, hashtags(content.seo_tags)),
        ):
            if value and attribute_id in known:
                ours.append((known[attribute_id], [value]))
            elif value and attribute_id == DESCRIPTION_ATTR:
                raise ValidationFailed(
                    f"Ozon: category {category[0]} has no description attribute ({DESCRIPTION_ATTR})"
                )
        drafted = chosen_attributes(content.attributes, known)
        wire = []
        for attribute, values in [*ours, *drafted]:
            dictionary = await self.categories.dictionary(category, attribute.id) if attribute.dictionary_id else None
            wire.append(wire_attribute(attribute, values, dictionary))
        replaced = {a["id"] for a in wire}
        kept = [a for a in product.get("attributes") or [] if a.get("id") not in replaced]
        sent = {str(attribute.id): values for attribute, values in drafted}
        return kept + wire, sent

    async def _products(self, offer_ids: list[str], *, with_prices: bool = False) -> dict[str, dict[str, Any]]:
        """Products by offer_id, read in pages of up to 1000; with their prices (info/list) for a full import."""
        found: dict[str, dict[str, Any]] = {}
        last_id = ""
        while True:
            query = {"filter": {"offer_id": offer_ids, "visibility": "ALL"}, "limit": MAX_IDS, "last_id": last_id}
            body = await self.http.post(ATTRIBUTES, query, bucket=BUCKET) or {}
            page = [p for p in body.get("result") or [] if isinstance(p, dict)]
            found.update({str(p.get("offer_id")): p for p in page if str(p.get("offer_id")) in offer_ids})
            last_id = str(body.get("last_id") or "")
            if len(page) < MAX_IDS or not last_id or len(found) >= len(offer_ids):
                break
        if with_prices and found:
            listed = await self.http.post(INFO_LIST, {"offer_id": sorted(found)}, bucket=BUCKET) or {}
            for entry in listed.get("items") or []:
                product = found.get(str(entry.get("offer_id")))
                if product is not None:
                    product.update({k: entry[k] for k in FROM_INFO_LIST if k in entry})
        return found

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return await self.send_split(cards, self._import, slot_held=slot_held)

    async def _import(self, cards: Sequence[PreparedCard], slot_held: bool) -> Sent:
        room, reset_in = await self.quota.room(len(cards))
        waiting = {c.sku: _quota_result(c.sku, reset_in) for c in cards[room:]}
        cards = cards[:room]
        if not cards:
            return Sent(waiting)
        offer_ids = [c.sku for c in cards]
        body = b'{"items":' + json_array(cards) + b"}"
        try:
            answer = await self.http.post(IMPORT, body, bucket=BUCKET, slot_held=slot_held)
        except ValidationFailed:
            raise  # Ozon names no item in a refused request: send_split halves it
        except MarketplaceError as error:
            return Sent({**waiting, **{o: PublishResult.failed(o, error) for o in offer_ids}})
        try:
            task_id = int(answer["result"]["task_id"])
        except (KeyError, TypeError, ValueError):
            error = ApiError(f"Ozon import answer without task id: {str(answer)[:300]}")
            return Sent({**waiting, **{o: PublishResult.failed(o, error) for o in offer_ids}})
        attributes = {c.sku: c.attributes for c in cards}
        return Sent(waiting, confirm=asyncio.ensure_future(self._confirm(task_id, offer_ids, attributes)))

    async def _confirm(
        self, task_id: int, offer_ids: list[str], attributes: dict[str, dict[str, Any] | None]
    ) -> dict[str, PublishResult]:
        try:
            statuses, answered = await self._wait_for(task_id)
        except MarketplaceError as error:
            return {o: PublishResult.failed(o, error, {"task_id": task_id}) for o in offer_ids}
        results = {o: _item_result(o, statuses.get(o), task_id, answered) for o in offer_ids}
        exhausted = [r for r in results.values() if r.error_code == QuotaExhausted.code]
        if exhausted:
            _, reset_in = await self.quota.room(0)
            await self.quota.exhausted(reset_in)
            results.update({r.sku: _quota_result(r.sku, reset_in) for r in exhausted})
        for offer_id, result in results.items():
            if result.success:
                result.attributes = attributes.get(offer_id)
        return results

    async def _wait_for(self, task_id: int) -> tuple[dict[str, dict[str, Any]], bool]:
        """Poll import/info until no item is pending (or the wait is over); also whether Ozon answered with the task's
        items settled (an empty list said `EMPTY_ANSWERS` times means the products were dropped). A 404 for a task
        just created means Ozon has not registered it yet; a limit answer or a transient error only makes the next
        poll wait, and so does an infrastructure error (Redis away while the poll books its slot): the import was
        accepted, and giving up on it would import the cards again."""
        deadline = time.monotonic() + self.import_wait
        pause, empty = 0.2, 0
        items: dict[str, dict[str, Any]] = {}
        while True:
            try:
                body = await self.http.post(IMPORT_INFO, {"task_id": task_id}, bucket=BUCKET)
                items = {i["offer_id"]: i for i in ((body or {}).get("result") or {}).get("items") or []}
                empty = 0 if items else empty + 1
            except (NotFound, RateLimited, ApiError, Timeout):
                pass
            except Exception as exc:  # Redis away (the limiter's slot): the cards are Ozon's already, poll again
                if not is_infra_error(exc):
                    raise
                logger.warning("Ozon import %s: status not read (%s), polling again", task_id, type(exc).__name__)
            if items and all(i.get("status") != "pending" for i in items.values()):
                return items, True
            if empty >= EMPTY_ANSWERS:
                return {}, True
            if time.monotonic() > deadline:
                return items, False
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 2.0)

    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), MAX_IDS):
            found.update(await self._products(wanted[start : start + MAX_IDS]))
        return {sku: None if sku not in found else _as_card(sku, found[sku]) for sku in wanted}


def _as_card(sku: str, product: dict[str, Any]) -> Card:
    attributes = {
        a.get("id"): [v.get("value") for v in a.get("values") or [] if isinstance(v, dict)]
        for a in product.get("attributes") or []
        if isinstance(a, dict)
    }
    description = attributes.get(DESCRIPTION_ATTR) or [""]
    return Card(
        sku=sku,
        nm_id=str(product.get("id")),
        title=product.get("name") or "",
        description=str(description[0] or ""),
        attributes={str(k): v for k, v in attributes.items() if k not in (NAME_ATTR, DESCRIPTION_ATTR)},
    )


def _quota_result(offer_id: str, reset_in: float) -> PublishResult:
    error = QuotaExhausted(f"Ozon's daily product update quota is used up for {reset_in:.0f}s", retry_after=reset_in)
    return PublishResult.failed(offer_id, error)


def _item_result(offer_id: str, item: dict[str, Any] | None, task_id: int, settled: bool) -> PublishResult:
    raw = {"task_id": task_id, "item": item}
    status = (item or {}).get("status")
    if status in ("imported", "skipped"):
        return PublishResult(sku=offer_id, success=True, nm_id=str(item.get("product_id")), raw_response=raw)
    if status == "failed":
        errors = item.get("errors") or []
        if any(e.get("code") == "item_limit_exceeded" for e in errors):
            return PublishResult.failed(offer_id, QuotaExhausted("Ozon: item_limit_exceeded"), raw)
        reasons = "; ".join(e.get("description") or e.get("message") or e.get("code", "") for e in errors)
        return PublishResult.failed(
            offer_id, ValidationFailed(f"Ozon rejected the card: {reasons}", details=errors), raw
        )
    if item is None and settled:
        message = "Ozon dropped the product from its import task (a wrong category or a missing VAT)"
        return PublishResult.failed(offer_id, ValidationFailed(message), raw)
    return PublishResult.failed(offer_id, Timeout(f"Ozon import task {task_id} still {status or 'unknown'}"), raw)
