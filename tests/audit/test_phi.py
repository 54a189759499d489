"""Patient data encrypted at rest, found by phone through a blind index, erasable."""

from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidTag
from django.db import connection
from django_tenants.utils import schema_context

from apps.audit.trail import verify
from apps.billing import commands as billing
from apps.billing.selectors import invoice_view
from apps.clinic.models import Branch, Role, User
from apps.core.models import TenantKey
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import PatientFactory

PERSON = {
    "name": "Farida Jalal", "phone": "+91 98765 43210", "date_of_birth": "1949-03-14",
    "address": "7 Carter Road, Bandra", "notes": "hypertension",
}  # fmt: skip


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def registered(desk: HostClient) -> int:
    response = desk.post("/api/v1/patients/", PERSON, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def raw_row(patient_id: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM scheduling_patient WHERE id = %s", [patient_id])
        row = cursor.fetchone()
    return b"|".join(bytes(v) if isinstance(v, memoryview) else str(v).encode() for v in row)


def test_the_stored_row_holds_none_of_the_patients_data(registered: int) -> None:
    row = raw_row(registered)

    for value in ("Farida", "Jalal", "9876543210", "1949-03-14", "Carter", "hypertension"):
        assert value.encode() not in row


def test_the_api_reads_back_what_was_registered(desk: HostClient, registered: int) -> None:
    body = desk.get(f"/api/v1/patients/{registered}/").json()

    assert {k: body[k] for k in ("name", "phone", "date_of_birth", "address", "notes")} == {
        **PERSON,
        "phone": "+919876543210",
    }
    assert body["erased"] is None


def test_phone_search_works_through_the_blind_index(desk: HostClient, registered: int) -> None:
    for typed in ("9876543210", "098765 43210", "+91-98765-43210"):
        found = desk.get("/api/v1/patients/", {"phone": typed}).json()
        assert [p["id"] for p in found["results"]] == [registered], typed


def test_each_tenant_has_its_own_key_and_index(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = PatientFactory(name="Same Phone", phone="9811111111")
    with schema_context(other_tenant.schema_name):
        theirs = PatientFactory(name="Same Phone", phone="9811111111")
        their_key = bytes(TenantKey.objects.get().wrapped)

    assert mine.phone_index != theirs.phone_index
    assert bytes(TenantKey.objects.get().wrapped) != their_key
    with schema_context("tenant_template"):
        assert not TenantKey.objects.exists()  # never cloned into new tenants


def test_a_sealed_record_moved_to_another_patient_does_not_open(registered: int) -> None:
    other = PatientFactory(name="Other Person", phone="9822222222")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduling_patient SET sealed = (SELECT sealed FROM scheduling_patient "
            "WHERE id = %s) WHERE id = %s",
            [registered, other.pk],
        )

    with pytest.raises(InvalidTag):
        _ = Patient.objects.get(pk=other.pk).name


class TestErasure:
    def test_erasure_leaves_the_ledger_events_and_audit_whole(
        self, desk: HostClient, registered: int, doctor: object, main_branch: Branch
    ) -> None:
        patient = Patient.objects.get(pk=registered)
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
        )  # type: ignore[arg-type]
        billing.payment_take(
            actor=None, appointment=visit, kind="deposit", amount=Decimal("200"), method="cash"
        )
        catch_up()
        board_before = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()
        invoice_before = invoice_view(visit)

        response = desk.post(f"/api/v1/patients/{registered}/erase/")

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["name"] is None and body["phone"] is None and body["erased"] is not None
        assert desk.get("/api/v1/patients/", {"phone": "9876543210"}).json()["count"] == 0
        erased = Patient.objects.get(pk=registered)
        assert erased.wrapped_key is None and erased.name is None
        assert invoice_view(visit) == invoice_before
        catch_up()
        board_after = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()
        assert board_after["takings"] == board_before["takings"] == {"cash": "200.00"}
        assert board_after["appointments"] == board_before["appointments"]
        assert verify().ok
        assert desk.post(f"/api/v1/patients/{registered}/erase/").status_code == 409

    def test_only_owners_and_managers_erase(
        self, tenant: Tenant, registered: int, main_branch: Branch
    ) -> None:
        desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)

        assert desk.post(f"/api/v1/patients/{registered}/erase/").status_code == 403
        assert Patient.objects.get(pk=registered).erased is None
