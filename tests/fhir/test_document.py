"""`Encounter/{id}/$document`: the visit as an ABDM-style OP consultation document."""

from apps.scheduling import commands
from tests.clock import ist
from tests.conftest import HostClient
from tests.fhir.conftest import Clinic, valid


def test_a_completed_visit_is_a_final_op_consultation_document(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    follow_up = commands.appointment_follow_up(
        actor=None, appointment=clinic.seen, start=ist(11, 10)
    )
    answer = owner_fhir.get(f"/fhir/R4/Encounter/{clinic.seen.pk}/$document")
    assert answer.status_code == 200
    bundle = answer.json()
    valid(bundle)
    assert bundle["type"] == "document"
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition" and composition["status"] == "final"
    assert composition["type"]["coding"][0]["code"] == "371530004"
    assert composition["subject"] == {"reference": f"Patient/{clinic.asha.pk}"}
    assert composition["encounter"] == {"reference": f"Encounter/{clinic.seen.pk}"}
    assert composition["custodian"] == {"reference": f"Organization/{clinic.tenant.slug}"}
    assert composition["date"] == "2027-01-04T10:20:00+05:30"
    assert composition["section"][0]["entry"] == [{"reference": f"Appointment/{follow_up.pk}"}]
    included = {
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for entry in bundle["entry"][1:]
    }
    assert included == {
        f"Patient/{clinic.asha.pk}",
        f"Practitioner/{clinic.doctor.pk}",
        f"Location/{clinic.main.pk}",
        f"Organization/{clinic.tenant.slug}",
        f"Encounter/{clinic.seen.pk}",
        f"Appointment/{clinic.seen.pk}",
        f"Appointment/{follow_up.pk}",
    }
    # Every reference of the composition resolves inside the bundle (a document stands alone).
    for entry in bundle["entry"][1:]:
        assert entry["fullUrl"].endswith(
            f"/fhir/R4/{entry['resource']['resourceType']}/{entry['resource']['id']}"
        )
    again = owner_fhir.get(f"/fhir/R4/Encounter/{clinic.seen.pk}/$document").json()
    assert again["identifier"] == bundle["identifier"]


def test_a_visit_under_way_is_a_preliminary_document_without_follow_up(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    bundle = owner_fhir.get(f"/fhir/R4/Encounter/{clinic.waiting.pk}/$document").json()
    valid(bundle)
    composition = bundle["entry"][0]["resource"]
    assert composition["status"] == "preliminary"
    assert composition["section"][0]["emptyReason"]["coding"][0]["code"] == "nilknown"
