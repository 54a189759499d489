"""The receipt prints the branch as set up (name, address, phone) and the visit's time in
the branch's time zone."""

import pytest

from apps.clinic.commands import branch_update
from apps.clinic.models import Branch, User
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.clock import ist
from tests.conftest import HostClient

pytestmark = pytest.mark.usefixtures("monday_morning")


def test_the_receipt_shows_the_edited_branch_and_the_local_visit_time(
    api: HostClient, owner: User, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    branch_update(
        actor=owner,
        branch=main_branch,
        name="Andheri West",
        city="Mumbai",
        address="12 Link Road",
        phone="+91 22 2345 6789",
        timezone="Asia/Kolkata",
    )
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    api.force_login(owner)

    html = api.get(f"/reception/appointments/{visit.pk}/invoice/").content.decode()

    assert "Andheri West, Mumbai" in html and "12 Link Road · +91 22 2345 6789" in html
    assert "Main branch" not in html
    assert "5 Jan 2027, 09:00" in html
