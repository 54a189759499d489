"""Our rows as FHIR R4 resources (JSON-ready dicts): the one place each mapping is written.

A read-only view of what scheduling and clinic keep; nothing here is stored. References
between resources are relative (`Patient/12`), ids are our ids, instants carry the branch's
offset. docs/FHIR.md describes each mapping and the identifiers' systems.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.eventstore.models import Event
from apps.scheduling import events
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.scheduling.slots import Slot
from apps.tenants.models import Tenant

FHIR_VERSION = "4.0.1"
ABHA_SYSTEM = "https://healthid.ndhm.gov.in"
IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
NDHM_IDENTIFIER_TYPES = "https://nrces.in/ndhm/fhir/r4/CodeSystem/ndhm-identifier-type-code"
ACT_CODES = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"

# Our visit states as FHIR's Appointment.status and, once the patient came, Encounter.status.
APPOINTMENT_STATUS = {
    Appointment.Status.BOOKED: "booked",
    Appointment.Status.CHECKED_IN: "arrived",
    Appointment.Status.COMPLETED: "fulfilled",
    Appointment.Status.CANCELLED: "cancelled",
    Appointment.Status.NO_SHOW: "noshow",
}
ENCOUNTER_STATUS = {
    Appointment.Status.CHECKED_IN: "arrived",
    Appointment.Status.COMPLETED: "finished",
}
# An outpatient consultation (SNOMED CT 11429006 |Consultation|).
CONSULTATION = {"system": SNOMED, "code": "11429006", "display": "Consultation"}


def current_tenant() -> Tenant:
    tenant = connection.tenant
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def mrn_system(tenant: Tenant) -> str:
    """The clinic's own medical record numbers: our patient ids, under the clinic's host."""
    return f"https://{tenant.slug}.{settings.BASE_DOMAIN}/fhir/sid/mrn"


def _iso(instant: datetime, zone: str) -> str:
    return local_iso(instant, zone)


def ref(resource_type: str, pk: object) -> dict[str, str]:
    return {"reference": f"{resource_type}/{pk}"}


def organization(tenant: Tenant) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": tenant.slug,
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
        "name": tenant.name,
    }


def patient(row: Patient, tenant: Tenant) -> dict[str, Any]:
    """An erased patient keeps only its record number: the rest is gone for good."""
    identifiers: list[dict[str, Any]] = [
        {
            "use": "usual",
            "type": {
                "coding": [
                    {"system": IDENTIFIER_TYPES, "code": "MR", "display": "Medical record number"}
                ]
            },
            "system": mrn_system(tenant),
            "value": str(row.pk),
        }
    ]
    body: dict[str, Any] = {"resourceType": "Patient", "id": str(row.pk)}
    if row.erased is not None:
        return {**body, "identifier": identifiers, "active": False}
    if row.abha_number:
        identifiers.append(
            {
                "use": "official",
                "type": {
                    "coding": [
                        {"system": NDHM_IDENTIFIER_TYPES, "code": "ABHA", "display": "ABHA number"}
                    ]
                },
                "system": ABHA_SYSTEM,
                "value": row.abha_number,
            }
        )
    body.update(identifier=identifiers, active=True, name=[{"text": row.name}])
    telecom = [{"system": "phone", "value": row.phone, "use": "mobile"}] if row.phone else []
    if row.email:
        telecom.append({"system": "email", "value": row.email})
    if telecom:
        body["telecom"] = telecom
    if row.date_of_birth is not None:
        body["birthDate"] = row.date_of_birth.isoformat()
    if row.address:
        body["address"] = [{"text": row.address}]
    body["communication"] = [
        {
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": row.language}]},
            "preferred": True,
        }
    ]
    return body


def practitioner(row: Doctor) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": str(row.pk),
        "active": row.active,
        "name": [{"text": row.name}],
    }


def location(row: Branch, tenant: Tenant) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(row.pk),
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": row.timezone}],
        "status": "active",
        "name": row.name,
        "mode": "instance",
        "managingOrganization": ref("Organization", tenant.slug),
    }
    address = {"text": ", ".join(part for part in (row.address, row.city) if part)}
    if row.city:
        address["city"] = row.city
    if address["text"]:
        body["address"] = address
    if row.phone:
        body["telecom"] = [{"system": "phone", "value": row.phone}]
    return body


def schedule(row: Doctor) -> dict[str, Any]:
    """One schedule per doctor (same id): their bookable time at their branch."""
    return {
        "resourceType": "Schedule",
        "id": str(row.pk),
        "active": row.active,
        "specialty": [{"text": row.specialty}],
        "actor": [ref("Practitioner", row.pk), ref("Location", row.branch_id)],
    }


def slot(doctor: Doctor, item: Slot, status: str) -> dict[str, Any]:
    zone = doctor.branch.timezone
    return {
        "resourceType": "Slot",
        "id": slot_key(doctor.pk, item.start),
        "schedule": ref("Schedule", doctor.pk),
        "status": status,
        "start": _iso(item.start, zone),
        "end": _iso(item.end, zone),
    }


def slot_key(doctor_id: int, start: datetime) -> str:
    """`{doctor}-{UTC start as YYYYMMDDHHMM}`: stable for as long as the doctor's grid is."""
    return f"{doctor_id}-{start.astimezone(UTC):%Y%m%d%H%M}"


