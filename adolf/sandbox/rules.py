"""Content rules the simulated marketplaces enforce on titles and descriptions."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SCRIPT_RE = re.compile(r"<script", re.IGNORECASE)
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``kind`` is ``too_long``, ``email``, ``script``, ``emoji`` or ``not_text``."""

    field: str
    kind: str
    limit: int = 0
    length: int = 0

    @property
    def message(self) -> str:
        if self.kind == "too_long":
            return f"{self.field} is {self.length} characters long, the maximum is {self.limit}"
        if self.kind == "email":
            return f"{self.field} must not contain an e-mail address"
        if self.kind == "script":
            return f"{self.field} must not contain <script> tags"
        if self.kind == "emoji":
            return f"{self.field} must not contain emoji"
        return f"{self.field} must be a string"


def check_text(field: str, value: object, max_len: int, *, emoji: bool = False) -> list[Violation]:
    """Check one text field; ``None`` (absent) is fine. With ``emoji``, emoji are forbidden characters (WB)."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [Violation(field, "not_text")]
    found: list[Violation] = []
    if len(value) > max_len:
        found.append(Violation(field, "too_long", max_len, len(value)))
    if EMAIL_RE.search(value):
        found.append(Violation(field, "email"))
    if SCRIPT_RE.search(value):
        found.append(Violation(field, "script"))
    if emoji and EMOJI_RE.search(value):
        found.append(Violation(field, "emoji"))
    return found
