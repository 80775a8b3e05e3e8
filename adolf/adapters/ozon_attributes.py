"""A draft's attributes as Ozon attributes (research/marketplaces.md 2.2).

A category's attributes come from /v1/description-category/attribute and a dictionary attribute's values from
/v1/description-category/attribute/values (pages of up to 2000), both read once per process. A draft names an
attribute by id or by name; a dictionary attribute's value is sent with its dictionary_value_id; a value Ozon cannot
take (unknown attribute, a value outside its dictionary, more values than it holds) fails the card at once, naming
the attribute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adolf.adapters.attribute_values import INTEGER, NUMBER, boolean_text, describe, scalar_values, value_text
from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.shared_reads import SharedReads
from adolf.errors import ApiError, ValidationFailed

ATTRIBUTES = "/v1/description-category/attribute"
VALUES = "/v1/description-category/attribute/values"
BUCKET = "ozon.global"
VALUES_PAGE = 2000

Category = tuple[int, int]  # description_category_id, type_id


@dataclass(frozen=True)
class Attribute:
    id: int
    name: str
    dictionary_id: int
    is_collection: bool
    max_value_count: int
    type: str = "String"

    @property
    def holds(self) -> int | None:
        """How many values it takes at most (None: no limit)."""
        if not self.is_collection:
            return 1
        return self.max_value_count or None


class OzonCategories:
    """Attributes of the categories this process has met, and the dictionaries it needed, read once."""

    def __init__(self, http: MarketplaceHttp) -> None:
        self.http = http
        self._attributes: SharedReads[dict[int, Attribute]] = SharedReads()
        self._dictionaries: SharedReads[dict[str, int]] = SharedReads()

    def attributes(self, category: Category) -> asyncio.Future[dict[int, Attribute]]:
        return self._attributes.get(category, lambda: self._read_attributes(category))

    def dictionary(self, category: Category, attribute_id: int) -> asyncio.Future[dict[str, int]]:
        return self._dictionaries.get((category, attribute_id), lambda: self._read_values(category, attribute_id))

    async def _read_attributes(self, category: Category) -> dict[int, Attribute]:
        query = {"description_category_id": category[0], "type_id": category[1], "language": "DEFAULT"}
        body = await self.http.post(ATTRIBUTES, query, bucket=BUCKET)
        result = (body or {}).get("result")
        if not isinstance(result, list):
            raise ApiError(f"Ozon answered the attributes of category {category} without a result")
        return {
            int(a["id"]): Attribute(
                int(a["id"]),
                str(a.get("name") or ""),
                int(a.get("dictionary_id") or 0),
                bool(a.get("is_collection")),
                int(a.get("max_value_count") or 0),
                str(a.get("type") or "String"),
            )
            for a in result
            if isinstance(a, dict) and "id" in a
        }

    async def _read_values(self, category: Category, attribute_id: int) -> dict[str, int]:
        values: dict[str, int] = {}
        last = 0
        while True:
            query = {
                "attribute_id": attribute_id,
                "description_category_id": category[0],
                "type_id": category[1],
                "language": "DEFAULT",
                "last_value_id": last,
                "limit": VALUES_PAGE,
            }
            body = await self.http.post(VALUES, query, bucket=BUCKET) or {}
            page = [v for v in body.get("result") or [] if isinstance(v, dict) and "id" in v]
            values.update({str(v.get("value") or "").casefold(): int(v["id"]) for v in page})
            if not body.get("has_next") or not page:
                return values
            last = int(page[-1]["id"])


def chosen_attributes(attributes: Mapping[str, Any], known: dict[int, Attribute]) -> list[tuple[Attribute, list[str]]]:
    """The draft's attributes matched to the category's (by id or name), with their values as text of the
    attribute's type."""
    by_name = {a.name.casefold(): a for a in known.values()}
    chosen: dict[int, tuple[Attribute, list[str]]] = {}
    for key, value in attributes.items():
        name = str(key).strip()
        attribute = known.get(int(name)) if name.isdecimal() else by_name.get(name.casefold())
        if attribute is None:
            raise ValidationFailed(f"Ozon: attribute {name!r}: the product's category has no such attribute")
        if attribute.id in chosen:
            raise ValidationFailed(f"Ozon: attribute {attribute.name!r} ({attribute.id}) is named twice")
        values = scalar_values(value)
        if values is None:
            raise ValidationFailed(
                f"Ozon: attribute {attribute.name!r} takes text, numbers or true/false, got {describe(value)}"
            )
        texts = [_typed(attribute, value_text(v)) for v in values]
        if not texts or any(t == "" for t in texts):
            raise ValidationFailed(f"Ozon: attribute {attribute.name!r} needs a value")
        if attribute.holds is not None and len(texts) > attribute.holds:
            raise ValidationFailed(
                f"Ozon: attribute {attribute.name!r} takes at most {attribute.holds} value(s), got {len(texts)}"
            )
        chosen[attribute.id] = (attribute, texts)
    return list(chosen.values())


def _typed(attribute: Attribute, text: str) -> str:
    """A value as the attribute's type takes it: Decimal and Integer numbers, Boolean true/false."""
    kind = attribute.type.casefold()
    if kind == "decimal" and not NUMBER.match(text):
        raise ValidationFailed(f"Ozon: attribute {attribute.name!r} takes a number, got {text!r}")
    if kind == "integer" and not INTEGER.match(text):
        raise ValidationFailed(f"Ozon: attribute {attribute.name!r} takes a whole number, got {text!r}")
    if kind == "boolean":
        boolean = boolean_text(text)
        if boolean is None:
            raise ValidationFailed(f"Ozon: attribute {attribute.name!r} takes true or false, got {text!r}")
        return boolean
    return text.replace(",", ".") if kind == "decimal" else text


def wire_attribute(attribute: Attribute, values: list[str], dictionary: dict[str, int] | None) -> dict[str, Any]:
    """{complex_id, id, values: [{dictionary_value_id, value}]}; a dictionary value outside its dictionary fails."""
    wire = []
    for value in values:
        if attribute.dictionary_id:
            value_id = (dictionary or {}).get(value.casefold())
            if value_id is None:
                raise ValidationFailed(f"Ozon: attribute {attribute.name!r}: {value!r} is not one of its values")
            wire.append({"dictionary_value_id": value_id, "value": value})
        else:
            wire.append({"value": value})
    return {"complex_id": 0, "id": attribute.id, "values": wire}
