import pytest

from adolf.workers.retry import backoff_delay


@pytest.mark.parametrize(("failed_try", "base"), [(1, 60), (2, 120), (3, 300), (4, 300), (9, 300)])
def test_delays_follow_the_seed_table_within_jitter(failed_try, base):
    low = backoff_delay(failed_try, uniform=lambda a, b: a)
    high = backoff_delay(failed_try, uniform=lambda a, b: b)
    assert (low, high) == (pytest.approx(base * 0.8), pytest.approx(base * 1.2))


def test_random_jitter_stays_in_bounds():
    delays = [backoff_delay(1) for _ in range(200)]
    assert 48 <= min(delays) and max(delays) <= 72 and len(set(delays)) > 1


def test_a_longer_retry_after_wins_and_a_shorter_one_does_not():
    assert backoff_delay(1, retry_after=500, uniform=lambda a, b: 1.0) == 500
    assert backoff_delay(1, retry_after=5, uniform=lambda a, b: 1.0) == 60


def test_the_policy_retries_recoverable_errors_until_the_last_try():
    from adolf.errors import ApiError, InfraError, InvalidJobArgs, JobTimedOut, RateLimited, ValidationFailed
    from adolf.workers.retry import RetryPolicy

    policy = RetryPolicy((1.0, 2.0, 3.0))
    decide = policy.next_try_in
    assert 0.8 <= decide(ApiError("500"), job_try=1, max_tries=4, retry_unexpected=False) <= 1.2
    assert decide(RateLimited("429", retry_after=40), job_try=2, max_tries=4, retry_unexpected=False) == 40
    assert decide(InfraError("db away"), job_try=3, max_tries=4, retry_unexpected=False) is not None
    assert decide(ApiError("500"), job_try=4, max_tries=4, retry_unexpected=False) is None  # tries used up
    for final in (ValidationFailed("400"), InvalidJobArgs("bad"), JobTimedOut("120 s")):
        assert decide(final, job_try=1, max_tries=4, retry_unexpected=True) is None
    bug = ZeroDivisionError("division by zero")
    assert decide(bug, job_try=1, max_tries=4, retry_unexpected=False) is None
    assert decide(bug, job_try=1, max_tries=4, retry_unexpected=True) is not None
    assert decide(ConnectionResetError(), job_try=1, max_tries=2, retry_unexpected=False) is not None  # infra


def test_a_failure_code_maps_back_to_its_error_class():
    from adolf.errors import RateLimited, RetryLater, ValidationFailed, is_recoverable, marketplace_error

    assert isinstance(marketplace_error("VALIDATION_ERROR", "bad title"), ValidationFailed)
    limited = marketplace_error("RATE_LIMIT", "429", retry_after=7)
    assert isinstance(limited, RateLimited) and limited.retry_after == 7 and limited.recoverable
    unknown = marketplace_error("SOMETHING_NEW", "?")
    assert isinstance(unknown, RetryLater) and unknown.cause_code == "SOMETHING_NEW"
    assert [is_recoverable(c) for c in ("RATE_LIMIT", "TIMEOUT", "API_ERROR", "INFRA_ERROR")] == [True] * 4
    assert [is_recoverable(c) for c in ("VALIDATION_ERROR", "NOT_FOUND", "AUTH_ERROR", None)] == [False] * 4
