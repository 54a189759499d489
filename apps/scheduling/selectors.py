"""Read queries of scheduling, already narrowed to what the caller may see."""

from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from zoneinfo import ZoneInfo

from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from apps.clinic.models import Role, User
from apps.clinic.scoping import can_see_branch, scope_to_branches, visible_branches
from apps.core.db import connection
from apps.core.errors import NotFound
from apps.core.shortlived import ShortLived
from apps.scheduling.models import (
    Appointment,
    Doctor,
    NoShowPolicy,
    Patient,
    SchedulingSettings,
    WaitlistEntry,
)
from apps.scheduling.slots import branch_zone, local_date


def doctors_for(user: User) -> QuerySet[Doctor]:
    return scope_to_branches(Doctor.objects.select_related("branch"), user)


# A doctor's row (with their branch) by id, kept at most a second per process
# (apps/core/shortlived.py): the doctor's day asks nothing of PostgreSQL once warm.
_doctors: ShortLived[Doctor] = ShortLived("doctors")


def doctor_in_reach(user: User, pk: int) -> Doctor:
    """The doctor `pk` if their branch is one `user` sees (as `doctors_for`); else 404."""
    doctor = _doctors.get(
        (connection.schema_name, pk),
        lambda: Doctor.objects.select_related("branch").filter(pk=pk).first(),
    )
    if doctor is None or not can_see_branch(user, doctor.branch_id):
        raise NotFound("Doctor not found.")
    return doctor


# A branch's doctors' names and the tenant's scheduling rules as screens read them, kept at
# most a second per process like the doctor above (the console's board, re-read by every open
# screen after each change, then asks PostgreSQL only for the patients' names it shows).
_doctor_names: ShortLived[dict[int, str]] = ShortLived("doctor names")
_rules: ShortLived[SchedulingSettings] = ShortLived("scheduling settings")


def doctor_names(branch_id: int) -> dict[int, str]:
    names = _doctor_names.get(
        (connection.schema_name, branch_id),
        lambda: dict(Doctor.objects.filter(branch_id=branch_id).values_list("pk", "name")),
    )
    return names or {}


def scheduling_rules() -> SchedulingSettings:
    """The rules in force for a read (a command locks the row instead: `for_update`)."""
    rules = _rules.get(connection.schema_name, SchedulingSettings.current)
    return rules or SchedulingSettings.current()


def booking_parties(user: User, doctor_pk: int, patient_pk: int) -> tuple[Doctor, Patient]:
    """The doctor (with their branch) and the patient of a booking, each within the caller's
    reach (as `doctors_for`, `patients_for`; else 404), in one query: the doctor's row and
    whether the patient is one the caller may see. A booking needs only the patient's id, so
    the patient's other fields are left to load when first read."""
    doctor = (
        doctors_for(user)
        .filter(pk=doctor_pk)
        .annotate(patient_in_reach=Exists(patients_for(user).filter(pk=patient_pk)))
        .first()
    )
    if doctor is None:
        raise NotFound("Doctor not found.")
    if not doctor.patient_in_reach:
        raise NotFound("Patient not found.")
    return doctor, Patient.from_db(connection.alias, ["id"], [patient_pk])


def appointments_for(user: User) -> QuerySet[Appointment]:
    appointments = scope_to_branches(Appointment.objects.select_related("branch", "doctor"), user)
    if user.role == Role.DOCTOR:
        appointments = appointments.filter(doctor__user=user)
    return appointments


def waitlist_for(user: User) -> QuerySet[WaitlistEntry]:
    return scope_to_branches(WaitlistEntry.objects.select_related("branch"), user)


def patients_for(user: User) -> QuerySet[Patient]:
    """A chain shares its patients; a doctor sees only those booked with them."""
    if user.role == Role.DOCTOR:
        return Patient.objects.filter(appointments__doctor__user=user).distinct()
    return Patient.objects.all()


def patients_of_my_branches(user: User) -> QuerySet[Patient]:
    """What a listing without a search may show: a patient is found by phone at any branch
    of the chain, but browsing is limited to those registered at or booked in the caller's
    own branches (the whole tenant for owners and managers)."""
    patients = patients_for(user)
    if user.sees_all_branches:
        return patients
    branches = visible_branches(user)
    return patients.filter(
        Q(registered_branch__in=branches) | Q(appointments__branch__in=branches)
    ).distinct()


def upcoming_scope(user: User) -> dict[str, list[int] | None]:
    """The branches (and for a doctor, the doctors) whose visits the user may see."""
    branch_ids = (
        None
        if user.sees_all_branches
        else list(visible_branches(user).values_list("pk", flat=True))
    )
    doctor_ids = None
    if user.role == Role.DOCTOR:
        doctor_ids = list(Doctor.objects.filter(user=user).values_list("pk", flat=True))
    return {"branch_ids": branch_ids, "doctor_ids": doctor_ids}


def on_local_date(
    appointments: QuerySet[Appointment], user: User, day: date
) -> QuerySet[Appointment]:
    """Appointments starting on `day` as each branch's own calendar has it."""
    zones = set(visible_branches(user).values_list("timezone", flat=True))
    if not zones:
        return appointments.none()
    windows = []
    for zone_name in zones:
        zone = ZoneInfo(zone_name)
        start = datetime.combine(day, time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        windows.append(Q(branch__timezone=zone_name, start__gte=start, start__lt=end))
    return appointments.filter(reduce(or_, windows))


def is_repeat_no_show(patient: Patient, now: datetime | None = None) -> bool:
    """Whether the patient is over the tenant's no-show threshold right now."""
    policy = NoShowPolicy.current()
    if not policy.active:
        return False
    since = (now or timezone.now()) - timedelta(days=policy.window_days)
    missed = Appointment.objects.filter(
        patient=patient, status=Appointment.Status.NO_SHOW, start__gte=since
    ).count()
    return missed >= policy.threshold


def same_day_live_visit(
    *, doctor: Doctor, patient: Patient, start: datetime, exclude: int | None = None
) -> Appointment | None:
    """The patient's first live visit with `doctor` on `start`'s local date, if any."""
    zone = branch_zone(doctor)
    day = local_date(start, zone)
    opens = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    visits = Appointment.objects.filter(
        doctor=doctor,
        patient=patient,
        status__in=Appointment.LIVE,
        start__gte=opens,
        start__lt=datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone),
    ).select_related("doctor__branch")
    if exclude is not None:
        visits = visits.exclude(pk=exclude)
    return visits.order_by("start").first()
