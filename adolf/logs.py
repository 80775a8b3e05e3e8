"""Structured JSON logs (seed §7.8.2): one object per line, with the current job's context and no secrets."""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("adolf_log_context", default=None)

# attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _fields() -> dict[str, Any]:
    return _context.get() or {}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (job_id, draft_id, sku, marketplace, ...) to every log line written inside the block."""
    token = _context.set({**_fields(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context until the enclosing `log_context` block (or task) ends."""
    _context.set({**_fields(), **{k: v for k, v in fields.items() if v is not None}})


class SecretMasker:
    """Replaces every known secret value with '***' in a string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The job context plus whatever the call passed as `extra=`."""
    return {**_fields(), **{k: v for k, v in vars(record).items() if k not in _STANDARD}}


class JsonFormatter(logging.Formatter):
    def __init__(self, masker: SecretMasker | None = None) -> None:
        super().__init__()
        self.mask = masker or SecretMasker()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return self.mask(line)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the same context and masking."""

    def __init__(self, masker: SecretMasker | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self.mask = masker or SecretMasker()

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        line = super().format(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return self.mask(line)


def setup_logging(*, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Route every logger (ours, arq's, aiohttp's) through one stderr handler."""
    masker = SecretMasker(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(masker) if fmt == "json" else TextFormatter(masker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
