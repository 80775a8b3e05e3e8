"""Yandex Market offer-mappings/update, as strict as its OpenAPI and docs (research/marketplaces.md 3.2).

Refused at once (400, the whole request): a field UpdateOfferDTO does not have (read-only ones like cardStatus
included), a wrong type, an offerId outside ShopSku's pattern, a name over 256 or a description over 6000 characters,
more than 500 offers or 300 parameter values, a deleteParameters name that does not exist.

Answered per offer (200 `status: ERROR`, nothing of the batch applied): an unknown offer, an unknown category
(UNKNOWN_CATEGORY), a parameter the category does not have (UNKNOWN_PARAMETER), a number that is not one
(NUMBER_FORMAT), a boolean that is not one (UNEXPECTED_BOOLEAN_VALUE). Parameter values sent without
marketCategoryId are applied with an EMPTY_MARKET_CATEGORY warning.

Checked when the update is applied: a value outside an ENUM's list that takes no custom values, several values for a
single-valued parameter, a text over its maxLength, an e-mail or a script in the name or description. The changes are
then not accepted and the card's status is HAS_CARD_CAN_UPDATE_ERRORS ("Изменения не приняты").
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from .base import as_dict
from .catalogs import YM_CATEGORIES, YmCategory, YmParameter
from .models import YmOffer
from .rules import check_text

Json = dict[str, Any]

MAX_UPDATE = 500
MAX_PARAMETERS = 300
NAME_MAX = 256
DESCRIPTION_MAX = 6000
MAX_TAGS = 50
SHOP_SKU = re.compile(r"^(?=.*\S.*)[^\x00-\x08\x0A-\x1f\x7f]{1,255}$")
REQUEST_FIELDS = frozenset({"offerMappings", "onlyPartnerMediaContent"})
MAPPING_FIELDS = frozenset({"offer", "mapping"})
OFFER_FIELDS = frozenset(
    {
        "offerId", "name", "marketCategoryId", "category", "pictures", "videos", "manuals", "vendor", "barcodes",
        "description", "manufacturerCountries", "weightDimensions", "vendorCode", "tags", "shelfLife", "lifeTime",
        "guaranteePeriod", "customsCommodityCode", "commodityCodes", "certificates", "boxCount", "condition", "type",
        "downloadable", "adult", "age", "params", "parameterValues", "basicPrice", "purchasePrice",
        "additionalExpenses", "firstVideoAsCover", "deleteParameters",
    }
)  # fmt: skip
PARAMETER_FIELDS = frozenset({"parameterId", "unitId", "valueId", "value"})
STRINGS = ("name", "description", "vendor", "vendorCode", "category")
STRING_LISTS = ("pictures", "videos", "barcodes", "manufacturerCountries", "tags", "commodityCodes", "certificates")
DELETABLE = {
    "ADDITIONAL_EXPENSES": "additionalExpenses", "ADULT": "adult", "AGE": "age", "BARCODES": "barcodes",
    "BOX_COUNT": "boxCount", "CERTIFICATES": "certificates", "COMMODITY_CODES": "commodityCodes",
    "CONDITION": "condition", "CUSTOMS_COMMODITY_CODE": "customsCommodityCode", "DESCRIPTION": "description",
    "DOWNLOADABLE": "downloadable", "GUARANTEE_PERIOD": "guaranteePeriod", "LIFE_TIME": "lifeTime",
    "MANUALS": "manuals", "MANUFACTURER_COUNTRIES": "manufacturerCountries", "PARAMETERS": "parameterValues",
    "PICTURES": "pictures", "PURCHASE_PRICE": "purchasePrice", "SHELF_LIFE": "shelfLife", "TAGS": "tags",
    "TYPE": "type", "VENDOR_CODE": "vendorCode", "VIDEOS": "videos",
}  # fmt: skip
READ_ONLY = ("cardStatus", "archived", "campaigns", "sellingPrograms", "mediaFiles", "groupId")
NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- refused at once (400) ----------------------------------------------------------------------------------------


def request_problem(payload: Any) -> str | None:
    """What makes the whole request a 400, or None."""
    if not isinstance(payload, dict):
        return "Request body must be a JSON object"
    unknown = sorted(set(payload) - REQUEST_FIELDS)
    if unknown:
        return f"Unknown field {unknown[0]!r} in the request"
    mappings = payload.get("offerMappings")
    if not isinstance(mappings, list) or not mappings:
        return "offerMappings must be a non-empty array"
    if len(mappings) > MAX_UPDATE:
        return f"offerMappings must contain at most {MAX_UPDATE} items"
    for index, mapping in enumerate(mappings):
        problem = _mapping_problem(f"offerMappings[{index}]", mapping)
        if problem:
            return problem
    return None


def _mapping_problem(where: str, mapping: Any) -> str | None:
    if not isinstance(mapping, dict):
        return f"{where} must be an object"
    unknown = sorted(set(mapping) - MAPPING_FIELDS)
    if unknown:
        return f"Unknown field {where}.{unknown[0]}"
    offer = mapping.get("offer")
    if not isinstance(offer, dict):
        return f"{where}.offer is required"
    if "mapping" in mapping and not _is_int(as_dict(mapping["mapping"]).get("marketSku")):
        return f"{where}.mapping.marketSku must be an integer"
    return _offer_problem(f"{where}.offer", offer)


def _offer_problem(where: str, offer: Json) -> str | None:
    unknown = sorted(set(offer) - OFFER_FIELDS)
    if unknown:
        kind = "read-only" if unknown[0] in READ_ONLY else "unknown"
        return f"{where}.{unknown[0]}: {kind} field, it cannot be sent"
    offer_id = offer.get("offerId")
    if not isinstance(offer_id, str) or not SHOP_SKU.match(offer_id):
        return f"{where}.offerId must be a string of 1 to 255 printable characters"
    for name in STRINGS:
        if name in offer and not isinstance(offer[name], str):
            return f"{where}.{name} must be a string"
    for name, limit in (("name", NAME_MAX), ("description", DESCRIPTION_MAX)):
        if len(offer.get(name) or "") > limit:
            return f"{where}.{name} size must be between 0 and {limit}"
    for name in STRING_LISTS:
        if name in offer and not _strings(offer[name]):
            return f"{where}.{name} must be an array of strings"
    if len(offer.get("tags") or []) > MAX_TAGS:
        return f"{where}.tags must contain at most {MAX_TAGS} items"
    if "marketCategoryId" in offer and not (_is_int(offer["marketCategoryId"]) and offer["marketCategoryId"] >= 0):
        return f"{where}.marketCategoryId must be a non-negative integer"
    deleted = offer.get("deleteParameters")
    if deleted is not None and (not _strings(deleted) or not set(deleted) <= set(DELETABLE)):
        return f"{where}.deleteParameters must name fields among {', '.join(sorted(DELETABLE))}"
    if "parameterValues" in offer:
        return _parameters_problem(f"{where}.parameterValues", offer["parameterValues"])
    return None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parameters_problem(where: str, values: Any) -> str | None:
    if not isinstance(values, list) or not values:
        return f"{where} must be a non-empty array"
    if len(values) > MAX_PARAMETERS:
        return f"{where} must contain at most {MAX_PARAMETERS} items"
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            return f"{where}[{index}] must be an object"
        unknown = sorted(set(value) - PARAMETER_FIELDS)
        if unknown:
            return f"Unknown field {where}[{index}].{unknown[0]}"
        if not _is_int(value.get("parameterId")) or value["parameterId"] < 1:
            return f"{where}[{index}].parameterId must be a positive integer"
        for name in ("unitId", "valueId"):
            if name in value and not _is_int(value[name]):
                return f"{where}[{index}].{name} must be an integer"
        if "value" in value and not isinstance(value["value"], str):
            return f"{where}[{index}].value must be a string"
    return None


# --- answered per offer ---------------------------------------------------------------------------------------------


def offer_result(offer: Json, known: dict[str, YmOffer]) -> Json | None:
    """The offer's entry of `results` (errors and warnings), or None when it has neither."""
    errors: list[Json] = []
    warnings: list[Json] = []
    target = known.get(offer["offerId"])
    if target is None:
        errors.append(_entry("OFFER_NOT_FOUND", f"Offer {offer['offerId']} not found in the catalog"))
        return {"offerId": offer["offerId"], "errors": errors, "warnings": warnings}
    category_id = offer.get("marketCategoryId", target.market_category_id)
    category = YM_CATEGORIES.get(category_id)
    if category is None:
        errors.append(_entry("UNKNOWN_CATEGORY", f"Unknown market category {category_id}"))
    elif "parameterValues" in offer:
        if "marketCategoryId" not in offer:
            message = "marketCategoryId was not sent with parameterValues: the offer's category was assumed"
            warnings.append(_entry("EMPTY_MARKET_CATEGORY", message))
        errors += _parameter_errors(offer["parameterValues"], category)
    if not errors and not warnings:
        return None
    return {"offerId": offer["offerId"], "errors": errors, "warnings": warnings}


