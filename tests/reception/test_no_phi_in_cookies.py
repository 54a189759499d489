"""Confirmations name the patient, so they are kept on the server, never in a cookie."""

import time_machine

from apps.clinic.models import Branch, Role
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.reception.test_console import sign_in
from tests.scheduling.factories import DoctorFactory, PatientFactory


def test_a_confirmation_naming_the_patient_travels_in_no_cookie(
    api: HostClient, main_branch: Branch
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    patient = PatientFactory(name="Meera Krishnan")
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    with time_machine.travel(ist(4, 8), tick=False):
        sign_in(api, desk.email)
        booked = api.post(
            f"/reception/branches/{main_branch.pk}/book/",
            {"patient": patient.pk, "doctor": doctor.pk, "start": ist(5, 10).isoformat()},
        )
        board = api.get(booked["Location"]).content.decode()

    assert booked.status_code == 302
    assert "Meera Krishnan" in board  # the desk still sees the confirmation
    # A signed cookie is readable by anyone who holds it (base64, maybe compressed), so the
    # confirmation must not be in one at all.
    assert "messages" not in booked.cookies
    assert set(booked.cookies) <= {"sessionid", "csrftoken"}
