"""Slow and greedy clients meet nginx, not a web worker (security: transport).

daphne alone held connections with incomplete headers open for as long as the client liked;
the proxy in front (mymedic/proxy.py) gives headers a deadline, refuses bodies over the
application's cap before reading them, and caps the requests one address has in progress.
"""

import http.client
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from mymedic import gunicorn
from mymedic.proxy import UPSTREAM_KEEPALIVE_SECONDS
from tests import servers

pytestmark = [pytest.mark.slow, pytest.mark.timing, pytest.mark.timeout(120)]

HEADER_DEADLINE = 2
BODY_DEADLINE = 1
PER_ADDRESS = 4


@pytest.fixture(autouse=True)
def monday_morning() -> None:
    """Real time here (not the security tests' frozen Monday): these tests time deadlines."""


@pytest.fixture(scope="module")
def proxy(django_db_setup: Any) -> Iterator[servers.Proxied]:
    with servers.proxied_server(
        workers=1,
        header_timeout=HEADER_DEADLINE,
        body_timeout=BODY_DEADLINE,
        connections_per_address=PER_ADDRESS,
    ) as proxied:
        yield proxied


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server ends the connection (EOF or reset) before our timeout."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_incomplete_headers_are_cut_off_at_the_deadline_while_others_are_served(
    proxy: servers.Proxied,
) -> None:
    sent = time.monotonic()
    slow = [connect(proxy.port) for _ in range(20)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        status, _ = get(proxy.port, "/healthz")
        answered = time.monotonic() - sent
        closed = [closed_by_server(sock) for sock in slow]
        all_closed = time.monotonic() - sent
    finally:
        for sock in slow:
            sock.close()

    assert status == 200
    assert answered < HEADER_DEADLINE  # served while the twenty were still being held
    assert closed == [True] * 20
    # Measured: all twenty closed 2.0 s after they were opened; /healthz answered in 0.005 s.
    assert all_closed < HEADER_DEADLINE + 4


def test_a_stalled_body_is_cut_off_at_its_deadline_without_reaching_the_app(
    proxy: servers.Proxied,
) -> None:
    with connect(proxy.port) as sock:
        sock.sendall(
            b"POST /api/v1/patients/search/ HTTP/1.1\r\nHost: acme.localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        opened = time.monotonic()
        closed = closed_by_server(sock)  # reset: reset_timedout_connection
        cut_off = time.monotonic() - opened

    assert closed
    assert BODY_DEADLINE <= cut_off < BODY_DEADLINE + 4  # measured: 1.0 s
    assert "/api/v1/patients/search/" not in proxy.web_log.read_text()


def test_a_body_over_the_cap_is_refused_by_the_proxy_without_reaching_the_app(
    proxy: servers.Proxied,
) -> None:
    cap = settings.MYMEDIC_MAX_BODY_BYTES
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/v1/appointments/", skip_host=True)
        conn.putheader("Host", "acme.localhost")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(cap + 1))
        conn.endheaders()  # the body never follows: the declared length is enough
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()

    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    assert f"at most {cap} bytes".encode() in body

    def logged_without_upstream() -> bool:  # nginx writes the line once the connection ends
        return any(
            '"POST /api/v1/appointments/ HTTP/1.1" 413' in line and "upstream=-/-" in line
            for line in proxy.access_log.read_text().splitlines()
        )

    servers.wait_until(logged_without_upstream, 10, "nginx's 413 line, no upstream asked")
    assert "/api/v1/appointments/" not in proxy.web_log.read_text()


def test_a_streamed_body_is_cut_off_at_the_cap_by_the_proxy(proxy: servers.Proxied) -> None:
    cap = settings.MYMEDIC_MAX_BODY_BYTES
    chunk = b"x" * 65536
    with connect(proxy.port) as sock:
        sock.sendall(
            b"POST /api/v1/patients/search/ HTTP/1.1\r\nHost: acme.localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            for _ in range(cap // len(chunk) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while we were still sending
        answer = sock.recv(4096)

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert "/api/v1/patients/search/" not in proxy.web_log.read_text()


def test_pages_and_uploads_keep_their_own_caps(proxy: servers.Proxied) -> None:
    upload = settings.MYMEDIC_UPLOAD_PATHS[0]

    def declared(path: str, length: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        try:
            conn.putrequest("POST", path, skip_host=True)
            conn.putheader("Host", "acme.localhost")
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            return conn.getresponse().status
        except (http.client.HTTPException, OSError):
            return 0  # nginx waited for the body that never came and gave up
        finally:
            conn.close()

    assert declared("/login/", settings.MYMEDIC_MAX_BODY_BYTES + 1) == 413
    assert declared(upload, settings.MYMEDIC_MAX_UPLOAD_BYTES + 1) == 413


def test_requests_over_the_per_address_cap_are_refused(proxy: servers.Proxied) -> None:
    held = [connect(proxy.port) for _ in range(PER_ADDRESS)]
    try:
        for sock in held:  # headers done, body pending: each is a request in progress
            sock.sendall(
                b"POST /api/v1/appointments/ HTTP/1.1\r\nHost: acme.localhost\r\n"
                b"Content-Length: 100\r\n\r\n"
            )
        time.sleep(0.2)
        refused, _ = get(proxy.port, "/healthz")
    finally:
        for sock in held:
            sock.close()

    def served() -> bool:
        return get(proxy.port, "/healthz")[0] == 200

    assert refused == 429
    servers.wait_until(served, 5, "the address's requests to end")


def test_the_proxy_serves_static_files_itself(proxy: servers.Proxied) -> None:
    (proxy.static_root / "probe.txt").write_text("from nginx")
    (proxy.static_root / "probe.txt").chmod(0o644)

    status, body = get(proxy.port, "/static/probe.txt")

    assert (status, body) == (200, b"from nginx")
    assert "/static/probe.txt" not in proxy.web_log.read_text()


def test_the_app_sees_the_client_address_the_proxy_forwards(proxy: servers.Proxied) -> None:
    # A client at 127.0.0.2 (not a proxy of ours) claims to be someone else.
    conn = http.client.HTTPConnection(
        "127.0.0.1", proxy.port, timeout=10, source_address=("127.0.0.2", 0)
    )
    try:
        conn.request("GET", "/healthz?phone=9812345678", headers={"X-Forwarded-For": "6.6.6.6"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()

    app_log = proxy.web_log.read_text()
    assert re.search(r"GET /healthz 200 [\d.]+ms 127\.0\.0\.2$", app_log, re.MULTILINE)
    assert "6.6.6.6" not in app_log
    servers.wait_until(
        lambda: "127.0.0.2 [" in proxy.access_log.read_text(), 10, "nginx's line for the client"
    )
    assert "9812345678" not in app_log + proxy.access_log.read_text()


def established_to(port: int) -> int:
    """Established TCP connections to 127.0.0.1:`port` on this machine (/proc/net/tcp)."""
    target = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[2] == target and line.split()[3] == "01")


def test_the_proxy_reuses_its_connections_to_the_web_workers(proxy: servers.Proxied) -> None:
    # Twenty clients one after another: nginx keeps its connections to the workers open for
    # the next request instead of a TCP handshake (and a closed socket) per request.
    for _ in range(20):
        assert get(proxy.port, "/healthz")[0] == 200

    assert established_to(proxy.web_port) >= 1
    assert gunicorn.keepalive > UPSTREAM_KEEPALIVE_SECONDS
