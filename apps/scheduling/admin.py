"""Admin screens for doctors, patients and appointments. Changes go through the commands.
Patient names are shown where a manager needs them, and every page that shows them is an
audited read (a list is one `patient.list` entry naming the patients on the page)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.audit.trail import record
from apps.clinic.admin import (
    BranchScopedAdmin,
    TenantSettingsAdmin,
    clinic_time_column,
    money_column,
)
from apps.clinic.scoping import staff_of
from apps.core.errors import DomainError, InvalidInput
from apps.core.keys import phone_indexes
from apps.scheduling import commands
from apps.scheduling.hours import normalize_weekly_hours
from apps.scheduling.models import (
    Appointment,
    Doctor,
    NoShowPolicy,
    Patient,
    SchedulingSettings,
    SlotHold,
    WaitlistEntry,
)
from apps.scheduling.phones import normalize_phone

DOCTOR_FIELDS = [
    "branch",
    "user",
    "name",
    "specialty",
    "slot_minutes",
    "consultation_fee",
    "weekly_hours",
]


class DoctorForm(forms.ModelForm):
    weekly_hours = forms.JSONField(
        initial=list,
        help_text='e.g. [{"weekday": 0, "start": "09:00", "end": "13:00"}] (0 = Monday). '
        'Easier: <a href="/setup/doctors/">Set-up → Doctors</a> has a weekly grid.',
    )

    class Meta:
        model = Doctor
        fields = [*DOCTOR_FIELDS, "active"]

    def clean_weekly_hours(self) -> Any:
        try:
            return normalize_weekly_hours(self.cleaned_data["weekly_hours"])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_slot_minutes(self) -> int:
        minutes = int(self.cleaned_data["slot_minutes"])
        if not 5 <= minutes <= 240:
            raise forms.ValidationError("Slots last 5 to 240 minutes.")
        return minutes


def patient_name(patient: Patient | None) -> str:
    if patient is None:
        return "—"
    return (patient.name or "(erased)") if patient.erased is None else "(erased)"


def masked_phone(phone: str | None) -> str:
    """Enough to tell two patients apart at the desk, not to call them: "••••••5678"."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"••••••{digits[-4:]}" if digits else "—"


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def readable_hours(weekly_hours: list[dict[str, Any]]) -> str:
    """ "Mon 09:00–13:00, 16:00–18:00 · Tue …" (the branch's wall clock)."""
    by_day: dict[int, list[str]] = {}
    for interval in weekly_hours:
        by_day.setdefault(int(interval["weekday"]), []).append(
            f"{interval['start']}–{interval['end']}"
        )
    return " · ".join(f"{WEEKDAYS[d]} {', '.join(spans)}" for d, spans in sorted(by_day.items()))


class ListsPatientNames(BranchScopedAdmin):
    """A list that shows patient names: each page shown is one audited read of them."""

    patient_attr = "patient_id"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            ids = sorted({getattr(row, self.patient_attr) for row in changelist.result_list})
            if ids:
                record("patient.list", actor=staff_of(request), detail={"patients": ids})
        return response