def _entry(kind: str, message: str, parameter_id: int | None = None) -> Json:
    entry: Json = {"type": kind, "message": message}
    if parameter_id is not None:
        entry["parameterId"] = parameter_id
    return entry


def _parameter_errors(values: list[Json], category: YmCategory) -> list[Json]:
    errors = []
    for value in values:
        parameter_id = value["parameterId"]
        parameter = category.parameter(parameter_id)
        text = value.get("value", "")
        if parameter is None:
            message = f"Parameter {parameter_id} is not a parameter of category {category.id}"
            errors.append(_entry("UNKNOWN_PARAMETER", message, parameter_id))
        elif parameter.type == "NUMERIC" and not NUMBER.match(text):
            errors.append(_entry("NUMBER_FORMAT", f"{parameter.name}: {text!r} is not a number", parameter_id))
        elif parameter.type == "BOOLEAN" and text not in ("true", "false"):
            message = f"{parameter.name}: {text!r} is not true or false"
            errors.append(_entry("UNEXPECTED_BOOLEAN_VALUE", message, parameter_id))
    return errors


# --- checked when applied -------------------------------------------------------------------------------------------


def content_errors(offer: Json, category: YmCategory) -> list[Json]:
    """Why the marketplace does not accept the offer's changes (HAS_CARD_CAN_UPDATE_ERRORS), empty when it does."""
    errors = []
    for name, limit in (("name", NAME_MAX), ("description", DESCRIPTION_MAX)):
        for violation in check_text(name, offer.get(name), limit):
            errors.append({"type": "CONTENT", "message": violation.message})
    grouped: dict[int, list[Json]] = defaultdict(list)
    for value in offer.get("parameterValues") or []:
        grouped[value["parameterId"]].append(value)
    for parameter_id, values in grouped.items():
        parameter = category.parameter(parameter_id)
        if parameter is not None:
            errors += [
                {"type": "CONTENT", "parameterId": parameter_id, "message": m} for m in _value_errors(parameter, values)
            ]
    return errors


