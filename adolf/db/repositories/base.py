"""What every repository shares: a connection (or pool) to run on, and rowcounts read from command tags."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import BaseModel

RecordT = TypeVar("RecordT", bound=BaseModel)
Executor = asyncpg.Connection | asyncpg.Pool


def rowcount(command_tag: str) -> int:
    """'UPDATE 3' -> 3, 'DELETE 0' -> 0."""
    return int(command_tag.rsplit(" ", 1)[-1])


class Repository(Generic[RecordT]):
    """Runs named SQL on one executor. The caller owns the transaction (pass a connection inside one)."""

    model: type[RecordT]

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def _one(self, query: str, *args: Any) -> RecordT | None:
        row = await self.db.fetchrow(query, *args)
        return None if row is None else self.model.model_validate(dict(row))

    async def _created(self, query: str, *args: Any) -> RecordT:
        """For INSERT ... RETURNING, which always yields its row."""
        record = await self._one(query, *args)
        if record is None:
            raise RuntimeError("INSERT ... RETURNING returned no row")
        return record

    async def _many(self, query: str, *args: Any) -> list[RecordT]:
        return [self.model.model_validate(dict(row)) for row in await self.db.fetch(query, *args)]

    async def _count(self, query: str, *args: Any) -> int:
        return rowcount(await self.db.execute(query, *args))
