import pytest

from adolf.models.jobs import PingArgs
from adolf.workers.catalog import REGISTRY
from adolf.workers.jobs.common import ping
from adolf.workers.registry import CronSpec, JobSpec, Registry, UnknownJob


def test_every_job_sits_on_a_known_lane_and_every_cron_names_a_job():
    assert REGISTRY.jobs
    for cron in REGISTRY.crons:
        assert REGISTRY.job(cron.job).name == cron.job


def test_bad_declarations_fail_loudly():
    with pytest.raises(ValueError, match="unknown lane"):
        JobSpec("x", ping, "fast_lane", PingArgs)
    with pytest.raises(ValueError, match="unique_by"):
        JobSpec("x", ping, "content_low", PingArgs, unique_by="nope")
    spec = JobSpec("x", ping, "content_low", PingArgs)
    with pytest.raises(ValueError, match="twice"):
        Registry([spec, spec])
    with pytest.raises(UnknownJob):
        Registry([spec], [CronSpec("y")])


def test_content_factory_schedules_and_lanes_follow_the_seed():
    crons = {cron.job: cron for cron in REGISTRY.crons}
    cleanup = crons["content_factory.tasks.cleanup_old_drafts"]
    sync = crons["content_factory.tasks.sync_publication_status"]
    heartbeat = crons["content_factory.tasks.office_heartbeat"]
    reconcile = crons["content_factory.tasks.reconcile_publications"]
    assert (cleanup.hour, cleanup.minute, cleanup.second) == (4, 0, 0)  # daily
    assert (reconcile.hour, reconcile.minute) == (None, set(range(2, 60, 5)))  # every 5 minutes
    assert (sync.hour, sync.minute, sync.second) == (None, 0, 0)  # hourly
    assert (heartbeat.hour, heartbeat.minute, heartbeat.second) == (None, None, 0)  # every minute
    lanes = {name: spec.lane for name, spec in REGISTRY.jobs.items()}
    assert lanes == {
        "content_factory.tasks.publish_content": "content_high",
        "content_factory.tasks.retry_publication": "content_high",
        "content_factory.tasks.sync_publication_status": "content_default",
        "content_factory.tasks.cleanup_old_drafts": "content_low",
        "content_factory.tasks.office_heartbeat": "content_low",
        "content_factory.tasks.handle_failed_task": "content_low",
        "content_factory.tasks.reconcile_publications": "content_low",
        "adolf.tasks.cleanup_job_history": "content_low",
        "scout.tasks.update_trend_data": "scout_default",
        "scout.tasks.analyze_niche": "scout_heavy",
        "scout.tasks.calculate_opportunity_score": "scout_default",
        "scout.tasks.export_report": "scout_export",
        "scout.tasks.cleanup_old_analyses": "scout_default",
        "scout.tasks.office_heartbeat": "scout_default",
    }
    publish = REGISTRY.job("content_factory.tasks.publish_content")
    assert (publish.timeout, publish.max_tries, publish.unique_by) == (120, 4, "draft_id")
    assert publish.retry_unexpected and publish.finalize is not None  # seed: unexpected errors retried too


def test_scout_schedules_and_limits_follow_seed_002():
    crons = {cron.job: cron for cron in REGISTRY.crons}
    trends = crons["scout.tasks.update_trend_data"]
    cleanup = crons["scout.tasks.cleanup_old_analyses"]
    heartbeat = crons["scout.tasks.office_heartbeat"]
    assert (trends.hour, trends.minute, trends.second) == (6, 0, 0)
    assert (cleanup.hour, cleanup.minute, cleanup.second) == (3, 0, 0)
    assert (heartbeat.hour, heartbeat.minute, heartbeat.second) == (None, None, 0)
    analyze = REGISTRY.job("scout.tasks.analyze_niche")
    assert (analyze.timeout, analyze.max_tries) == (300, 3)  # 2 retries, 300 s
    assert analyze.retry_unexpected and analyze.finalize is not None


def test_each_lane_runs_its_jobs_and_schedules_under_their_own_names():
    from adolf.workers.engine import lane_specs

    assert {s.name for s in lane_specs("content_low", REGISTRY)} >= {
        "content_factory.tasks.office_heartbeat",
        "adolf.ping",
    }
    assert sorted(c.name for c in REGISTRY.crons_for_lane("content_low")) == [
        "cron:adolf.tasks.cleanup_job_history",
        "cron:content_factory.tasks.cleanup_old_drafts",
        "cron:content_factory.tasks.office_heartbeat",
        "cron:content_factory.tasks.reconcile_publications",
    ]


def test_the_plain_arq_command_gets_one_settings_class_per_lane_naming_every_job():
    import asyncio

    from tests.conftest import make_settings

    policy = asyncio.get_event_loop_policy()
    try:
        from adolf.workers.lanes import arq_settings_class  # sets uvloop's policy, for the arq command
    finally:
        asyncio.set_event_loop_policy(policy)

    cls = arq_settings_class("content_low", make_settings())
    names = {f.name for f in cls.functions}
    assert cls.queue_name == "adolf:queue:content_low" and cls.handle_signals is False
    assert {"content_factory.tasks.office_heartbeat", "cron:content_factory.tasks.cleanup_old_drafts"} <= names
