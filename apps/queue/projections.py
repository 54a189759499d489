"""The queue projection: every checked-in visit's token and step, built only from events.

The token was given at check-in and travels in the check-in event, so a rebuild from the log
gives every visit the same token; the times of each step are the times of their events.
"""

from datetime import date, datetime
from typing import Any

from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.queue import events
from apps.queue.models import QueueEntry
from apps.scheduling.events import APPOINTMENT_CHECKED_IN, APPOINTMENT_COMPLETED

# A visit's step after each consultation event.
STAGE_AFTER = {
    events.PATIENT_CALLED: QueueEntry.Stage.CALLED,
    events.CONSULTATION_STARTED: QueueEntry.Stage.STARTED,
    events.CONSULTATION_ENDED: QueueEntry.Stage.DONE,
}


class QueueProjection(Projection):
    name = "queue"
    # A checked-in visit can only be completed next (`Appointment.TRANSITIONS`): these are
    # all the appointment events that concern the queue.
    handles = (
        frozenset({APPOINTMENT_CHECKED_IN, APPOINTMENT_COMPLETED}) | events.CONSULTATION_EVENTS
    )
    read_models = (QueueEntry,)

    def apply(self, event: Event, touched: Touched) -> None:
        data: dict[str, Any] = event.data
        if event.type == APPOINTMENT_CHECKED_IN:
            if data.get("token") is None:  # checked in before tokens were given
                return
            QueueEntry.objects.update_or_create(
                appointment_id=data["id"],
                defaults={
                    "branch_id": data["branch_id"],
                    "doctor_id": data["doctor_id"],
                    "patient_id": data["patient_id"],
                    "date": date.fromisoformat(data["date"]),
                    "start": datetime.fromisoformat(data["start"]),
                    "token": data["token"],
                    "stage": QueueEntry.Stage.WAITING,
                    "checked_in_at": event.occurred_at,
                    "position": event.position,
                },
            )
            touched.branch(data["branch_id"])
            return
        appointment_id = (
            data["id"] if event.type == APPOINTMENT_COMPLETED else data["appointment_id"]
        )
        entry = QueueEntry.objects.filter(appointment_id=appointment_id).first()
        if entry is None:
            return
        if event.type == APPOINTMENT_COMPLETED:
            entry.stage = QueueEntry.Stage.DONE
            entry.ended_at = entry.ended_at or event.occurred_at
        else:
            entry.stage = STAGE_AFTER[event.type]
            if event.type == events.PATIENT_CALLED:
                entry.called_at, entry.calls = event.occurred_at, data["calls"]
            elif event.type == events.CONSULTATION_STARTED:
                entry.started_at = event.occurred_at
                entry.called_at = entry.called_at or event.occurred_at
            else:
                entry.ended_at = event.occurred_at
        entry.position = event.position
        entry.save()
        touched.branch(entry.branch_id)


queue = register(QueueProjection())
