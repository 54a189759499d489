"""The daily close against a hand-computed day with every kind of event."""

from decimal import Decimal
from typing import Any

import pytest
import time_machine

from apps.billing import commands as billing
from apps.clinic.models import Branch, Role, User
from apps.reconciliation import commands as recon
from apps.reconciliation.models import DailyClose, Declaration, SignOff
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.billing.factories import RefundFactory
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.reconciliation.factories import DeclarationFactory
from tests.scheduling.factories import PatientFactory

D = Decimal


def take(appointment: Any, amount: str, method: str, kind: str = "deposit") -> Any:
    return billing.payment_take(
        actor=None, appointment=appointment, kind=kind, amount=D(amount), method=method
    )


@pytest.fixture
def busy_monday(doctor: Doctor) -> dict[str, Any]:
    """Monday 4 January 2027 at the main branch (fee 500, no tax), see the expected figures."""

    def book(day: int, hour: int, minute: int = 0) -> Any:
        return commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(day, hour, minute)
        )

    a1, a2, a3, a4, a6 = book(4, 10), book(4, 10, 30), book(4, 11), book(4, 11, 30), book(4, 12)
    a5 = book(5, 10)
    take(a1, "200.00", "cash")
    take(a1, "300.00", "upi", kind="balance")
    commands.appointment_check_in(actor=None, appointment=a1)
    commands.appointment_complete(actor=None, appointment=a1)
    take(a2, "100.00", "card")
    commands.appointment_cancel(actor=None, appointment=a2, reason="x")  # refunds 100 by card
    commands.appointment_mark_no_show(actor=None, appointment=a3, now=ist(4, 11, 20))
    commands.appointment_reschedule(actor=None, appointment=a4, start=ist(5, 9))
    take(a5, "150.00", "cash")  # money today for tomorrow's visit
    six = take(a6, "500.00", "cash")
    RefundFactory(payment=six, amount=D("50.00"), reason="x")
    branch = doctor.branch
    DeclarationFactory(branch=branch, day=ist(4, 0).date(), method="cash", amount=D("790.00"))
    DeclarationFactory(branch=branch, day=ist(4, 0).date(), method="cash", amount=D("795.00"))
    DeclarationFactory(branch=branch, day=ist(4, 0).date(), method="upi", amount=D("300.00"))
    return {"branch": branch}


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def test_the_day_adds_up_to_the_hand_computed_figures(
    desk: HostClient, busy_monday: dict[str, Any]
) -> None:
    branch = busy_monday["branch"]

    body = desk.get(f"/api/v1/reconciliation/daily/?branch={branch.pk}&date=2027-01-04").json()

    assert body["branch"] == branch.pk and body["date"] == "2027-01-04"
    assert (body["bookings"], body["cancellations"], body["no_shows"], body["completed"]) == (
        4,
        1,
        1,
        1,
    )
    assert body["expected"] == "1500.00"  # a1 500 + a3 500 (no invoice: the fee) + a6 500
    assert body["collected"] == {"card": "100.00", "cash": "850.00", "upi": "300.00"}
    assert body["refunded"] == {"card": "100.00", "cash": "50.00"}
    assert body["declared"] == {"cash": "795.00", "upi": "300.00"}  # the later cash count wins
    assert body["variance"] == {"cash": "-5.00", "upi": "0.00"}
    assert body["status"] == "variance"


def test_the_next_day_counts_the_moved_visit_and_tomorrows_deposit_once(
    desk: HostClient, busy_monday: dict[str, Any]
) -> None:
    branch = busy_monday["branch"]

    body = desk.get(f"/api/v1/reconciliation/daily/?branch={branch.pk}&date=2027-01-05").json()

    assert (body["bookings"], body["expected"]) == (2, "1000.00")
    assert body["collected"] == {} and body["status"] == "undeclared"


def test_a_tolerance_turns_a_small_variance_into_balanced(
    desk: HostClient, busy_monday: dict[str, Any]
) -> None:
    recon.tolerance_set(actor=None, tolerance=D("5.00"))
    branch = busy_monday["branch"]

    body = desk.get(f"/api/v1/reconciliation/daily/?branch={branch.pk}&date=2027-01-04").json()

    assert body["status"] == "balanced"


def test_recomputing_is_idempotent(desk: HostClient, busy_monday: dict[str, Any]) -> None:
    url = "/api/v1/reconciliation/run/"

    first = desk.post(url, {"date": "2027-01-04"}, format="json")
    second = desk.post(url, {"date": "2027-01-04"}, format="json")

    assert first.status_code == second.status_code == 202
    strip = [{k: v for k, v in c.items() if k != "as_of_position"} for c in first.json()["closes"]]
    assert strip == [
        {k: v for k, v in c.items() if k != "as_of_position"} for c in second.json()["closes"]
    ]
    assert DailyClose.objects.filter(date="2027-01-04").count() == 1