def _value_errors(parameter: YmParameter, values: list[Json]) -> list[str]:
    found = []
    if len(values) > 1 and not parameter.multivalue:
        found.append(f"{parameter.name} takes one value, {len(values)} were sent")
    for value in values:
        text = value.get("value", "")
        if parameter.type == "ENUM":
            by_id = dict(parameter.values)
            if "valueId" in value and value["valueId"] not in by_id:
                found.append(f"{parameter.name}: valueId {value['valueId']} is not one of its values")
            elif "valueId" in value and "value" in value and by_id[value["valueId"]].casefold() != text.casefold():
                found.append(f"{parameter.name}: valueId {value['valueId']} is not {text!r}")
            elif "valueId" not in value and not parameter.allow_custom_values:
                found.append(f"{parameter.name}: {text!r} is not one of its values and it takes no custom values")
        if parameter.type == "NUMERIC" and NUMBER.match(text):
            number = float(text.replace(",", "."))
            low, high = parameter.min_value, parameter.max_value
            if (low is not None and number < low) or (high is not None and number > high):
                found.append(f"{parameter.name}: {text} is outside {low}..{high}")
        if parameter.max_length is not None and len(text) > parameter.max_length:
            found.append(f"{parameter.name} is {len(text)} characters long, the maximum is {parameter.max_length}")
    return found


def apply_offer(target: YmOffer, offer: Json) -> None:
    """A partial update: the fields sent replace the stored ones, parameter values by parameterId; the rest stay."""
    category = YM_CATEGORIES.get(offer.get("marketCategoryId", target.market_category_id))
    errors = content_errors(offer, category) if category is not None else []
    target.errors = errors
    if errors:
        return
    for name in offer.get("deleteParameters") or []:
        target.offer.pop(DELETABLE[name], None)
    if "marketCategoryId" in offer:
        target.market_category_id = offer["marketCategoryId"]
    sent = {k: v for k, v in offer.items() if k not in ("deleteParameters", "marketCategoryId", "parameterValues")}
    target.offer.update(sent)
    if "parameterValues" in offer:
        replaced = {value["parameterId"] for value in offer["parameterValues"]}
        kept = [v for v in target.offer.get("parameterValues", []) if v.get("parameterId") not in replaced]
        target.offer["parameterValues"] = kept + offer["parameterValues"]
