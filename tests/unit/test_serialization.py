import pickle
from datetime import UTC, datetime
from uuid import uuid4

import orjson
import pytest
from arq.jobs import deserialize_job_raw, deserialize_result, serialize_result

from adolf.errors import ValidationFailed
from adolf.serialization import JobFailed, deserialize, serialize


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle executed')",))


def test_job_payload_round_trips_as_json():
    draft_id = uuid4()
    raw = serialize(
        {"f": "x", "a": [1], "k": {"draft_id": draft_id, "at": datetime(2026, 1, 1, tzinfo=UTC)}, "t": None, "et": 0}
    )
    assert raw.startswith(b"{")
    assert deserialize(raw)["k"] == {"draft_id": str(draft_id), "at": "2026-01-01T00:00:00+00:00"}


def test_a_pickled_payload_is_rejected_without_being_executed():
    with pytest.raises(Exception) as caught:
        deserialize_job_raw(pickle.dumps({"f": Boom(), "a": (), "k": {}, "t": 1, "et": 0}), deserializer=deserialize)
    assert type(caught.value).__name__ == "DeserializationError"


def test_a_json_payload_that_is_not_an_object_is_rejected():
    with pytest.raises(TypeError):
        deserialize(b"[1, 2]")


def test_a_failed_result_comes_back_as_job_failed_with_its_code():
    raw = serialize_result(
        "publish", (), {}, 2, 0, False, ValidationFailed("title too long"), 0, 1, "ref", "q", "id", serializer=serialize
    )
    result = deserialize_result(raw, deserializer=deserialize)
    assert isinstance(result.result, JobFailed)
    assert (result.result.type_name, result.result.message, result.result.code) == (
        "ValidationFailed",
        "title too long",
        "VALIDATION_ERROR",
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"f": "x", "a": [], "k": {}, "t": "1", "et": 1},
        {"f": ["x"], "a": [], "k": {}, "t": 1, "et": 1},
        {"f": "x", "a": [], "k": [], "t": 1, "et": 1},
        {"f": "x", "a": {}, "k": {}, "t": 1, "et": 1},
        {"f": "x", "a": [], "k": {}, "t": 1, "et": "1"},
        {"f": "x", "a": [], "k": {}, "t": True, "et": 1},
        {"f": "x", "a": [], "k": {}},
    ],
)
def test_a_job_payload_with_wrongly_typed_fields_is_refused(payload):
    with pytest.raises(TypeError, match="job payload field"):
        deserialize(orjson.dumps(payload))
