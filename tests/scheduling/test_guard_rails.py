"""The front desk's guard rails, held by the commands so that the API, the console and the
admin all obey them: a second visit the same day needs a confirmation, check-in has a
window, a no-show waits for the start plus a grace and can be undone on the same day."""

import pytest
import time_machine

from apps.clinic.models import Branch, Role, User
from apps.core.errors import Conflict, InvalidInput, PermissionDenied
from apps.eventstore import replay
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.reconciliation.compute import close_days
from apps.scheduling import commands, read
from apps.scheduling.commands import DuplicateVisit
from apps.scheduling.models import (
    Appointment,
    AppointmentView,
    Doctor,
    Patient,
    SchedulingSettings,
)
from apps.scheduling.projections import appointments as appointments_projection
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory


@pytest.fixture
def desk_user(main_branch: Branch) -> User:
    return UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])


def book(
    actor: User | None, doctor: Doctor, patient: Patient, hour: int, **extra: object
) -> Appointment:
    return commands.appointment_book(
        actor=actor, doctor=doctor, patient=patient, start=ist(4, hour), **extra
    )


# A second live visit with the same doctor on one day


def test_a_second_visit_with_the_same_doctor_that_day_needs_a_confirmation(
    desk_user: User, doctor: Doctor, patient: Patient
) -> None:
    first = book(desk_user, doctor, patient, 10)

    with pytest.raises(DuplicateVisit) as refused:
        book(desk_user, doctor, patient, 11)
    second = book(desk_user, doctor, patient, 11, confirm_duplicate=True)

    assert refused.value.existing.pk == first.pk
    assert "already has a visit with Dr. Kavita Menon that day at 10:00" in refused.value.message
    assert second.status == Appointment.Status.BOOKED
    assert Appointment.objects.filter(patient=patient).count() == 2


def test_another_doctor_another_day_or_a_cancelled_visit_is_no_duplicate(
    desk_user: User, doctor: Doctor, patient: Patient, main_branch: Branch
) -> None:
    first = book(desk_user, doctor, patient, 10)
    other_doctor = DoctorFactory(branch=main_branch)

    book(desk_user, other_doctor, patient, 10)
    commands.appointment_book(actor=desk_user, doctor=doctor, patient=patient, start=ist(5, 10))
    commands.appointment_cancel(actor=desk_user, appointment=first, reason="moved plans")
    again = book(desk_user, doctor, patient, 11)

    assert again.status == Appointment.Status.BOOKED


