"""Wildberries Content API: cards update (async apply, adolf/sandbox/wb_update.py), cards list, error list, the
characteristics of a subject."""

from __future__ import annotations

import copy
import logging
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .base import ApiError, Ctx, Json, MarketplaceApi, Route, as_dict, as_list, json_response
from .buckets import BucketSnapshot
from .catalogs import WB_DEFAULT_SUBJECT, WB_NUMBER, WB_SUBJECTS
from .config import SandboxAccount
from .models import SeedCard, WbCard, now_iso
from .state import SandboxState, WbErrorBatch
from .wb_update import content_errors, item_problem, overwrite

logger = logging.getLogger(__name__)

MAX_CARDS = 3000
MAX_BODY = 10 * 1024 * 1024
MAX_PAGE = 100


def envelope(error_text: str = "", additional: Any = None, status: int = 200) -> web.Response:
    """The content-service envelope ``{data, error, errorText, additionalErrors}``."""
    body = {
        "data": None,
        "error": bool(error_text),
        "errorText": error_text,
        "additionalErrors": additional if additional is not None else {},
    }
    return json_response(body, status=status)


def gateway(
    status: int, title: str, detail: str, origin: str = "api-content", headers: dict[str, str] | None = None
) -> web.Response:
    """The API-gateway error body (401, 413, 429, 5xx)."""
    body = {
        "title": title,
        "detail": detail,
        "code": f"{uuid.uuid4().hex[:12]}-sandbox",
        "requestId": uuid.uuid4().hex,
        "origin": origin,
        "status": status,
        "statusText": HTTPStatus(status).phrase,
        "timestamp": now_iso(),
    }
    return json_response(body, status=status, headers=headers)


# --- cards/update ---------------------------------------------------------------------------------


def update_cards(ctx: Ctx) -> web.Response:
    if ctx.body_size > MAX_BODY:
        raise ApiError(gateway(413, "request body too long", "request body must not exceed 10 MB"))
    items = ctx.payload
    if not isinstance(items, list) or not items:
        raise ApiError(envelope("Invalid request format: expected a non-empty JSON array of cards", status=400))
    if len(items) > MAX_CARDS:
        raise ApiError(envelope(f"Too many cards in the request: {len(items)} > {MAX_CARDS}", status=400))
    problems = {}
    for index, item in enumerate(items):
        problem = item_problem(item, ctx.state.wb_by_nm[ctx.account.name])
        if problem is not None:
            problems[str(as_dict(item).get("vendorCode") or f"#{index}")] = f"card #{index}: {problem}"
    if problems:
        raise ApiError(envelope(next(iter(problems.values())), additional=problems, status=400))
    batch, account = copy.deepcopy(items), ctx.account.name
    ctx.state.scheduler.schedule(ctx.state.config.apply_delay_s, lambda: _apply_update(ctx.state, account, batch))
    return envelope()


def _apply_update(state: SandboxState, account: str, items: list[Json]) -> None:
    failed: dict[str, list[str]] = {}
    cards: dict[str, WbCard] = {}
    for item in items:
        card = state.wb_by_nm[account].get(item["nmID"])
        if card is None:
            continue
        errors = content_errors(item, card)
        if errors:
            failed[card.vendor_code] = errors
            cards[card.vendor_code] = card
            state.counters.cards_rejected["wb"] += 1
            continue
        overwrite(card, item, state.ids.chrt_id)
        failed.pop(card.vendor_code, None)
        _forget_errors(state, account, card.vendor_code)
        state.counters.cards_updated["wb"] += 1
    if failed:
        _record_errors(state, account, failed, cards)


def _forget_errors(state: SandboxState, account: str, vendor_code: str) -> None:
    batches = state.wb_errors[account]
    for batch in batches:
        batch.drop(vendor_code)
    batches[:] = [batch for batch in batches if batch.errors]


def _record_errors(state: SandboxState, account: str, failed: dict[str, list[str]], cards: dict[str, WbCard]) -> None:
    for vendor_code in failed:
        _forget_errors(state, account, vendor_code)
    batch = WbErrorBatch(batch_uuid=str(uuid.uuid4()), updated_at=now_iso(), errors=failed)
    for vendor_code in failed:
        card = cards[vendor_code]
        batch.subjects[vendor_code] = {"id": card.subject_id, "name": card.subject_name}
        batch.brands[vendor_code] = {"id": 0, "name": card.brand}
    state.wb_errors[account].append(batch)
    logger.info("wb: %d card(s) of account %s failed content rules", len(failed), account)


# --- get/cards/list -------------------------------------------------------------------------------


