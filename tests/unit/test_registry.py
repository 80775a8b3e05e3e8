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
    }
    publish = REGISTRY.job("content_factory.tasks.publish_content")
    assert (publish.timeout, publish.max_tries, publish.unique_by) == (120, 4, "draft_id")
    assert publish.retry_unexpected and publish.finalize is not None  # seed: unexpected errors retried too


def test_cron_jobs_are_registered_in_moscow_time_with_their_own_names():
    from adolf.workers.engine import worker_kwargs
    from adolf.workers.serialization import JobSerializer
    from tests.conftest import make_settings

    settings = make_settings()
    kwargs = worker_kwargs("content_low", settings, REGISTRY, JobSerializer())
    assert str(kwargs["timezone"]) == "Europe/Moscow"
    assert sorted(c.name for c in kwargs["cron_jobs"]) == [
        "cron:content_factory.tasks.cleanup_old_drafts",
        "cron:content_factory.tasks.office_heartbeat",
        "cron:content_factory.tasks.reconcile_publications",
    ]
    assert {f.name for f in kwargs["functions"]} >= {"content_factory.tasks.office_heartbeat", "adolf.ping"}
    # seed: result_expires=86400 -- results of every job and cron run stay readable by id for 24 h
    assert kwargs["keep_result"] == 86_400
    assert {f.keep_result_s for f in kwargs["functions"]} | {c.keep_result_s for c in kwargs["cron_jobs"]} == {86_400}


def test_the_plain_arq_command_runs_fewer_jobs_at_once_unless_told_otherwise():
    from adolf.workers.engine import PLAIN_ARQ_DEFAULT_MAX_JOBS, worker_kwargs
    from adolf.workers.serialization import JobSerializer
    from tests.conftest import make_settings

    settings = make_settings()
    assert worker_kwargs("content_high", settings, REGISTRY, JobSerializer())["max_jobs"] == 5000
    plain = worker_kwargs("content_high", settings, REGISTRY, JobSerializer(), plain_arq=True)
    assert plain["max_jobs"] == PLAIN_ARQ_DEFAULT_MAX_JOBS
    told = make_settings(concurrency={"content_high": 3000})
    assert worker_kwargs("content_high", told, REGISTRY, JobSerializer(), plain_arq=True)["max_jobs"] == 3000
