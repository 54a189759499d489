"""An outpatient consultation as a FHIR document Bundle, shaped after ABDM's OPConsultRecord
(NRCeS FHIR IG): a Composition first, then every resource it names, each with its fullUrl.

It holds what we keep of a visit: who (Patient, Practitioner), where (Location, the clinic
as Organization), when (Encounter, Appointment) and the follow-up booked. A connector to
ABDM adds the profiles' `meta`, the facility's and doctor's registry ids, care-context
linking, consent and the signature (docs/FHIR.md); nothing here is stored.
"""

import uuid
from typing import Any

from django.utils import timezone

from apps.fhir import resources
from apps.fhir.search import render_encounters
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment
from apps.tenants.models import Tenant

# SNOMED CT 371530004 |Clinical consultation report|: the OPConsultRecord's document type.
CONSULTATION_REPORT = {
    "system": resources.SNOMED,
    "code": "371530004",
    "display": "Clinical consultation report",
}
# SNOMED CT 736271009 |Outpatient care plan|: the OPConsultRecord's follow-up section.
FOLLOW_UP = {"system": resources.SNOMED, "code": "736271009", "display": "Outpatient care plan"}


def op_consultation(visit: Appointment, tenant: Tenant, base: str) -> dict[str, Any]:
    """The document of `visit` (checked in or completed); `base` is the server's FHIR base
    URL (the resources' fullUrls)."""
    zone = visit.branch.timezone
    follow_ups = list(
        Appointment.objects.filter(follow_up_of=visit).select_related("branch", "doctor")
    )
    encounter = render_encounters([visit], tenant)[0]
    period: dict[str, str] = encounter.get("period", {})
    included: list[dict[str, Any]] = [
        resources.patient(visit.patient, tenant),
        resources.practitioner(visit.doctor),
        resources.location(visit.branch, tenant),
        resources.organization(tenant),
        encounter,
        resources.appointment(visit),
        *[resources.appointment(row) for row in follow_ups],
    ]
    last = visit.history().last()
    version = last.version if last is not None else visit.version
    # The same visit at the same version is the same document (the same identifier).
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"{base}Encounter/{visit.pk}/_history/{version}")
    section: dict[str, Any] = {"title": "Follow Up", "code": {"coding": [FOLLOW_UP]}}
    if follow_ups:
        section["entry"] = [resources.ref("Appointment", row.pk) for row in follow_ups]
    else:
        section["emptyReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "nilknown",
                    "display": "Nil Known",
                }
            ]
        }
    composition = {
        "resourceType": "Composition",
        "id": str(key),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{key}"},
        "status": "final" if visit.status == Appointment.Status.COMPLETED else "preliminary",
        "type": {"coding": [CONSULTATION_REPORT], "text": "OP Consultation Record"},
        "subject": resources.ref("Patient", visit.patient_id),
        "encounter": resources.ref("Encounter", visit.pk),
        "date": period.get("end") or period.get("start") or local_iso(visit.start, zone),
        "author": [resources.ref("Practitioner", visit.doctor_id)],
        "title": "Consultation Report",
        "custodian": resources.ref("Organization", tenant.slug),
        "section": [section],
    }
    return {
        "resourceType": "Bundle",
        "id": str(key),
        "meta": {"lastUpdated": local_iso(timezone.now(), zone)},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{key}"},
        "type": "document",
        "timestamp": local_iso(timezone.now(), zone),
        "entry": [
            {"fullUrl": f"urn:uuid:{key}", "resource": composition},
            *[
                {"fullUrl": f"{base}{item['resourceType']}/{item['id']}", "resource": item}
                for item in included
            ],
        ],
    }
