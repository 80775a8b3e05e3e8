"""API tokens: printed once at creation, only their SHA-256 is stored; a read-only token may not write."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

import asyncpg

PREFIX = "adolf_"
READ, WRITE = "read", "write"

CREATE = "INSERT INTO api_tokens (name, user_id, token_sha256, scopes) VALUES ($1, $2, $3, $4) RETURNING id"
FIND = """
    UPDATE api_tokens SET last_used_at = now()
    WHERE token_sha256 = $1 AND revoked_at IS NULL
    RETURNING id, user_id, scopes, token_sha256
"""
REVOKE = "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"


@dataclass(frozen=True)
class Caller:
    token_id: UUID
    user_id: UUID
    scopes: tuple[str, ...]

    @property
    def can_write(self) -> bool:
        return WRITE in self.scopes


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_token(db: asyncpg.Pool, *, user_id: UUID, name: str = "", read_only: bool = False) -> str:
    """A new token (shown to its owner once)."""
    token = PREFIX + secrets.token_urlsafe(32)
    scopes = [READ] if read_only else [READ, WRITE]
    await db.fetchval(CREATE, name or ("read-only" if read_only else "read-write"), user_id, digest(token), scopes)
    return token


async def authenticate(db: asyncpg.Pool, token: str) -> Caller | None:
    expected = digest(token)
    row = await db.fetchrow(FIND, expected)
    if row is None or not hmac.compare_digest(bytes(row["token_sha256"]), expected):
        return None
    return Caller(token_id=row["id"], user_id=row["user_id"], scopes=tuple(row["scopes"]))


async def revoke_token(db: asyncpg.Pool, token_id: UUID) -> bool:
    return (await db.execute(REVOKE, token_id)).endswith(" 1")
