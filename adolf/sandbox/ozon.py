"""Ozon Seller API: product import (full, task + async apply; adolf/sandbox/ozon_import.py), import info, product
reads, category attributes and their dictionaries, the daily quota."""

from __future__ import annotations

import copy
import logging
from typing import Any

from aiohttp import web

from .base import ApiError, Ctx, Json, MarketplaceApi, Route, as_dict, as_list, json_response, str_ids
from .buckets import BucketSnapshot
from .catalogs import OZON_CATEGORIES, OZON_DEFAULT_CATEGORY, OZON_DESCRIPTION_ATTR, OzonAttribute
from .config import SandboxAccount
from .models import OzonProduct, SeedCard, now_iso
from .ozon_import import (
    MAX_IMPORT,
    QUOTA_EXCEEDED,
    content,
    item_errors,
    item_problem,
    quota_reset_at,
    silently_dropped,
)
from .state import OzonTask, OzonTaskItem, SandboxState

logger = logging.getLogger(__name__)

MAX_IDS = 1000
MAX_DICTIONARY_PAGE = 2000
INVALID_KEY = "Invalid Api-Key, please check the key and try again"
CORE_FIELDS = ("offer_id", "name", "attributes", "description_category_id", "type_id")


def rpc_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The gRPC-style error body ``{code, message, details}``."""
    return json_response({"code": code, "message": message, "details": []}, status=status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError(rpc_error(400, 3, message))


# --- /v3/product/import ---------------------------------------------------------------------------


def _checked_items(payload: Any) -> list[Json]:
    items = as_dict(payload).get("items")
    if not isinstance(items, list) or not items:
        raise bad_request("items: value must contain at least 1 item")
    if len(items) > MAX_IMPORT:
        raise bad_request(f"items: value must contain at most {MAX_IMPORT} items")
    for index, item in enumerate(items):
        problem = item_problem(index, item)
        if problem is not None:
            raise bad_request(problem)
    return items


def import_products(ctx: Ctx) -> web.Response:
    items = copy.deepcopy(_checked_items(ctx.payload))
    state, account = ctx.state, ctx.account.name
    task_items = [OzonTaskItem(offer_id=str(item["offer_id"]), product_id=0) for item in items]
    for task_item in task_items:
        task_item.product_id = _ids_for(state, account, task_item.offer_id)[0]
    task = OzonTask(task_id=next(state.ids.ozon_task), account=account, items=task_items)
    state.ozon_tasks[task.task_id] = task
    state.scheduler.schedule(state.config.apply_delay_s, lambda: _apply_task(state, task, items))
    return json_response({"result": {"task_id": task.task_id}})


def _ids_for(state: SandboxState, account: str, offer_id: str) -> tuple[int, int]:
    """(product_id, sku) of an offer; a new offer gets them reserved at import time."""
    existing = state.ozon[account].get(offer_id)
    if existing is not None:
        return existing.product_id, existing.sku
    reserved = state.ozon_reserved[account]
    if offer_id not in reserved:
        reserved[offer_id] = (next(state.ids.product_id), next(state.ids.ozon_sku))
    return reserved[offer_id]


def _apply_task(state: SandboxState, task: OzonTask, items: list[Json]) -> None:
    products = state.ozon[task.account]
    kept = []
    for task_item, item in zip(task.items, items, strict=True):
        if silently_dropped(item):
            continue  # Ozon's documented oddity: an empty `items` means a wrong category or a missing VAT
        kept.append(task_item)
        errors = item_errors(item)
        if not errors and state.ozon_quota_used[task.account] >= state.config.ozon_daily_update_limit:
            errors = [QUOTA_EXCEEDED]
        if errors:
            task_item.status, task_item.errors = "failed", errors
            state.counters.cards_rejected["ozon"] += 1
            continue
        old = products.get(task_item.offer_id)
        new = _build(item, old, _ids_for(state, task.account, task_item.offer_id))
        if old is not None and _same(old, new):
            task_item.status = "skipped"
            continue
        products[task_item.offer_id] = new
        state.ozon_reserved[task.account].pop(task_item.offer_id, None)
        state.ozon_quota_used[task.account] += 1
        task_item.status = "imported"
        state.counters.cards_updated["ozon"] += 1
    task.items = kept


def _build(item: Json, old: OzonProduct | None, ids: tuple[int, int]) -> OzonProduct:
    """The product becomes what the import says (a full import): what it leaves out is gone."""
    name, description = content(item)
    return OzonProduct(
        product_id=ids[0],
        sku=ids[1],
        offer_id=str(item["offer_id"]),
        name=name,
        description=description,
        attributes=as_list(item.get("attributes")),
        extra={k: v for k, v in item.items() if k not in CORE_FIELDS},
        description_category_id=item["description_category_id"],
        type_id=item["type_id"],
        created_at=old.created_at if old else now_iso(),
    )


def _same(old: OzonProduct, new: OzonProduct) -> bool:
    fields = ("name", "description", "attributes", "extra", "description_category_id", "type_id")
    return all(getattr(old, f) == getattr(new, f) for f in fields)


# --- /v1/product/import/info ----------------------------------------------------------------------


def import_info(ctx: Ctx) -> web.Response:
    raw = as_dict(ctx.payload).get("task_id")
    try:
        task_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("task_id: value must be a positive integer") from None
    task = ctx.state.ozon_tasks.get(task_id)
    if task is None or task.account != ctx.account.name:
        raise ApiError(rpc_error(404, 5, "task not found"))
    items = [
        {"offer_id": i.offer_id, "product_id": i.product_id, "status": i.status, "errors": copy.deepcopy(i.errors)}
        for i in task.items
    ]
    return json_response({"result": {"items": items, "total": len(items)}})


# --- reads ----------------------------------------------------------------------------------------


def _select(ctx: Ctx, ids: Json) -> list[OzonProduct]:
    """Products named by ``offer_id`` / ``product_id`` / ``sku`` lists (all when none given)."""
    offer_ids, product_ids, skus = (str_ids(ids.get(key)) for key in ("offer_id", "product_id", "sku"))
    if len(offer_ids) + len(product_ids) + len(skus) > MAX_IDS:
        raise bad_request(f"at most {MAX_IDS} identifiers per request")
    products = ctx.state.ozon[ctx.account.name].values()
    if not (offer_ids or product_ids or skus):
        return sorted(products, key=lambda p: p.product_id)
    wanted = set(offer_ids), set(product_ids), set(skus)
    return [p for p in products if p.offer_id in wanted[0] or str(p.product_id) in wanted[1] or str(p.sku) in wanted[2]]


def info_list(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    if not any(payload.get(key) for key in ("offer_id", "product_id", "sku")):
        raise bad_request("one of offer_id, product_id or sku must be set")
    return json_response({"items": [product.info() for product in _select(ctx, payload)]})


def info_description(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    offer_id, product_id = payload.get("offer_id"), payload.get("product_id")
    if offer_id in (None, "") and product_id in (None, "", 0):
        raise bad_request("offer_id or product_id must be set")
    found = _find_one(ctx.state.ozon[ctx.account.name].values(), offer_id, product_id)
    if found is None:
        raise ApiError(rpc_error(404, 5, "Product not found"))
    body = {"id": found.product_id, "offer_id": found.offer_id, "name": found.name, "description": found.description}
    return json_response({"result": body})


def _find_one(products: Any, offer_id: Any, product_id: Any) -> OzonProduct | None:
    for product in products:
        if offer_id not in (None, "") and product.offer_id == str(offer_id):
            return product
        if product_id not in (None, "", 0) and str(product.product_id) == str(product_id):
            return product
    return None


def info_attributes(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    limit = payload.get("limit", MAX_IDS)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_IDS:
        raise bad_request(f"limit: value must be from 1 to {MAX_IDS}")
    matching = sorted(_select(ctx, as_dict(payload.get("filter"))), key=lambda p: p.product_id)
    last_id = str(payload.get("last_id") or "")
    if last_id and not last_id.isdecimal():
        raise bad_request("last_id: invalid value")
    rest = [p for p in matching if p.product_id > int(last_id)] if last_id else matching
    page = rest[:limit]
    body = {
        "result": [p.with_attributes() for p in page],
        "last_id": str(page[-1].product_id) if page else "",
        "total": len(matching),
    }
    return json_response(body)


# --- categories, dictionaries, quota --------------------------------------------------------------------------------


def _category(payload: Json) -> Any:
    key = (payload.get("description_category_id"), payload.get("type_id"))
    if not all(isinstance(k, int) and not isinstance(k, bool) for k in key):
        raise bad_request("description_category_id and type_id: values are required")
    category = OZON_CATEGORIES.get(key)
    if category is None:
        raise bad_request(f"category {key[0]} with type {key[1]} not found")
    return category


def category_attributes(ctx: Ctx) -> web.Response:
    category = _category(as_dict(ctx.payload))
    return json_response({"result": [a.to_wire() for a in category.attributes]})


def attribute_values(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    category = _category(payload)
    attribute = (
        category.attribute(payload.get("attribute_id")) if isinstance(payload.get("attribute_id"), int) else None
    )
    if attribute is None:
        raise bad_request("attribute_id: attribute not found in this category")
    limit = payload.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_DICTIONARY_PAGE:
        raise bad_request(f"limit: value must be from 1 to {MAX_DICTIONARY_PAGE}")
    after = payload.get("last_value_id") or 0
    rest = [(i, v) for i, v in attribute.dictionary if i > after]
    page = rest[:limit]
    body = {
        "result": [{"id": i, "value": v, "info": "", "picture": ""} for i, v in page],
        "has_next": len(rest) > limit,
    }
    return json_response(body)


def upload_quota(ctx: Ctx) -> web.Response:
    used, limit, reset_at = (
        ctx.state.ozon_quota_used[ctx.account.name],
        ctx.state.config.ozon_daily_update_limit,
        quota_reset_at(),
    )
    body = {
        "daily_create": {"limit": limit, "usage": 0, "reset_at": reset_at},
        "daily_update": {"limit": limit, "usage": used, "reset_at": reset_at},
        "total": {"limit": 1_000_000, "usage": len(ctx.state.ozon[ctx.account.name])},
    }
    return json_response(body)


# --- the marketplace ------------------------------------------------------------------------------


class OzonApi(MarketplaceApi):
    name = "ozon"
    routes = (
        Route("POST", "/v3/product/import", import_products, "ozon.global"),
        Route("POST", "/v1/product/import/info", import_info, "ozon.global"),
        Route("POST", "/v3/product/info/list", info_list, "ozon.global"),
        Route("POST", "/v1/product/info/description", info_description, "ozon.global"),
        Route("POST", "/v4/product/info/attributes", info_attributes, "ozon.global"),
        Route("POST", "/v1/description-category/attribute", category_attributes, "ozon.global"),
        Route("POST", "/v1/description-category/attribute/values", attribute_values, "ozon.global"),
        Route("POST", "/v4/product/info/limit", upload_quota, "ozon.global"),
    )

    def identify(self, request: web.Request, state: SandboxState) -> SandboxAccount | web.Response:
        client_id, api_key = request.headers.get("Client-Id"), request.headers.get("Api-Key")
        if not client_id or not api_key:
            return rpc_error(401, 16, "Client-Id and Api-Key headers are required")
        if not client_id.strip().isdecimal() or int(client_id) <= 0:
            return rpc_error(400, 3, "Client-Id header value should be positive integer")
        account = state.accounts.by_ozon_key.get(api_key)
        if account is None or int(account.ozon_client_id) != int(client_id):
            return self.auth_error()
        return account

    def auth_error(self) -> web.Response:
        return rpc_error(404, 5, INVALID_KEY)

    def rate_limited(self, snap: BucketSnapshot) -> web.Response:
        headers = {"retry-after": str(snap.retry_after_s), "ratelimit-remaining": "0"}
        return rpc_error(429, 8, "You have reached request rate limit per second", headers=headers)

    def server_error(self, status: int) -> web.Response:
        return rpc_error(status, 13, "Internal error")

    def validation_error(self, message: str) -> web.Response:
        return rpc_error(400, 3, message)

    def malformed_body(self) -> bytes:
        return b'{"result":{"items":[{"offer_id":"'

    def decorate(self, response: web.StreamResponse, snap: BucketSnapshot) -> None:
        """Ozon documents no rate-limit headers on successful answers."""

    def skus(self, path: str, payload: Any) -> list[str]:
        payload = as_dict(payload)
        if path.endswith("/product/import"):
            return str_ids([as_dict(item).get("offer_id") for item in as_list(payload.get("items"))])
        ids = as_dict(payload.get("filter")) or payload
        found = []
        for key in ("offer_id", "product_id", "sku"):
            value = ids.get(key)
            found += str_ids(value) if isinstance(value, list) else str_ids([value])
        return found


SEED_PRODUCT = {
    "price": "1000",
    "old_price": "1200",
    "currency_code": "RUB",
    "vat": "0.2",
    "depth": 100,
    "width": 100,
    "height": 120,
    "dimension_unit": "mm",
    "weight": 350,
    "weight_unit": "g",
    "primary_image": "",
}


def _seed_attribute(attribute: OzonAttribute, value: Any) -> Json:
    values = value if isinstance(value, list) else [value]
    wire = []
    for one in values:
        value_id = attribute.value_id(str(one)) if attribute.dictionary else 0
        if value_id is None:
            raise ValueError(f"{attribute.name}: {one!r} is not in its dictionary")
        wire.append({"dictionary_value_id": value_id, "value": str(one)})
    return {"complex_id": 0, "id": attribute.id, "values": wire}


def seed(state: SandboxState, account: str, card: SeedCard) -> Json:
    """Create or replace a whole Ozon product (prices, dimensions, required attributes) from a control-API seed."""
    category = OZON_CATEGORIES[OZON_DEFAULT_CATEGORY]
    chosen = {85: "Sandbox", 8229: "Кружка", OZON_DESCRIPTION_ATTR: card.description}
    for key, value in card.attributes.items():
        attribute = category.attribute(int(key)) if key.isdecimal() else None
        attribute = attribute or next((a for a in category.attributes if a.name.casefold() == key.casefold()), None)
        if attribute is None:
            raise ValueError(f"Ozon category {category.description_category_id} has no attribute {key!r}")
        chosen[attribute.id] = value
    attributes = [_seed_attribute(category.attribute(i), v) for i, v in chosen.items()]  # type: ignore[arg-type]
    product_id, sku = _ids_for(state, account, card.sku)
    product = OzonProduct(
        product_id=card.product_id or product_id,
        sku=sku,
        offer_id=card.sku,
        name=card.title,
        description=card.description,
        attributes=attributes,
        extra={
            **SEED_PRODUCT,
            "barcode": f"OZN{card.sku}",
            "images": [f"https://cdn.example/{card.sku}.jpg"],
            **card.fields,
        },
        description_category_id=category.description_category_id,
        type_id=category.type_id,
    )
    state.ozon[account][card.sku] = product
    state.ozon_reserved[account].pop(card.sku, None)
    return product.summary()
