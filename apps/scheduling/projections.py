"""The appointments projection: the read side of scheduling, built only from events."""

from datetime import date, datetime

from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.scheduling.models import AppointmentView

# Every appointment event carries the appointment's whole current row (no PHI).
APPOINTMENT_EVENTS = frozenset(
    {
        "AppointmentBooked",
        "AppointmentRescheduled",
        "AppointmentCancelled",
        "AppointmentCheckedIn",
        "AppointmentCompleted",
        "AppointmentMarkedNoShow",
    }
)

UPDATED_FIELDS = [
    "branch_id", "doctor_id", "patient_id", "date", "start", "end", "status",
    "follow_up_of_id", "position",
]  # fmt: skip


class AppointmentsProjection(Projection):
    name = "appointments"
    handles = APPOINTMENT_EVENTS
    read_models = (AppointmentView,)

    def apply(self, event: Event, touched: Touched) -> None:
        self.apply_batch([event], touched)

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        # The last event of each appointment in the batch holds its current row.
        latest = {event.data["id"]: event for event in events}
        rows = [_row(event) for event in latest.values()]
        AppointmentView.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["appointment_id"],
            update_fields=UPDATED_FIELDS,
        )
        for row in rows:
            touched.branch(row.branch_id)


def _row(event: Event) -> AppointmentView:
    data = event.data
    return AppointmentView(
        appointment_id=data["id"],
        branch_id=data["branch_id"],
        doctor_id=data["doctor_id"],
        patient_id=data["patient_id"],
        date=date.fromisoformat(data["date"]),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        status=data["status"],
        follow_up_of_id=data["follow_up_of"],
        position=event.position,
    )


appointments = register(AppointmentsProjection())
