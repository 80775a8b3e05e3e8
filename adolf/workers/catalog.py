"""Every job and schedule of the product. Adding a job is one entry here, its contract (name, lane, argument model)
in adolf/job_contracts.py, and its handler."""

from __future__ import annotations

from adolf import job_contracts as jc
from adolf.services import publishing
from adolf.workers.jobs import common
from adolf.workers.jobs import content_factory as cf
from adolf.workers.jobs import scout as sc
from adolf.workers.registry import CronSpec, JobSpec, Registry

JOBS: tuple[JobSpec, ...] = (
    # Content Factory (seed 000 §7)
    JobSpec.bind(
        jc.PUBLISH_CONTENT,
        cf.publish_content,
        timeout=120,
        timeout_setting="publish_hard_timeout",
        max_tries=4,
        retry_unexpected=True,
        finalize=cf.publish_content_failed,
        on_final_failure=publishing.fail_after_job_failure,
    ),
    JobSpec.bind(
        jc.RETRY_PUBLICATION,
        cf.retry_publication,
        timeout=30,
        max_tries=3,
    ),
    JobSpec.bind(
        jc.SYNC_PUBLICATION_STATUS,
        cf.sync_publication_status,
        timeout=300,
        timeout_setting="sync_timeout",
        max_tries=2,
    ),
    JobSpec.bind(
        jc.CLEANUP_OLD_DRAFTS,
        cf.cleanup_old_drafts,
        timeout=300,
        max_tries=3,
    ),
    JobSpec.bind(jc.CONTENT_OFFICE_HEARTBEAT, cf.office_heartbeat, timeout=30),
    JobSpec.bind(
        jc.RECONCILE_PUBLICATIONS,
        cf.reconcile_publications,
        timeout=120,
        max_tries=2,
    ),
    JobSpec.bind(
        jc.HANDLE_FAILED_TASK,
        cf.handle_failed_task,
        timeout=60,
        max_tries=10,
    ),
    JobSpec.bind(
        jc.CLEANUP_JOB_HISTORY,
        common.cleanup_job_history,
        timeout=600,
        max_tries=3,
    ),
    # Scout (seed 002 §7)
    JobSpec.bind(jc.UPDATE_TREND_DATA, sc.update_trend_data, timeout=3600, max_tries=3),
    JobSpec.bind(
        jc.ANALYZE_NICHE,
        sc.analyze_niche,
        timeout=300,
        max_tries=3,  # 2 retries
        retry_unexpected=True,
        finalize=sc.analyze_niche_failed,
    ),
    JobSpec.bind(
        jc.CALCULATE_OPPORTUNITY_SCORE,
        sc.calculate_opportunity_score,
        timeout=120,
        max_tries=3,
    ),
    JobSpec.bind(jc.EXPORT_REPORT, sc.export_report, timeout=300, max_tries=3),
    JobSpec.bind(
        jc.CLEANUP_OLD_ANALYSES,
        sc.cleanup_old_analyses,
        timeout=600,
        max_tries=3,
    ),
    JobSpec.bind(jc.SCOUT_OFFICE_HEARTBEAT, sc.office_heartbeat, timeout=30),
)

# Europe/Moscow time (ADOLF_TIMEZONE); each fires once per schedule however many workers run
CRONS: tuple[CronSpec, ...] = (
    CronSpec(jc.CLEANUP_OLD_DRAFTS.name, hour=4, minute=0),  # daily
    CronSpec(jc.SYNC_PUBLICATION_STATUS.name, minute=0),  # hourly
    CronSpec(jc.CONTENT_OFFICE_HEARTBEAT.name, second=0, max_tries=1),  # every minute
    CronSpec(jc.RECONCILE_PUBLICATIONS.name, minute=set(range(2, 60, 5))),  # every 5 minutes
    CronSpec(jc.CLEANUP_JOB_HISTORY.name, hour=4, minute=30),  # daily
    CronSpec(jc.UPDATE_TREND_DATA.name, hour=6, minute=0),  # daily 06:00
    CronSpec(jc.CLEANUP_OLD_ANALYSES.name, hour=3, minute=0),  # daily 03:00
    CronSpec(jc.SCOUT_OFFICE_HEARTBEAT.name, second=0, max_tries=1),  # every minute
)

REGISTRY = Registry(JOBS, CRONS)
