"""The web process over ASGI, against the real database: daphne alone, and as deployed (nginx
in front of a gunicorn uvicorn worker)."""

import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from tests import servers

APP_NAME = "mymedic-web-under-test"


def server_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return {pid for (pid,) in cursor.fetchall()}


def get_healthz(port: int, times: int) -> None:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(times):
            client.request("GET", "/healthz")
            response = client.getresponse()
            response.read()
            assert response.status == 200
    finally:
        client.close()


@contextmanager
def proxied(**env: str) -> Iterator[int]:
    with servers.proxied_server(workers=1, env=env) as server:
        yield server.port


@pytest.mark.slow
@pytest.mark.parametrize("serve", [servers.asgi_server, proxied], ids=["daphne", "nginx-gunicorn"])
def test_requests_reuse_pooled_database_connections(
    django_db_setup: Any, django_db_blocker: Any, serve: Any
) -> None:
    # Under ASGI, Django's own persistent connections are never reused: without the pool every
    # request opened (and dropped) a PostgreSQL connection of its own.
    with django_db_blocker.unblock(), serve(PGAPPNAME=APP_NAME) as port:
        get_healthz(port, 20)
        first = server_backends()
        get_healthz(port, 20)
        later = server_backends()

    assert first, "the server keeps a connection open between requests"
    assert later == first
