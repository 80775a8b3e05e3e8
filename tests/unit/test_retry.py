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
