"""The benchmark's HTTP load generator, against a real server on the test database."""

from collections.abc import Iterator
from typing import Any

import pytest

from apps.bench.load import Target, closed_loop, paced, post_all
from tests import servers

HEALTH = Target("localhost", "", "/healthz")


@pytest.fixture(scope="module")
def port(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    with django_db_blocker.unblock(), servers.asgi_server() as port:
        yield port


@pytest.mark.slow
def test_a_closed_loop_counts_every_answer(port: int) -> None:
    result = closed_loop(lambda n: HEALTH, port, clients=2, seconds=0.5)

    assert result["n"] > 0
    assert result["errors"] == 0
    assert result["per_s"] > 0


@pytest.mark.slow
def test_a_paced_run_sends_exactly_rate_times_seconds(port: int) -> None:
    result = paced(lambda n: HEALTH, port, rate=40, seconds=0.5)

    assert result["n"] == 20
    assert result["errors"] == 0


@pytest.mark.slow
def test_refused_requests_are_errors(port: int) -> None:
    nowhere = Target("no-such-clinic.localhost", "", "/api/v1/appointments/")

    result = post_all(nowhere, port, [{"doctor": 1}] * 3, clients=2)

    assert result["errors"] == 3
    assert result["statuses"] == {"404": 3}
    wrong_path = closed_loop(lambda n: nowhere, port, clients=1, seconds=0.2)
    assert wrong_path["errors"] == wrong_path["n"] > 0
