"""The benchmark's HTTP load generator, against a real server on the test database."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.bench.load import Target, closed_loop, paced, post_all, proxied_web, wrk
from tests import servers
from tests.conftest import subprocess_env

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


@pytest.mark.slow
def test_wrk_reports_rate_latency_and_refusals(port: int) -> None:
    served = wrk(HEALTH, port, connections=2, seconds=1)
    refused = wrk(Target("no-such-clinic.localhost", "", "/api/"), port, connections=2, seconds=1)

    assert served["per_s"] > 0
    assert 0 < served["p50_ms"] <= served["p90_ms"] <= served["p99_ms"]
    assert served["non_2xx"] == 0
    assert refused["non_2xx"] > 0


@pytest.mark.slow
def test_the_proxied_shape_starts_its_workers_and_stops_them(django_db_setup: Any) -> None:
    with proxied_web(1, env=subprocess_env()) as web:
        [worker] = web.worker_pids()
        memory = web.memory()
        status = closed_loop(lambda n: HEALTH, web.port, clients=1, seconds=0.2)

    assert status["errors"] == 0
    assert memory["web_workers_peak_rss_mb"][0] > 0
    assert memory["nginx_peak_rss_mb"]
    assert not Path(f"/proc/{worker}").exists()
    assert web.web.popen.poll() is not None
    assert web.nginx.popen.poll() is not None
