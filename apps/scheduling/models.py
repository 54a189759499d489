"""Doctors, their hours and leave, branch closures, patients and appointments.

Every model here is event-sourced: it changes only through `apps.scheduling.commands`,
and each change appends one event to the tenant's log in the same transaction.
"""

import uuid
from datetime import date, timedelta
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from apps.clinic.models import Branch, User
from apps.core import crypto, keys
from apps.core.db import connection
from apps.core.errors import Conflict
from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel
from apps.scheduling import events


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
    # Taken back (rows are never deleted): a removed leave no longer blocks bookings.
    removed = models.BooleanField(default=False)

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
    # Reopened (rows are never deleted): a removed closure no longer blocks bookings.
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "date"],
                condition=Q(removed=False),
                name="closure_branch_date",
            )
        ]

    def __str__(self) -> str:
        return f"{self.branch} closed {self.date}"


def _phi_property(field: str, parse: Any = None, dump: Any = None) -> Any:
    """An attribute of the patient kept in the sealed fields, not in a column."""

    def get(patient: "Patient") -> Any:
        value = patient._fields().get(field)
        return parse(value) if parse and value is not None else value

    def set_(patient: "Patient", value: Any) -> None:
        patient._fields()[field] = dump(value) if dump and value is not None else value

    return property(get, set_)


class Patient(EventSourcedModel):
    """A patient of the tenant (a chain shares its patients across branches).

    The patient's personal fields are never stored in clear: they are sealed together with
    the patient's own key, which the tenant's key wraps (see `apps.core.crypto`). Read and
    set them as attributes (`patient.name = …`); `save()` seals them. Erasing the patient
    destroys the key, and the fields with it.
    """

    stream_type = "patient"
    PHI_FIELDS = ("name", "phone", "email", "date_of_birth", "address", "notes", "abha_number")
    LANGUAGES = (("en", "English"), ("hi", "Hindi"))

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sealed = models.BinaryField(null=True, editable=False)
    wrapped_key = models.BinaryField(null=True, editable=False)
    # Keyed hash of the E.164 phone number, for search; cleared on erasure.
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # The tenant key version that wraps `wrapped_key` and keys `phone_index`.
    key_version = models.PositiveSmallIntegerField(default=1, editable=False)
    registered_branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    erased = models.DateTimeField(null=True, blank=True, editable=False)
    # A duplicate record merged into another (`patient_merge`): its visits and bills stay
    # under their ids and are found through this link.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged",
        editable=False,
    )
    # The language of the messages the patient is sent; not PHI, so a plain column.
    language = models.CharField(max_length=5, choices=LANGUAGES, default="en")
    created = models.DateTimeField(auto_now_add=True)

    name = _phi_property("name")
    phone = _phi_property("phone")
    email = _phi_property("email")
    date_of_birth = _phi_property("date_of_birth", parse=date.fromisoformat, dump=date.isoformat)
    address = _phi_property("address")
    notes = _phi_property("notes")
    # India's national health id (ABHA number, 14 digits as `NN-NNNN-NNNN-NNNN`), when given.
    abha_number = _phi_property("abha_number")

    class Meta:
        ordering = ["id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._phi: dict[str, Any] | None = None
        super().__init__(*args, **kwargs)

    def __str__(self) -> str:
        return f"Patient {self.pk}"  # never the name: this ends up in logs

    def before_write(self) -> None:
        if self._phi is not None and self.erased is None:
            self._seal()

    def event_branch_id(self) -> int | None:
        return self.registered_branch_id

    def _context(self, what: str) -> str:
        return f"{what}:{connection.schema_name}:{self.uid}"

    def _data_key(self) -> bytes:
        if self.wrapped_key is None:
            raise PermissionError("This patient's data was erased.")
        return crypto.unseal(
            keys.tenant_key(self.key_version), bytes(self.wrapped_key), self._context("key")
        )

    def _seal(self) -> None:
        if self.wrapped_key is None:
            self.key_version, tenant_key = keys.active_tenant_key()
            self.wrapped_key = crypto.seal(tenant_key, crypto.new_key(), self._context("key"))
        fields = self._fields()
        self.sealed = crypto.seal_fields(self._data_key(), fields, self._context("phi"))
        phone = fields.get("phone")
        self.phone_index = keys.phone_index(phone, self.key_version) if phone else ""

    def rewrap(self, version: int, new_key: bytes) -> None:
        """Re-wraps the patient's data key (and re-keys the phone index) under tenant key
        `version`; the sealed fields themselves are untouched. For key rotation only."""
        if self.wrapped_key is None:
            return
        phone = self._fields().get("phone")
        data_key = self._data_key()
        self.wrapped_key = crypto.seal(new_key, data_key, self._context("key"))
        self.key_version = version
        self.phone_index = crypto.blind_index(new_key, phone) if phone else ""

    def rebind(self, old_schema: str) -> None:
        """Re-seals the data key and the fields for the schema the tenant now lives in, after
        a restore moved it from `old_schema` (sealed values name their schema). Needs the
        tenant key already re-wrapped for this schema. For restores only."""
        if self.wrapped_key is None:
            return
        tenant_key = keys.tenant_key(self.key_version)
        key_context, phi_context = (f"{what}:{old_schema}:{self.uid}" for what in ("key", "phi"))
        data_key = crypto.unseal(tenant_key, bytes(self.wrapped_key), key_context)
        self.wrapped_key = crypto.seal(tenant_key, data_key, self._context("key"))
        if self.sealed is not None:
            fields = crypto.unseal_fields(data_key, bytes(self.sealed), phi_context)
            self.sealed = crypto.seal_fields(data_key, fields, self._context("phi"))

    def _fields(self) -> dict[str, Any]:
        if self._phi is None:
            if self.erased is not None or self.sealed is None or self.wrapped_key is None:
                self._phi = {}
            else:
                self._phi = crypto.unseal_fields(
                    self._data_key(), bytes(self.sealed), self._context("phi")
                )
        return self._phi

    def erase(self) -> None:
        """Destroys the patient's key: the sealed fields can never be read again."""
        self.wrapped_key = None
        self.phone_index = ""
        self.erased = timezone.now()
        self._phi = {}


class PatientNameToken(models.Model):
    """One prefix of a word of a patient's name, as a keyed hash (`apps.scheduling.names`):
    the name index that a search by name asks instead of opening every sealed name. Holds no
    text; a read model of the `patient-names` projection, rebuilt by replay (keyed by its
    content, no serial id, so a rebuild has exactly the same rows)."""

    pk = models.CompositePrimaryKey("digest", "patient_id")
    # The first 8 bytes of HMAC-SHA256(name-index key of `key_version`, folded prefix).
    digest = models.BigIntegerField()
    patient_id = models.BigIntegerField()
    key_version = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["patient_id"], name="patientname_patient")]

    def __str__(self) -> str:
        return f"Name token of patient {self.patient_id}"


