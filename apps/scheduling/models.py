"""Doctors, their hours and leave, branch closures, patients and appointments.

Every model here is event-sourced: it changes only through `apps.scheduling.commands`,
and each change appends one event to the tenant's log in the same transaction.
"""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import Func, Q

from apps.clinic.models import Branch, User
from apps.eventstore.models import EventSourcedModel


class Doctor(EventSourcedModel):
    stream_type = "doctor"

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="doctors")
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="doctor"
    )
    name = models.CharField(max_length=150)
    specialty = models.CharField(max_length=120)
    slot_minutes = models.PositiveSmallIntegerField()
    consultation_fee = models.DecimalField(max_digits=10, decimal_places=2)
    # [{"weekday": 0..6 (Mon..Sun), "start": "HH:MM", "end": "HH:MM"}, ...] in branch time;
    # several intervals on one weekday leave breaks between them.
    weekly_hours = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DoctorLeave(EventSourcedModel):
    """Days a doctor does not see patients (both dates included, branch time)."""

    stream_type = "doctor-leave"

    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="leaves")
    start_date = models.DateField()
    end_date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="leave_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.doctor} off {self.start_date}–{self.end_date}"

    def event_branch_id(self) -> int | None:
        return self.doctor.branch_id


class BranchClosure(EventSourcedModel):
    """A whole day the branch is closed (a holiday)."""

    stream_type = "branch-closure"

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["branch", "date"], name="closure_branch_date")
        ]

    def __str__(self) -> str:
        return f"{self.branch} closed {self.date}"


class Patient(EventSourcedModel):
    """A patient of the tenant (a chain shares its patients across branches)."""

    stream_type = "patient"

    name = models.CharField(max_length=150)
    phone = models.CharField(max_length=20, db_index=True)  # E.164, e.g. +919812345678
    date_of_birth = models.DateField(null=True, blank=True)
    registered_branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Patient {self.pk}"

    def event_branch_id(self) -> int | None:
        return self.registered_branch_id


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Appointment(EventSourcedModel):
    stream_type = "appointment"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    # States that hold the doctor's time; a cancelled or missed slot is free again.
    HOLDING = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)

    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    cancel_reason = models.CharField(max_length=200, blank=True)
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["branch", "start"], name="appointment_branch_start"),
            models.Index(fields=["doctor", "start"], name="appointment_doctor_start"),
        ]
        constraints = [
            # No double booking, enforced by PostgreSQL whatever the concurrency.
            ExclusionConstraint(
                name="appointment_no_overlap",
                expressions=[
                    ("doctor", RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=["booked", "checked_in", "completed"]),
            ),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="appointment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Appointment {self.pk} ({self.status})"

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def event_data(self, **extra: Any) -> dict[str, Any]:
        """The appointment's facts as event data: ids, times and its local date; no PHI."""
        zone = ZoneInfo(self.doctor.branch.timezone)
        return {
            "doctor_id": self.doctor_id,
            "patient_id": self.patient_id,
            "branch_id": self.branch_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "date": self.start.astimezone(zone).date().isoformat(),
            "status": self.status,
            "follow_up_of": self.follow_up_of_id,
            **extra,
        }


# Read models (built by apps.scheduling.projections; never written by commands).


class AppointmentView(models.Model):
    """One row per appointment as the log tells it: serves the doctor's day, the branch
    board and a patient's upcoming visits."""

    appointment_id = models.BigIntegerField(primary_key=True)
    branch_id = models.BigIntegerField()
    doctor_id = models.BigIntegerField()
    patient_id = models.BigIntegerField()
    date = models.DateField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12)
    follow_up_of_id = models.BigIntegerField(null=True)
    position = models.BigIntegerField()

    class Meta:
        ordering = ["start", "appointment_id"]
        indexes = [
            models.Index(fields=["branch_id", "date", "start"], name="apptview_branch_day"),
            models.Index(fields=["doctor_id", "date", "start"], name="apptview_doctor_day"),
            models.Index(fields=["patient_id", "start"], name="apptview_patient"),
        ]

    def __str__(self) -> str:
        return f"Appointment {self.appointment_id} ({self.status})"
