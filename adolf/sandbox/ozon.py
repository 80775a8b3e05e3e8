"""Ozon Seller API: product import (task + async apply), import info, product reads."""

from __future__ import annotations

import copy
import logging
from typing import Any

from aiohttp import web

from .base import ApiError, Ctx, Json, MarketplaceApi, Route, as_dict, as_list, json_response, str_ids
from .buckets import BucketSnapshot
from .config import SandboxAccount
from .models import (
    OZON_DESCRIPTION_ATTR,
    OZON_HASHTAGS_ATTR,
    OZON_NAME_ATTR,
    OzonProduct,
    SeedCard,
    now_iso,
)
from .rules import Violation, check_text
from .state import OzonTask, OzonTaskItem, SandboxState

logger = logging.getLogger(__name__)

MAX_IMPORT = 100
MAX_IDS = 1000
NAME_MAX = 500
DESCRIPTION_MAX = 6000
INVALID_KEY = "Invalid Api-Key, please check the key and try again"
ATTRIBUTE_NAMES = {OZON_NAME_ATTR: "Название", OZON_DESCRIPTION_ATTR: "Аннотация", OZON_HASHTAGS_ATTR: "#Хештеги"}
CORE_FIELDS = ("offer_id", "name", "attributes", "description_category_id", "type_id")


def rpc_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The gRPC-style error body ``{code, message, details}``."""
    return json_response({"code": code, "message": message, "details": []}, status=status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError(rpc_error(400, 3, message))


def attr_value(attributes: list[Json], attribute_id: int) -> str | None:
    """First value of an attribute, as sent in ``attributes[].values[].value``."""
    for attribute in attributes:
        if as_dict(attribute).get("id") == attribute_id:
            values = as_list(attribute.get("values"))
            return str(as_dict(values[0]).get("value", "")) if values else ""
    return None


# --- /v3/product/import ---------------------------------------------------------------------------


def _checked_items(payload: Any) -> list[Json]:
    items = as_dict(payload).get("items")
    if not isinstance(items, list) or not items:
        raise bad_request("items: value must contain at least 1 item")
    if len(items) > MAX_IMPORT:
        raise bad_request(f"items: value must contain at most {MAX_IMPORT} items")
    for index, item in enumerate(items):
        offer_id = as_dict(item).get("offer_id")
        if not isinstance(offer_id, str | int) or isinstance(offer_id, bool) or str(offer_id) == "":
            raise bad_request(f"items[{index}].offer_id: value is required")
        if not isinstance(item.get("attributes", []), list):
            raise bad_request(f"items[{index}].attributes: value must be an array")
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


def _error(violation: Violation) -> Json:
    attribute_id = OZON_NAME_ATTR if violation.field == "name" else OZON_DESCRIPTION_ATTR
    code = {"too_long": "TOO_LONG_VALUE", "not_text": "INVALID_VALUE"}.get(violation.kind, "FORBIDDEN_CONTENT")
    return {
        "code": code,
        "message": violation.message,
        "state": "imported",
        "level": "error",
        "description": violation.message,
        "field": violation.field,
        "attribute_id": attribute_id,
        "attribute_name": ATTRIBUTE_NAMES[attribute_id],
    }


def _content(item: Json) -> tuple[str, str, list[Violation]]:
    attributes = as_list(item.get("attributes"))
    name = item.get("name") or attr_value(attributes, OZON_NAME_ATTR) or ""
    description = attr_value(attributes, OZON_DESCRIPTION_ATTR) or ""
    violations = check_text("name", name, NAME_MAX) + check_text("description", description, DESCRIPTION_MAX)
    if name == "":
        violations.append(Violation("name", "not_text"))
    return str(name), description, violations


def _apply_task(state: SandboxState, task: OzonTask, items: list[Json]) -> None:
    products = state.ozon[task.account]
    for task_item, item in zip(task.items, items, strict=True):
        name, description, violations = _content(item)
        if violations:
            task_item.status, task_item.errors = "failed", [_error(v) for v in violations]
            state.counters.cards_rejected["ozon"] += 1
            continue
        old = products.get(task_item.offer_id)
        new = _build(item, name, description, old, _ids_for(state, task.account, task_item.offer_id))
        if old is not None and _same(old, new):
            task_item.status = "skipped"
            continue
        products[task_item.offer_id] = new
        state.ozon_reserved[task.account].pop(task_item.offer_id, None)
        task_item.status = "imported"
        state.counters.cards_updated["ozon"] += 1


def _build(item: Json, name: str, description: str, old: OzonProduct | None, ids: tuple[int, int]) -> OzonProduct:
    product = OzonProduct(
        product_id=ids[0],
        sku=ids[1],
        offer_id=str(item["offer_id"]),
        name=name,
        description=description,
        attributes=as_list(item.get("attributes")),
        extra={k: v for k, v in item.items() if k not in CORE_FIELDS},
        created_at=old.created_at if old else now_iso(),
    )
    for key in ("description_category_id", "type_id"):
        if isinstance(item.get(key), int):
            setattr(product, key, item[key])
        elif old is not None:
            setattr(product, key, getattr(old, key))
    return product


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


# --- the marketplace ------------------------------------------------------------------------------


class OzonApi(MarketplaceApi):
    name = "ozon"
    routes = (
        Route("POST", "/v3/product/import", import_products, "ozon.global"),
        Route("POST", "/v1/product/import/info", import_info, "ozon.global"),
        Route("POST", "/v3/product/info/list", info_list, "ozon.global"),
        Route("POST", "/v1/product/info/description", info_description, "ozon.global"),
        Route("POST", "/v4/product/info/attributes", info_attributes, "ozon.global"),
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


def _values(value: Any) -> list[Json]:
    return [{"dictionary_value_id": 0, "value": str(v)} for v in (value if isinstance(value, list) else [value])]


def seed(state: SandboxState, account: str, card: SeedCard) -> Json:
    """Create or replace an Ozon product from a control-API seed entry."""
    attributes = [
        {"complex_id": 0, "id": int(key), "values": _values(value)}
        for key, value in card.attributes.items()
        if key.isdecimal()
    ]
    attributes = [a for a in attributes if a["id"] != OZON_DESCRIPTION_ATTR]
    attributes.append({"complex_id": 0, "id": OZON_DESCRIPTION_ATTR, "values": _values(card.description)})
    product_id, sku = _ids_for(state, account, card.sku)
    product = OzonProduct(
        product_id=card.product_id or product_id,
        sku=sku,
        offer_id=card.sku,
        name=card.title,
        description=card.description,
        attributes=attributes,
        extra={"barcodes": [f"OZN{card.sku}"]},
    )
    state.ozon[account][card.sku] = product
    state.ozon_reserved[account].pop(card.sku, None)
    return product.summary()
