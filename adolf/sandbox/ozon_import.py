"""Ozon /v3/product/import, as strict as Ozon documents it (research/marketplaces.md 2.2, 2.4, 2.5).

Refused at once (400, gRPC-style body): a field the import does not take, an item without description_category_id
or type_id, a wrong type. The import is full: a product becomes what the item says, so a field left out is lost.

Processed later, per item, in import/info: an unknown category or a missing VAT leaves the item out of the task's
items (Ozon's documented reading of an empty `items`); a missing price, missing or zero dimensions, an attribute the
category does not have, a dictionary attribute without a dictionary_value_id of its dictionary, too many values,
a missing required attribute, an over-long name or description, or the daily update quota used up
(`item_limit_exceeded`) make the item `failed` with Ozon's reason; an unchanged product is `skipped`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .base import as_dict, as_list
from .catalogs import OZON_CATEGORIES, OZON_DESCRIPTION_ATTR, OZON_NAME_ATTR, OzonCategory
from .rules import Violation, check_text

Json = dict[str, Any]

MAX_IMPORT = 100
OFFER_ID_MAX = 50
NAME_MAX = 500
DESCRIPTION_MAX = 6000
MAX_IMAGES = 15
VAT_RATES = frozenset({"0", "0.05", "0.07", "0.1", "0.2"})
IMPORT_FIELDS = frozenset(
    {
        "attributes", "barcode", "color_image", "complex_attributes", "currency_code", "depth",
        "description_category_id", "new_description_category_id", "dimension_unit", "geo_names", "height", "images",
        "images360", "name", "offer_id", "old_price", "pdf_list", "price", "primary_image", "promotions",
        "service_type", "type_id", "vat", "weight", "weight_unit", "width",
    }
)  # fmt: skip
STRINGS = ("price", "old_price", "vat", "currency_code", "barcode", "name", "primary_image", "color_image")
INTEGERS = ("depth", "width", "height", "weight")
UNITS = {"dimension_unit": {"mm", "cm", "in"}, "weight_unit": {"g", "kg", "lb"}}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- refused at once ------------------------------------------------------------------------------------------------


def item_problem(index: int, item: Any) -> str | None:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        return f"{where}: value must be an object"
    offer_id = item.get("offer_id")
    if not isinstance(offer_id, str | int) or isinstance(offer_id, bool) or str(offer_id) == "":
        return f"{where}.offer_id: value is required"
    if len(str(offer_id)) > OFFER_ID_MAX:
        return f"{where}.offer_id: value length must be at most {OFFER_ID_MAX}"
    unknown = sorted(set(item) - IMPORT_FIELDS)
    if unknown:
        return f"{where}: unknown field {unknown[0]!r}"
    return _types_problem(where, item) or _attributes_problem(where, item.get("attributes", []))


def _types_problem(where: str, item: Json) -> str | None:
    for name in ("description_category_id", "type_id"):
        if not _is_int(item.get(name)):
            return f"{where}.{name}: value is required"
    for name in STRINGS:
        if name in item and not isinstance(item[name], str):
            return f"{where}.{name}: value must be a string"
    for name in INTEGERS:
        if name in item and not _is_int(item[name]):
            return f"{where}.{name}: value must be an integer"
    for name, allowed in UNITS.items():
        if name in item and item[name] not in allowed:
            return f"{where}.{name}: value must be one of {sorted(allowed)}"
    if not isinstance(item.get("images", []), list) or len(item.get("images", [])) > MAX_IMAGES:
        return f"{where}.images: at most {MAX_IMAGES} links"
    return None


def _attributes_problem(where: str, attributes: Any) -> str | None:
    if not isinstance(attributes, list):
        return f"{where}.attributes: value must be an array"
    for position, attribute in enumerate(attributes):
        if (
            not isinstance(attribute, dict)
            or not _is_int(attribute.get("id"))
            or set(attribute)
            - {
                "complex_id",
                "id",
                "values",
            }
        ):
            return f"{where}.attributes[{position}]: must be {{complex_id, id, values}}"
        for value in as_list(attribute.get("values")):
            if not isinstance(value, dict) or set(value) - {"dictionary_value_id", "value"}:
                return f"{where}.attributes[{position}].values: must be {{dictionary_value_id, value}}"
            if "value" in value and not isinstance(value["value"], str):
                return f"{where}.attributes[{position}].values: value must be a string"
    return None


# --- processed later ------------------------------------------------------------------------------------------------


def error(code: str, message: str, *, field: str = "", attribute_id: int = 0, attribute_name: str = "") -> Json:
    return {
        "code": code,
        "message": message,
        "state": "imported",
        "level": "error",
        "description": message,
        "field": field,
        "attribute_id": attribute_id,
        "attribute_name": attribute_name,
    }


def category_of(item: Json) -> OzonCategory | None:
    return OZON_CATEGORIES.get((item.get("description_category_id"), item.get("type_id")))


def silently_dropped(item: Json) -> bool:
    """Ozon leaves an item with an unknown category or without a VAT rate out of import/info altogether."""
    return category_of(item) is None or item.get("vat") not in VAT_RATES


def item_errors(item: Json) -> list[Json]:
    category = category_of(item)
    assert category is not None
    errors = []
    if not item.get("price"):
        errors.append(error("EMPTY_PRICE", "price is required for a full import", field="price"))
    if not all(_is_int(item.get(name)) and item[name] > 0 for name in INTEGERS) or not all(
        item.get(name) for name in UNITS
    ):
        errors.append(error("DIMENSIONS_REQUIRED", "real dimensions and weight (not 0) are required", field="depth"))
    errors += _attribute_errors(item, category)
    return errors + [_text_error(v) for v in text_violations(item)]


def _attribute_errors(item: Json, category: OzonCategory) -> list[Json]:
    errors = []
    sent = {a["id"] for a in as_list(item.get("attributes"))}
    for attribute in as_list(item.get("attributes")):
        known = category.attribute(attribute["id"])
        values = as_list(attribute.get("values"))
        if known is None:
            errors.append(error("ATTRIBUTE_NOT_FOUND", f"attribute {attribute['id']} is not in this category",
                                attribute_id=attribute["id"]))  # fmt: skip
            continue
        if known.dictionary and not all(
            any(v.get("dictionary_value_id") == i for i, _ in known.dictionary) for v in values
        ):
            errors.append(error("DICTIONARY_VALUE_REQUIRED", f"{known.name}: a value of its dictionary is required "
                                "(dictionary_value_id)", attribute_id=known.id, attribute_name=known.name))  # fmt: skip
        limit = (known.max_value_count or len(values)) if known.is_collection else 1
        if len(values) > limit:
            errors.append(error("TOO_MANY_VALUES", f"{known.name}: at most {limit} value(s)", attribute_id=known.id,
                                attribute_name=known.name))  # fmt: skip
    for known in category.attributes:
        if known.is_required and known.id not in sent:
            errors.append(error("REQUIRED_ATTRIBUTE", f"{known.name} is required", attribute_id=known.id,
                                attribute_name=known.name))  # fmt: skip
    return errors


def attr_value(attributes: list[Json], attribute_id: int) -> str | None:
    """First value of an attribute, as sent in ``attributes[].values[].value``."""
    for attribute in attributes:
        if as_dict(attribute).get("id") == attribute_id:
            values = as_list(attribute.get("values"))
            return str(as_dict(values[0]).get("value", "")) if values else ""
    return None


def content(item: Json) -> tuple[str, str]:
    attributes = as_list(item.get("attributes"))
    return str(item.get("name") or attr_value(attributes, OZON_NAME_ATTR) or ""), attr_value(
        attributes, OZON_DESCRIPTION_ATTR
    ) or ""


def text_violations(item: Json) -> list[Violation]:
    name, description = content(item)
    violations = check_text("name", name, NAME_MAX) + check_text("description", description, DESCRIPTION_MAX)
    if name == "":
        violations.append(Violation("name", "not_text"))
    return violations


def _text_error(violation: Violation) -> Json:
    attribute_id = OZON_NAME_ATTR if violation.field == "name" else OZON_DESCRIPTION_ATTR
    code = {"too_long": "TOO_LONG_VALUE", "not_text": "INVALID_VALUE"}.get(violation.kind, "FORBIDDEN_CONTENT")
    names = {OZON_NAME_ATTR: "Название", OZON_DESCRIPTION_ATTR: "Аннотация"}
    return error(code, violation.message, field=violation.field, attribute_id=attribute_id,
                 attribute_name=names[attribute_id])  # fmt: skip


def quota_reset_at(now: datetime | None = None) -> str:
    """Ozon's daily counters reset at midnight UTC."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.isoformat().replace("+00:00", "Z")


QUOTA_EXCEEDED = error("item_limit_exceeded", "the daily limit of product updates has been reached")
