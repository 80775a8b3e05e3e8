"""Every job and schedule of the product. Adding a job is one line here (plus its handler and argument model)."""

from __future__ import annotations

from adolf.models import jobs as a
from adolf.services import publishing
from adolf.workers.jobs import common
from adolf.workers.jobs import content_factory as cf
from adolf.workers.jobs import scout as sc
from adolf.workers.registry import CronSpec, JobSpec, Registry

JOBS: tuple[JobSpec, ...] = (
    # Content Factory (seed 000 §7)
    JobSpec(
        "content_factory.tasks.publish_content",
        cf.publish_content,
        "content_high",
        a.PublishContentArgs,
        timeout=120,
        timeout_setting="publish_hard_timeout",
        max_tries=4,
        retry_unexpected=True,
        unique_by="draft_id",
        finalize=cf.publish_content_failed,
        on_final_failure=publishing.fail_after_job_failure,
    ),
    JobSpec(
        "content_factory.tasks.retry_publication",
        cf.retry_publication,
        "content_high",
        a.RetryPublicationArgs,
        timeout=30,
        max_tries=3,
    ),
    JobSpec(
        "content_factory.tasks.sync_publication_status",
        cf.sync_publication_status,
        "content_default",
        a.NoArgs,
        timeout=300,
        timeout_setting="sync_timeout",
        max_tries=2,
    ),
    JobSpec(
        "content_factory.tasks.cleanup_old_drafts",
        cf.cleanup_old_drafts,
        "content_low",
        a.CleanupDraftsArgs,
        timeout=300,
        max_tries=3,
    ),
    JobSpec("content_factory.tasks.office_heartbeat", cf.office_heartbeat, "content_low", a.NoArgs, timeout=30),
    JobSpec(
        "content_factory.tasks.reconcile_publications",
        cf.reconcile_publications,
        "content_low",
        a.NoArgs,
        timeout=120,
        max_tries=2,
    ),
    JobSpec(
        "content_factory.tasks.handle_failed_task",
        cf.handle_failed_task,
        "content_low",
        a.DeadLetterArgs,
        timeout=60,
        max_tries=10,
    ),
    JobSpec(
        "adolf.tasks.cleanup_job_history",
        common.cleanup_job_history,
        "content_low",
        a.CleanupHistoryArgs,
        timeout=600,
        max_tries=3,
    ),
    # Scout (seed 002 §7)
    JobSpec(
        "scout.tasks.update_trend_data", sc.update_trend_data, "scout_default", a.NoArgs, timeout=3600, max_tries=3
    ),
    JobSpec(
        "scout.tasks.analyze_niche",
        sc.analyze_niche,
        "scout_heavy",
        a.AnalyzeNicheArgs,
        timeout=300,
        max_tries=3,  # 2 retries
        retry_unexpected=True,
        finalize=sc.analyze_niche_failed,
    ),
    JobSpec(
        "scout.tasks.calculate_opportunity_score",
        sc.calculate_opportunity_score,
        "scout_default",
        a.NicheArgs,
        timeout=120,
        max_tries=3,
    ),
    JobSpec(
        "scout.tasks.export_report", sc.export_report, "scout_export", a.ExportReportArgs, timeout=300, max_tries=3
    ),
    JobSpec(
        "scout.tasks.cleanup_old_analyses",
        sc.cleanup_old_analyses,
        "scout_default",
        a.CleanupAnalysesArgs,
        timeout=600,
        max_tries=3,
    ),
    JobSpec("scout.tasks.office_heartbeat", sc.office_heartbeat, "scout_default", a.NoArgs, timeout=30),
)

# Europe/Moscow time (ADOLF_TIMEZONE); each fires once per schedule however many workers run
CRONS: tuple[CronSpec, ...] = (
    CronSpec("content_factory.tasks.cleanup_old_drafts", hour=4, minute=0),  # daily
    CronSpec("content_factory.tasks.sync_publication_status", minute=0),  # hourly
    CronSpec("content_factory.tasks.office_heartbeat", second=0, max_tries=1),  # every minute
    CronSpec("content_factory.tasks.reconcile_publications", minute=set(range(2, 60, 5))),  # every 5 minutes
    CronSpec("adolf.tasks.cleanup_job_history", hour=4, minute=30),  # daily
    CronSpec("scout.tasks.update_trend_data", hour=6, minute=0),  # daily 06:00
    CronSpec("scout.tasks.cleanup_old_analyses", hour=3, minute=0),  # daily 03:00
    CronSpec("scout.tasks.office_heartbeat", second=0, max_tries=1),  # every minute
)

REGISTRY = Registry(JOBS, CRONS)
