"""Yandex Market Partner API: offer-mappings update (sync validation, async apply) and read."""

from __future__ import annotations

import base64
import copy
import logging
import time
from email.utils import formatdate
from typing import Any

from aiohttp import web

from .base import ApiError, Ctx, Json, MarketplaceApi, Route, as_dict, as_list, json_response, str_ids
from .buckets import BucketSnapshot
from .config import SandboxAccount
from .models import SeedCard, YmOffer
from .rules import check_text
from .state import SandboxState

logger = logging.getLogger(__name__)

MAX_UPDATE = 500
MAX_IDS = 100
MAX_PAGE = 200
DEFAULT_PAGE = 50
NAME_MAX = 256
DESCRIPTION_MAX = 6000
READ_ONLY_FIELDS = {"offerId", "cardStatus", "archived", "deleteParameters", "campaigns"}
BUSINESS = "/v2/businesses/{businessId:\\d+}"


def ym_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The uniform error body ``{status: "ERROR", errors: [{code, message}]}``."""
    body = {"status": "ERROR", "errors": [{"code": code, "message": message}]}
    return json_response(body, status=status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError(ym_error(400, "BAD_REQUEST", message))


# --- offer-mappings/update ------------------------------------------------------------------------


def _checked_offers(payload: Any) -> list[Json]:
    mappings = as_dict(payload).get("offerMappings")
    if not isinstance(mappings, list) or not mappings:
        raise bad_request("offerMappings must be a non-empty array")
    if len(mappings) > MAX_UPDATE:
        raise bad_request(f"offerMappings must contain at most {MAX_UPDATE} items")
    offers = []
    for index, mapping in enumerate(mappings):
        offer = as_dict(mapping).get("offer")
        if not isinstance(offer, dict) or not isinstance(offer.get("offerId"), str) or not offer["offerId"]:
            raise bad_request(f"offerMappings[{index}].offer.offerId is required")
        offers.append(offer)
    return offers


def _offer_errors(offer: Json, known: dict[str, YmOffer]) -> list[Json]:
    if offer["offerId"] not in known:
        return [{"type": "OFFER_NOT_FOUND", "message": f"Offer {offer['offerId']} not found in the catalog"}]
    violations = check_text("name", offer.get("name"), NAME_MAX)
    violations += check_text("description", offer.get("description"), DESCRIPTION_MAX)
    return [{"type": "INVALID_VALUE", "message": v.message} for v in violations]


def update_offers(ctx: Ctx) -> web.Response:
    offers = copy.deepcopy(_checked_offers(ctx.payload))
    state, account = ctx.state, ctx.account.name
    known = state.ym[account]
    results = []
    for offer in offers:
        errors = _offer_errors(offer, known)
        if errors:
            results.append({"offerId": offer["offerId"], "errors": errors, "warnings": []})
    if results:
        state.counters.cards_rejected["ym"] += len(results)
        state.counters.batches_rejected["ym"] += 1
        return json_response({"status": "ERROR", "results": results})
    targets = [known[offer["offerId"]] for offer in offers]
    for target in targets:
        target.processing += 1
    state.scheduler.schedule(state.config.apply_delay_s, lambda: _apply(state, targets, offers))
    return json_response({"status": "OK", "results": []})


def _apply(state: SandboxState, targets: list[YmOffer], offers: list[Json]) -> None:
    for target, offer in zip(targets, offers, strict=True):
        for name in str_ids(offer.get("deleteParameters")):
            target.offer.pop(name, None)
        target.offer.update({k: v for k, v in offer.items() if k not in READ_ONLY_FIELDS})
        target.processing = max(0, target.processing - 1)
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
    return [
        o
        for o in offers
        if (not statuses or o.to_wire()["offer"]["cardStatus"] in statuses)
        and (not vendors or o.offer.get("vendor") in vendors)
        and (not tags or tags & set(str_ids(o.offer.get("tags"))))
    ]


def read_offers(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    limit, offset = _page_params(ctx.request)
    offers = ctx.state.ym[ctx.account.name]
    paging: Json = {}
    if "offerIds" in payload:
        ids = str_ids(payload["offerIds"])
        if len(ids) > MAX_IDS:
            raise bad_request(f"offerIds must contain at most {MAX_IDS} items")
        page = [offers[offer_id] for offer_id in ids if offer_id in offers]
    else:
        selected = _filtered(list(offers.values()), payload)
        page = selected[offset : offset + limit]
        if offset + limit < len(selected):
            paging["nextPageToken"] = _page_token(offset + limit)
    body = {"status": "OK", "result": {"paging": paging, "offerMappings": [offer.to_wire() for offer in page]}}
    return json_response(body)


# --- the marketplace ------------------------------------------------------------------------------


class YandexMarketApi(MarketplaceApi):
    name = "ym"
    routes = (
        Route("POST", f"{BUSINESS}/offer-mappings/update", update_offers, "ym.offer_mappings_update"),
        Route("POST", f"{BUSINESS}/offer-mappings", read_offers, "ym.offer_mappings"),
    )

    def identify(self, request: web.Request, state: SandboxState) -> SandboxAccount | web.Response:
        api_key = request.headers.get("Api-Key", "").strip()
        if not api_key:
            return ym_error(401, "UNAUTHORIZED", "Api-Key header is missing")
        account = state.accounts.by_ym_key.get(api_key)
        if account is None:
            return self.auth_error()
        business_id = request.match_info.get("businessId", "")
        if business_id != str(account.ym_business_id):
            return ym_error(403, "FORBIDDEN", f"Access to businessId {business_id} is denied for this Api-Key")
        return account

    def auth_error(self) -> web.Response:
        return ym_error(401, "UNAUTHORIZED", "Api-Key is invalid or expired")

    def rate_limited(self, snap: BucketSnapshot) -> web.Response:
        return ym_error(420, "LIMIT_EXCEEDED", f"Hit rate limit of {snap.capacity} requests for this method")

    def parallel_key(self, request: web.Request, account: SandboxAccount) -> str:
        return f"ym:{request.match_info.get('businessId', account.ym_business_id)}"

    def parallel_cap(self, state: SandboxState) -> int | None:
        return state.config.ym_max_parallel

    def parallel_exceeded(self, request: web.Request, cap: int, snap: BucketSnapshot) -> web.Response:
        business_id = request.match_info.get("businessId", "")
        message = f"Hit rate limit of {cap} parallel requests for businessId {business_id}"
        return ym_error(420, "LIMIT_EXCEEDED", message)

    def server_error(self, status: int) -> web.Response:
        return ym_error(status, "INTERNAL_ERROR", "Internal server error, retry later")

    def validation_error(self, message: str) -> web.Response:
        return ym_error(400, "BAD_REQUEST", message)

    def malformed_body(self) -> bytes:
        return b'{"status":"OK","result":{"offerMappings":[{"offer":{"offerId":"'

    def decorate(self, response: web.StreamResponse, snap: BucketSnapshot) -> None:
        until = formatdate(time.time() + snap.reset_s, usegmt=True)
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
    """Create or replace a YM offer from a control-API seed entry."""
    old = state.ym[account].get(card.sku)
    offer = {
        "offerId": card.sku,
        "name": card.title,
        "description": card.description,
        "vendor": card.brand or "Sandbox",
        "vendorCode": card.sku,
        "tags": [],
        "parameterValues": [{"parameterId": int(k), "value": v} for k, v in card.attributes.items() if k.isdecimal()],
    }
    market_sku = card.market_sku or (old.market_sku if old else next(state.ids.market_sku))
    state.ym[account][card.sku] = YmOffer(offer=offer, market_sku=market_sku)
    return state.ym[account][card.sku].summary()
