"""The web process stopped or restarted under load (fault domain: shutdown and restarts).

SIGTERM lets a request in progress finish; SIGHUP replaces gunicorn's workers while the
listening socket stays open; nginx in front keeps every client connection. A booking that was
answered 2xx is in the database, and nothing is booked twice.
"""

import http.client
import itertools
import json
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.clinic import tokens
from apps.clinic.models import Branch, User
from apps.eventstore.locks import APPEND_LOCK_CLASS
from apps.scheduling import commands
from apps.scheduling.models import Appointment
from apps.tenants.models import Tenant
from tests import servers
from tests.clock import IST

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(180)]

RETRYABLE = {502, 503, 504}


@dataclass
class Desk:
    """A tenant's doctor who works around the clock, a patient, and an owner's token."""

    host: str
    token: str
    doctor: int
    patient: int
    slots: Any = field(default_factory=lambda: itertools.count())

    def body(self) -> dict[str, Any]:
        """A booking of the next free slot (143 a day: 00:00 to 23:40)."""
        day, slot = divmod(next(self.slots), 143)
        start = datetime(2027, 1, 4, tzinfo=IST) + timedelta(days=day, minutes=10 * slot)
        return {
            "doctor": self.doctor,
            "patient": self.patient,
            "start": start.isoformat(),
            "confirm_duplicate": True,
        }


def open_desk(tenant: Tenant) -> Desk:
    branch = Branch.objects.get()
    doctor = commands.doctor_add(
        actor=None, branch=branch, name="Dr. Restart", specialty="GP", slot_minutes=10,
        consultation_fee=Decimal("300"),
        weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:50"} for d in range(7)],
    )  # fmt: skip
    patient = commands.patient_register(actor=None, name="R", phone="+919800000088")
    token = tokens.mint(User.objects.get(role="owner"))
    return Desk(f"{tenant.slug}.localhost", token, doctor.pk, patient.pk)


def book(conn: http.client.HTTPConnection, desk: Desk, body: dict[str, Any], key: str) -> Any:
    conn.request(
        "POST",
        "/api/v1/appointments/",
        body=json.dumps(body),
        headers={
            "Host": desk.host,
            "Authorization": f"Token {desk.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    response = conn.getresponse()
    body = response.read()
    if response.getheader("Content-Type") != "application/json":
        return response.status, None  # nginx's own page for a 502
    return response.status, json.loads(body)


def test_sigterm_lets_a_booking_in_progress_finish(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with (
        django_db_blocker.unblock(),
        schema_context(committed_tenant.schema_name),
        servers.proxied_server(workers=1) as proxied,
    ):
        desk = open_desk(committed_tenant)
        answers: list[Any] = []
        with connection.cursor() as cursor:
            # Hold the tenant's append lock so the booking waits inside the web worker.
            cursor.execute(
                "SELECT pg_advisory_lock(%s, hashtext(%s))",
                [APPEND_LOCK_CLASS, committed_tenant.schema_name],
            )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proxied.port, timeout=60)
                client = threading.Thread(
                    target=lambda: answers.append(book(conn, desk, desk.body(), "drain-1"))
                )
                client.start()

                def waiting() -> bool:
                    cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    return bool(cursor.fetchone()[0])

                servers.wait_until(waiting, 20, "the booking to wait for the lock")
                proxied.web.send_signal(signal.SIGTERM)
                time.sleep(1)
                still_draining = proxied.web.poll() is None
                new_requests = servers.healthz(proxied.port)
            finally:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))",
                    [APPEND_LOCK_CLASS, committed_tenant.schema_name],
                )
            client.join(30)
            conn.close()
            exit_code = proxied.web.wait(30)
        [(status, booked)] = answers

        assert still_draining  # the master waited for its worker's request
        assert new_requests == 502  # nobody listens any more: nginx says so
        assert status == 201
        assert Appointment.objects.filter(pk=booked["id"]).exists()
        assert exit_code == 0


