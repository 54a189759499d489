"""A patient's ABHA number (India's national health id): optional, one stored form, sealed
with the rest of the patient's data and never in an event."""

from apps.clinic.models import User
from apps.eventstore.models import Event
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import client_for


def test_an_abha_number_is_kept_sealed_in_its_card_form(owner: User, tenant: Tenant) -> None:
    desk = client_for(owner, tenant)
    created = desk.post(
        "/api/v1/patients/",
        {"name": "Asha Verma", "phone": "+919812300001", "abha_number": "91 2345 6789 0123"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["abha_number"] == "91-2345-6789-0123"
    pk = created.json()["id"]
    assert desk.get(f"/api/v1/patients/{pk}/").json()["abha_number"] == "91-2345-6789-0123"
    row = Patient.objects.get(pk=pk)
    assert b"6789" not in bytes(row.sealed)
    assert "6789" not in str(list(Event.objects.filter(stream=row.stream).values("data")))


def test_an_abha_number_is_optional_and_must_have_14_digits(owner: User, tenant: Tenant) -> None:
    desk = client_for(owner, tenant)
    plain = desk.post("/api/v1/patients/", {"name": "Ravi", "phone": "9812300002"}, format="json")
    assert plain.status_code == 201 and plain.json()["abha_number"] is None
    for wrong in ("1234", "91-2345-6789-012X", "912345678901234"):
        answer = desk.post(
            "/api/v1/patients/",
            {"name": "Ravi", "phone": "9812300003", "abha_number": wrong},
            format="json",
        )
        assert answer.status_code == 400 and "abha_number" in answer.json(), wrong
