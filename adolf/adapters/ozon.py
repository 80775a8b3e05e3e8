"""Ozon Seller API (research/marketplaces.md section 2).

/v3/product/import is a full import, so the product is read first (/v4/product/info/attributes, one request for the
whole batch) and sent back whole, with the name, the description (attribute 4191) and the hashtags (23171) replaced.
Ozon answers with a task id; the card is published once /v1/product/import/info says `imported` (or `skipped`: no
change), rejected when it says `failed`, and still pending after `import_wait` seconds counts as a TIMEOUT.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adolf.adapters.base import Card, CardUpdate, MarketplaceAdapter, PublishResult
from adolf.adapters.http import ErrorAnswer, MarketplaceHttp, classify_status, seconds_header
from adolf.errors import AuthFailed, MarketplaceError, NotFound, Timeout, ValidationFailed
from adolf.models.content import Marketplace

IMPORT = "/v3/product/import"
IMPORT_INFO = "/v1/product/import/info"
ATTRIBUTES = "/v4/product/info/attributes"
DESCRIPTION = "/v1/product/info/description"
BUCKET = "ozon.global"

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
        return AuthFailed(f"Ozon: {message}")  # Ozon answers a bad key with 404
    return classify_status(answer, f"Ozon: {message}", retry_after=seconds_header(answer.headers, "retry-after"))


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

    def __init__(self, http: MarketplaceHttp, *, import_wait: float = 30.0) -> None:
        self.http = http
        self.import_wait = import_wait

    async def _update_batch(self, cards: list[CardUpdate]) -> list[PublishResult]:
        try:
            current = await self._products([c.sku for c in cards])
        except MarketplaceError as error:
            return [PublishResult.failed(c.sku, error) for c in cards]
        results = {
            c.sku: PublishResult.failed(c.sku, NotFound(f"Ozon has no product {c.sku}"))
            for c in cards
            if c.sku not in current
        }
        known = [c for c in cards if c.sku in current]
        if known:
            results.update(await self._import([import_item(current[c.sku], c) for c in known]))
        return [results[c.sku] for c in cards]

    async def _products(self, offer_ids: list[str]) -> dict[str, dict[str, Any]]:
        query = {"filter": {"offer_id": offer_ids, "visibility": "ALL"}, "limit": len(offer_ids)}
        body = await self.http.post(ATTRIBUTES, query, bucket=BUCKET)
        return {p["offer_id"]: p for p in (body or {}).get("result") or [] if p.get("offer_id") in offer_ids}

    async def _import(self, items: list[dict[str, Any]]) -> dict[str, PublishResult]:
        offer_ids = [item["offer_id"] for item in items]
        try:
            body = await self.http.post(IMPORT, {"items": items}, bucket=BUCKET)
            task_id = body["result"]["task_id"]
            statuses = await self._wait_for(task_id)
        except MarketplaceError as error:
            return {o: PublishResult.failed(o, error) for o in offer_ids}
        except (KeyError, TypeError):
            return {
                o: PublishResult.failed(o, ValidationFailed(f"Ozon import answer without task id: {body}"))
                for o in offer_ids
            }
        return {o: _item_result(o, statuses.get(o), task_id) for o in offer_ids}

    async def _wait_for(self, task_id: int) -> dict[str, dict[str, Any]]:
        """Poll import/info until no item is pending (or the wait is over). An empty answer or a 404 for a task just
        created means Ozon has not registered it yet: still pending."""
        deadline = time.monotonic() + self.import_wait
        pause = 0.2
        items: dict[str, dict[str, Any]] = {}
        while True:
            try:
                body = await self.http.post(IMPORT_INFO, {"task_id": task_id}, bucket=BUCKET)
                items = {i["offer_id"]: i for i in ((body or {}).get("result") or {}).get("items") or []}
            except NotFound:
                items = {}
            done = items and all(i.get("status") != "pending" for i in items.values())
            if done or time.monotonic() > deadline:
                return items
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 2.0)

    async def get_card(self, sku: str) -> Card | None:
        try:
            body = await self.http.post(DESCRIPTION, {"offer_id": sku}, bucket=BUCKET)
        except NotFound:
            return None
        result = (body or {}).get("result") or {}
        return Card(
            sku=sku,
            nm_id=str(result.get("id")),
            title=result.get("name") or "",
            description=result.get("description") or "",
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