def test_late_events_are_picked_up_by_the_next_run(
    desk: HostClient, busy_monday: dict[str, Any], doctor: Doctor, patient: Patient
) -> None:
    branch = busy_monday["branch"]
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 9))
    payment = take(visit, "400.00", "card")
    desk.post("/api/v1/reconciliation/run/", {"date": "2027-01-04"}, format="json")

    with time_machine.travel(ist(5, 9), tick=False):
        billing.payment_refund(actor=None, payment=payment, amount=D("400.00"), reason="x")
        DeclarationFactory(branch=branch, day=ist(4, 0).date(), method="card", amount=D("500.00"))
        desk.post("/api/v1/reconciliation/run/", {"date": "2027-01-04"}, format="json")
        desk.post("/api/v1/reconciliation/run/", {"date": "2027-01-05"}, format="json")

    monday = DailyClose.objects.get(branch=branch, date="2027-01-04")
    tuesday = DailyClose.objects.get(branch=branch, date="2027-01-05")
    assert monday.collected["card"] == "500.00"
    assert monday.declared["card"] == "500.00" and monday.variance["card"] == "100.00"
    assert tuesday.refunded == {"card": "400.00"}


def test_a_variance_needs_a_note_to_be_signed_off(
    desk: HostClient, busy_monday: dict[str, Any]
) -> None:
    branch = busy_monday["branch"]
    url = "/api/v1/reconciliation/daily/sign-off/"

    refused = desk.post(url, {"branch": branch.pk, "date": "2027-01-04"}, format="json")
    signed = desk.post(
        url, {"branch": branch.pk, "date": "2027-01-04", "note": "₹5 change short"}, format="json"
    )

    assert refused.status_code == 400 and "note" in refused.json()
    assert signed.status_code == 201
    assert SignOff.objects.get().variance == {"cash": "-5.00", "upi": "0.00"}


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2027-01-04", "method": "cash", "amount": "-1.00"},
        {"date": "2027-01-04", "method": "cheque", "amount": "1.00"},
        {"date": "04/01/2027", "method": "cash", "amount": "1.00"},
        {"date": "2027-01-04", "method": "cash", "amount": "1.001"},
        {"date": "2027-01-04", "method": "cash"},
    ],
)
def test_bad_declarations_are_400(
    desk: HostClient, main_branch: Branch, body: dict[str, str]
) -> None:
    response = desk.post(
        "/api/v1/reconciliation/declarations/", {"branch": main_branch.pk, **body}, format="json"
    )

    assert response.status_code == 400
    assert not Declaration.objects.exists()


def test_reception_declares_for_its_branch_only(tenant: Tenant, main_branch: Branch) -> None:
    from tests.clinic.factories import BranchFactory

    elsewhere = BranchFactory()
    desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)
    body = {"date": "2027-01-04", "method": "cash", "amount": "1200.00"}

    mine = desk.post(
        "/api/v1/reconciliation/declarations/", {"branch": main_branch.pk, **body}, format="json"
    )
    theirs = desk.post(
        "/api/v1/reconciliation/declarations/", {"branch": elsewhere.pk, **body}, format="json"
    )

    assert (mine.status_code, theirs.status_code) == (201, 404)
    assert (
        desk.get(
            f"/api/v1/reconciliation/daily/?branch={main_branch.pk}&date=2027-01-04"
        ).status_code
        == 403
    )
    doctor = client_for(UserFactory(role=Role.DOCTOR, branches=[main_branch]), tenant)
    assert (
        doctor.post(
            "/api/v1/reconciliation/declarations/",
            {"branch": main_branch.pk, **body},
            format="json",
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("day", "desk_status", "manager_status", "desk_told"),
    [
        ("2027-01-04", 201, 201, '"method":"cash"'),  # today
        ("2027-01-02", 201, 201, '"method":"cash"'),  # two days back: inside the desk's window
        ("2027-01-01", 403, 201, "ask a manager"),  # older: a manager's job
        ("2024-06-30", 403, 201, "ask a manager"),
        ("2027-01-05", 400, 400, "has not happened yet"),  # tomorrow has not happened
        ("2031-01-04", 400, 400, "has not happened yet"),
    ],
)
def test_the_desk_declares_recent_days_only_and_nobody_declares_the_future(
    tenant: Tenant,
    owner: User,
    main_branch: Branch,
    day: str,
    desk_status: int,
    manager_status: int,
    desk_told: str,
) -> None:
    desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)
    body = {"branch": main_branch.pk, "date": day, "method": "cash", "amount": "10.00"}

    by_desk = desk.post("/api/v1/reconciliation/declarations/", body, format="json")
    by_owner = client_for(owner, tenant).post(
        "/api/v1/reconciliation/declarations/", body, format="json"
    )

    assert (by_desk.status_code, by_owner.status_code) == (desk_status, manager_status)
    assert desk_told in by_desk.content.decode()