def test_the_api_books_a_duplicate_as_v1_did_and_refuses_it_when_asked(
    owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    api = client_for(owner, tenant)
    first = book(owner, doctor, patient, 10)
    body = {"doctor": doctor.pk, "patient": patient.pk, "start": "2027-01-04T11:00:00+05:30"}

    refused = api.post("/api/v1/appointments/", {**body, "confirm_duplicate": False}, format="json")
    booked = api.post("/api/v1/appointments/", body, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "duplicate_visit"
    assert refused.json()["existing"] == first.pk
    assert booked.status_code == 201, booked.content
    assert booked.json()["status"] == "booked"


# Check-in window, complete after check-in


def test_check_in_opens_two_hours_before_the_start_by_default(
    desk_user: User, doctor: Doctor, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    visit = commands.appointment_book(
        actor=desk_user, doctor=doctor, patient=patient, start=ist(4, 10, 30)
    )

    with pytest.raises(Conflict, match="Check-in opens at 08:30"):
        commands.appointment_check_in(actor=desk_user, appointment=visit)
    monday_morning.move_to(ist(4, 8, 30))
    checked = commands.appointment_check_in(actor=desk_user, appointment=visit)

    assert checked.status == Appointment.Status.CHECKED_IN


def test_the_check_in_window_is_the_tenants_setting(
    owner: User, desk_user: User, doctor: Doctor, patient: Patient
) -> None:
    visit = book(desk_user, doctor, patient, 11)
    with pytest.raises(Conflict):
        commands.appointment_check_in(actor=desk_user, appointment=visit)

    commands.scheduling_settings_update(
        actor=owner, check_in_opens_minutes=180, no_show_grace_minutes=15
    )

    assert commands.appointment_check_in(actor=desk_user, appointment=visit).status == (
        "checked_in"
    )
    assert Event.objects.filter(type="SchedulingSettingsChanged").count() == 1


def test_check_in_through_the_api_before_the_window_is_a_409(
    owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    visit = book(owner, doctor, patient, 12)

    response = client_for(owner, tenant).post(f"/api/v1/appointments/{visit.pk}/check-in/")

    assert response.status_code == 409
    assert response.json() == {"detail": "Check-in opens at 10:00."}


def test_only_a_checked_in_visit_completes(
    desk_user: User, doctor: Doctor, patient: Patient
) -> None:
    visit = book(desk_user, doctor, patient, 9)

    with pytest.raises(Conflict, match="cannot become completed"):
        commands.appointment_complete(actor=desk_user, appointment=visit)


def test_scheduling_settings_are_checked_and_kept_to_managers(owner: User, desk_user: User) -> None:
    with pytest.raises(InvalidInput):
        commands.scheduling_settings_update(
            actor=owner, check_in_opens_minutes=5000, no_show_grace_minutes=15
        )
    with pytest.raises(PermissionDenied):
        commands.scheduling_settings_update(
            actor=desk_user, check_in_opens_minutes=60, no_show_grace_minutes=15
        )
    assert SchedulingSettings.current().check_in_opens_minutes == 120


# No-show after the start plus the grace; undo on the same day


def test_a_no_show_waits_for_the_start_plus_the_grace(
    desk_user: User, doctor: Doctor, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    visit = book(desk_user, doctor, patient, 10)

    monday_morning.move_to(ist(4, 10, 14))
    with pytest.raises(Conflict, match="from 10:15"):
        commands.appointment_mark_no_show(actor=desk_user, appointment=visit)
    monday_morning.move_to(ist(4, 10, 15))
    missed = commands.appointment_mark_no_show(actor=desk_user, appointment=visit)

    assert missed.status == Appointment.Status.NO_SHOW


def test_the_no_show_grace_is_the_tenants_setting(
    owner: User, desk_user: User, doctor: Doctor, patient: Patient
) -> None:
    visit = book(desk_user, doctor, patient, 10)
    commands.scheduling_settings_update(
        actor=owner, check_in_opens_minutes=120, no_show_grace_minutes=60
    )

    with pytest.raises(Conflict, match="from 11:00"):
        commands.appointment_mark_no_show(actor=desk_user, appointment=visit, now=ist(4, 10, 30))
    missed = commands.appointment_mark_no_show(actor=desk_user, appointment=visit, now=ist(4, 11))

    assert missed.status == Appointment.Status.NO_SHOW


def test_a_no_show_before_the_start_through_the_api_is_a_409(
    owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    visit = book(owner, doctor, patient, 9)

    response = client_for(owner, tenant).post(f"/api/v1/appointments/{visit.pk}/no-show/")

    assert response.status_code == 409
    assert Appointment.objects.get(pk=visit.pk).status == Appointment.Status.BOOKED


def test_a_no_show_is_undone_the_same_day_and_every_count_follows(
    owner: User,
    tenant: Tenant,
    doctor: Doctor,
    patient: Patient,
    main_branch: Branch,
    monday_morning: time_machine.Coordinates,
) -> None:
    visit = book(owner, doctor, patient, 9)
    monday_morning.move_to(ist(4, 9, 30))
    commands.appointment_mark_no_show(actor=owner, appointment=visit)
    catch_up()
    assert read.branch_board(main_branch, ist(4, 0).date())["counts"]["no_show"] == 1

    response = client_for(owner, tenant).post(f"/api/v1/appointments/{visit.pk}/undo-no-show/")
    catch_up()

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "booked"
    assert Event.objects.filter(type="AppointmentNoShowUndone").count() == 1
    assert AppointmentView.objects.get(appointment_id=visit.pk).status == "booked"
    board = read.branch_board(main_branch, ist(4, 0).date())
    assert (board["counts"]["no_show"], board["counts"]["booked"]) == (0, 1)
    (close,) = close_days(ist(4, 0).date(), ist(4, 0).date(), {main_branch.pk})
    assert (close.no_shows, close.bookings) == (0, 1)
    assert replay.check(appointments_projection) == []


def test_a_no_show_cannot_be_undone_the_next_day(
    desk_user: User, doctor: Doctor, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    visit = book(desk_user, doctor, patient, 16)
    commands.appointment_mark_no_show(actor=desk_user, appointment=visit, now=ist(4, 16, 30))
    monday_morning.move_to(ist(5, 8))

    with pytest.raises(Conflict, match="only on the day of the appointment"):
        commands.appointment_undo_no_show(actor=desk_user, appointment=visit)
    assert Appointment.objects.get(pk=visit.pk).status == Appointment.Status.NO_SHOW


def test_undoing_a_no_show_whose_slot_was_rebooked_is_a_409(
    desk_user: User, doctor: Doctor, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    visit = book(desk_user, doctor, patient, 12)
    commands.appointment_mark_no_show(actor=desk_user, appointment=visit, now=ist(4, 12, 20))
    # The freed time went to someone else (booked before it started, as it might be).
    commands.appointment_book(
        actor=desk_user, doctor=doctor, patient=PatientFactory(), start=ist(4, 12)
    )
    monday_morning.move_to(ist(4, 12, 25))

    with pytest.raises(Conflict, match="already taken"):
        commands.appointment_undo_no_show(actor=desk_user, appointment=visit)
    assert Appointment.objects.get(pk=visit.pk).status == Appointment.Status.NO_SHOW


# The admin obeys the same rules


def test_scheduling_settings_are_edited_in_the_admin_through_the_command(
    api: HostClient, owner: User
) -> None:
    api.force_login(owner)

    response = api.post(
        "/admin/scheduling/schedulingsettings/add/",
        {
            "check_in_opens_minutes": 60,
            "no_show_grace_minutes": 10,
            "booking_horizon_days": 365,
            "patient_open_bookings": 5,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Event.objects.filter(type="SchedulingSettingsChanged").count() == 1
    rules = SchedulingSettings.current()
    assert (rules.check_in_opens_minutes, rules.no_show_grace_minutes) == (60, 10)


def test_the_admin_actions_mark_and_undo_a_no_show_only_when_the_rules_allow(
    api: HostClient,
    owner: User,
    doctor: Doctor,
    patient: Patient,
    monday_morning: time_machine.Coordinates,
) -> None:
    visit = book(owner, doctor, patient, 9)
    api.force_login(owner)
    url = "/admin/scheduling/appointment/"

    early = api.post(url, {"action": "mark_no_show", "_selected_action": [visit.pk]}, follow=True)
    monday_morning.move_to(ist(4, 9, 30))
    api.post(url, {"action": "mark_no_show", "_selected_action": [visit.pk]})
    marked = Appointment.objects.get(pk=visit.pk).status
    api.post(url, {"action": "undo_no_show", "_selected_action": [visit.pk]})

    assert "A no-show can be marked from 09:15." in early.content.decode()
    assert marked == Appointment.Status.NO_SHOW
    assert Appointment.objects.get(pk=visit.pk).status == Appointment.Status.BOOKED
