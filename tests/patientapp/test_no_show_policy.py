"""Repeat no-shows: the tenant's threshold flags their bookings on the reception board,
billing adds the no-show fee to the invoice, and the patient app asks for the deposit at
reception. All off by default."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.billing import commands as billing
from apps.clinic.models import Branch, User
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.patientapp.commands import DEPOSIT_REQUIRED
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import IST, ist
from tests.conftest import HostClient, client_for


def missed(doctor: Doctor, patient: Patient, start: datetime) -> Appointment:
    """A past visit the patient did not come to."""
    visit = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=start, now=start.replace(hour=7)
    )
    return commands.appointment_mark_no_show(
        actor=None, appointment=visit, now=start.replace(minute=45)
    )


@pytest.fixture
def two_no_shows(doctor: Doctor, patient: Patient) -> None:
    missed(doctor, patient, datetime(2026, 12, 28, 9, tzinfo=IST))
    missed(doctor, patient, datetime(2026, 12, 30, 9, tzinfo=IST))


@pytest.fixture
def policy() -> None:
    commands.no_show_policy_update(actor=None, threshold=2, window_days=90)


@pytest.fixture
def fee(policy: None) -> None:
    billing.no_show_charges_update(
        actor=None, no_show_fee=Decimal("150.00"), no_show_deposit=Decimal("0")
    )


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def desk_book(desk: HostClient, doctor: Doctor, patient: Patient, hour: int) -> Any:
    body = {"doctor": doctor.pk, "patient": patient.pk, "start": f"2027-01-04T{hour:02d}:00"}
    response = desk.post("/api/v1/appointments/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def app_book(client: HostClient, doctor: Doctor) -> Any:
    body = {"doctor": doctor.pk, "start": "2027-01-05T09:00"}
    return client.post("/api/v1/patient/appointments/", body, format="json")


def test_the_policy_is_off_by_default(
    desk: HostClient, doctor: Doctor, patient: Patient, two_no_shows: None
) -> None:
    booked = desk_book(desk, doctor, patient, 10)

    assert (
        Event.objects.get(type="AppointmentBooked", data__id=booked["id"]).data["repeat_no_show"]
        is False
    )
    invoice = desk.get(f"/api/v1/appointments/{booked['id']}/invoice/").json()
    assert (invoice["number"], invoice["total"]) == (None, "500.00")


def test_a_repeat_no_shows_booking_is_flagged_and_charged_the_fee(
    desk: HostClient,
    doctor: Doctor,
    patient: Patient,
    someone_else: Patient,
    main_branch: Branch,
    two_no_shows: None,
    fee: None,
) -> None:
    flagged = desk_book(desk, doctor, patient, 10)
    plain = desk_book(desk, doctor, someone_else, 11)

    booked = Event.objects.get(type="AppointmentBooked", data__id=flagged["id"])
    assert booked.data["repeat_no_show"] is True
    invoice = desk.get(f"/api/v1/appointments/{flagged['id']}/invoice/").json()
    assert invoice["number"] is not None  # issued with the booking
    assert [(line["kind"], line["amount"]) for line in invoice["lines"]] == [
        ("fee", "500.00"),
        ("no_show_fee", "150.00"),
    ]
    assert (invoice["total"], invoice["tax"], invoice["balance_due"]) == (
        "650.00",
        "0.00",
        "650.00",
    )
    issued = Event.objects.get(type="InvoiceIssued", data__appointment_id=flagged["id"])
    assert issued.data["total"] == "650.00"
    assert desk.get(f"/api/v1/appointments/{plain['id']}/invoice/").json()["total"] == "500.00"

    catch_up()
    board = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()
    flags = {row["id"]: row["repeat_no_show"] for row in board["appointments"]}
    assert flags == {flagged["id"]: True, plain["id"]: False}


def test_the_reception_board_shows_the_flag(
    api: HostClient,
    owner: User,
    doctor: Doctor,
    patient: Patient,
    someone_else: Patient,
    main_branch: Branch,
    two_no_shows: None,
    policy: None,
) -> None:
    flagged = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
    )
    commands.appointment_book(actor=None, doctor=doctor, patient=someone_else, start=ist(4, 11))
    catch_up()
    api.force_login(owner)

    page = api.get(f"/reception/branches/{main_branch.pk}/").content.decode()

    assert page.count('data-testid="repeat-no-show"') == 1
    row = page.split(f'data-appointment="{flagged.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Repeat no-show" in row


def test_no_shows_outside_the_window_do_not_count(
    desk: HostClient, doctor: Doctor, patient: Patient, fee: None
) -> None:
    missed(doctor, patient, datetime(2026, 9, 1, 9, tzinfo=IST))  # 125 days ago
    missed(doctor, patient, datetime(2026, 12, 30, 9, tzinfo=IST))

    booked = desk_book(desk, doctor, patient, 10)

    assert Appointment.objects.get(pk=booked["id"]).repeat_no_show is False
    assert desk.get(f"/api/v1/appointments/{booked['id']}/invoice/").json()["total"] == "500.00"


def test_a_patient_app_booking_carries_the_fee_on_the_patients_invoice(
    me: HostClient, doctor: Doctor, patient: Patient, two_no_shows: None, fee: None
) -> None:
    response = app_book(me, doctor)

    assert response.status_code == 201, response.content
    invoices = me.get("/api/v1/patient/invoices/").json()["results"]
    assert [(i["appointment"], i["total"]) for i in invoices] == [(response.json()["id"], "650.00")]
    assert invoices[0]["lines"][-1]["description"] == "No-show fee"
    issued = Event.objects.get(type="InvoiceIssued")
    assert issued.metadata["actor_role"] == "patient"


def test_a_required_deposit_sends_the_patient_to_reception(
    me: HostClient,
    desk: HostClient,
    doctor: Doctor,
    patient: Patient,
    two_no_shows: None,
    policy: None,
) -> None:
    billing.no_show_charges_update(
        actor=None, no_show_fee=Decimal("0"), no_show_deposit=Decimal("300.00")
    )
    head = Event.objects.order_by("-position").first()

    response = app_book(me, doctor)

    assert response.status_code == 409
    assert response.json() == {"detail": DEPOSIT_REQUIRED}
    assert Event.objects.order_by("-position").first() == head  # nothing happened
    # Reception books the visit and takes the deposit with it.
    booked = desk_book(desk, doctor, patient, 10)
    assert booked["status"] == "booked"
    deposit = {"kind": "deposit", "amount": "300.00", "method": "upi"}
    paid = desk.post(f"/api/v1/appointments/{booked['id']}/payments/", deposit, format="json")
    assert paid.status_code == 201


def test_a_patient_under_the_threshold_books_without_a_deposit(
    me: HostClient, doctor: Doctor, patient: Patient, policy: None
) -> None:
    billing.no_show_charges_update(
        actor=None, no_show_fee=Decimal("0"), no_show_deposit=Decimal("300.00")
    )
    missed(doctor, patient, datetime(2026, 12, 30, 9, tzinfo=IST))

    response = app_book(me, doctor)

    assert response.status_code == 201


def test_cancelling_a_flagged_visit_voids_its_fee(
    desk: HostClient, doctor: Doctor, patient: Patient, two_no_shows: None, fee: None
) -> None:
    booked = desk_book(desk, doctor, patient, 10)

    desk.post(f"/api/v1/appointments/{booked['id']}/cancel/", {"reason": "x"}, format="json")

    invoice = desk.get(f"/api/v1/appointments/{booked['id']}/invoice/").json()
    assert (invoice["status"], invoice["total"]) == ("void", "0.00")


@pytest.mark.parametrize(
    ("url", "body", "event"),
    [
        (
            "/admin/scheduling/noshowpolicy/add/",
            {"threshold": 3, "window_days": 60},
            "NoShowPolicyChanged",
        ),
        (
            "/admin/billing/billingsettings/add/",
            {"cancellation_policy": "refund", "no_show_fee": "100.00", "no_show_deposit": "0.00"},
            "NoShowChargesChanged",
        ),
        (
            "/admin/patientapp/patientappsettings/add/",
            {"change_window_hours": 2},
            "PatientAppSettingsChanged",
        ),
    ],
)
def test_the_settings_are_edited_in_the_admin_through_the_commands(
    api: HostClient, owner: User, url: str, body: dict[str, Any], event: str
) -> None:
    api.force_login(owner)

    response = api.post(url, body)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Event.objects.filter(type=event).count() == 1
    assert api.get(url).status_code == 403  # one row per tenant: nothing more to add


def test_a_replay_rebuilds_the_flag_from_the_log(
    doctor: Doctor, patient: Patient, two_no_shows: None, policy: None
) -> None:
    from apps.eventstore import replay
    from apps.scheduling.models import AppointmentView
    from apps.scheduling.projections import appointments

    flagged = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
    )
    catch_up()
    commands.no_show_policy_update(actor=None, threshold=0, window_days=90)  # later: off

    replay.rebuild(appointments)

    assert AppointmentView.objects.get(appointment_id=flagged.pk).repeat_no_show is True
    assert replay.check(appointments) == []
