"""Job argument models: validated by the client before anything reaches Redis, and again at job start."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class JobArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PingArgs(JobArgs):
    payload: Any = None


class DeadLetterArgs(JobArgs):
    """content_factory.tasks.handle_failed_task: a finally failed job to store in failed_jobs."""

    job_id: str = Field(min_length=1)
    job_name: str = Field(min_length=1)
    queue: str = ""
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    exception: str
    error_code: str | None = None
    tries: int = Field(default=1, ge=1)
    enqueued_at: datetime


class NoArgs(JobArgs):
    """A job that takes no arguments."""


class PublishContentArgs(JobArgs):
    """content_factory.tasks.publish_content."""

    draft_id: UUID
    user_id: UUID


class RetryPublicationArgs(JobArgs):
    """content_factory.tasks.retry_publication."""

    publication_id: UUID
    user_id: UUID


class CleanupDraftsArgs(JobArgs):
    """content_factory.tasks.cleanup_old_drafts."""

    archive_days: int = Field(default=30, ge=1)
    delete_days: int = Field(default=90, ge=1)
