"""Job argument models: validated by the client before anything reaches Redis, and again at job start."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from adolf.models.content import DeadLetter


class JobArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PingArgs(JobArgs):
    payload: Any = None


class DeadLetterArgs(DeadLetter):
    """content_factory.tasks.handle_failed_task: a finally failed job to store in failed_jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
