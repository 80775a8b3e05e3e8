"""A draft attribute's values as plain scalars: the one reading every marketplace's attribute mapping starts from.

A draft gives an attribute one value or a list of them; a value is text, a number or true/false. Anything else (None,
an object, a list inside the list, a number JSON cannot carry exactly) is refused: sending its Python text would
publish "None" or "['a', 'b']" as the value.
"""

from __future__ import annotations

import math
import re
from typing import Any

Scalar = str | int | float | bool
MAX_EXACT = 2**53
NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
INTEGER = re.compile(r"^-?\d+$")
BOOLEANS = {"true": "true", "false": "false", "да": "true", "нет": "false", "yes": "true", "no": "false"}


def scalar_values(value: Any) -> list[Scalar] | None:
    """The values of one attribute, or None when one of them is not a plain scalar."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, bool | str):
            continue
        if isinstance(item, int) and abs(item) <= MAX_EXACT:
            continue
        if isinstance(item, float) and math.isfinite(item):
            continue
        return None
    return items


def value_text(item: Scalar) -> str:
    """A scalar as the marketplaces take values in text: true/false, 350 rather than 350.0."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item).strip()


def boolean_text(text: str) -> str | None:
    return BOOLEANS.get(text.casefold())


def describe(value: Any) -> str:
    return repr(value)[:60]