def _page_limit(cursor: Json) -> int:
    limit = cursor.get("limit", MAX_PAGE)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise ApiError(envelope(f"cursor.limit must be an integer from 1 to {MAX_PAGE}", status=400))
    return limit


def _cursor_mark(cursor: Json) -> tuple[str, int] | None:
    updated_at, nm_id = cursor.get("updatedAt"), cursor.get("nmID")
    if not updated_at or not nm_id:
        return None
    if not isinstance(updated_at, str) or not isinstance(nm_id, int) or isinstance(nm_id, bool):
        raise ApiError(envelope("cursor.updatedAt must be a string and cursor.nmID an integer", status=400))
    return updated_at, nm_id


def _matches(card: WbCard, text: str) -> bool:
    """textSearch as WB runs it: a substring of the vendor code, the nmID or a barcode (so "SKU-1" also finds
    "SKU-10" and "SKU-100"), never an exact lookup."""
    if not text:
        return True
    needle = text.lower()
    barcodes = [str(sku).lower() for size in card.sizes for sku in as_list(size.get("skus"))]
    return needle in card.vendor_code.lower() or needle in str(card.nm_id) or any(needle in b for b in barcodes)


def list_cards(ctx: Ctx) -> web.Response:
    settings = as_dict(as_dict(ctx.payload).get("settings"))
    cursor, filters = as_dict(settings.get("cursor")), as_dict(settings.get("filter"))
    limit = _page_limit(cursor)
    text = str(filters.get("textSearch") or "").strip()
    ascending = bool(as_dict(settings.get("sort")).get("ascending", False))
    cards = [c for c in ctx.state.wb[ctx.account.name].values() if _matches(c, text)]
    if filters.get("withPhoto") == 1:
        cards = []  # simulated cards have no photos
    cards.sort(key=lambda c: (c.updated_at, c.nm_id), reverse=not ascending)
    mark = _cursor_mark(cursor)
    if mark is not None:
        cards = [c for c in cards if ((c.updated_at, c.nm_id) > mark) == ascending and (c.updated_at, c.nm_id) != mark]
    page = cards[:limit]
    last = page[-1] if page else None
    next_cursor = {
        "updatedAt": last.updated_at if last else cursor.get("updatedAt"),
        "nmID": last.nm_id if last else cursor.get("nmID"),
        "total": len(page),
    }
    return json_response({"cards": [card.to_wire() for card in page], "cursor": next_cursor})


# --- cards/error/list -----------------------------------------------------------------------------


def _error_page(batches: list[WbErrorBatch], cursor: Json, ascending: bool) -> list[WbErrorBatch]:
    ordered = batches if ascending else list(reversed(batches))
    uuids = [batch.batch_uuid for batch in ordered]
    if cursor.get("batchUUID") in uuids:
        return ordered[uuids.index(cursor["batchUUID"]) + 1 :]
    if cursor.get("updatedAt"):
        mark = str(cursor["updatedAt"])
        return [b for b in ordered if (b.updated_at > mark if ascending else b.updated_at < mark)]
    return ordered


def error_list(ctx: Ctx) -> web.Response:
    payload = as_dict(ctx.payload)
    cursor = as_dict(payload.get("cursor"))
    limit = _page_limit(cursor)
    ascending = bool(as_dict(payload.get("order")).get("ascending", False))
    rest = _error_page(ctx.state.wb_errors[ctx.account.name], cursor, ascending)
    page = rest[:limit]
    last = page[-1] if page else None
    data = {
        "items": [batch.to_wire() for batch in page],
        "cursor": {
            "next": len(rest) > limit,
            "updatedAt": last.updated_at if last else None,
            "batchUUID": last.batch_uuid if last else None,
        },
    }
    return json_response({"data": data, "error": False, "errorText": "", "additionalErrors": None})


# --- object/charcs/{subjectId} ---------------------------------------------------------------------------------------


def subject_charcs(ctx: Ctx) -> web.Response:
    raw = ctx.request.match_info.get("subjectId", "")
    subject = WB_SUBJECTS.get(int(raw)) if raw.isdecimal() else None
    data = [] if subject is None else [charc.to_wire(subject) for charc in subject.charcs]
    return json_response({"data": data, "error": False, "errorText": "", "additionalErrors": None})


# --- the marketplace ------------------------------------------------------------------------------


