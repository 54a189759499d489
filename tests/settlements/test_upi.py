"""UPI at the desk: a branch's validated UPI ID, the `upi://pay` link for the amount due, and
its QR code on the pay page and the receipt."""

from decimal import Decimal

import pytest
from django.test import Client

from apps.billing import commands as billing
from apps.clinic.models import Branch, User
from apps.core.errors import InvalidInput
from apps.scheduling.models import Doctor
from apps.settlements import commands, upi
from apps.settlements.models import BranchUpi
from apps.tenants.models import Tenant
from tests.settlements.conftest import book


def test_the_link_carries_the_branch_vpa_payee_amount_reference_and_note() -> None:
    link = upi.pay_uri(
        vpa="acme.andheri@okhdfcbank", payee="Acme Clinic", amount=Decimal("1500"),
        reference="A42-1", note="Invoice B1-000007",
    )  # fmt: skip

    assert link == (
        "upi://pay?pa=acme.andheri@okhdfcbank&pn=Acme%20Clinic&am=1500.00&tr=A42-1"
        "&tn=Invoice%20B1-000007&cu=INR"
    )
    assert upi.qr_svg(link).startswith("<svg")


@pytest.mark.parametrize(
    "vpa", ["", "clinic", "clinic@", "@okhdfc", "cli nic@okhdfc", "clinic@ok-hdfc", "a@b"]
)
def test_a_vpa_that_is_not_one_is_refused(main_branch: Branch, vpa: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        commands.branch_upi_set(actor=None, branch=main_branch, vpa=vpa, payee="Acme Clinic")

    assert refused.value.field == "vpa"
    assert not BranchUpi.objects.exists()


def test_a_branch_vpa_is_set_and_changed_with_events(main_branch: Branch) -> None:
    commands.branch_upi_set(actor=None, branch=main_branch, vpa="acme@okicici", payee="Acme")
    changed = commands.branch_upi_set(
        actor=None, branch=main_branch, vpa="acme.main@okhdfcbank", payee="Acme  Clinic"
    )

    assert (changed.vpa, changed.payee) == ("acme.main@okhdfcbank", "Acme Clinic")
    assert [e.data["vpa"] for e in changed.history()] == ["acme@okicici", "acme.main@okhdfcbank"]


def test_the_pay_page_and_the_receipt_show_the_qr_for_the_amount_due(
    tenant: Tenant, owner: User, clinic_doctor: Doctor
) -> None:
    commands.branch_upi_set(
        actor=None, branch=clinic_doctor.branch, vpa="acme@okhdfcbank", payee="Acme Clinic"
    )
    visit = book(clinic_doctor, 10)
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("500.00"), method="cash"
    )
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(owner)

    pay = browser.get(f"/reception/branches/{visit.branch_id}/appointments/{visit.pk}/pay/")
    receipt = browser.get(f"/reception/appointments/{visit.pk}/invoice/")

    link = f"upi://pay?pa=acme@okhdfcbank&amp;pn=Acme%20Clinic&amp;am=1000.00&amp;tr=A{visit.pk}-2"
    for page in (pay, receipt):
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-testid="upi-qr"' in html and "<svg" in html
        assert link in html


def test_no_qr_when_the_branch_has_no_upi_id(
    tenant: Tenant, owner: User, clinic_doctor: Doctor
) -> None:
    visit = book(clinic_doctor, 10)
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(owner)

    pay = browser.get(f"/reception/branches/{visit.branch_id}/appointments/{visit.pk}/pay/")

    assert pay.status_code == 200
    assert 'data-testid="upi-qr"' not in pay.content.decode()
