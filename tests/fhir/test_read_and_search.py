"""Reads and searches of the FHIR R4 facade: what each resource says, which parameters find
what, paging, and every refusal as an OperationOutcome."""

from typing import Any

from apps.clinic.models import User
from apps.fhir.resources import ABHA_SYSTEM, mrn_system
from tests.conftest import HostClient
from tests.fhir.conftest import FHIR_JSON, Clinic, outcome_of, valid
from tests.scheduling.factories import PatientFactory


def ids_of(bundle: dict[str, Any]) -> list[str]:
    valid(bundle)
    assert bundle["type"] == "searchset"
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_metadata_states_r4_and_exactly_the_searches_we_serve(owner_fhir: HostClient) -> None:
    answer = owner_fhir.get("/fhir/R4/metadata")
    assert answer.status_code == 200 and answer["Content-Type"].startswith(FHIR_JSON)
    statement = answer.json()
    valid(statement)
    assert statement["fhirVersion"] == "4.0.1"
    served = {item["type"]: item for item in statement["rest"][0]["resource"]}
    assert set(served) == {
        "Patient", "Practitioner", "Location", "Schedule", "Slot", "Appointment", "Encounter",
        "Organization",
    }  # fmt: skip
    assert {p["name"] for p in served["Appointment"]["searchParam"]} == {
        "date", "practitioner", "patient", "status",
    }  # fmt: skip
    assert {p["name"] for p in served["Slot"]["searchParam"]} == {"schedule", "start", "status"}
    assert {p["name"] for p in served["Patient"]["searchParam"]} == {"identifier", "phone", "name"}
    assert [op["name"] for op in statement["rest"][0]["operation"]] == ["export"]
    assert [op["name"] for op in served["Encounter"]["operation"]] == ["document"]


def test_every_resource_we_read_is_valid_r4(clinic: Clinic, owner_fhir: HostClient) -> None:
    slot = owner_fhir.get(f"/fhir/R4/Slot?schedule={clinic.doctor.pk}&status=free").json()
    paths = [
        f"Patient/{clinic.asha.pk}",
        f"Practitioner/{clinic.doctor.pk}",
        f"Location/{clinic.main.pk}",
        f"Schedule/{clinic.doctor.pk}",
        f"Slot/{slot['entry'][0]['resource']['id']}",
        f"Appointment/{clinic.booked.pk}",
        f"Encounter/{clinic.seen.pk}",
        f"Organization/{clinic.tenant.slug}",
    ]
    for path in paths:
        answer = owner_fhir.get(f"/fhir/R4/{path}")
        assert answer.status_code == 200, path
        assert answer["Content-Type"].startswith(FHIR_JSON)
        body = answer.json()
        assert f"{body['resourceType']}/{body['id']}" == path
        valid(body)


