"""No PHI in logs, events or the audit trail, over everything the whole suite produced."""

import logging

import pytest

from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import PRODUCED, SEEDED_PHI, client_for, phi_leaks


@pytest.mark.phi_scan
def test_no_seeded_phi_appears_in_logs_events_or_audit(owner: User, tenant: Tenant) -> None:
    # Seed and read a patient here too, so the scan has something to look for even alone.
    client = client_for(owner, tenant)
    created = client.post(
        "/api/v1/patients/",
        {
            "name": "Scanwell Patientname",
            "phone": "9000012345",
            "date_of_birth": "1961-04-05",
            "address": "12 Marine Drive, Mumbai",
            "notes": "allergic to penicillin",
        },
        format="json",
    )
    client.get(f"/api/v1/patients/{created.json()['id']}/")
    client.get("/api/v1/patients/?phone=9000012345")
    client.post("/api/v1/patients/", {"name": "Scanwell Other", "phone": "bad"}, format="json")
    logging.getLogger("apps").info("scan sentinel")

    assert "Scanwell Patientname" in SEEDED_PHI
    assert any("scan sentinel" in line for line in PRODUCED)
    leaks = phi_leaks()
    assert leaks == [], f"PHI found in logs/events/audit: {leaks[:10]}"
