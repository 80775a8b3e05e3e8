"""orjson job (de)serialization: nothing read from Redis can make the worker run code (no pickle).

A failed job's exception is stored as `{"__exception__": {"type", "message", "code"}}` and comes back to callers as
`JobFailed`, so `await job.result()` raises a readable error rather than arq's SerializationError.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from adolf.errors import error_code_of

logger = logging.getLogger(__name__)

EXCEPTION_KEY = "__exception__"


class JobFailed(Exception):
    """How a failed job's exception looks to whoever reads its result."""

    def __init__(self, type_name: str, message: str, code: str | None = None) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.code = code


def describe_exception(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, JobFailed):
        return {"type": exc.type_name, "message": exc.message, "code": exc.code}
    message = getattr(exc, "message", None)
    return {
        "type": type(exc).__name__,
        "message": message if isinstance(message, str) else str(exc),
        "code": error_code_of(exc),
    }


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {EXCEPTION_KEY: describe_exception(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


# arq reads these fields outside its own error handling: a wrong type there would crash the worker, not fail the job
_JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "f": (str,),
    "a": (list,),
    "k": (dict,),
    "t": (int, type(None)),
    "et": (int,),
}


def deserialize(raw: bytes) -> dict[str, Any]:
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("a job payload must be a JSON object")
    for field, types in _JOB_FIELDS.items():
        value = data.get(field)
        if not isinstance(value, types) or isinstance(value, bool):
            raise TypeError(f"job payload field {field!r} has the wrong type ({type(value).__name__})")
    result = data.get("r")
    if data.get("s") is False and isinstance(result, dict) and EXCEPTION_KEY in result:
        info = result[EXCEPTION_KEY]
        data["r"] = JobFailed(str(info.get("type")), str(info.get("message")), info.get("code"))
    return data
