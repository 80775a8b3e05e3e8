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
