"""A small chain for the FHIR facade: two branches, a doctor in each (the first one signs
in), patients with and without an ABHA number, and visits in every state that matters."""

from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from fhir.resources.R4B import get_fhir_model_class

from apps.clinic.models import Branch, Role, User
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory

FHIR_JSON = "application/fhir+json"


def valid(body: dict[str, Any]) -> Any:
    """The body as the R4B model of its resourceType: raises unless it is valid FHIR."""
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def outcome_of(response: Any) -> dict[str, Any]:
    """The OperationOutcome of an error answer, checked to be valid FHIR."""
    assert response["Content-Type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    valid(body)
    return body


@dataclass
class Clinic:
    tenant: Tenant
    main: Branch
    other: Branch
    doctor: Doctor  # at main, signs in as `doctor_user`
    doctor_user: User
    colleague: Doctor  # at other
    asha: Patient  # ABHA number, visits with `doctor`
    ravi: Patient  # visits with `colleague` only
    booked: Appointment  # asha with doctor, Tue 5 Jan 10:00
    seen: Appointment  # asha with doctor, Mon 4 Jan 10:00, checked in 09:55, completed 10:20
    waiting: Appointment  # asha with doctor, Mon 4 Jan 11:00, checked in 10:30
    elsewhere: Appointment  # ravi with colleague, Tue 5 Jan 09:00
    clock: time_machine.Coordinates

    def client(self, user: User) -> HostClient:
        return client_for(user, self.tenant)


@pytest.fixture
def clinic(tenant: Tenant, main_branch: Branch, monday_morning: time_machine.Coordinates) -> Clinic:
    other = BranchFactory(name="Bandra", city="Mumbai")
    doctor_user = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    doctor = DoctorFactory(branch=main_branch, name="Dr. Neha Joshi", user=doctor_user)
    colleague = DoctorFactory(branch=other, name="Dr. Arjun Rao")
    asha = PatientFactory(name="Asha Verma", phone="+919812300001", abha_number="91 2345 6789 0123")
    ravi = PatientFactory(name="Ravi Kumar", phone="+919812300002")
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=asha, start=ist(5, 10))
    seen = commands.appointment_book(actor=None, doctor=doctor, patient=asha, start=ist(4, 10))
    waiting = commands.appointment_book(actor=None, doctor=doctor, patient=asha, start=ist(4, 11))
    elsewhere = commands.appointment_book(
        actor=None, doctor=colleague, patient=ravi, start=ist(5, 9)
    )
    monday_morning.move_to(ist(4, 9, 55))
    seen = commands.appointment_check_in(actor=None, appointment=seen)
    monday_morning.move_to(ist(4, 10, 20))
    seen = commands.appointment_complete(actor=None, appointment=seen)
    monday_morning.move_to(ist(4, 10, 30))
    waiting = commands.appointment_check_in(actor=None, appointment=waiting)
    return Clinic(
        tenant, main_branch, other, doctor, doctor_user, colleague, asha, ravi,
        booked, seen, waiting, elsewhere, monday_morning,
    )  # fmt: skip


@pytest.fixture
def owner_fhir(clinic: Clinic, owner: User) -> HostClient:
    return clinic.client(owner)
