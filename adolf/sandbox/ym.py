"""Yandex Market Partner API: offer-mappings update (validated at once, applied later), read, category parameters;
resource limits per business with X-RateLimit-Resource-* on every answer, 4 parallel requests per business."""

from __future__ import annotations

import base64
import copy
import logging
import math
import time
from email.utils import formatdate
from typing import Any

from aiohttp import web

from .base import ApiError, Ctx, Json, MarketplaceApi, Route, as_dict, as_list, json_response, str_ids
from .buckets import BucketSnapshot
from .catalogs import YM_CATEGORIES, YM_DEFAULT_CATEGORY, YmCategory
from .config import SandboxAccount
from .models import SeedCard, YmOffer
from .state import SandboxState
from .ym_update import apply_offer, offer_result, request_problem

logger = logging.getLogger(__name__)

MAX_IDS = 100
MAX_PAGE = 100
DEFAULT_PAGE = 50
BUSINESS = "/v2/businesses/{businessId:\\d+}"
WITHOUT_OFFER_IDS = ("cardStatuses", "categoryIds", "vendorNames", "tags", "archived")


def ym_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The uniform error body ``{status: "ERROR", errors: [{code, message}]}``."""
    body = {"status": "ERROR", "errors": [{"code": code, "message": message}]}
    return json_response(body, status=status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError(ym_error(400, "BAD_REQUEST", message))


# --- offer-mappings/update (rules in adolf/sandbox/ym_update.py) ---------------------------------------------------


def update_offers(ctx: Ctx) -> web.Response:
    problem = request_problem(ctx.payload)
    if problem:
        raise bad_request(problem)
    offers = [copy.deepcopy(mapping["offer"]) for mapping in ctx.payload["offerMappings"]]
    state, account = ctx.state, ctx.account.name
    known = state.ym[account]
    results = [result for offer in offers if (result := offer_result(offer, known)) is not None]
    if any(result["errors"] for result in results):
        rejected = sum(1 for result in results if result["errors"])
        state.counters.cards_rejected["ym"] += rejected
        state.counters.batches_rejected["ym"] += 1
        return json_response({"status": "ERROR", "results": results})
    targets = [known[offer["offerId"]] for offer in offers]
    for target in targets:
        target.processing += 1
    state.scheduler.schedule(state.config.apply_delay_s, lambda: _apply(state, targets, offers))
    return json_response({"status": "OK", "results": results})


def _apply(state: SandboxState, targets: list[YmOffer], offers: list[Json]) -> None:
    for target, offer in zip(targets, offers, strict=True):
        apply_offer(target, offer)
        target.processing = max(0, target.processing - 1)
        if target.errors:
            state.counters.cards_rejected["ym"] += 1
        else:
            state.counters.cards_updated["ym"] += 1


# --- offer-mappings (read) ------------------------------------------------------------------------


def _page_params(request: web.Request) -> tuple[int, int]:
    raw_limit = request.query.get("limit", str(DEFAULT_PAGE))
    token = request.query.get("page_token") or request.query.get("pageToken") or ""
    if not raw_limit.isdecimal() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise bad_request(f"limit must be an integer from 1 to {MAX_PAGE}")
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:")) if token else 0
    except ValueError:
        raise bad_request("page_token is invalid") from None
    return int(raw_limit), offset


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _filtered(offers: list[YmOffer], payload: Json) -> list[YmOffer]:
    if payload.get("archived") is True:
        return []
    statuses, vendors, tags = (set(str_ids(payload.get(k))) for k in ("cardStatuses", "vendorNames", "tags"))
    categories = set(str_ids(payload.get("categoryIds")))
    return [
        o
        for o in offers
        if (not statuses or o.card_status in statuses)
        and (not categories or str(o.market_category_id) in categories)
        and (not vendors or o.offer.get("vendor") in vendors)
        and (not tags or tags & set(str_ids(o.offer.get("tags"))))
    ]


def read_offers(ctx: Ctx) -> web.Response:
    payload = ctx.payload if ctx.payload is not None else {}
    if not isinstance(payload, dict):
        raise bad_request("Request body must be a JSON object")
    paging: Json = {}
    offers = ctx.state.ym[ctx.account.name]
    if "offerIds" in payload:
        page = [offers[offer_id] for offer_id in _offer_ids(ctx.request, payload) if offer_id in offers]
    else:
        limit, offset = _page_params(ctx.request)
        selected = _filtered(list(offers.values()), payload)
        page = selected[offset : offset + limit]
        if offset + limit < len(selected):
            paging["nextPageToken"] = _page_token(offset + limit)
    body = {"status": "OK", "result": {"paging": paging, "offerMappings": [offer.to_wire() for offer in page]}}
    return json_response(body)


def _offer_ids(request: web.Request, payload: Json) -> list[str]:
    """offerIds are answered whole: no paging, no filters beside them, 1 to 100 distinct ids."""
    ids = payload["offerIds"]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise bad_request("offerIds must be a non-empty array of strings")
    if len(ids) > MAX_IDS:
        raise bad_request(f"offerIds must contain at most {MAX_IDS} items")
    if len(set(ids)) != len(ids):
        raise bad_request("offerIds must not repeat an id")
    mixed = [name for name in ("limit", "page_token", "pageToken") if name in request.query]
    mixed += [name for name in WITHOUT_OFFER_IDS if name in payload]
    if mixed:
        raise bad_request(f"offerIds are answered whole: do not send {mixed[0]} with them")
    return ids


# --- category/{categoryId}/parameters -------------------------------------------------------------------------------


def category_parameters(ctx: Ctx) -> web.Response:
    category_id = int(ctx.request.match_info["categoryId"])
    category = YM_CATEGORIES.get(category_id)
    if category is None:
        return ym_error(404, "NOT_FOUND", f"Category {category_id} not found")
    parameters = [parameter.to_wire() for parameter in category.parameters]
    return json_response({"status": "OK", "result": {"categoryId": category_id, "parameters": parameters}})


# --- the marketplace ------------------------------------------------------------------------------


class YandexMarketApi(MarketplaceApi):
    name = "ym"
    routes = (
        Route("POST", f"{BUSINESS}/offer-mappings/update", update_offers, "ym.offer_mappings_update"),
        Route("POST", f"{BUSINESS}/offer-mappings", read_offers, "ym.offer_mappings"),
        Route("POST", "/v2/category/{categoryId:\\d+}/parameters", category_parameters, "ym.category_parameters"),
    )

    def identify(self, request: web.Request, state: SandboxState) -> SandboxAccount | web.Response:
        api_key = request.headers.get("Api-Key", "").strip()
        if not api_key:
            return ym_error(401, "UNAUTHORIZED", "Api-Key header is missing")
        account = state.accounts.by_ym_key.get(api_key)
        if account is None:
            return self.auth_error()
        business_id = request.match_info.get("businessId") or request.query.get("businessId")
        if business_id is not None and business_id != str(account.ym_business_id):
            return ym_error(403, "FORBIDDEN", f"Access to businessId {business_id} is denied for this Api-Key")
        return account

    def auth_error(self) -> web.Response:
        return ym_error(403, "FORBIDDEN", "Api-Key is invalid or expired")

    def admit(
        self, state: SandboxState, account: SandboxAccount, route: Route, call_payload: Any
    ) -> tuple[bool, BucketSnapshot]:
        """Resource limits per business: an update costs one unit per offer sent, the other methods one a request."""
        cost = 1
        if route.bucket == "ym.offer_mappings_update":
            cost = max(1, len(as_list(as_dict(call_payload).get("offerMappings"))))
        spec = state.config.ym_window(route.bucket)
        return state.ym_windows.consume(str(account.ym_business_id), route.bucket, spec, cost)

    def peek(self, state: SandboxState, account: SandboxAccount | None, route: Route) -> BucketSnapshot | None:
        if account is None:
            return None  # the window is the business's: an unidentified caller has none
        return state.ym_windows.peek(str(account.ym_business_id), route.bucket, state.config.ym_window(route.bucket))

    def rate_limited(self, snap: BucketSnapshot) -> web.Response:
        message = f"Hit rate limit of {snap.capacity} units for this method, {snap.remaining} left in the window"
        return ym_error(420, "LIMIT_EXCEEDED", message)

    def parallel_key(self, request: web.Request, account: SandboxAccount) -> str:
        return f"ym:{account.ym_business_id}"

    def parallel_cap(self, state: SandboxState) -> int | None:
        return state.config.ym_max_parallel

    def parallel_exceeded(self, request: web.Request, cap: int, snap: BucketSnapshot) -> web.Response:
        business_id = request.match_info.get("businessId") or request.query.get("businessId", "")
        message = f"Hit rate limit of {cap} parallel requests for businessId {business_id}"
        return ym_error(420, "LIMIT_EXCEEDED", message)

    def server_error(self, status: int) -> web.Response:
        return ym_error(status, "INTERNAL_ERROR", "Internal server error, retry later")

    def validation_error(self, message: str) -> web.Response:
        return ym_error(400, "BAD_REQUEST", message)

    def malformed_body(self) -> bytes:
        return b'{"status":"OK","result":{"offerMappings":[{"offer":{"offerId":"'

    def decorate(self, response: web.StreamResponse, snap: BucketSnapshot) -> None:
        end = snap.until if snap.until is not None else math.ceil(time.time() + snap.reset_s)
        until = formatdate(end, usegmt=True)
        response.headers.setdefault("X-RateLimit-Resource-Limit", str(snap.capacity))
        response.headers.setdefault("X-RateLimit-Resource-Remaining", str(snap.remaining))
        response.headers.setdefault("X-RateLimit-Resource-Until", until)

    def skus(self, path: str, payload: Any) -> list[str]:
        payload = as_dict(payload)
        if path.endswith("/update"):
            mappings = as_list(payload.get("offerMappings"))
            return str_ids([as_dict(as_dict(m).get("offer")).get("offerId") for m in mappings])
        return str_ids(payload.get("offerIds"))


def seed(state: SandboxState, account: str, card: SeedCard) -> Json:
    """Create or replace a YM offer from a control-API seed entry; attributes are parameter values by parameterId
    (a list is several values), typed as the category's parameters say."""
    old = state.ym[account].get(card.sku)
    category_id = int(card.fields.get("marketCategoryId", YM_DEFAULT_CATEGORY))
    offer = {
        "offerId": card.sku,
        "name": card.title,
        "description": card.description,
        "vendor": card.brand or "Sandbox",
        "vendorCode": card.sku,
        "tags": [],
        "parameterValues": _seed_parameters(card.attributes, YM_CATEGORIES.get(category_id)),
        **{k: v for k, v in card.fields.items() if k != "marketCategoryId"},
    }
    market_sku = card.market_sku or (old.market_sku if old else next(state.ids.market_sku))
    state.ym[account][card.sku] = YmOffer(offer=offer, market_sku=market_sku, market_category_id=category_id)
    return state.ym[account][card.sku].summary()


def _seed_parameters(attributes: dict[str, Any], category: YmCategory | None) -> list[Json]:
    values = []
    for key, raw in attributes.items():
        if not key.isdecimal():
            continue
        parameter = category.parameter(int(key)) if category else None
        for item in raw if isinstance(raw, list) else [raw]:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            value: Json = {"parameterId": int(key), "value": text}
            value_id = parameter.value_id(text) if parameter is not None else None
            if value_id is not None:
                value["valueId"] = value_id
            values.append(value)
    return values
