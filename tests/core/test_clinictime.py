"""The one rule for times and money: what people see is on the clinic's clock, written one
way (apps.core.clinictime, mymedic/formats/en_IN)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from apps.billing import commands as billing
from apps.clinic.models import Branch, Role, User
from apps.core import clinictime
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


IST = ZoneInfo("Asia/Kolkata")


def test_one_format_for_dates_times_and_money_in_india() -> None:
    instant = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)

    with translation.override("en-in"):
        assert clinictime.format_datetime(instant, "Asia/Kolkata") == "2 Dec 2026, 09:00 IST"
        assert clinictime.format_date(instant, "Asia/Kolkata") == "2 Dec 2026"
        assert clinictime.format_time(instant, "Asia/Kolkata") == "09:00"
        assert clinictime.format_date(date(2026, 12, 1)) == "1 Dec 2026"
        assert clinictime.format_money(Decimal("1234567.5"), "INR") == "₹12,34,567.50"
        assert clinictime.format_money(Decimal("-50"), "INR") == "−₹50.00"
        assert clinictime.format_money(Decimal("999"), "USD") == "$999.00"


def test_hindi_pages_group_rupees_in_lakhs_and_name_the_month_in_hindi() -> None:
    instant = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)

    with translation.override("hi"):
        assert clinictime.format_money(Decimal("123456"), "INR") == "₹1,23,456.00"
        assert clinictime.format_money(Decimal("12345678.5"), "INR") == "₹1,23,45,678.50"
        assert clinictime.format_date(instant, "Asia/Kolkata") == "2 दिसंबर 2026"
        assert clinictime.format_time(instant, "Asia/Kolkata") == "09:00"
        assert clinictime.format_datetime(instant, "Asia/Kolkata") == "2 दिसंबर 2026, 09:00 IST"


def test_a_date_near_midnight_is_the_clinics_date_not_utcs() -> None:
    just_after_midnight_ist = datetime(2026, 12, 1, 19, 5, tzinfo=UTC)  # 00:35 IST on 2 Dec

    with translation.override("en-in"):
        assert clinictime.format_date(just_after_midnight_ist, "Asia/Kolkata") == "2 Dec 2026"
        assert clinictime.format_date(just_after_midnight_ist, "Europe/London") == "1 Dec 2026"


def test_a_9am_ist_visit_prints_9am_on_the_receipt(
    api: HostClient, owner: User, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("450"), method="upi"
    )
    api.force_login(owner)

    html = api.get(f"/reception/appointments/{visit.pk}/invoice/").content.decode()

    assert "5 Jan 2027, 09:00 IST" in html
    assert "03:30" not in html
    assert "₹450.00" in html and "<td>UPI</td>" in html


def test_a_payment_at_0035_ist_on_2_dec_is_listed_on_2_dec_in_the_admin(
    api: HostClient,
    owner: User,
    doctor: Doctor,
    patient: Patient,
    monday_morning: time_machine.Coordinates,
) -> None:
    monday_morning.move_to(datetime(2026, 12, 1, 23, 0, tzinfo=IST))
    visit = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=datetime(2026, 12, 2, 10, tzinfo=IST)
    )
    monday_morning.move_to(datetime(2026, 12, 2, 0, 35, tzinfo=IST))
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("300"), method="cash"
    )
    api.force_login(owner)
    url = "/admin/billing/payment/"

    on_2_dec = api.get(f"{url}?received__year=2026&received__month=12&received__day=2")
    on_1_dec = api.get(f"{url}?received__year=2026&received__month=12&received__day=1")

    assert "2 Dec 2026, 00:35 IST" in on_2_dec.content.decode()
    assert "₹300.00" in on_2_dec.content.decode()
    assert "00:35" not in on_1_dec.content.decode()
    assert "0 payments" in on_1_dec.content.decode()


def test_staff_of_one_branch_read_their_branchs_clock_and_managers_the_tenants(
    api: HostClient,
    owner: User,
    main_branch: Branch,
    monday_morning: time_machine.Coordinates,
) -> None:
    london = BranchFactory(name="London", timezone="Europe/London")
    lead = UserFactory(role=Role.BRANCH_MANAGER, branches=[london], is_staff=True)
    monday_morning.move_to(datetime(2027, 1, 2, 3, 0, tzinfo=IST))  # 1 Jan 21:30 in London

    api.force_login(lead)
    leads_index = api.get("/admin/").content.decode()
    api.force_login(owner)
    owners_index = api.get("/admin/").content.decode()

    assert clinictime.timezone_for_staff(lead) == "Europe/London"
    assert clinictime.timezone_for_staff(owner) == "Asia/Kolkata"
    assert "start__month=1&amp;start__day=1" in leads_index  # London's today
    assert "start__month=1&amp;start__day=2" in owners_index  # the tenant's today


def test_each_appointment_is_shown_on_its_own_branchs_clock(
    api: HostClient, owner: User, patient: Patient
) -> None:
    london = BranchFactory(name="London", timezone="Europe/London")
    doctor = DoctorFactory(
        branch=london, weekly_hours=[{"weekday": 0, "start": "09:00", "end": "17:00"}]
    )
    commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=datetime(2027, 1, 4, 10, tzinfo=UTC)
    )
    api.force_login(owner)

    listing = api.get("/admin/scheduling/appointment/").content.decode()

    assert "4 Jan 2027, 10:00 GMT" in listing  # London's clock, not the tenant's IST