class NoShowPolicy(SingletonSettings, EventSourcedModel):
    """One row per tenant: when a patient counts as a repeat no-show (off by default).

    A patient with at least `threshold` no-shows among visits that started in the last
    `window_days` days is one; their new bookings are flagged for reception, and billing
    and the patient app apply the tenant's fee and deposit rules to them.
    """

    stream_type = "no-show-policy"

    threshold = models.PositiveSmallIntegerField(
        default=0, help_text="No-shows that make a repeat no-show; 0 turns the policy off."
    )
    window_days = models.PositiveSmallIntegerField(
        default=90, help_text="How far back no-shows count, in days."
    )

    class Meta:
        verbose_name = "no-show policy"
        verbose_name_plural = "no-show policy"

    def __str__(self) -> str:
        if not self.threshold:
            return "No-show policy (off)"
        return f"No-show policy ({self.threshold} in {self.window_days} days)"

    @property
    def active(self) -> bool:
        return self.threshold > 0


class SchedulingSettings(SingletonSettings, EventSourcedModel):
    """One row per tenant: when the desk may check a patient in or mark a no-show, and how
    far ahead and how much may be booked.

    Check-in opens `check_in_opens_minutes` before a visit's start (and stays open that
    local day); a no-show may be marked only from `no_show_grace_minutes` after the start.
    Nobody books or moves a visit more than `booking_horizon_days` ahead; a patient booking
    in the app holds at most `patient_open_bookings` upcoming visits (the desk is not limited).
    """

    stream_type = "scheduling-settings"

    check_in_opens_minutes = models.PositiveSmallIntegerField(
        default=120, help_text="How long before a visit's start check-in opens, in minutes."
    )
    no_show_grace_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="How long after a visit's start it may be marked a no-show."
    )
    booking_horizon_days = models.PositiveSmallIntegerField(
        default=365, help_text="How far ahead a visit may be booked or moved, in days (30–3650)."
    )
    patient_open_bookings = models.PositiveSmallIntegerField(
        default=5,
        help_text="How many upcoming visits a patient may hold when booking in the patient app.",
    )

    class Meta:
        verbose_name = "scheduling settings"
        verbose_name_plural = "scheduling settings"

    def __str__(self) -> str:
        return (
            f"Check-in from {self.check_in_opens_minutes} min before, "
            f"no-show from {self.no_show_grace_minutes} min after the start"
        )


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Transition(NamedTuple):
    """One step of the appointment's state machine."""

    source: str
    target: str
    event_type: str
    refusal: str  # what a refused step says, with the state as %(status)s (marked for Hindi)


