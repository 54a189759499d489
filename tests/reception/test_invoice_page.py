import pytest

from apps.clinic.models import Role, User
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.billing.conftest import pay
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for

pytestmark = pytest.mark.usefixtures("monday_morning")


def test_the_printable_invoice_shows_lines_payments_and_balance(
    api: HostClient, owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    pay(client_for(owner, tenant), visit.pk, "200.00", method="upi")
    api.force_login(owner)

    page = api.get(f"/reception/appointments/{visit.pk}/invoice/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f"B{visit.branch_id}-000001" in html
    assert "Ravi Kumar" in html and doctor.name in html
    assert "Consultation" in html and "500.00" in html and "300.00" in html
    assert "@media print" not in html  # print styles live in the stylesheet
    assert "data-print" in html and "/static/js/print.js" in html  # no inline script (CSP)


def test_the_invoice_page_keeps_to_the_users_branches_and_role(
    api: HostClient, tenant: Tenant, doctor: Doctor, patient: Patient, main_branch: object
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    url = f"/reception/appointments/{visit.pk}/invoice/"

    assert api.get(url).status_code == 302  # sign in first
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[BranchFactory()]))
    assert api.get(url).status_code == 404
    api.force_login(UserFactory(role=Role.DOCTOR, branches=[main_branch]))
    assert api.get(url).status_code == 403