def test_a_patient_carries_the_mrn_the_abha_number_and_the_phone(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    body = owner_fhir.get(f"/fhir/R4/Patient/{clinic.asha.pk}").json()
    assert {(i["system"], i["value"]) for i in body["identifier"]} == {
        (mrn_system(clinic.tenant), str(clinic.asha.pk)),
        (ABHA_SYSTEM, "91-2345-6789-0123"),
    }
    assert body["name"] == [{"text": "Asha Verma"}]
    assert body["telecom"] == [{"system": "phone", "value": "+919812300001", "use": "mobile"}]
    plain = owner_fhir.get(f"/fhir/R4/Patient/{clinic.ravi.pk}").json()
    assert [i["system"] for i in plain["identifier"]] == [mrn_system(clinic.tenant)]


def test_patients_are_found_by_identifier_phone_and_name(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    asha, ravi = str(clinic.asha.pk), str(clinic.ravi.pk)
    found = {
        f"identifier={ABHA_SYSTEM}|91234567890123": [asha],
        "identifier=91-2345-6789-0123": [asha],
        "identifier=91234567890123": [asha],
        f"identifier={ABHA_SYSTEM}|{asha}": [],
        f"identifier={mrn_system(clinic.tenant)}|{ravi}": [ravi],
        f"identifier={ravi}": [ravi],
        "identifier=https://elsewhere.example/ids|1": [],
        "phone=%2B919812300002": [ravi],
        "phone=9812300001": [asha],
        "name=asha": [asha],
        "name=KUM": [ravi],
        "name=erma": [],
        "name=ravi&phone=9812300001": [],
    }
    for query, expected in found.items():
        assert ids_of(owner_fhir.get(f"/fhir/R4/Patient?{query}").json()) == expected, query


def test_searches_page_with_count_and_next_links_to_the_end(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    for n in range(3):
        PatientFactory(name=f"Paging Person {n}")
    bundle = owner_fhir.get("/fhir/R4/Patient?name=paging&_count=2").json()
    assert bundle["total"] == 3
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        seen += ids_of(bundle)
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        bundle = owner_fhir.get(following[0].removeprefix("http://acme.localhost")).json()
    assert pages == 2 and len(seen) == 3 == len(set(seen))
    counted = owner_fhir.get("/fhir/R4/Patient?name=paging&_count=0").json()
    assert counted["total"] == 3 and "entry" not in counted
    # Patients come in pages of at most 50, as the API's browsing; other types up to 200.
    for query, largest in (("Patient?_count=500", "50"), ("Appointment?_count=500", "200")):
        self_link = owner_fhir.get(f"/fhir/R4/{query}").json()["link"][0]["url"]
        assert f"_count={largest}&" in self_link, query


def test_appointments_are_found_by_date_practitioner_patient_and_status(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    booked, seen, waiting, elsewhere = (
        str(a.pk) for a in (clinic.booked, clinic.seen, clinic.waiting, clinic.elsewhere)
    )
    found = {
        "date=2027-01-04": [seen, waiting],
        "date=ge2027-01-05": [elsewhere, booked],
        "date=le2027-01-04": [seen, waiting],
        "date=gt2027-01-04T10:00:00%2B05:30": [waiting, elsewhere, booked],
        "date=ge2027-01-04T10:30:00+05:30&date=lt2027-01-05T09:30:00Z": [
            waiting,
            elsewhere,
            booked,
        ],
        f"practitioner=Practitioner/{clinic.colleague.pk}": [elsewhere],
        f"patient=Patient/{clinic.asha.pk}&status=booked": [booked],
        "status=arrived,fulfilled": [seen, waiting],
        "date=2027-01": [seen, waiting, elsewhere, booked],
        "date=2026": [],
    }
    for query, expected in found.items():
        assert ids_of(owner_fhir.get(f"/fhir/R4/Appointment?{query}").json()) == expected, query


def test_encounters_are_visits_the_patient_came_to_with_their_times(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    bundle = owner_fhir.get("/fhir/R4/Encounter").json()
    assert ids_of(bundle) == [str(clinic.seen.pk), str(clinic.waiting.pk)]
    seen, waiting = (entry["resource"] for entry in bundle["entry"])
    assert seen["status"] == "finished"
    assert seen["period"] == {
        "start": "2027-01-04T09:55:00+05:30",
        "end": "2027-01-04T10:20:00+05:30",
    }
    assert waiting["status"] == "arrived" and waiting["period"] == {
        "start": "2027-01-04T10:30:00+05:30"
    }
    assert seen["appointment"] == [{"reference": f"Appointment/{clinic.seen.pk}"}]
    finished = owner_fhir.get("/fhir/R4/Encounter?status=finished").json()
    assert ids_of(finished) == [str(clinic.seen.pk)]
    assert owner_fhir.get(f"/fhir/R4/Encounter/{clinic.booked.pk}").status_code == 404


def test_slots_come_from_the_doctors_hours_with_start_prefixes(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    query = f"/fhir/R4/Slot?schedule=Schedule/{clinic.doctor.pk}"
    day = query + "&start=ge2027-01-05&start=lt2027-01-06"
    slots = {
        e["resource"]["start"]: e["resource"]["status"] for e in owner_fhir.get(day).json()["entry"]
    }
    # Tuesday: 09:00-13:00 and 14:00-17:00 in 30-minute slots, 10:00 booked.
    assert len(slots) == 14
    assert slots["2027-01-05T10:00:00+05:30"] == "busy"
    assert slots["2027-01-05T09:30:00+05:30"] == "free"
    free = owner_fhir.get(day + "&status=free&_count=200").json()
    assert free["total"] == 13
    for entry in free["entry"]:
        valid(entry["resource"])
        assert entry["resource"]["schedule"] == {"reference": f"Schedule/{clinic.doctor.pk}"}
    # Today at 10:30: the morning so far is no longer bookable.
    today = owner_fhir.get(query + "&start=2027-01-04").json()["entry"]
    assert today[0]["resource"]["status"] == "busy-unavailable"
    one = free["entry"][0]["resource"]
    assert owner_fhir.get(f"/fhir/R4/Slot/{one['id']}").json() == one


def test_unknown_parameters_and_unreadable_values_are_400_operation_outcomes(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    refused = [
        "Patient?nickname=asha",
        "Appointment?date=tomorrow",
        "Appointment?date=ne2027-01-04",
        "Appointment?date=2027-02-30",
        "Appointment?date=9999-12-31",
        "Appointment?status=done",
        "Appointment?patient=Practitioner/x",
        "Patient?_count=-1",
        "Patient?phone=12",
        "Patient?_format=xml",
        "Slot?start=ge2027-01-05",
        f"Slot?schedule={clinic.doctor.pk}&start=ge2027-01-05&start=le2027-03-05",
        "Schedule?actor=Patient/1",
        "Slot?schedule=" + ",".join(str(n) for n in range(1, 22)),
    ]
    for query in refused:
        answer = owner_fhir.get(f"/fhir/R4/{query}")
        assert answer.status_code == 400, query
        issue = outcome_of(answer)["issue"][0]
        assert issue["severity"] == "error" and issue["code"] == "invalid", query


def test_missing_resources_and_unknown_types_are_404_operation_outcomes(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    for path in (
        "Patient/999999",
        "Patient/abc",
        "Slot/12-notatime",
        f"Slot/{clinic.doctor.pk}-202701050905",
        "Organization/someone-else",
        "Observation",
        "Observation/1",
        f"Encounter/{clinic.booked.pk}/$document",
    ):
        answer = owner_fhir.get(f"/fhir/R4/{path}")
        assert answer.status_code == 404, path
        assert outcome_of(answer)["issue"][0]["code"] == "not-found"


def test_only_reads_are_served(clinic: Clinic, owner_fhir: HostClient) -> None:
    for method in (owner_fhir.post, owner_fhir.put, owner_fhir.delete):
        answer = method(f"/fhir/R4/Patient/{clinic.asha.pk}", {}, format="json")
        assert answer.status_code == 405
        assert outcome_of(answer)["issue"][0]["code"] == "not-supported"
    assert owner_fhir.post("/fhir/R4/Patient", {}, format="json").status_code == 405


def test_no_token_is_401_and_another_tenants_token_too(
    clinic: Clinic, api: HostClient, other_tenant: Any
) -> None:
    from django_tenants.utils import schema_context

    from tests.conftest import client_for

    answer = api.get("/fhir/R4/Patient")
    assert answer.status_code == 401 and outcome_of(answer)["issue"][0]["code"] == "login"
    with schema_context(other_tenant.schema_name):
        stranger = client_for(User.objects.get(role="owner"), other_tenant)
    key = stranger._credentials["HTTP_AUTHORIZATION"]  # noqa: SLF001
    api.credentials(HTTP_AUTHORIZATION=key)
    for path in (f"Patient/{clinic.asha.pk}", "metadata", "$export"):
        answer = api.get(f"/fhir/R4/{path}", HTTP_PREFER="respond-async")
        assert answer.status_code == 401, path
        outcome_of(answer)


def test_a_name_search_reads_the_tenant_key_once_not_per_patient(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(30):
        PatientFactory(name=f"Scan Person {n}")
    with CaptureQueriesContext(connection) as queries:
        bundle = owner_fhir.get("/fhir/R4/Patient?name=scan&_count=50").json()
    assert bundle["total"] == 30
    assert sum('"core_tenantkey"' in q["sql"] for q in queries.captured_queries) == 1
