"""Structured JSON logs (seed §7.8.2): one object per line, with the current job's context and no secrets."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("adolf_log_context", default=None)
# while a job's outcome line is pending: the loggers whose lines fold into it, and the fields they brought
_folding: contextvars.ContextVar[tuple[frozenset[tuple[str, str]], dict[str, Any]] | None] = contextvars.ContextVar(
    "adolf_log_folding", default=None
)

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


DEAD_LETTER_LINE = ("adolf.workers.failures", "job permanently failed: %s")


@contextmanager
def folded_into_outcome(*lines: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """Inside the block, the lines given as (logger, message template) are not written: their `extra=` fields are
    collected in the yielded dict, for the one line that tells the job run's outcome."""
    collected: dict[str, Any] = {}
    token = _folding.set((frozenset(lines), collected))
    try:
        yield collected
    finally:
        _folding.reset(token)


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


class FoldIntoOutcome(logging.Filter):
    """Drops the lines `folded_into_outcome` folds into a job's outcome line, keeping their fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        folding = _folding.get()
        if folding is None or record.levelno >= logging.CRITICAL or (record.name, str(record.msg)) not in folding[0]:
            return True
        folding[1].update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        return False


class OutageNoise(logging.Filter):
    """An outage is told once, not at every poll: outside a job, a warning or error repeating the last one of its
    logger (same text, same exception type) within `window` seconds is dropped, and the next one that gets through
    says how many were (`repeated`). A lost connection to Redis or PostgreSQL is one line, not a traceback."""

    def __init__(self, window: float = 60.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple[str, int, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.levelno >= logging.CRITICAL:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_infra_error(exc):
            record.exc_info, record.exc_text = None, None
            record.error = f"{type(exc).__name__}: {exc}"
        if _fields().get("job_id") is not None:
            return True  # a job's own lines (each run's outcome) are never throttled
        key = (record.name, record.levelno, record.getMessage()[:300], type(exc).__name__ if exc else "")
        now = time.monotonic()
        last, dropped = self._seen.get(key, (None, 0))
        if last is not None and now - last < self.window:
            self._seen[key] = (last, dropped + 1)
            return False
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped:
            record.repeated = dropped
        return True


def _is_infra_error(exc: BaseException) -> bool:
    from adolf.errors import is_infra_error

    return is_infra_error(exc)


# --- arq's own lines -----------------------------------------------------------------------------------------------

ARQ_LOGGERS = ("arq.worker", "arq.connections", "arq.jobs", "arq.cron")
_KEY_VALUES = re.compile(r"(\w+)=(\S+)")
# arq's message templates that carry data, as a short message and fields
_ARQ_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Starting worker for %d functions: %s": ("arq worker starting", ("function_count", "functions")),
    "redis connection error %s:%s %s %s, %s retries remaining...": (
        "redis connection error",
        ("redis_host", "redis_port", "error_type", "error", "retries_remaining"),
    ),
    "Health check successful: %s": ("health check successful", ("health",)),
    "recording health: %s": ("recording health", ("health",)),
    "job %s expired": ("job expired", ("job_id",)),
    "deserializing job %s failed": ("deserializing a job failed", ("job_id",)),
}


def structure_arq_record(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of an arq log record with its data as fields and a short message (arq formats its data into text)."""
    copy = logging.makeLogRecord(vars(record))
    known = _ARQ_TEMPLATES.get(str(record.msg))
    if known is not None and isinstance(record.args, tuple) and len(record.args) == len(known[1]):
        message, names = known
        copy.msg, copy.args = message, None
        for name, value in zip(names, record.args, strict=True):
            setattr(copy, name, value.decode() if isinstance(value, bytes) else value)
        if known[0] == "arq worker starting":
            copy.functions = str(copy.functions).split(", ")
        return copy
    text = record.getMessage()
    pairs = _KEY_VALUES.findall(text)
    if pairs and " ".join(f"{k}={v}" for k, v in pairs) == text.strip():  # e.g. redis_version=7.0.15 mem_usage=...
        copy.msg, copy.args = "redis info" if pairs[0][0] == "redis_version" else "arq", None
        for key, value in pairs:
            setattr(copy, key, value)
    return copy


class _ArqToRoot(logging.Filter):
    """On arq's module loggers: their records, structured, go straight to the root logger's handlers (ADOLF's), and
    never on to the text handler the `arq` command gives the `arq` logger. A logger's filters, unlike its handlers
    and `propagate`, survive the `arq` command's dictConfig, which runs after the settings class is imported."""

    def filter(self, record: logging.LogRecord) -> bool:
        structured = structure_arq_record(record)
        for handler in logging.getLogger().handlers:
            if structured.levelno >= handler.level:
                handler.handle(structured)
        return False


def adopt_arq_loggers() -> None:
    """Route arq's lines through ADOLF's handlers, structured (idempotent)."""
    for name in ARQ_LOGGERS:
        arq_logger = logging.getLogger(name)
        if not any(isinstance(f, _ArqToRoot) for f in arq_logger.filters):
            arq_logger.addFilter(_ArqToRoot())
    logging.getLogger("arq").handlers[:] = []


def setup_logging(*, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Route every logger (ours, arq's, aiohttp's) through one stderr handler."""
    masker = SecretMasker(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(masker) if fmt == "json" else TextFormatter(masker))
    handler.addFilter(FoldIntoOutcome())
    handler.addFilter(OutageNoise())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    adopt_arq_loggers()
