"""Content Factory records, as the repositories return them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Marketplace(StrEnum):
    WB = "wb"
    OZON = "ozon"
    YM = "ym"


class DraftStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class PublicationStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PUBLISHED = "published"
    FAILED = "failed"
    VERIFIED = "verified"
    MISMATCHED = "mismatched"


ACTIVE_PUBLICATION = (PublicationStatus.PENDING, PublicationStatus.PROCESSING)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Draft(Record):
    id: UUID
    user_id: UUID
    sku: str
    marketplace: Marketplace
    title: str
    description: str
    attributes: dict[str, Any]
    seo_tags: list[str]
    status: DraftStatus
    is_valid: bool
    validation_errors: list[Any]
    created_at: datetime
    updated_at: datetime


class Generation(Record):
    id: UUID
    draft_id: UUID | None
    sku: str
    marketplace: Marketplace
    kind: str
    model: str
    prompt: str
    output: dict[str, Any]
    tokens_used: int
    created_at: datetime


class Publication(Record):
    id: UUID
    draft_id: UUID
    sku: str
    marketplace: Marketplace
    status: PublicationStatus
    nm_id: str | None
    api_response: Any
    error_code: str | None
    error_message: str | None
    retry_count: int
    round: int
    job_ref: str | None
    published_by: UUID
    published_title: str | None
    published_description: str | None
    published_attributes: dict[str, Any] | None = None
    published_at: datetime | None
    verified_at: datetime | None
    mismatch: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class Notification(Record):
    id: int
    user_id: UUID | None
    kind: str
    event_type: str
    data: dict[str, Any]
    dedup_key: str | None
    status: str
    attempts: int
    sent_channels: list[str]
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeadLetter(Record):
    """A job run that finally failed: what `failed_jobs` stores about it."""

    job_id: str = Field(min_length=1)
    job_name: str = Field(min_length=1)
    queue: str = ""
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    exception: str
    error_code: str | None = None
    tries: int = Field(default=1, ge=1)
    enqueued_at: datetime


class FailedJob(DeadLetter):
    id: int
    failed_at: datetime
    retried_at: datetime | None
    retry_job_id: str | None
