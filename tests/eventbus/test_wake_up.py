"""The relay wakes on commit: every tenant log's appends NOTIFY through a statement trigger on
the partitioned parent (an insert through the parent never fires a partition's own statement
triggers, so a trigger left on a partition would wake nobody), but only from connections
configured for an event bus: NOTIFY takes one lock for the whole database at commit, which a
commit that wakes no relay need not queue for."""

import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context
from psycopg import sql

from apps.clinic.models import Branch
from apps.eventbus import relay
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import own_connection, subprocess_env
from tests.scheduling.factories import DoctorFactory, PatientFactory


def test_the_partitioned_event_log_notifies_the_relay_on_every_append(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname, c.relkind
            FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgname = 'eventstore_event_notify_appended'
              AND c.relname = 'eventstore_event' AND n.nspname = ANY(%s)
            """,
            [[tenant.schema_name, "tenant_template"]],
        )
        found = sorted(cursor.fetchall())
    assert found == sorted([(tenant.schema_name, "p"), ("tenant_template", "p")])


def _seed() -> tuple[Doctor, Patient]:
    doctor = DoctorFactory(
        branch=Branch.objects.get(), weekly_hours=[{"weekday": 1, "start": "08:00", "end": "20:00"}]
    )
    return doctor, PatientFactory(name="Wake Patient", phone="+919800000093")


def _listener() -> psycopg.Connection[tuple[Any, ...]]:
    """A connection of its own to the test database, LISTENing on the relay's channel."""
    listener = own_connection(autocommit=True)
    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(relay.APPENDED_CHANNEL)))
    return listener


def _heard(
    listener: psycopg.Connection[tuple[Any, ...]], seconds: float, stop_after: int | None = None
) -> list[str]:
    return [n.payload for n in listener.notifies(timeout=seconds, stop_after=stop_after)]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_without_an_event_bus_a_commit_sends_no_notify(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    schema = committed_tenant.schema_name
    listener = _listener()
    try:
        with django_db_blocker.unblock(), schema_context(schema):
            doctor, patient = _seed()
            _heard(listener, 0.2)  # whatever the set-up's commits sent (nothing, as below)
            quiet = commands.appointment_book(
                actor=None, doctor=doctor, patient=patient, start=ist(5, 9)
            )
            visible = listener.execute(
                sql.SQL("SELECT max(position) FROM {}").format(
                    sql.Identifier(schema, "eventstore_event")
                )
            ).fetchone()
            unheard = _heard(listener, 1.0)
            with relay.notifying_relay():  # as a process with MYMEDIC_EVENT_BUS appends
                commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=ist(5, 10)
                )
            heard = _heard(listener, 5.0, stop_after=1)
    finally:
        listener.close()
    assert visible == (quiet.position,)  # the commit was there to be notified of
    assert unheard == []
    assert heard == [schema]  # the same listener hears an append configured for the bus


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.timeout(120)
def test_with_an_event_bus_a_listening_relay_wakes_within_a_second_of_a_commit(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    wakeups = relay.Wakeups()
    try:
        with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
            doctor, patient = _seed()
            wakeups.wait(0)  # listening, as the relay is before its first pass
            with relay.notifying_relay():
                commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=ist(5, 9)
                )
            committed = time.monotonic()
            woken = wakeups.wait(5.0)
            seconds = time.monotonic() - committed
    finally:
        wakeups.close()
    assert woken
    assert seconds < 1.0  # NOTIFY, not the relay's 5 s look


SHOW_SETTING = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    f"    cursor.execute(\"SELECT current_setting('{relay.NOTIFY_SETTING}', true)\")\n"
    "    print(repr(cursor.fetchone()[0]))\n"
)


def _setting_in_a_process(**env: str) -> str:
    done = subprocess.run(  # noqa: S603  (our own command line)
        [sys.executable, "manage.py", "shell", "-c", SHOW_SETTING],
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_connection_of_a_process_with_an_event_bus_notifies_and_none_without(
    django_db_blocker: Any,
) -> None:
    with django_db_blocker.unblock():
        configured = _setting_in_a_process(MYMEDIC_EVENT_BUS="nats://127.0.0.1:4222")
        unconfigured = _setting_in_a_process(MYMEDIC_EVENT_BUS="")
    assert configured == "'on'"
    assert unconfigured in ("None", "''")
