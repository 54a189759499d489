"""The facade gives each role what the JSON API gives it, and audits reads of patients."""

from apps.audit.models import AuditEntry
from apps.clinic.models import Role, User
from tests.clinic.factories import UserFactory
from tests.conftest import HostClient
from tests.fhir.conftest import Clinic, outcome_of, valid


def ids(client: HostClient, query: str) -> list[str]:
    bundle = client.get(f"/fhir/R4/{query}").json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_a_receptionist_sees_her_branch_and_finds_chain_patients_by_phone(
    clinic: Clinic,
) -> None:
    desk = clinic.client(UserFactory(role=Role.RECEPTIONIST, branches=[clinic.main]))
    assert ids(desk, "Location") == [str(clinic.main.pk)]
    assert ids(desk, "Practitioner") == [str(clinic.doctor.pk)]
    assert str(clinic.elsewhere.pk) not in ids(desk, "Appointment")
    assert desk.get(f"/fhir/R4/Appointment/{clinic.elsewhere.pk}").status_code == 404
    assert desk.get(f"/fhir/R4/Location/{clinic.other.pk}").status_code == 404
    assert desk.get(f"/fhir/R4/Schedule/{clinic.colleague.pk}").status_code == 404
    assert ids(desk, f"Slot?schedule={clinic.colleague.pk}") == []
    # Browsing stays in her branch; a phone finds a patient of the whole chain, as the API.
    assert ids(desk, "Patient") == [str(clinic.asha.pk)]
    assert ids(desk, "Patient?phone=9812300002") == [str(clinic.ravi.pk)]
    assert desk.get(f"/fhir/R4/Patient/{clinic.ravi.pk}").status_code == 200


def test_a_doctor_sees_only_their_own_visits_and_patients(clinic: Clinic) -> None:
    doctor = clinic.client(clinic.doctor_user)
    mine = [str(a.pk) for a in (clinic.seen, clinic.waiting, clinic.booked)]
    assert ids(doctor, "Appointment") == mine
    assert ids(doctor, "Encounter") == mine[:2]
    assert ids(doctor, "Patient") == [str(clinic.asha.pk)]
    assert ids(doctor, "Patient?phone=9812300002") == []
    assert doctor.get(f"/fhir/R4/Patient/{clinic.ravi.pk}").status_code == 404
    assert doctor.get(f"/fhir/R4/Appointment/{clinic.elsewhere.pk}").status_code == 404


def test_only_owners_and_managers_export(clinic: Clinic) -> None:
    for role in (Role.RECEPTIONIST, Role.BRANCH_MANAGER, Role.DOCTOR):
        client = clinic.client(UserFactory(role=role, branches=[clinic.main]))
        answer = client.get("/fhir/R4/$export", HTTP_PREFER="respond-async")
        assert answer.status_code == 403, role
        assert outcome_of(answer)["issue"][0]["code"] == "forbidden"


def test_reading_and_searching_patients_is_audited_like_the_api(
    clinic: Clinic, owner: User, owner_fhir: HostClient
) -> None:
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    owner_fhir.get(f"/fhir/R4/Patient/{clinic.asha.pk}")
    owner_fhir.get("/fhir/R4/Patient?phone=9812300002")
    owner_fhir.get("/fhir/R4/Patient?_count=1")
    owner_fhir.get(f"/fhir/R4/Encounter/{clinic.seen.pk}/$document")
    owner_fhir.get("/fhir/R4/Appointment")  # ids only: not a read of patient data
    entries = list(
        AuditEntry.objects.filter(id__gt=before or 0, action__startswith="patient.")
        .order_by("id")
        .values_list("action", "actor_id", "target", "detail")
    )
    assert entries == [
        ("patient.read", owner.pk, f"patient:{clinic.asha.pk}", {}),
        ("patient.search", owner.pk, "", {"patients": [clinic.ravi.pk]}),
        ("patient.list", owner.pk, "", {"patients": [clinic.asha.pk]}),
        (
            "patient.read",
            owner.pk,
            f"patient:{clinic.asha.pk}",
            {"fhir": "Encounter/$document", "encounter": clinic.seen.pk},
        ),
    ]
