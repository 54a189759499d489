"""The per-user API throttle adds a busy caller's requests to Redis in batches (a hundredth of
the limit, at least once a second, one by one near the limit): one process is exact at the
limit, several exceed it by at most a batch each (apps/core/counters.py `BatchedCounts`)."""

import time
import uuid

from django.core.cache import cache

from apps.core.counters import BatchedCounts


def _key() -> str:
    return f"throttle_test_{uuid.uuid4().hex}"


def test_a_busy_key_reaches_redis_once_a_batch() -> None:
    counts, key = BatchedCounts(), _key()

    admitted = [counts.admit(key, 60, 10_000) for _ in range(250)]

    assert admitted == [True] * 250
    assert cache.get(key) == 201  # the 1st, the 101st and the 201st request counted in Redis


def test_a_batch_reaches_redis_within_a_second_however_few_requests_follow() -> None:
    counts, key = BatchedCounts(), _key()
    for _ in range(5):
        counts.admit(key, 60, 10_000)
    assert cache.get(key) == 1

    time.sleep(BatchedCounts.SYNC_SECONDS + 0.05)
    counts.admit(key, 60, 10_000)

    assert cache.get(key) == 6


def test_one_process_admits_exactly_the_limit() -> None:
    counts, key = BatchedCounts(), _key()

    admitted = [counts.admit(key, 60, 1_000) for _ in range(1_100)]

    assert admitted == [True] * 1_000 + [False] * 100


def test_processes_exceed_the_limit_by_at_most_a_batch_each() -> None:
    processes, key, limit = [BatchedCounts() for _ in range(3)], _key(), 1_000
    batch = limit // BatchedCounts.SHARE

    admitted = sum(process.admit(key, 60, limit) for _ in range(500) for process in processes)

    assert limit <= admitted <= limit + len(processes) * batch


def test_a_small_limit_is_counted_request_by_request() -> None:
    counts, key = BatchedCounts(), _key()

    admitted = [counts.admit(key, 60, 50) for _ in range(51)]

    assert admitted == [True] * 50 + [False]
    assert cache.get(key) == 51


def test_a_refused_caller_is_admitted_again_when_the_window_closes() -> None:
    counts, key = BatchedCounts(), _key()
    assert [counts.admit(key, 1, 3) for _ in range(4)] == [True, True, True, False]

    time.sleep(1.1)

    assert counts.admit(key, 1, 3) is True