class Appointment(EventSourcedModel):
    """A visit. Its state machine is `TRANSITIONS`, the one table that the commands enforce
    and that the console, the admin and the API ask what a visit allows."""

    stream_type = "appointment"

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    # States that hold the doctor's time; a cancelled or missed slot is free again.
    HOLDING = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)
    # A visit still to happen or under way: a second one the same day needs a confirmation.
    LIVE = (Status.BOOKED, Status.CHECKED_IN)

    # action → where it starts, where it leads and the event it appends. Rescheduling keeps
    # the visit booked; the clock's part of each rule is `apps.scheduling.lifecycle`.
    TRANSITIONS: ClassVar[dict[str, Transition]] = {
        "check_in": Transition(
            Status.BOOKED,
            Status.CHECKED_IN,
            events.APPOINTMENT_CHECKED_IN,
            gettext_noop("A %(status)s appointment cannot become checked in."),
        ),
        "complete": Transition(
            Status.CHECKED_IN,
            Status.COMPLETED,
            events.APPOINTMENT_COMPLETED,
            gettext_noop("A %(status)s appointment cannot become completed."),
        ),
        "no_show": Transition(
            Status.BOOKED,
            Status.NO_SHOW,
            events.APPOINTMENT_MARKED_NO_SHOW,
            gettext_noop("A %(status)s appointment cannot become no-show."),
        ),
        "undo_no_show": Transition(
            Status.NO_SHOW,
            Status.BOOKED,
            events.APPOINTMENT_NO_SHOW_UNDONE,
            gettext_noop("A %(status)s appointment cannot become booked."),
        ),
        "cancel": Transition(
            Status.BOOKED,
            Status.CANCELLED,
            events.APPOINTMENT_CANCELLED,
            gettext_noop("A %(status)s appointment cannot be cancelled."),
        ),
        "reschedule": Transition(
            Status.BOOKED,
            Status.BOOKED,
            events.APPOINTMENT_RESCHEDULED,
            gettext_noop("A %(status)s appointment cannot move."),
        ),
    }

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
    # Booked by a patient over the tenant's no-show threshold (see NoShowPolicy).
    repeat_no_show = models.BooleanField(default=False, editable=False)
    # The queue token given at check-in: 1, 2, 3… per doctor per local day, in check-in order
    # (`apps.scheduling.commands.next_token`); it travels in every later event of the visit.
    token = models.PositiveIntegerField(null=True, blank=True, editable=False)
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

    @classmethod
    def allows(cls, action: str, status: str) -> bool:
        """Whether the state machine lets a visit in `status` take `action` (the clock aside)."""
        step = cls.TRANSITIONS.get(action)
        return step is not None and step.source == status

    def status_label(self) -> str:
        """The status inside a refusal's `params`, lazily: "booked" in the API's English,
        "बुक" on a Hindi page (`DomainError.translated`)."""
        label = self.Status(self.status).label
        return lazy(lambda: str(label).lower(), str)()

    def require(self, action: str) -> Transition:
        """The step `action` takes from the visit's state; a 409 from any other state."""
        step = self.TRANSITIONS[action]
        if self.status != step.source:
            raise Conflict(step.refusal, params={"status": self.status_label()})
        return step

    def take(self, action: str, *, actor: Any, **extra: Any) -> None:
        """Moves the visit along `action` and records its event (with `extra` data); the
        caller holds the row's lock and saves."""
        step = self.require(action)
        self.status = step.target
        self.record(step.event_type, self.event_data(**extra), actor=actor)

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
            "timezone": zone.key,
            "status": self.status,
            "follow_up_of": self.follow_up_of_id,
            "fee": str(self.doctor.consultation_fee),
            "repeat_no_show": self.repeat_no_show,
            "token": self.token,
            **extra,
        }


class WaitlistEntry(EventSourcedModel):
    """A patient waiting for a slot with a doctor on a day (branch-local date).

    waiting → offered (a freed slot is held for them) → fulfilled (they booked it);
    an offer that expires makes the entry `expired`; leaving makes it `left`.
    """

    stream_type = "waitlist"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a slot"
        FULFILLED = "fulfilled", "Fulfilled"
        EXPIRED = "expired", "Offer expired"
        LEFT = "left", "Left"

    OPEN = (Status.WAITING, Status.OFFERED)

    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="waitlist")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["doctor", "date", "status"], name="waitlist_doctor_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "patient", "date"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_one_open_entry",
            )
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.pk} ({self.status})"


class SlotHold(EventSourcedModel):
    """A freed slot kept for one waitlisted patient until it expires: others cannot book it."""

    stream_type = "slot-hold"

    class Status(models.TextChoices):
        LIVE = "live", "Live"
        CONSUMED = "consumed", "Booked by the patient"
        EXPIRED = "expired", "Expired"
        RELEASED = "released", "Released"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="holds")
    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LIVE)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["doctor", "status", "start"], name="slothold_doctor_live"),
            models.Index(fields=["status", "expires_at"], name="slothold_expiry"),
        ]

    def __str__(self) -> str:
        return f"Slot hold {self.pk} ({self.status})"

    def event_data(self, **extra: Any) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "doctor_id": self.doctor_id,
            "patient_id": self.patient_id,
            "branch_id": self.branch_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "timezone": self.branch.timezone,
            "status": self.status,
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
    repeat_no_show = models.BooleanField(default=False)
    token = models.PositiveIntegerField(null=True)
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
