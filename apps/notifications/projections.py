"""The notifications projection: turns appointment and waitlist events into planned messages.

- booked: a confirmation now, and one reminder per configured offset that is still ahead;
- rescheduled: pending reminders planned before it are voided, a notice now and new reminders;
- cancelled: everything still planned for the appointment is voided, a cancel notice now;
- slot held for a waitlisted patient: an offer now;
- notification settings changed: the reminder offsets used from then on.

Each row's key names what it is about, its kind and the event version that planned it
(`appointment-12:reminder-1440:v3`), so a re-run or a replay writes the same rows and the
dispatcher's outbox (keyed the same way) never sends one twice. "Now" is the event's own time
and the offsets are those the settings events had set by then, so a replay plans exactly what
the live run planned.
"""

from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.core.tenancy import note_due
from apps.core.wakeups import after_commit
from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.notifications import events
from apps.notifications.models import (
    Kind,
    Notification,
    ReminderPolicy,
)
from apps.notifications.timing import reminder_due
from apps.scheduling import events as scheduling_events

MESSAGE_KIND_BY_EVENT = {
    scheduling_events.APPOINTMENT_BOOKED: Kind.CONFIRMATION,
    scheduling_events.APPOINTMENT_RESCHEDULED: Kind.RESCHEDULED,
    scheduling_events.APPOINTMENT_CANCELLED: Kind.CANCELLED,
}


class NotificationsProjection(Projection):
    name = "notifications"
    handles = frozenset(
        {*MESSAGE_KIND_BY_EVENT, scheduling_events.SLOT_HELD, events.NOTIFICATION_SETTINGS_CHANGED}
    )
    read_models = (Notification, ReminderPolicy)

    def __init__(self) -> None:
        self._zones: dict[int, ZoneInfo] = {}
        self._earliest: datetime | None = None
        # The rows planned and not yet written, and the reminder offsets in force, for the
        # events being applied now (forgotten after each batch or event).
        self._planned: list[Notification] = []
        self._offsets: list[int] | None = None

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        self._zones = {}
        planned_now = self._plan_all(events)
        self._note_earliest()
        if planned_now:
            # The commit may happen after the schema was switched back: name it here.
            after_commit(partial(_request_dispatch, connection.schema_name), what="dispatch")

    def apply(self, event: Event, touched: Touched) -> None:
        self._plan_all([event])
        self._note_earliest()

    def _plan_all(self, events: list[Event]) -> bool:
        """Plans the events' messages and writes them; True when one is due at once."""
        try:
            planned_now = False
            for event in events:
                planned_now |= self.plan(event)
            self._write_planned()
            return planned_now
        finally:
            self._planned, self._offsets = [], None

    def _write_planned(self) -> None:
        """Writes the rows planned so far at once; a row whose key is there already stays as
        it is (a re-run or a replay plans the same keys)."""
        if self._planned:
            Notification.objects.bulk_create(self._planned, ignore_conflicts=True)
            self._planned = []

    def _note_earliest(self) -> None:
        """Beat's dispatch finds this tenant when its earliest new message falls due."""
        if self._earliest is not None:
            note_due("dispatch-notifications", self._earliest)
            self._earliest = None

    def plan(self, event: Event) -> bool:
        """Plans the event's messages; True when one of them is due at once."""
        data = event.data
        if event.type == events.NOTIFICATION_SETTINGS_CHANGED:
            ReminderPolicy.objects.update_or_create(
                pk=1,
                defaults={"reminder_offsets": data["reminder_offsets"], "position": event.position},
            )
            self._offsets = None
            return False
        if event.type == scheduling_events.SLOT_HELD:
            self._add(
                event,
                key=f"slot-hold-{data['id']}:offer",
                kind=Kind.SLOT_OFFERED,
                appointment_id=None,
                hold_id=data["id"],
                due_at=event.occurred_at,
            )
            return True
        appointment_id = data["id"]
        planned_before = Notification.objects.filter(
            appointment_id=appointment_id, version__lt=event.version, voided=False
        )
        if event.type in (
            scheduling_events.APPOINTMENT_RESCHEDULED,
            scheduling_events.APPOINTMENT_CANCELLED,
        ):
            # What earlier events of this batch planned is voided too: written first.
            self._write_planned()
        if event.type == scheduling_events.APPOINTMENT_RESCHEDULED:
            planned_before.filter(kind=Kind.REMINDER).update(voided=True)
        elif event.type == scheduling_events.APPOINTMENT_CANCELLED:
            planned_before.update(voided=True)
        kind = MESSAGE_KIND_BY_EVENT[event.type]
        self._add(
            event,
            key=f"appointment-{appointment_id}:{kind}:v{event.version}",
            kind=kind,
            appointment_id=appointment_id,
            hold_id=None,
            due_at=event.occurred_at,
        )
        if event.type != scheduling_events.APPOINTMENT_CANCELLED:
            self._plan_reminders(event)
        return True

    def _plan_reminders(self, event: Event) -> None:
        start = datetime.fromisoformat(event.data["start"])
        zone = self._zone(event.data)
        if self._offsets is None:
            self._offsets = list(ReminderPolicy.current().reminder_offsets)
        for offset in self._offsets:
            due = reminder_due(start, int(offset), zone)
            if due <= event.occurred_at:
                continue  # booked too late for this reminder
            self._add(
                event,
                key=f"appointment-{event.data['id']}:reminder-{offset}:v{event.version}",
                kind=Kind.REMINDER,
                appointment_id=event.data["id"],
                hold_id=None,
                due_at=due,
            )

    def _zone(self, data: dict[str, Any]) -> ZoneInfo:
        if "timezone" in data:
            return ZoneInfo(data["timezone"])
        branch_id = data["branch_id"]  # events from before the zone was recorded
        if branch_id not in self._zones:
            self._zones[branch_id] = ZoneInfo(Branch.objects.get(pk=branch_id).timezone)
        return self._zones[branch_id]

    def _add(
        self,
        event: Event,
        *,
        key: str,
        kind: str,
        appointment_id: int | None,
        hold_id: int | None,
        due_at: datetime,
    ) -> None:
        self._earliest = due_at if self._earliest is None else min(self._earliest, due_at)
        self._planned.append(
            Notification(
                key=key,
                kind=kind,
                appointment_id=appointment_id,
                hold_id=hold_id,
                patient_id=event.data["patient_id"],
                branch_id=event.data["branch_id"],
                starts_at=datetime.fromisoformat(event.data["start"]),
                due_at=due_at,
                version=event.version,
                position=event.position,
            )
        )


def _request_dispatch(schema: str) -> None:
    from apps.notifications.tasks import request_dispatch  # tasks import the dispatcher

    with schema_context(schema):
        request_dispatch()


notifications = register(NotificationsProjection())
