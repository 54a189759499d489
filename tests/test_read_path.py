"""The read path: a warm cached read asks nothing of PostgreSQL, through the real middleware
(host → tenant, token → staff member, role and branch checks, read-model cache in Redis), and
what it keeps in each process is at most a second old (apps/core/shortlived.py)."""

import time
from typing import Any

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEntry
from apps.clinic import commands as clinic_commands
from apps.clinic.models import Branch, Role, User
from apps.core.shortlived import SECONDS
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Domain, Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory

# Real processes learn of a change made elsewhere only when their copy dies: wait that long.
ELSEWHERE_WAIT = SECONDS + 0.1


def _warm_then_count(client: HostClient, url: str) -> tuple[int, int]:
    # Fills the caches. Twice: a first, cold request that builds the read model can take over
    # a second on a loaded machine, and the host's tenant, kept at its start, is then gone.
    for _ in range(2):
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url).status_code
    return status, len(queries)


@pytest.fixture
def booked_day(doctor: Doctor, patient: Patient) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()


@pytest.mark.usefixtures("booked_day")
@pytest.mark.parametrize("role", [Role.OWNER, Role.RECEPTIONIST])
def test_a_warm_doctors_day_board_and_me_ask_nothing_of_postgresql(
    tenant: Tenant, doctor: Doctor, main_branch: Branch, role: str
) -> None:
    client = client_for(UserFactory(role=role, branches=[main_branch]), tenant)

    for url in (
        f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04",
        f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04",
        "/api/v1/auth/me/",
    ):
        assert _warm_then_count(client, url) == (200, 0), url


def test_a_doctor_reads_their_own_warm_day_without_a_query(
    tenant: Tenant, main_branch: Branch
) -> None:
    login = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    mine = DoctorFactory(branch=main_branch, user=login)
    client = client_for(login, tenant)

    assert _warm_then_count(client, f"/api/v1/doctors/{mine.pk}/day/") == (200, 0)


def test_warm_refusals_still_come_from_the_principals_role_and_branches(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    client = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[BranchFactory()]), tenant)
    login = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    as_doctor = client_for(login, tenant)

    for _ in range(2):  # cold, then warm
        assert client.get(f"/api/v1/doctors/{doctor.pk}/day/").status_code == 404
        assert client.get(f"/api/v1/branches/{main_branch.pk}/board/").status_code == 404
        assert as_doctor.get(f"/api/v1/doctors/{doctor.pk}/day/").status_code == 404
        assert as_doctor.get(f"/api/v1/branches/{main_branch.pk}/board/").status_code == 403


def test_a_signed_out_token_is_refused_at_once(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200

    assert client.post("/api/v1/auth/logout/").status_code == 204

    assert client.get("/api/v1/auth/me/").status_code == 401


def test_a_token_deleted_elsewhere_is_refused_within_a_second(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200
    with connection.cursor() as cursor:  # as another process would: no signal reaches us
        cursor.execute("DELETE FROM clinic_stafftoken WHERE user_id = %s", [owner.pk])

    time.sleep(ELSEWHERE_WAIT)

    assert client.get("/api/v1/auth/me/").status_code == 401


def test_a_deactivated_member_is_refused_at_once_here_and_within_a_second_elsewhere(
    owner: User, tenant: Tenant, main_branch: Branch
) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    other = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    desk_client, other_client = client_for(desk, tenant), client_for(other, tenant)
    assert desk_client.get("/api/v1/auth/me/").status_code == 200

    clinic_commands.staff_change(actor=owner, user=desk, is_active=False)
    assert desk_client.get("/api/v1/auth/me/").status_code == 401

    assert other_client.get("/api/v1/auth/me/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_user SET is_active = false WHERE id = %s", [other.pk])
    time.sleep(ELSEWHERE_WAIT)
    assert other_client.get("/api/v1/auth/me/").status_code == 401


def test_a_role_changed_elsewhere_governs_within_a_second(
    tenant: Tenant, main_branch: Branch
) -> None:
    member = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    client = client_for(member, tenant)
    board = f"/api/v1/branches/{main_branch.pk}/board/"
    assert client.get(board).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_user SET role = %s WHERE id = %s", [Role.DOCTOR, member.pk])
    time.sleep(ELSEWHERE_WAIT)

    assert client.get(board).status_code == 403
    assert client.get("/api/v1/auth/me/").json()["role"] == Role.DOCTOR


def test_a_branch_taken_away_elsewhere_is_out_of_reach_within_a_second(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    member = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    client = client_for(member, tenant)
    day = f"/api/v1/doctors/{doctor.pk}/day/"
    assert client.get(day).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM clinic_user_branches WHERE user_id = %s", [member.pk])
    time.sleep(ELSEWHERE_WAIT)

    assert client.get(day).status_code == 404


def test_a_removed_domain_stops_being_served_at_once_here_and_within_a_second_elsewhere(
    owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200
    host = f"{tenant.slug}.localhost"

    Domain.objects.filter(domain=host).delete()
    assert client.get("/api/v1/auth/me/").status_code == 404

    Domain.objects.create(domain=host, tenant=tenant, is_primary=True)
    assert client.get("/api/v1/auth/me/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.tenants_domain WHERE domain = %s", [host])
    time.sleep(ELSEWHERE_WAIT)
    assert client.get("/api/v1/auth/me/").status_code == 404


def test_every_read_of_patient_data_is_still_audited_with_a_warm_principal(
    owner: User, tenant: Tenant, patient: Patient
) -> None:
    client = client_for(owner, tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200  # the principal is warm
    before = AuditEntry.objects.filter(action="patient.read", target=f"patient:{patient.pk}")
    count = before.count()

    for _ in range(3):
        assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200

    reads = AuditEntry.objects.filter(action="patient.read", target=f"patient:{patient.pk}")
    assert reads.count() == count + 3
    assert set(reads.values_list("actor_id", flat=True)) == {owner.pk}


def _chain(handler: ASGIHandler) -> list[object]:
    """The ASGI handler's middleware chain, top down, with the thread switches in it."""
    links: list[object] = []
    node: Any = handler._middleware_chain
    while node is not None:
        if isinstance(node, SyncToAsync):
            links.append(node)
            node = node.func
        elif isinstance(node, AsyncToSync):
            links.append(node)
            node = node.awaitable
        elif hasattr(node, "__wrapped__"):
            node = node.__wrapped__
        elif hasattr(node, "get_response"):
            links.append(node)
            node = node.get_response
        else:
            node = None
    return links


def test_under_asgi_the_middleware_chain_runs_in_one_thread() -> None:
    links = _chain(ASGIHandler())
    switches = [n for n, link in enumerate(links) if isinstance(link, SyncToAsync | AsyncToSync)]

    # Into the thread at the top, back to the event loop only below the last middleware.
    assert switches == [0, len(links) - 1]
    assert len(links) == len(settings.MIDDLEWARE) + 2
