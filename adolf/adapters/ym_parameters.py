"""A draft's attributes as Yandex Market parameter values (research/marketplaces.md 3.2).

A category's parameters come from POST /v2/category/{categoryId}/parameters, read once per process (per TTL). A
draft names a parameter by id or by name. Values go as YM types them: an ENUM value from the list with its valueId
(a custom value only where the parameter allows custom values), a NUMERIC one as a number in text, a BOOLEAN one as
"true"/"false", several values of a multivalue parameter as several entries. A value YM cannot take (an unknown
parameter, a value outside the list, several values for a single-valued parameter, a text over its maxLength, a
number out of range) fails the card at once, naming the parameter: the marketplace would refuse it or not accept
the card's changes, and every refused request costs YM quota.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adolf.adapters.attribute_values import NUMBER, boolean_text, describe, scalar_values, value_text
from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.shared_reads import SharedReads
from adolf.errors import ApiError, ValidationFailed

BUCKET = "ym.category_parameters"
MAX_VALUES = 300  # parameterValues of one offer


@dataclass(frozen=True)
class Parameter:
    id: int
    name: str
    type: str
    multivalue: bool = False
    allow_custom_values: bool = False
    values: Mapping[str, int] = field(default_factory=dict)  # ENUM: casefolded value -> valueId
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Parameter:
        constraints = raw.get("constraints") if isinstance(raw.get("constraints"), dict) else {}
        options = [v for v in raw.get("values") or [] if isinstance(v, dict) and "id" in v]
        return cls(
            id=int(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            type=str(raw.get("type") or "TEXT"),
            multivalue=bool(raw.get("multivalue")),
            allow_custom_values=bool(raw.get("allowCustomValues")),
            values={str(v.get("value") or "").casefold(): int(v["id"]) for v in options},
            max_length=constraints.get("maxLength"),
            min_value=constraints.get("minValue"),
            max_value=constraints.get("maxValue"),
        )

    def wire_values(self, value: Any) -> list[dict[str, Any]]:
        """The parameterValues entries for one draft attribute."""
        values = scalar_values(value)
        if values is None:
            raise self._refused(f"takes text, numbers or true/false, got {describe(value)}")
        if not values:
            raise self._refused("needs a value")
        if len(values) > 1 and not self.multivalue:
            raise self._refused(f"takes one value, got {len(values)}")
        return [self._entry(value_text(item)) for item in values]

    def _entry(self, text: str) -> dict[str, Any]:
        if text == "":
            raise self._refused("needs a value")
        entry: dict[str, Any] = {"parameterId": self.id}
        if self.type == "ENUM":
            value_id = self.values.get(text.casefold())
            if value_id is not None:
                entry["valueId"] = value_id
            elif not self.allow_custom_values:
                raise self._refused(f"{text!r} is not one of its values")
        elif self.type == "NUMERIC":
            if not NUMBER.match(text):
                raise self._refused(f"{text!r} is not a number")
            number = float(text.replace(",", "."))
            if (self.min_value is not None and number < self.min_value) or (
                self.max_value is not None and number > self.max_value
            ):
                raise self._refused(f"{text} is outside {self.min_value}..{self.max_value}")
        elif self.type == "BOOLEAN":
            boolean = boolean_text(text)
            if boolean is None:
                raise self._refused(f"{text!r} is not true or false")
            text = boolean
        if self.max_length is not None and len(text) > self.max_length:
            raise self._refused(f"is {len(text)} characters long, the maximum is {self.max_length}")
        entry["value"] = text
        return entry

    def _refused(self, why: str) -> ValidationFailed:
        return ValidationFailed(f"YM: attribute {self.name!r} (parameter {self.id}) {why}")


class YmCategories:
    """Parameters of the categories this process has met, read once per `ttl` seconds."""

    def __init__(self, http: MarketplaceHttp, *, business_id: int | None, ttl: float = 3600.0) -> None:
        self.http = http
        self.business_id = business_id
        self._known: SharedReads[dict[int, Parameter]] = SharedReads(ttl)

    def parameters(self, category_id: int) -> asyncio.Future[dict[int, Parameter]]:
        return self._known.get(category_id, lambda: self._read(category_id))

    async def _read(self, category_id: int) -> dict[int, Parameter]:
        params = {"businessId": str(self.business_id)} if self.business_id is not None else None
        body = await self.http.post(f"/v2/category/{category_id}/parameters", None, bucket=BUCKET, params=params)
        result = (body or {}).get("result")
        if not isinstance(result, dict) or not isinstance(result.get("parameters"), list):
            raise ApiError(f"YM answered the parameters of category {category_id} without a result")
        parameters = [Parameter.from_wire(p) for p in result["parameters"] if isinstance(p, dict) and "id" in p]
        return {p.id: p for p in parameters}


def parameter_values(attributes: Mapping[str, Any], known: dict[int, Parameter]) -> tuple[list[dict], dict[str, Any]]:
    """The draft's attributes as parameterValues, and as sent by parameterId (what verification compares)."""
    by_name = {p.name.casefold(): p for p in known.values()}
    wire: list[dict[str, Any]] = []
    sent: dict[str, Any] = {}
    for key, value in attributes.items():
        name = str(key).strip()
        parameter = known.get(int(name)) if name.isdecimal() else by_name.get(name.casefold())
        if parameter is None:
            raise ValidationFailed(f"YM: attribute {name!r}: the offer's category has no such parameter")
        if str(parameter.id) in sent:
            raise ValidationFailed(f"YM: attribute {parameter.name!r} (parameter {parameter.id}) is named twice")
        entries = parameter.wire_values(value)
        wire += entries
        sent[str(parameter.id)] = [entry["value"] for entry in entries]
    if len(wire) > MAX_VALUES:
        raise ValidationFailed(f"YM: an offer takes at most {MAX_VALUES} parameter values, the draft has {len(wire)}")
    return wire, sent
