"""Scheduling's projections: the appointments read model, built only from events, and the
patients' name index (`apps.scheduling.names`), built from the patients' events and the
patients' sealed names (events carry no PHI)."""

from django.db import connection

from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.scheduling import names
from apps.scheduling.events import (
    APPOINTMENT_ROW_EVENTS,
    PATIENT_UPDATED,
)
from apps.scheduling.models import AppointmentView, PatientNameToken

COLUMNS = [
    "appointment_id", "branch_id", "doctor_id", "patient_id", "date", "start", "end",
    "status", "follow_up_of_id", "repeat_no_show", "token", "position",
]  # fmt: skip

# Set-based fold of a range of the log: per appointment, its latest event's row wins.
UPSERT_FROM_LOG = f"""
INSERT INTO scheduling_appointmentview ({", ".join(f'"{c}"' for c in COLUMNS)})
SELECT DISTINCT ON ((data->>'id')::bigint)
    (data->>'id')::bigint, (data->>'branch_id')::bigint, (data->>'doctor_id')::bigint,
    (data->>'patient_id')::bigint, (data->>'date')::date, (data->>'start')::timestamptz,
    (data->>'end')::timestamptz, data->>'status', (data->>'follow_up_of')::bigint,
    COALESCE((data->>'repeat_no_show')::boolean, false), (data->>'token')::integer, position
FROM eventstore_event
WHERE position BETWEEN %s AND %s AND type = ANY(%s)
ORDER BY (data->>'id')::bigint, position DESC
ON CONFLICT (appointment_id) DO UPDATE SET
    {", ".join(f'"{c}" = EXCLUDED."{c}"' for c in COLUMNS[1:])}
RETURNING branch_id
"""  # noqa: S608  (no user input: column names are constants)


class AppointmentsProjection(Projection):
    name = "appointments"
    handles = APPOINTMENT_ROW_EVENTS
    read_models = (AppointmentView,)

    def apply(self, event: Event, touched: Touched) -> None:
        self.apply_batch([event], touched)

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        """Folds the events' range of the log in the database: one statement a batch."""
        if not events:
            return
        positions = [event.position for event in events]
        with connection.cursor() as cursor:
            cursor.execute(
                UPSERT_FROM_LOG, [min(positions), max(positions), sorted(APPOINTMENT_ROW_EVENTS)]
            )
            for (branch_id,) in cursor.fetchall():
                touched.branch(branch_id)


appointments = register(AppointmentsProjection())


class PatientNamesProjection(Projection):
    """The name index: a patient's rows follow its registration, a change of its name and
    its erasure. Each event re-indexes the patient as it stands now, so a replay (which
    applies them all again) ends with the same rows as the live run."""

    name = names.PROJECTION
    handles = names.NAME_EVENTS
    read_models = (PatientNameToken,)

    def apply(self, event: Event, touched: Touched) -> None:
        self.apply_batch([event], touched)

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        names.reindex(
            event.data["id"]
            for event in events
            if event.type != PATIENT_UPDATED or "name" in event.data.get("changed", [])
        )


patient_names = register(PatientNamesProjection())
