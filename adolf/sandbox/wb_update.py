"""Wildberries cards/update, as strict as WB documents it (research/marketplaces.md 1.2, 1.3).

Refused at once (400, content envelope, the card named in additionalErrors): a field the method does not take
(including read-only ones read back from cards/list, such as dimensions.isValid, and photos/video/tags, which this
method cannot change), a wrong type (characteristic values are an array of strings or one number, per the subject's
charcType), a size without its chrtID, a price on an existing size, a removed barcode or size.

Accepted, then applied later; a card that breaks a content rule lands in cards/error/list under its vendorCode
instead: title over 60 characters, description over the subject's limit, e-mail, <script>, emoji, an unknown or unused
characteristic, more values than maxCount. The card is overwritten: a field left out of the update is emptied.
"""

from __future__ import annotations

from typing import Any

from .base import as_dict, as_list
from .catalogs import WB_NUMBER, WB_SUBJECTS, WB_TEXT, WB_UNUSED, WbSubject
from .models import WbCard, now_iso
from .rules import Violation, check_text

Json = dict[str, Any]

TITLE_MAX = 60
UPDATE_FIELDS = frozenset(
    {"nmID", "vendorCode", "brand", "title", "description", "dimensions", "characteristics", "sizes"}
)
NOT_BY_UPDATE = frozenset({"photos", "video", "tags"})  # documented: cards/update cannot change them
DIMENSIONS = frozenset({"length", "width", "height", "weightBrutto"})
SIZE_FIELDS = frozenset({"chrtID", "techSize", "wbSize", "price", "skus"})
FIELD_NAMES = {"title": "Наименование", "description": "Описание"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def subject_of(card: WbCard) -> WbSubject:
    return WB_SUBJECTS[card.subject_id]


# --- refused at once -------------------------------------------------------------------------------------------------


def item_problem(item: Any, cards_by_nm: dict[int, WbCard]) -> str | None:
    if not isinstance(item, dict):
        return "must be an object"
    for name, check in (
        ("nmID", _is_int),
        ("vendorCode", lambda v: isinstance(v, str) and v),
        ("sizes", list.__instancecheck__),
    ):
        if not check(item.get(name)):
            return f"field {name} is required"
    unknown = sorted(set(item) - UPDATE_FIELDS)
    if unknown:
        name = unknown[0]
        return f"{name} cannot be changed by cards/update" if name in NOT_BY_UPDATE else f"unknown field {name}"
    for name in ("title", "description", "brand"):
        if name in item and not isinstance(item[name], str):
            return f"field {name} must be a string"
    card = cards_by_nm.get(item["nmID"])
    if card is None:
        return f"nmID {item['nmID']} not found"
    if card.vendor_code != item["vendorCode"]:
        return f"vendorCode {item['vendorCode']!r} does not belong to nmID {item['nmID']}"
    return _dimensions_problem(item.get("dimensions")) or _charcs_problem(item, card) or _sizes_problem(item, card)


def _dimensions_problem(dimensions: Any) -> str | None:
    if dimensions is None:
        return None
    if not isinstance(dimensions, dict):
        return "dimensions must be an object"
    unknown = sorted(set(dimensions) - DIMENSIONS)
    if unknown:
        return f"unknown field dimensions.{unknown[0]}"
    for name in ("length", "width", "height"):
        if name in dimensions and not _is_int(dimensions[name]):
            return f"dimensions.{name} must be an integer (cm)"
    weight = dimensions.get("weightBrutto")
    if weight is not None and (not _is_number(weight) or round(weight, 3) != weight):
        return "dimensions.weightBrutto must be a number of kg with at most 3 decimals"
    return None


def _charcs_problem(item: Json, card: WbCard) -> str | None:
    subject = subject_of(card)
    for charc in as_list(item.get("characteristics")):
        if not isinstance(charc, dict) or set(charc) != {"id", "value"} or not _is_int(charc.get("id")):
            return "characteristics must be objects of exactly id (integer) and value"
        value, known = charc["value"], subject.charc(charc["id"])
        if known is not None and known.charc_type == WB_NUMBER and not _is_number(value):
            return f"characteristic {charc['id']} ({known.name}) takes one number, got {type(value).__name__}"
        strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if known is not None and known.charc_type == WB_TEXT and not strings:
            return f"characteristic {charc['id']} ({known.name}) takes an array of strings"
        if (known is None or known.charc_type == WB_UNUSED) and not (strings or _is_number(value)):
            return f"characteristic {charc['id']} takes an array of strings or a number"
    return None


def _sizes_problem(item: Json, card: WbCard) -> str | None:
    existing = {size["chrtID"]: size for size in card.sizes}
    sent: set[int] = set()
    for size in item["sizes"]:
        if not isinstance(size, dict):
            return "sizes must be objects"
        unknown = sorted(set(size) - SIZE_FIELDS)
        if unknown:
            return f"unknown field sizes.{unknown[0]}"
        chrt_id = size.get("chrtID")
        if chrt_id is None:
            continue  # a new size
        if chrt_id not in existing:
            return f"size chrtID {chrt_id} does not belong to nmID {card.nm_id}"
        if "price" in size:
            return f"the price of existing size {chrt_id} cannot be changed by cards/update"
        if not set(existing[chrt_id].get("skus", [])) <= set(as_list(size.get("skus"))):
            return f"barcodes of size {chrt_id} can only be added, not removed"
        sent.add(chrt_id)
    missing = sorted(set(existing) - sent)
    return f"size chrtID {missing[0]} is missing (the card is overwritten)" if missing else None


# --- applied later, or listed in cards/error/list ---------------------------------------------------------------------


def content_errors(item: Json, card: WbCard) -> list[str]:
    subject = subject_of(card)
    violations = check_text("title", item.get("title"), TITLE_MAX, emoji=True) + check_text(
        "description", item.get("description"), subject.description_max, emoji=True
    )
    messages = [rule_message(v) for v in violations]
    for charc in as_list(item.get("characteristics")):
        known = subject.charc(charc["id"])
        if known is None:
            messages.append(f"Характеристика {charc['id']} отсутствует у предмета «{subject.name}»")
        elif known.charc_type == WB_UNUSED:
            messages.append(f"Характеристика «{known.name}» не используется")
        elif known.charc_type == WB_TEXT and known.max_count and len(charc["value"]) > known.max_count:
            messages.append(
                f"Характеристика «{known.name}»: превышено количество значений ({len(charc['value'])} > "
                f"{known.max_count})"
            )
    return messages


def rule_message(violation: Violation) -> str:
    label = FIELD_NAMES.get(violation.field, violation.field)
    if violation.kind == "too_long":
        return f"{label}: превышена максимальная длина {violation.limit} символов ({violation.length})"
    if violation.kind == "email":
        return f"{label}: недопустимое содержимое — адрес электронной почты"
    if violation.kind == "script":
        return f"{label}: недопустимое содержимое — тег <script>"
    if violation.kind == "emoji":
        return f"{label}: недопустимые символы — эмодзи"
    return f"{label}: значение должно быть строкой"


def overwrite(card: WbCard, item: Json, chrt_ids: Any) -> None:
    """The card becomes what the update says: what it leaves out is emptied (WB overwrites the whole card)."""
    subject = subject_of(card)
    card.title = item.get("title", "")
    card.description = item.get("description", "")
    card.brand = item.get("brand", "")
    card.dimensions = dict(as_dict(item.get("dimensions")))
    card.characteristics = [
        {"id": c["id"], "name": subject.charc(c["id"]).name, "value": c["value"]}  # type: ignore[union-attr]
        for c in as_list(item.get("characteristics"))
    ]
    existing = {size["chrtID"]: size for size in card.sizes}
    sizes = []
    for size in item["sizes"]:
        kept = existing.get(size.get("chrtID")) or {"chrtID": next(chrt_ids)}
        sizes.append(
            {
                "chrtID": kept["chrtID"],
                "techSize": size.get("techSize", kept.get("techSize", "")),
                "wbSize": size.get("wbSize", kept.get("wbSize", "")),
                "skus": list(dict.fromkeys([*kept.get("skus", []), *as_list(size.get("skus"))])),
            }
        )
    card.sizes = sizes
    card.updated_at = now_iso()
