"""Stored cards of the three marketplaces, in the shapes their read APIs return."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

Json = dict[str, Any]

OZON_NAME_ATTR = 4180
OZON_DESCRIPTION_ATTR = 4191
OZON_HASHTAGS_ATTR = 23171
# which of a product's import fields each Ozon read returns (research/marketplaces.md 2.3)
INFO_LIST_FIELDS = frozenset(
    {"price", "old_price", "currency_code", "vat", "images", "primary_image", "color_image", "images360"}
)
ATTRIBUTES_FIELDS = frozenset(
    {"barcode", "depth", "width", "height", "dimension_unit", "weight", "weight_unit", "images", "primary_image",
     "color_image", "pdf_list"}
)  # fmt: skip


def now_iso() -> str:
    """UTC timestamp with milliseconds, e.g. ``2026-01-02T03:04:05.678Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SeedCard(BaseModel):
    """One card of ``POST /__sandbox/cards``; ids are assigned when absent."""

    sku: str = Field(min_length=1)
    title: str
    description: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    brand: str | None = None
    nm_id: int | None = Field(default=None, gt=0)
    product_id: int | None = Field(default=None, gt=0)
    market_sku: int | None = Field(default=None, gt=0)
    subject_id: int | None = Field(default=None, gt=0)  # WB subject (category); the sandbox default otherwise
    fields: dict[str, Any] = Field(default_factory=dict)  # Ozon: import fields stored with the product (vat, price…)


@dataclass
class WbCard:
    nm_id: int
    imt_id: int
    nm_uuid: str
    vendor_code: str
    title: str
    description: str
    brand: str = ""
    characteristics: list[Json] = field(default_factory=list)
    sizes: list[Json] = field(default_factory=list)
    dimensions: Json = field(default_factory=dict)
    subject_id: int = 105
    subject_name: str = "Футболки"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def to_wire(self) -> Json:
        return {
            "nmID": self.nm_id,
            "imtID": self.imt_id,
            "nmUUID": self.nm_uuid,
            "subjectID": self.subject_id,
            "subjectName": self.subject_name,
            "vendorCode": self.vendor_code,
            "brand": self.brand,
            "title": self.title,
            "description": self.description,
            "needKiz": False,
            "photos": [],
            "video": "",
            "dimensions": {**self.dimensions, "isValid": True},
            "characteristics": copy.deepcopy(self.characteristics),
            "sizes": copy.deepcopy(self.sizes),
            "tags": [],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }

    def summary(self) -> Json:
        attributes = {str(item["id"]): item.get("value") for item in self.characteristics}
        return _summary(self.vendor_code, self.nm_id, self.title, self.description, attributes, self.to_wire())


@dataclass
class OzonProduct:
    product_id: int
    sku: int
    offer_id: str
    name: str
    description: str
    attributes: list[Json] = field(default_factory=list)
    extra: Json = field(default_factory=dict)
    description_category_id: int = 17028922
    type_id: int = 94765
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def info(self) -> Json:
        """Item of ``/v3/product/info/list``: prices and images, no description, no dimensions."""
        extra = {k: copy.deepcopy(v) for k, v in self.extra.items() if k in INFO_LIST_FIELDS}
        return {
            **extra,
            "id": self.product_id,
            "offer_id": self.offer_id,
            "name": self.name,
            "sku": self.sku,
            "description_category_id": self.description_category_id,
            "type_id": self.type_id,
            "barcodes": [self.extra["barcode"]] if self.extra.get("barcode") else [],
            "is_archived": False,
            "errors": [],
            "statuses": {"status": "price_sent", "moderate_status": "approved"},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def with_attributes(self) -> Json:
        """Item of ``/v4/product/info/attributes``: attributes, dimensions, images, no prices."""
        extra = {k: copy.deepcopy(v) for k, v in self.extra.items() if k in ATTRIBUTES_FIELDS}
        return {
            **extra,
            "id": self.product_id,
            "offer_id": self.offer_id,
            "sku": self.sku,
            "name": self.name,
            "type_id": self.type_id,
            "description_category_id": self.description_category_id,
            "attributes": copy.deepcopy(self.attributes),
            "complex_attributes": copy.deepcopy(self.extra.get("complex_attributes", [])),
            "barcodes": [self.extra["barcode"]] if self.extra.get("barcode") else [],
        }

    def summary(self) -> Json:
        attributes = {str(item["id"]): [v.get("value") for v in item.get("values", [])] for item in self.attributes}
        return _summary(self.offer_id, self.product_id, self.name, self.description, attributes, self.with_attributes())


@dataclass
class YmOffer:
    offer: Json
    market_sku: int
    market_category_id: int = 91491
    processing: int = 0
    errors: list[Json] = field(default_factory=list)  # why the last changes were not accepted

    @property
    def offer_id(self) -> str:
        return str(self.offer["offerId"])

    @property
    def card_status(self) -> str:
        if self.processing:
            return "HAS_CARD_CAN_UPDATE_PROCESSING"
        return "HAS_CARD_CAN_UPDATE_ERRORS" if self.errors else "HAS_CARD_CAN_UPDATE"

    def to_wire(self) -> Json:
        offer = {"tags": [], "archived": False, **copy.deepcopy(self.offer)}
        offer["marketCategoryId"] = self.market_category_id
        offer["cardStatus"] = self.card_status
        mapping = {
            "marketSku": self.market_sku,
            "marketSkuName": self.offer.get("name", ""),
            "marketModelName": self.offer.get("name", ""),
            "marketCategoryId": self.market_category_id,
            "marketCategoryName": "Sandbox category",
        }
        return {"offer": offer, "mapping": mapping}

    def summary(self) -> Json:
        attributes: dict[str, list[Any]] = {}
        for value in self.offer.get("parameterValues", []):
            attributes.setdefault(str(value.get("parameterId")), []).append(value.get("value"))
        name, description = self.offer.get("name", ""), self.offer.get("description", "")
        summary = _summary(self.offer_id, self.market_sku, name, description, attributes, self.to_wire())
        return {**summary, "errors": copy.deepcopy(self.errors)}


def _summary(sku: str, card_id: int, title: str, description: str, attributes: Json, raw: Json) -> Json:
    return {
        "sku": sku,
        "id": card_id,
        "title": title,
        "description": description,
        "attributes": attributes,
        "raw": raw,
    }
