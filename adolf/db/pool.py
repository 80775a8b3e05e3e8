"""The asyncpg pool: jsonb and json travel as orjson, connections are checked before use."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from prometheus_client import Counter

STATEMENTS = Counter(
    "adolf_db_statements_total", "Statements this process sent to PostgreSQL (batched jobs share them)"
)


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _count_statement(query: Any) -> None:
    STATEMENTS.inc()


async def init_connection(conn: asyncpg.Connection) -> None:
    conn.add_query_logger(_count_statement)
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog", format="text"
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (a round trip per release, several per job). ADOLF never changes the
    session of a pooled connection (no LISTEN, SET, advisory lock or cursor outlives its statement); a transaction
    left open is still rolled back by asyncpg before this runs."""


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 10.0,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """A pool whose connections decode jsonb to Python objects."""
    return await asyncpg.create_pool(
        dsn,
        server_settings=server_settings,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        reset=keep_session,
        timeout=connect_timeout,
        command_timeout=60,
        max_inactive_connection_lifetime=300,
    )