def serving(proxied: servers.Proxied, count: int, old: frozenset[int] = frozenset()) -> bool:
    """`count` workers, none of `old`, each of which has started serving."""
    now, log = proxied.web_workers(), proxied.web_log.read_text()
    return (
        len(now) == count
        and not now & old
        and all(f"Started server process [{pid}]" in log for pid in now)
    )


def restart_all_at_once(proxied: servers.Proxied) -> None:
    """SIGHUP: gunicorn starts new workers (new code) and stops the old ones gracefully."""
    old = frozenset(proxied.web_workers())
    proxied.web.send_signal(signal.SIGHUP)
    servers.wait_until(lambda: serving(proxied, len(old), old), 60, "the new workers")


def restart_worker_by_worker(proxied: servers.Proxied) -> None:
    """SIGTTIN adds a worker; once it serves, SIGTTOU stops the oldest: never one fewer."""
    old = frozenset(proxied.web_workers())
    for replaced in range(1, len(old) + 1):
        proxied.web.send_signal(signal.SIGTTIN)

        def one_more(replaced: int = replaced) -> bool:
            return len(proxied.web_workers() - old) == replaced and serving(proxied, len(old) + 1)

        servers.wait_until(one_more, 60, "one more worker")
        proxied.web.send_signal(signal.SIGTTOU)
        servers.wait_until(
            lambda: len(proxied.web_workers()) == len(old), 60, "the oldest worker to stop"
        )
    assert not proxied.web_workers() & old


@pytest.mark.parametrize("restart", [restart_all_at_once, restart_worker_by_worker])
def test_a_rolling_restart_under_booking_load_loses_no_acknowledged_booking(
    committed_tenant: Tenant, django_db_blocker: Any, restart: Any
) -> None:
    with (
        django_db_blocker.unblock(),
        schema_context(committed_tenant.schema_name),
        servers.proxied_server(workers=2) as proxied,
    ):
        desk = open_desk(committed_tenant)
        lock = threading.Lock()
        acknowledged: dict[str, int] = {}  # idempotency key → appointment id
        statuses: Counter[int] = Counter()
        retries: Counter[int] = Counter()
        slowest = [0.0]
        client_errors: list[str] = []
        stop = threading.Event()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", proxied.port, timeout=30)
            try:
                while not stop.is_set():
                    with lock:
                        body = desk.body()
                    key = uuid.uuid4().hex
                    started = time.monotonic()
                    # The same key and body again after a 502: at most one booking results.
                    for _ in range(20):
                        try:
                            status, answer = book(conn, desk, body, key)
                        except (http.client.HTTPException, OSError) as error:
                            client_errors.append(repr(error))
                            return
                        if status not in RETRYABLE:
                            break
                        retries[status] += 1
                        time.sleep(0.05)
                    statuses[status] += 1
                    slowest[0] = max(slowest[0], time.monotonic() - started)
                    if status == 201:
                        acknowledged[key] = answer["id"]
            finally:
                conn.close()

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        try:
            time.sleep(2)
            before = statuses[201]
            restart(proxied)
            time.sleep(2)
            after = statuses[201]
        finally:
            stop.set()
            for thread in clients:
                thread.join(60)

        booked = set(Appointment.objects.filter(doctor_id=desk.doctor).values_list("pk", flat=True))
        # The figures in docs/FAULT-DOMAINS.md (run with -s).
        print(
            f"{restart.__name__}: answers {dict(statuses)}, retried {dict(retries)}, "
            f"slowest {slowest[0]:.2f} s"
        )

        assert client_errors == []  # nginx never dropped a client's connection
        assert set(statuses) == {201}  # every booking answered 201 in the end, none 5xx
        assert after > before > 0  # bookings went on before, through and after the restart
        assert set(acknowledged.values()) == booked  # each acknowledged, and nothing else
        assert len(acknowledged) == len(booked)