class WildberriesApi(MarketplaceApi):
    name = "wb"
    routes = (
        Route("POST", "/content/v2/cards/update", update_cards, "wb.cards_update"),
        Route("POST", "/content/v2/get/cards/list", list_cards, "wb.cards_list"),
        Route("POST", "/content/v2/cards/error/list", error_list, "wb.cards_errors"),
        # "all other Content methods" share the card list's limit
        Route("GET", "/content/v2/object/charcs/{subjectId:\\d+}", subject_charcs, "wb.cards_list"),
    )

    def identify(self, request: web.Request, state: SandboxState) -> SandboxAccount | web.Response:
        token = request.headers.get("Authorization", "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        account = state.accounts.by_wb_token.get(token) if token else None
        return account if account is not None else self.auth_error()

    def auth_error(self) -> web.Response:
        return gateway(401, "unauthorized", "token problem; token is malformed", origin="s2s-api-auth-content")

    def rate_limited(self, snap: BucketSnapshot) -> web.Response:
        headers = {
            "X-Ratelimit-Retry": str(snap.retry_after_s),
            "X-Ratelimit-Limit": str(snap.capacity),
            "X-Ratelimit-Reset": str(max(snap.reset_s, snap.retry_after_s)),
        }
        return gateway(429, "too many requests", f"limited by {uuid.uuid4()}", headers=headers)

    def server_error(self, status: int) -> web.Response:
        return gateway(status, "internal server error", "service temporarily unavailable, retry later")

    def validation_error(self, message: str) -> web.Response:
        return envelope(message, status=400)

    def undecodable(self, message: str) -> web.Response:
        return web.Response(status=400, text="Request body can not be decoded", content_type="text/plain")

    def too_large(self) -> web.Response:
        return gateway(413, "request body too long", "request body must not exceed 10 MB")

    def malformed_body(self) -> bytes:
        return b'{"cards":[{"nmID":300000001,"vendorCode":"'

    def decorate(self, response: web.StreamResponse, snap: BucketSnapshot) -> None:
        if response.status != 429:
            response.headers.setdefault("X-Ratelimit-Remaining", str(snap.remaining))

    def skus(self, path: str, payload: Any) -> list[str]:
        if isinstance(payload, list):
            found = []
            for item in payload:
                item = as_dict(item)
                found += [str(item[key]) for key in ("vendorCode", "nmID") if key in item]
            return found
        text = as_dict(as_dict(as_dict(payload).get("settings")).get("filter")).get("textSearch")
        return [str(text)] if text else []


def _seed_characteristics(card: SeedCard, subject_id: int) -> list[Json]:
    """Seed attributes by characteristic name or id, typed as the subject says."""
    subject = WB_SUBJECTS[subject_id]
    characteristics = []
    for key, value in card.attributes.items():
        charc = subject.charc(int(key)) if key.isdecimal() else subject.charc_named(key)
        if charc is None:
            raise ValueError(f"subject {subject.name} ({subject.id}) has no characteristic {key!r}")
        if charc.charc_type == WB_NUMBER:
            typed: Any = value[0] if isinstance(value, list) else value
        else:
            typed = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        characteristics.append({"id": charc.id, "name": charc.name, "value": typed})
    return characteristics


def seed(state: SandboxState, account: str, card: SeedCard) -> Json:
    """Create or replace a WB card from a control-API seed entry."""
    old = state.wb[account].get(card.sku)
    nm_id = card.nm_id or (old.nm_id if old else next(state.ids.nm_id))
    owner = state.wb_by_nm[account].get(nm_id)
    if owner is not None and owner.vendor_code != card.sku:
        raise ValueError(f"nmID {nm_id} already belongs to vendorCode {owner.vendor_code!r}")
    subject_id = card.subject_id or (old.subject_id if old else WB_DEFAULT_SUBJECT)
    if subject_id not in WB_SUBJECTS:
        raise ValueError(f"unknown WB subject {subject_id}; known: {sorted(WB_SUBJECTS)}")
    size = {"chrtID": next(state.ids.chrt_id), "techSize": "0", "wbSize": "", "skus": [f"20{nm_id:011d}"]}
    new = WbCard(
        nm_id=nm_id,
        imt_id=old.imt_id if old else next(state.ids.imt_id),
        nm_uuid=old.nm_uuid if old else str(uuid.uuid4()),
        vendor_code=card.sku,
        title=card.title,
        description=card.description,
        brand=card.brand or "Sandbox",
        characteristics=_seed_characteristics(card, subject_id),
        sizes=old.sizes if old else [size],
        dimensions={"length": 10, "width": 10, "height": 5, "weightBrutto": 0.3},
        subject_id=subject_id,
        subject_name=WB_SUBJECTS[subject_id].name,
    )
    state.put_wb_card(account, new)
    return new.summary()
