"""Ozon Seller API (research/marketplaces.md section 2).

/v3/product/import is a full import (up to 100 products a request), so the products are read first
(/v4/product/info/attributes, up to 1000 a request) and sent back whole, with the name, the description (attribute
4191) and the hashtags (23171) replaced. Ozon answers with a task id; the card is published once
/v1/product/import/info says `imported` (or `skipped`: no change), rejected when it says `failed`, and still pending
after `import_wait` seconds counts as a TIMEOUT. Read-back uses the same attributes endpoint, in pages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status, seconds_header
from adolf.errors import ApiError, AuthFailed, MarketplaceError, NotFound, RateLimited, Timeout, ValidationFailed
from adolf.models.content import Marketplace

IMPORT = "/v3/product/import"
IMPORT_INFO = "/v1/product/import/info"
ATTRIBUTES = "/v4/product/info/attributes"
BUCKET = "ozon.global"
MAX_IDS = 1000  # ids per read request

NAME_ATTR, DESCRIPTION_ATTR, HASHTAGS_ATTR = 4180, 4191, 23171
COPIED_FIELDS = (
    "offer_id",
    "description_category_id",
    "type_id",
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
    "complex_attributes",
)


def classify(answer: ErrorAnswer) -> MarketplaceError:
    body = answer.body if isinstance(answer.body, dict) else {}
    message = str(body.get("message") or answer.body or f"HTTP {answer.status}")
    if answer.status == 404 and "api-key" in message.lower():
        return AuthFailed(f"Ozon: {message}", details=body.get("details"))  # Ozon answers a bad key with 404
    retry_after = seconds_header(answer.headers, "retry-after")
    return classify_status(answer, f"Ozon: {message}", retry_after=retry_after, details=body.get("details"))


def hashtags(tags: list[str]) -> str:
    return " ".join("#" + "_".join(tag.split()) for tag in tags if tag.strip())


def _attribute(attribute_id: int, value: Any) -> dict[str, Any]:
    values = value if isinstance(value, list) else [value]
    return {"complex_id": 0, "id": attribute_id, "values": [{"value": str(v)} for v in values]}


def import_item(current: dict[str, Any], update: CardUpdate) -> dict[str, Any]:
    content = update.content
    ours = {NAME_ATTR: content.title, DESCRIPTION_ATTR: content.description}
    if content.seo_tags:
        ours[HASHTAGS_ATTR] = hashtags(content.seo_tags)
    ours.update({int(k): v for k, v in content.attributes.items() if str(k).isdecimal()})
    kept = [a for a in current.get("attributes") or [] if a.get("id") not in ours]
    item = {key: current[key] for key in COPIED_FIELDS if current.get(key) not in (None, "", [])}
    item.update(name=content.title, attributes=kept + [_attribute(k, v) for k, v in ours.items()])
    return item


class OzonAdapter(MarketplaceAdapter):
    marketplace = Marketplace.OZON
    max_batch = 100
    update_bucket = BUCKET

    def __init__(self, http: MarketplaceHttp, *, import_wait: float = 30.0) -> None:
        self.http = http
        self.account = http.account
        self.import_wait = import_wait

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        offer_ids = list(dict.fromkeys(c.sku for c in cards))
        for start in range(0, len(offer_ids), MAX_IDS):
            page = set(offer_ids[start : start + MAX_IDS])
            try:
                current = await self._products(sorted(page))
            except MarketplaceError as error:
                for update in (c for c in cards if c.sku in page):
                    ready(update, PublishResult.failed(update.sku, error))
                continue
            for update in (c for c in cards if c.sku in page):
                product = current.get(update.sku)
                if product is None:
                    ready(update, PublishResult.failed(update.sku, NotFound(f"Ozon has no product {update.sku}")))
                else:
                    ready(update, PreparedCard(update, import_item(product, update), nm_id=str(product.get("id"))))

    async def _products(self, offer_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Products by offer_id, read in pages of up to 1000 (/v4/product/info/attributes pages by last_id)."""
        found: dict[str, dict[str, Any]] = {}
        last_id = ""
        while True:
            query = {"filter": {"offer_id": offer_ids, "visibility": "ALL"}, "limit": MAX_IDS, "last_id": last_id}
            body = await self.http.post(ATTRIBUTES, query, bucket=BUCKET) or {}
            page = [p for p in body.get("result") or [] if isinstance(p, dict)]
            found.update({str(p.get("offer_id")): p for p in page if str(p.get("offer_id")) in offer_ids})
            last_id = str(body.get("last_id") or "")
            if len(page) < MAX_IDS or not last_id or len(found) >= len(offer_ids):
                return found

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return await self.send_split(cards, self._import, slot_held=slot_held)

    async def _import(self, cards: Sequence[PreparedCard], slot_held: bool) -> Sent:
        offer_ids = [c.sku for c in cards]
        body = b'{"items":' + json_array(cards) + b"}"
        try:
            answer = await self.http.post(IMPORT, body, bucket=BUCKET, slot_held=slot_held)
        except ValidationFailed:
            raise  # Ozon names no item in a refused request: send_split halves it
        except MarketplaceError as error:
            return Sent({o: PublishResult.failed(o, error) for o in offer_ids})
        try:
            task_id = int(answer["result"]["task_id"])
        except (KeyError, TypeError, ValueError):
            error = ApiError(f"Ozon import answer without task id: {str(answer)[:300]}")
            return Sent({o: PublishResult.failed(o, error) for o in offer_ids})
        return Sent(confirm=asyncio.ensure_future(self._confirm(task_id, offer_ids)))

    async def _confirm(self, task_id: int, offer_ids: list[str]) -> dict[str, PublishResult]:
        try:
            statuses = await self._wait_for(task_id)
        except MarketplaceError as error:
            return {o: PublishResult.failed(o, error, {"task_id": task_id}) for o in offer_ids}
        return {o: _item_result(o, statuses.get(o), task_id) for o in offer_ids}

    async def _wait_for(self, task_id: int) -> dict[str, dict[str, Any]]:
        """Poll import/info until no item is pending (or the wait is over). An empty answer or a 404 for a task just
        created means Ozon has not registered it yet: still pending. A limit answer or a transient error only makes
        the next poll wait: the import was accepted, and giving up on it would import the cards again."""
        deadline = time.monotonic() + self.import_wait
        pause = 0.2
        items: dict[str, dict[str, Any]] = {}
        while True:
            try:
                body = await self.http.post(IMPORT_INFO, {"task_id": task_id}, bucket=BUCKET)
                items = {i["offer_id"]: i for i in ((body or {}).get("result") or {}).get("items") or []}
            except (NotFound, RateLimited, ApiError, Timeout):
                pass
            done = items and all(i.get("status") != "pending" for i in items.values())
            if done or time.monotonic() > deadline:
                return items
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


def _item_result(offer_id: str, item: dict[str, Any] | None, task_id: int) -> PublishResult:
    raw = {"task_id": task_id, "item": item}
    status = (item or {}).get("status")
    if status in ("imported", "skipped"):
        return PublishResult(sku=offer_id, success=True, nm_id=str(item.get("product_id")), raw_response=raw)
    if status == "failed":
        reasons = "; ".join(
            e.get("description") or e.get("message") or e.get("code", "") for e in item.get("errors") or []
        )
        return PublishResult.failed(offer_id, ValidationFailed(f"Ozon rejected the card: {reasons}"), raw)
    return PublishResult.failed(offer_id, Timeout(f"Ozon import task {task_id} still {status or 'unknown'}"), raw)