@admin.register(Doctor)
class DoctorAdmin(BranchScopedAdmin):
    form = DoctorForm
    list_display = ["name", "specialty", "branch", "hours", "slot_minutes", "fee", "active"]
    list_select_related = ["branch"]
    list_filter = [("branch", admin.RelatedOnlyFieldListFilter), "specialty", "active"]
    search_fields = ["name", "specialty"]

    @admin.display(description="Weekly hours")
    def hours(self, doctor: Doctor) -> str:
        return readable_hours(doctor.weekly_hours)

    fee = money_column("consultation_fee", "Consultation fee")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Who and where stay fixed; hours, slot length, fee and availability can change.
        return ["branch", "user", "name", "specialty"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A new doctor is active; availability changes on an existing one.
        return [*DOCTOR_FIELDS, "active"] if obj is not None else DOCTOR_FIELDS

    def save_model(self, request: HttpRequest, obj: Doctor, form: Any, change: bool) -> None:
        if change:
            commands.doctor_update(
                actor=staff_of(request),
                doctor=obj,
                weekly_hours=form.cleaned_data["weekly_hours"],
                slot_minutes=obj.slot_minutes,
                consultation_fee=obj.consultation_fee,
                active=obj.active,
            )
            return
        created = commands.doctor_add(
            actor=staff_of(request),
            branch=obj.branch,
            user=obj.user,
            name=obj.name,
            specialty=obj.specialty,
            slot_minutes=obj.slot_minutes,
            consultation_fee=obj.consultation_fee,
            weekly_hours=form.cleaned_data["weekly_hours"],
        )
        obj.pk = created.pk


@admin.register(Patient)
class PatientAdmin(ListsPatientNames):
    """Names are listed (an audited read of the page), phones masked; opening a patient is
    an audited read too."""

    branch_field = "registered_branch"
    patient_attr = "pk"
    list_display = ["full_name", "phone_masked", "registered_branch", "created", "erased"]
    ordering = ["-created", "-id"]
    list_filter = [("registered_branch", admin.RelatedOnlyFieldListFilter)]
    search_help_text = "Search by phone number"
    search_fields = ["phone_index"]  # replaced by a blind-index lookup below
    fields = (
        "name",
        "phone",
        "date_of_birth",
        "address",
        "notes",
        "registered_branch",
        "created",
        "erased",
    )
    readonly_fields = fields

    @admin.display(description="Name")
    def full_name(self, patient: Patient) -> str:
        return patient_name(patient)

    @admin.display(description="Phone")
    def phone_masked(self, patient: Patient) -> str:
        return masked_phone(patient.phone) if patient.erased is None else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A chain shares its patients: managers see them all (no branch narrowing).
        return Patient.objects.select_related("registered_branch")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term:
            return queryset, False
        try:
            return queryset.filter(
                phone_index__in=phone_indexes(normalize_phone(search_term))
            ), False
        except DomainError:
            return queryset.none(), False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        record("patient.read", actor=staff_of(request), target=f"patient:{object_id}")
        return super().change_view(request, object_id, form_url, extra_context)


def _visit_step(name: str, step: str, description: str, done: str) -> Any:
    """The admin action `name`: one step of the visit state machine for each row chosen."""

    def act(
        modeladmin: "AppointmentAdmin", request: HttpRequest, queryset: QuerySet[Appointment]
    ) -> None:
        modeladmin._apply(request, queryset, commands.VISIT_STEPS[step], done)

    act.__name__ = name
    return admin.action(description=description)(act)


@admin.register(Appointment)
class AppointmentAdmin(ListsPatientNames):
    """Times on the clock of the appointment's branch, newest first."""

    list_display = ["when", "patient_full_name", "doctor", "branch", "status"]
    list_select_related = ["patient", "doctor", "branch"]
    list_filter = [
        ("start", admin.DateFieldListFilter),
        "status",
        ("branch", admin.RelatedOnlyFieldListFilter),
        ("doctor", admin.RelatedOnlyFieldListFilter),
    ]
    date_hierarchy = "start"
    ordering = ["-start", "-id"]
    readonly_fields = (
        "when",
        "ends",
        "patient_full_name",
        "doctor",
        "branch",
        "status",
        "cancel_reason",
        "follow_up_of",
        "repeat_no_show",
        "booked_at",
    )
    fields = readonly_fields
    actions = [
        _visit_step("check_in", "check_in", "Check in", "Checked in"),
        _visit_step("complete", "complete", "Complete", "Completed"),
        _visit_step("mark_no_show", "no_show", "Mark no-show", "Marked no-show"),
        _visit_step(
            "undo_no_show", "undo_no_show", "Undo no-show (same day only)", "No-show undone"
        ),
        "cancel",
    ]

    when = clinic_time_column("start", "When")
    ends = clinic_time_column("end", "Ends")
    booked_at = clinic_time_column("created", "Booked at")

    @admin.display(description="Patient")
    def patient_full_name(self, appointment: Appointment) -> str:
        return patient_name(appointment.patient)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        shown = self.get_queryset(request).filter(pk=object_id) if object_id.isdigit() else []
        for patient_id in {a.patient_id for a in shown}:
            record("patient.read", actor=staff_of(request), target=f"patient:{patient_id}")
        return super().change_view(request, object_id, form_url, extra_context)

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Appointment],
        command: Any,
        done: str,
        **extra: Any,
    ) -> None:
        count = 0
        for appointment in queryset:
            try:
                command(actor=staff_of(request), appointment=appointment, **extra)
                count += 1
            except DomainError as exc:
                self.message_user(
                    request, f"Appointment {appointment.pk}: {exc.message}", messages.ERROR
                )
        if count:
            self.message_user(request, f"{done}: {count}.")

    @admin.action(description="Cancel (reason: cancelled by the clinic)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        self._apply(
            request,
            queryset,
            commands.appointment_cancel,
            "Cancelled",
            reason="Cancelled by the clinic",
        )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(BranchScopedAdmin):
    """Read-only: the waitlist changes through its commands (API, cancellations, expiry)."""

    list_display = ["id", "date", "doctor", "branch", "status", "created"]
    list_filter = ["status", ("branch", admin.RelatedOnlyFieldListFilter), "date"]
    readonly_fields = [f.name for f in WaitlistEntry._meta.fields]
    exclude = ["patient"]


@admin.register(SlotHold)
class SlotHoldAdmin(BranchScopedAdmin):
    list_display = ["id", "start", "doctor", "branch", "status", "expires_at"]
    list_filter = ["status", ("branch", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = [f.name for f in SlotHold._meta.fields]
    exclude = ["patient"]


@admin.register(NoShowPolicy)
class NoShowPolicyAdmin(TenantSettingsAdmin):
    list_display = ["__str__", "threshold", "window_days"]
    fields = ["threshold", "window_days"]

    def update(self, request: HttpRequest, obj: NoShowPolicy, changed: list[str]) -> NoShowPolicy:
        return commands.no_show_policy_update(
            actor=staff_of(request), threshold=obj.threshold, window_days=obj.window_days
        )


@admin.register(SchedulingSettings)
class SchedulingSettingsAdmin(TenantSettingsAdmin):
    list_display = ["__str__", "booking_horizon_days", "patient_open_bookings"]
    fields = [
        "check_in_opens_minutes",
        "no_show_grace_minutes",
        "booking_horizon_days",
        "patient_open_bookings",
    ]

    def update(
        self, request: HttpRequest, obj: SchedulingSettings, changed: list[str]
    ) -> SchedulingSettings:
        return commands.scheduling_settings_update(
            actor=staff_of(request),
            check_in_opens_minutes=obj.check_in_opens_minutes,
            no_show_grace_minutes=obj.no_show_grace_minutes,
            booking_horizon_days=obj.booking_horizon_days,
            patient_open_bookings=obj.patient_open_bookings,
        )
