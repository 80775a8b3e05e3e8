import os
import pickle
from uuid import uuid4

from arq.jobs import Job

from adolf.lanes import LANES
from adolf.serialization import JobFailed, deserialize
from tests.support.waiting import eventually


class Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


async def test_a_pickle_payload_planted_in_the_queue_runs_nothing_and_fails_cleanly(redis, db, lane_group, tmp_path):
    marker = tmp_path / f"pwned-{uuid4().hex}"
    job_id = "planted-" + uuid4().hex
    queue = LANES["content_low"].queue
    payload = pickle.dumps({"f": "tests.echo", "a": (), "k": {"value": Exploit(str(marker))}, "t": 1, "et": 0})
    await redis.set(f"arq:job:{job_id}", payload)
    await redis.zadd(queue, {job_id: 1})

    await lane_group(["content_low"])

    result = await eventually(lambda: Job(job_id, redis, _deserializer=deserialize).result_info(), what="result")
    assert result.success is False and isinstance(result.result, JobFailed)
    assert result.result.type_name == "UndecodableJob"
    assert not marker.exists()
    row = await eventually(
        lambda: db.fetchrow("SELECT * FROM failed_jobs WHERE job_id = $1", job_id), what="failed_jobs row"
    )
    assert (row["error_code"], row["job_name"]) == ("UNDECODABLE_JOB", "<unknown>")
    assert await redis.zscore(queue, job_id) is None  # (a cron slot of the lane may be queued meanwhile)

    follow_up = await redis.enqueue_job("tests.echo", value=1, _queue_name=queue)
    assert (await follow_up.result(timeout=10, poll_delay=0.05))["value"] == 1


async def test_a_well_formed_payload_with_wrong_field_types_fails_cleanly_and_the_worker_keeps_serving(
    redis, db, lane_group
):
    queue = LANES["content_low"].queue
    job_id = "mistyped-" + uuid4().hex
    await redis.set(f"arq:job:{job_id}", b'{"f": "tests.echo", "a": [], "k": {}, "t": "1", "et": 1}')
    await redis.zadd(queue, {job_id: 1})

    await lane_group(["content_low"])

    result = await eventually(lambda: Job(job_id, redis, _deserializer=deserialize).result_info(), what="result")
    assert result.success is False and result.result.type_name == "UndecodableJob"
    row = await eventually(
        lambda: db.fetchrow("SELECT * FROM failed_jobs WHERE job_id = $1", job_id), what="failed_jobs row"
    )
    assert row["error_code"] == "UNDECODABLE_JOB"
    follow_up = await redis.enqueue_job("tests.echo", value=2, _queue_name=queue)
    assert (await follow_up.result(timeout=10, poll_delay=0.05))["value"] == 2
