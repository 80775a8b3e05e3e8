"""Every job's result has one shape, its model in adolf/models/results.py; the job wrapper checks each finished job's
result against it, and the tests' autouse `result_shapes` fixture fails any test whose jobs return another shape."""

from uuid import uuid4

import pydantic
import pytest

from adolf.models.jobs import PublishContentArgs, result_failure
from adolf.models.results import (
    RESULT_MODELS,
    AnalyzeNicheResult,
    CleanupDraftsResult,
    JobResult,
    PublishContentResult,
    shape_problem,
)
from adolf.models.scout import AnalysisResult
from adolf.workers.catalog import REGISTRY
from adolf.workers.context import JobContext
from adolf.workers.engine import ping_spec
from adolf.workers.registry import JobSpec, Registry
from tests.support.factories import USER_ID

PUBLISH = "content_factory.tasks.publish_content"


def test_every_job_the_worker_runs_has_a_result_model_and_no_model_names_another():
    assert set(RESULT_MODELS) == {*REGISTRY.jobs, ping_spec("content_low").name}
    assert all(issubclass(model, JobResult) for model in RESULT_MODELS.values())


def test_an_analysis_result_carries_every_field_of_the_analysis_document():
    assert set(AnalysisResult.model_fields) <= set(AnalyzeNicheResult.model_fields)


def test_a_failure_has_a_code_and_a_message_and_a_success_has_neither():
    failed = PublishContentResult.failure("DRAFT_NOT_FOUND", "Draft not found").wire()
    assert failed == {
        "success": False,
        "error_code": "DRAFT_NOT_FOUND",
        "error_message": "Draft not found",
        "publication_id": None,
        "nm_id": None,
        "already_published": False,
        "retries_exhausted": False,
    }
    assert PublishContentResult.failure("TIMEOUT", "").error_message == "TIMEOUT"  # never without a text
    with pytest.raises(pydantic.ValidationError, match="error_code and an error_message"):
        PublishContentResult(success=False, error_message="no code")
    with pytest.raises(pydantic.ValidationError, match="no error_code"):
        PublishContentResult(success=True, error_code="RATE_LIMIT")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        PublishContentResult.failure("DRAFT_NOT_FOUND", "Draft not found", error="DRAFT_NOT_FOUND")


def test_only_a_models_own_json_form_passes_the_shape_check():
    publication_id = uuid4()
    good = PublishContentResult(success=True, publication_id=publication_id, nm_id="1").wire()
    assert shape_problem(PUBLISH, good) is None
    assert "error: Extra inputs" in str(shape_problem(PUBLISH, {"success": False, "error": "DRAFT_NOT_FOUND"}))
    assert "missing already_published" in str(shape_problem(PUBLISH, {k: v for k, v in good.items() if k[0] != "a"}))
    assert "publication_id" in str(shape_problem(PUBLISH, {**good, "publication_id": publication_id}))  # not JSON
    assert "not a" in str(shape_problem(PUBLISH, None))
    counts = {"archived_drafts": 1, "deleted_drafts": 0, "deleted_generations": 0}
    assert "success" in str(shape_problem("content_factory.tasks.cleanup_old_drafts", counts))
    assert (
        shape_problem("content_factory.tasks.cleanup_old_drafts", CleanupDraftsResult(success=True, **counts).wire())
        is None
    )
    assert shape_problem("tests.echo", {"value": 1}) is None  # a job without a model is not checked


def test_result_failure_reads_the_one_shape():
    failed = PublishContentResult.failure("AUTH_ERROR", "set ADOLF_WB_TOKEN").wire()
    assert result_failure(failed) == ("AUTH_ERROR", "set ADOLF_WB_TOKEN")
    assert result_failure(PublishContentResult(success=True).wire()) is None
    assert result_failure({"success": False}) == ("FAILED", "FAILED")
    assert result_failure("done") is None


async def _old_shape(job: JobContext, args: PublishContentArgs) -> dict[str, object]:
    return {"success": False, "error": "DRAFT_NOT_FOUND"}


async def test_a_job_returning_another_shape_is_told_loudly_but_not_failed_for_it(client, burst, result_shapes):
    registry = Registry([JobSpec(PUBLISH, _old_shape, "content_high", PublishContentArgs)])
    job = await client.publish_content(draft_id=uuid4(), user_id=USER_ID)
    group = await burst(["content_high"], registry=registry)

    info = await job.result_info()
    assert info.success and info.result == {"success": False, "error": "DRAFT_NOT_FOUND"}  # delivered as it was
    assert group.workers["content_high"].jobs_retried == 0
    [problem] = result_shapes
    assert problem.startswith(f"RESULT_SHAPE job {PUBLISH} ") and "error: Extra inputs are not permitted" in problem
    result_shapes.clear()  # provoked on purpose: the autouse check would fail this test otherwise
