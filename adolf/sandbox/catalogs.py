"""The simulated marketplaces' reference data: WB subjects and their characteristics, Ozon categories with their
attributes and dictionaries, YM categories with their parameters. Shapes follow the marketplaces' own read APIs
(research/marketplaces.md 1.2, 2.2, 3.2 and the official OpenAPI files cited there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- Wildberries: GET /content/v2/object/charcs/{subjectId} ----------------------------------------------------------

WB_TEXT, WB_NUMBER, WB_UNUSED = 1, 4, 0  # charcType: 1 an array of strings (maxCount of them, 0 = any), 4 one number


@dataclass(frozen=True)
class WbCharc:
    id: int
    name: str
    charc_type: int
    max_count: int = 0
    unit: str = ""
    required: bool = False

    def to_wire(self, subject: WbSubject) -> dict[str, Any]:
        return {
            "charcID": self.id,
            "subjectName": subject.name,
            "subjectID": subject.id,
            "name": self.name,
            "required": self.required,
            "unitName": self.unit,
            "maxCount": self.max_count,
            "popular": False,
            "charcType": self.charc_type,
        }


@dataclass(frozen=True)
class WbSubject:
    id: int
    name: str
    description_max: int  # "standard 2000, minimum 1000, maximum 5000", by category
    charcs: tuple[WbCharc, ...]

    def charc(self, charc_id: int) -> WbCharc | None:
        return next((c for c in self.charcs if c.id == charc_id), None)

    def charc_named(self, name: str) -> WbCharc | None:
        return next((c for c in self.charcs if c.name.casefold() == name.strip().casefold()), None)


WB_SUBJECTS = {
    subject.id: subject
    for subject in (
        WbSubject(
            105,
            "Футболки",
            2000,
            (
                WbCharc(14177449, "Цвет", WB_TEXT, max_count=5),
                WbCharc(14177450, "Состав", WB_TEXT, max_count=3),
                WbCharc(50, "Особенности модели", WB_TEXT, max_count=0),
                WbCharc(14177451, "Страна производства", WB_TEXT, max_count=1),
                WbCharc(12, "Комплектация", WB_TEXT, max_count=3),
                WbCharc(54337, "Размер", WB_NUMBER, unit="см"),
                WbCharc(89008, "Вес товара без упаковки (г)", WB_NUMBER, unit="г"),
                WbCharc(1, "Устаревшая характеристика", WB_UNUSED),
            ),
        ),
        WbSubject(
            2256,
            "Кружки",
            1000,
            (
                WbCharc(14177449, "Цвет", WB_TEXT, max_count=5),
                WbCharc(90630, "Объём", WB_NUMBER, unit="мл"),
                WbCharc(14177450, "Материал", WB_TEXT, max_count=2),
            ),
        ),
    )
}
WB_DEFAULT_SUBJECT = 105

# --- Ozon: /v1/description-category/attribute and /attribute/values -------------------------------------------------

OZON_NAME_ATTR, OZON_DESCRIPTION_ATTR, OZON_HASHTAGS_ATTR = 4180, 4191, 23171


@dataclass(frozen=True)
class OzonAttribute:
    id: int
    name: str
    type: str = "String"
    dictionary: tuple[tuple[int, str], ...] = ()  # (dictionary_value_id, value); empty: free values
    is_collection: bool = False
    max_value_count: int = 0
    is_required: bool = False

    @property
    def dictionary_id(self) -> int:
        return 1000 + self.id if self.dictionary else 0

    def value_id(self, value: str) -> int | None:
        return next((i for i, v in self.dictionary if v.casefold() == value.casefold()), None)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": "",
            "type": self.type,
            "is_collection": self.is_collection,
            "is_required": self.is_required,
            "is_aspect": False,
            "max_value_count": self.max_value_count,
            "group_id": 0,
            "group_name": "",
            "dictionary_id": self.dictionary_id,
            "category_dependent": False,
            "attribute_complex_id": 0,
            "complex_is_collection": False,
        }


@dataclass(frozen=True)
class OzonCategory:
    description_category_id: int
    type_id: int
    attributes: tuple[OzonAttribute, ...]

    def attribute(self, attribute_id: int) -> OzonAttribute | None:
        return next((a for a in self.attributes if a.id == attribute_id), None)


OZON_CATEGORIES = {
    (category.description_category_id, category.type_id): category
    for category in (
        OzonCategory(
            17028922,
            94765,
            (
                OzonAttribute(OZON_NAME_ATTR, "Название"),
                OzonAttribute(OZON_DESCRIPTION_ATTR, "Аннотация"),
                OzonAttribute(OZON_HASHTAGS_ATTR, "#Хештеги"),
                OzonAttribute(9048, "Название модели (для объединения в одну карточку)"),
                OzonAttribute(
                    85, "Бренд", dictionary=((5060050, "Нет бренда"), (126745801, "Sandbox")), is_required=True
                ),
                OzonAttribute(
                    10096,
                    "Цвет товара",
                    dictionary=((61571, "белый"), (61574, "черный"), (61585, "красный"), (61576, "синий")),
                    is_collection=True,
                    max_value_count=3,
                ),
                OzonAttribute(8229, "Тип", dictionary=((94765, "Кружка"), (94766, "Термокружка")), is_required=True),
                OzonAttribute(4383, "Вес товара, г", type="Decimal"),
            ),
        ),
    )
}
OZON_DEFAULT_CATEGORY = (17028922, 94765)

# --- Yandex Market: POST /v2/category/{categoryId}/parameters ---------------------------------------------------------


@dataclass(frozen=True)
class YmParameter:
    id: int
    name: str
    type: str  # TEXT, ENUM, BOOLEAN, NUMERIC
    values: tuple[tuple[int, str], ...] = ()  # ENUM options (id, value)
    multivalue: bool = False
    allow_custom_values: bool = False
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None

    def value_id(self, value: str) -> int | None:
        return next((i for i, v in self.values if v.casefold() == value.casefold()), None)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "required": False,
            "filtering": False,
            "distinctive": False,
            "multivalue": self.multivalue,
            "allowCustomValues": self.allow_custom_values,
        }
        if self.values:
            wire["values"] = [{"id": i, "value": v} for i, v in self.values]
        constraints = {"maxLength": self.max_length, "minValue": self.min_value, "maxValue": self.max_value}
        constraints = {k: v for k, v in constraints.items() if v is not None}
        if constraints:
            wire["constraints"] = constraints
        return wire


@dataclass(frozen=True)
class YmCategory:
    id: int
    parameters: tuple[YmParameter, ...] = field(default_factory=tuple)

    def parameter(self, parameter_id: int) -> YmParameter | None:
        return next((p for p in self.parameters if p.id == parameter_id), None)


YM_CATEGORIES = {
    category.id: category
    for category in (
        YmCategory(
            91491,
            (
                YmParameter(14871214, "Цвет товара", "ENUM", ((14896254, "белый"), (14896255, "черный")), True),
                YmParameter(15, "Материал", "TEXT", max_length=100),
                YmParameter(37911750, "Объем, мл", "NUMERIC", min_value=1, max_value=5000),
                YmParameter(23674510, "Можно мыть в посудомоечной машине", "BOOLEAN"),
            ),
        ),
    )
}
YM_DEFAULT_CATEGORY = 91491
