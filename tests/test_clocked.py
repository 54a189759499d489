"""The clock the browser tests share with their servers (tests/clocked.py): a server started
in `clinic_time` answers on the test's clock, not the machine's."""

import http.client
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie

import pytest
from django.conf import settings

from tests import servers
from tests.clocked import clinic_time

pytestmark = pytest.mark.slow


def served_at(port: int) -> datetime:
    """The server's clock: its CSRF cookie expires a known time after it is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/signup/", headers={"Host": "localhost"})
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    cookie = SimpleCookie()
    for header, value in answer.getheaders():
        if header.lower() == "set-cookie":
            cookie.load(value)
    csrf = cookie[settings.CSRF_COOKIE_NAME]
    expires = parsedate_to_datetime(csrf["expires"])
    return expires - timedelta(seconds=int(csrf["max-age"]))


def test_a_server_started_in_clinic_time_keeps_the_tests_clock() -> None:
    at = datetime(2031, 3, 5, 10, tzinfo=UTC)
    with servers.asgi_server() as port:
        assert abs(served_at(port) - datetime.now(UTC)) < timedelta(seconds=30)
    with clinic_time(at) as env:
        assert abs(datetime.now(UTC) - at) < timedelta(seconds=5)
        with servers.asgi_server(**env) as port:
            assert abs(served_at(port) - datetime.now(UTC)) < timedelta(seconds=30)
    # Outside, this process is back on the machine's clock.
    assert datetime.now(UTC) < at - timedelta(days=365)