def appointment(row: Appointment) -> dict[str, Any]:
    zone = row.branch.timezone
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(row.pk),
        "status": APPOINTMENT_STATUS[Appointment.Status(row.status)],
        "specialty": [{"text": row.doctor.specialty}],
        "start": _iso(row.start, zone),
        "end": _iso(row.end, zone),
        "minutesDuration": int(row.duration.total_seconds() // 60),
        "created": _iso(row.created, zone),
        "participant": [
            {"actor": ref("Patient", row.patient_id), "required": "required", "status": "accepted"},
            {
                "actor": ref("Practitioner", row.doctor_id),
                "required": "required",
                "status": "accepted",
            },
            {"actor": ref("Location", row.branch_id), "required": "required", "status": "accepted"},
        ],
    }
    if row.status == Appointment.Status.CANCELLED and row.cancel_reason:
        body["cancelationReason"] = {"text": row.cancel_reason}
    return body


@dataclass(frozen=True)
class VisitTimes:
    """When the patient was checked in and when the visit was completed, from the log."""

    arrived: datetime | None = None
    finished: datetime | None = None


def visit_times(appointment_ids: list[int]) -> dict[int, VisitTimes]:
    """The check-in and completion instants of each visit, in one query of the event log
    (the latest of each kind: an undone and redone step counts from its last time)."""
    streams = {f"{Appointment.stream_type}-{pk}": pk for pk in appointment_ids}
    found: dict[int, dict[str, datetime]] = {pk: {} for pk in appointment_ids}
    rows = (
        Event.objects.filter(
            stream__in=streams,
            type__in=(events.APPOINTMENT_CHECKED_IN, events.APPOINTMENT_COMPLETED),
        )
        .order_by("position")
        .values_list("stream", "type", "occurred_at")
    )
    for stream, kind, at in rows:
        found[streams[stream]][kind] = at
    return {
        pk: VisitTimes(
            kinds.get(events.APPOINTMENT_CHECKED_IN), kinds.get(events.APPOINTMENT_COMPLETED)
        )
        for pk, kinds in found.items()
    }


def encounter(row: Appointment, times: VisitTimes, tenant: Tenant) -> dict[str, Any]:
    """The visit once the patient came (checked in or completed); same id as its appointment."""
    zone = row.branch.timezone
    period: dict[str, str] = {}
    if times.arrived is not None:
        period["start"] = _iso(times.arrived, zone)
    if times.finished is not None:
        period["end"] = _iso(times.finished, zone)
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(row.pk),
        "status": ENCOUNTER_STATUS[Appointment.Status(row.status)],
        "class": {"system": ACT_CODES, "code": "AMB", "display": "ambulatory"},
        "type": [{"coding": [CONSULTATION], "text": "Outpatient consultation"}],
        "subject": ref("Patient", row.patient_id),
        "participant": [{"individual": ref("Practitioner", row.doctor_id)}],
        "appointment": [ref("Appointment", row.pk)],
        "location": [{"location": ref("Location", row.branch_id)}],
        "serviceProvider": ref("Organization", tenant.slug),
    }
    if period:
        body["period"] = period
    return body
