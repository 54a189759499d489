"""The console's board, re-read by every open screen after each change, asks PostgreSQL only
for what it must: the names of the patients on it and the audit entry of that read. The
session, the staff member, the branch, its doctors and the board itself come from Redis and
the process's second-long copies (apps/core/sessions.py, apps/core/shortlived.py)."""

import time
from collections.abc import Iterator

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, Role, User
from apps.core.shortlived import SECONDS
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.reception.test_console import sign_in

# What reading patients' names and auditing that read says to PostgreSQL: the rows, the
# tenant's wrapped key that unseals them, the audit entry under the append lock.
PHI_READ = ("scheduling_patient", "core_tenantkey", "audit_auditentry", "pg_advisory_xact_lock")
# The connection's schema is set before its first statement, the PHI read's.
TRANSACTION = ("SAVEPOINT", "RELEASE SAVEPOINT", "SET search_path")


@pytest.fixture
def booked(doctor: Doctor, patient: Patient) -> Iterator[None]:
    """A visit on the board of a frozen Monday morning (a second-long copy never dies while
    the clock stands still: tests of expiry run on the real clock)."""
    with time_machine.travel(ist(4, 8), tick=False):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
        catch_up()
        yield


def _desk(tenant: Tenant, branch: Branch, role: str = Role.RECEPTIONIST) -> HostClient:
    member = UserFactory(role=role, branches=[branch])
    return sign_in(HostClient(f"{tenant.slug}.localhost"), member.email)


def _other_statements(client: HostClient, url: str, **headers: str) -> tuple[int, list[str]]:
    assert client.get(url, **headers).status_code == 200  # warms every copy
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url, **headers).status_code
    return status, [
        q["sql"]
        for q in queries
        if not any(name in q["sql"] for name in PHI_READ) and not q["sql"].startswith(TRANSACTION)
    ]


@pytest.mark.usefixtures("booked")
@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.OWNER])
def test_a_warm_board_asks_postgresql_only_for_the_patients_it_shows(
    tenant: Tenant, main_branch: Branch, patient: Patient, role: str
) -> None:
    client = _desk(tenant, main_branch, role)
    board = f"/reception/branches/{main_branch.pk}/"

    assert _other_statements(client, board) == (200, [])
    assert _other_statements(client, board, HTTP_HX_REQUEST="true") == (200, [])
    assert "Ravi Kumar" in client.get(board).content.decode()


@pytest.mark.usefixtures("booked")
def test_every_warm_board_still_audits_its_read_of_the_patients(
    tenant: Tenant, main_branch: Branch, patient: Patient, owner: User
) -> None:
    client = _desk(tenant, main_branch)
    board = f"/reception/branches/{main_branch.pk}/"
    assert client.get(board).status_code == 200
    before = AuditEntry.objects.filter(action="patient.list").count()

    for _ in range(3):
        assert client.get(board).status_code == 200

    reads = AuditEntry.objects.filter(action="patient.list").order_by("-id")[:3]
    assert AuditEntry.objects.filter(action="patient.list").count() == before + 3
    assert [entry.detail["patients"] for entry in reads] == [[patient.pk]] * 3


def test_a_branch_taken_away_elsewhere_leaves_the_console_within_a_second(
    tenant: Tenant, main_branch: Branch
) -> None:
    member = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    client = sign_in(HostClient(f"{tenant.slug}.localhost"), member.email)
    board = f"/reception/branches/{main_branch.pk}/"
    assert client.get(board).status_code == 200

    with connection.cursor() as cursor:  # as another process would: no signal reaches us
        cursor.execute("DELETE FROM clinic_user_branches WHERE user_id = %s", [member.pk])
    time.sleep(SECONDS + 0.1)

    assert client.get(board).status_code == 404
