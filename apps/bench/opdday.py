"""A hospital OPD's day on one branch's board, made in seconds: thousands of doctors in a few
departments and tens of thousands of visits, booked, checked in, with the doctor, done,
cancelled or missed, for the board's benchmark and browser test.

Booking 10,000 visits through the commands takes minutes on a 2-core machine and the board
measures reading, not booking. So the write rows (doctors, patients, appointments,
consultations) and the events the commands would have appended for them are inserted set-based,
in one transaction under the tenant's append lock, with exactly the commands' event shapes
(`Appointment.event_data`, `Consultation.event_data`, `DoctorAdded`, `PatientRegistered`).
Patients are sealed by `Patient`'s own code. The board's read models (appointments, queue,
takings) are then built from those events by the real projections.

Not synthesized: audit entries (nobody did these things) and what the day would have made
elsewhere: the notifications and usage projections are moved past the synthesized events, so
no confirmation is sent and no usage is counted for visits that never happened.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from apps.clinic.models import Branch
from apps.core import keys
from apps.core.db import connection
from apps.eventstore.locks import append_lock
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import catch_up, projections
from apps.queue.projections import queue
from apps.scheduling.models import Patient
from apps.scheduling.read import board_projections

DEPARTMENTS = [
    "Cardiology", "Dermatology", "ENT", "Endocrinology", "Gastroenterology",
    "General medicine", "Gynaecology", "Nephrology", "Neurology", "Oncology",
    "Ophthalmology", "Orthopaedics", "Paediatrics", "Psychiatry", "Pulmonology",
    "Radiology", "Rheumatology", "Surgery", "Urology", "Dental",
]  # fmt: skip
GIVEN = [
    "Aarav", "Aditi", "Akash", "Amit", "Ananya", "Anil", "Anjali", "Arjun", "Asha", "Deepa",
    "Divya", "Farah", "Gaurav", "Geeta", "Harish", "Imran", "Isha", "Jaya", "Karan", "Kavita",
    "Lakshmi", "Mahesh", "Meera", "Mohan", "Nandini", "Neha", "Nikhil", "Pooja", "Pradeep",
    "Priya", "Rahul", "Rajesh", "Ravi", "Rekha", "Rohan", "Sahil", "Sanjay", "Sarita", "Shreya",
    "Sunil", "Sunita", "Suresh", "Tanvi", "Uma", "Varun", "Vidya", "Vijay", "Vikram", "Yash",
    "Zoya",
]  # fmt: skip
FAMILY = [
    "Agarwal", "Bhat", "Chopra", "Das", "Desai", "Gill", "Gupta", "Iyer", "Jain", "Joshi",
    "Kapoor", "Khan", "Kulkarni", "Kumar", "Malhotra", "Menon", "Mishra", "Nair", "Pandey",
    "Patel", "Pillai", "Rao", "Reddy", "Saxena", "Shah", "Sharma", "Singh", "Sinha", "Verma",
    "Yadav",
]  # fmt: skip
ROUND_THE_CLOCK = [{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)]
SLOT_MINUTES = 15

# Per visit g: a share r = 0..99 decides its state. Booked 80 %, checked in 8 % (waiting 6,
# called 1, with the doctor 1), completed 6 % (2 seen by the doctor on record, 4 completed at
# the desk), cancelled 3 %, missed 3 %. (The queue projection applies its events one by one:
# a busier mix makes the seeding slower, not the board.)
VISITS = """
DROP TABLE IF EXISTS opd_visits;
CREATE TEMP TABLE opd_visits ON COMMIT DROP AS
SELECT g,
       nextval(pg_get_serial_sequence('scheduling_appointment', 'id')) AS id,
       (%(doctors)s::bigint[])[(g %% %(doctor_count)s) + 1] AS doctor_id,
       (%(patients)s::bigint[])[g + 1] AS patient_id,
       %(midnight)s::timestamptz + make_interval(
           mins => ((g / %(doctor_count)s) * %(step)s
                    + ((g %% %(doctor_count)s) * 5) %% %(spread)s)::int) AS start,
       ((g * 37) + (g / %(doctor_count)s) * 13) %% 100 AS r
FROM generate_series(0, %(visits)s - 1) AS g;

ALTER TABLE opd_visits
    ADD COLUMN status text, ADD COLUMN stage text, ADD COLUMN checked_in_at timestamptz,
    ADD COLUMN called_at timestamptz, ADD COLUMN started_at timestamptz,
    ADD COLUMN ended_at timestamptz, ADD COLUMN token integer, ADD COLUMN consultation bigint;

UPDATE opd_visits SET status = CASE
    WHEN r < 80 THEN 'booked' WHEN r < 88 THEN 'checked_in' WHEN r < 94 THEN 'completed'
    WHEN r < 97 THEN 'cancelled' ELSE 'no_show' END;
UPDATE opd_visits SET stage = CASE
    WHEN r < 86 THEN 'waiting' WHEN r < 87 THEN 'called' WHEN r < 88 THEN 'started'
    WHEN r < 90 THEN 'ended' ELSE 'done' END,
    checked_in_at = CASE
    WHEN r < 86 THEN %(now)s::timestamptz - make_interval(mins => (1 + (g * 13) %% 60)::int)
    WHEN r < 88 THEN %(now)s::timestamptz - make_interval(mins => (40 + g %% 30)::int)
    ELSE %(now)s::timestamptz - make_interval(mins => (100 + (g * 7) %% 120)::int) END
WHERE status IN ('checked_in', 'completed');
UPDATE opd_visits SET called_at = checked_in_at + interval '10 minutes',
    consultation = nextval(pg_get_serial_sequence('queue_consultation', 'id'))
WHERE stage IN ('called', 'started', 'ended');
UPDATE opd_visits SET started_at = called_at + interval '1 minute'
WHERE stage IN ('started', 'ended');
UPDATE opd_visits SET ended_at = started_at + make_interval(mins => (4 + g %% 12)::int)
WHERE stage = 'ended';
UPDATE opd_visits AS v SET token = t.token
FROM (SELECT g, row_number() OVER (PARTITION BY doctor_id ORDER BY checked_in_at, g) AS token
      FROM opd_visits WHERE checked_in_at IS NOT NULL) AS t
WHERE v.g = t.g;

INSERT INTO scheduling_appointment
    (id, version, doctor_id, patient_id, branch_id, start, "end", status, cancel_reason,
     follow_up_of_id, repeat_no_show, token, created)
SELECT id, CASE WHEN status = 'booked' THEN 1 WHEN status = 'completed' THEN 3 ELSE 2 END,
       doctor_id, patient_id, %(branch)s, start, start + make_interval(mins => %(slot)s), status,
       CASE WHEN status = 'cancelled' THEN 'Could not come' ELSE '' END, NULL, false, token,
       %(now)s
FROM opd_visits ORDER BY g;

INSERT INTO queue_consultation
    (id, version, appointment_id, doctor_id, branch_id, stage, calls, called_at, started_at,
     ended_at)
SELECT consultation, CASE stage WHEN 'called' THEN 1 WHEN 'started' THEN 2 ELSE 3 END, id,
       doctor_id, %(branch)s, stage, 1, called_at, started_at, ended_at
FROM opd_visits WHERE consultation IS NOT NULL ORDER BY g;
"""

# The appointment's whole row as `Appointment.event_data` writes it, in a given status.
_ROW = """jsonb_build_object(
    'id', id, 'doctor_id', doctor_id, 'patient_id', patient_id, 'branch_id', %(branch)s,
    'start', start, 'end', start + make_interval(mins => %(slot)s),
    'date', %(day)s::date, 'timezone', %(zone)s::text, 'status', {status},
    'follow_up_of', NULL, 'fee', %(fee)s::text, 'repeat_no_show', false, 'token', {queue_number})"""
_CONSULTATION = """jsonb_build_object(
    'id', consultation, 'appointment_id', id, 'doctor_id', doctor_id,
    'branch_id', %(branch)s, 'token', token, 'stage', {stage}, 'calls', 1)"""
_APPEND = """
INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT {stream}, {version}, {type}, 1, {data},
       jsonb_build_object('actor_id', NULL, 'actor_role', 'system', 'branch_id', %(branch)s,
                          'request_id', NULL, 'correlation_id', NULL, 'causation_id', NULL),
       {at}
FROM opd_visits WHERE {where} ORDER BY g;
"""
APPOINTMENT_EVENTS = [
    _APPEND.format(
        stream="'appointment-' || id", version=1, type="'AppointmentBooked'",
        data=_ROW.format(status="'booked'", queue_number="NULL"), at="%(now)s", where="true",
    ),
    _APPEND.format(
        stream="'appointment-' || id", version=2, type="'AppointmentCheckedIn'",
        data=_ROW.format(status="'checked_in'", queue_number="token"), at="checked_in_at",
        where="status IN ('checked_in', 'completed')",
    ),
    _APPEND.format(
        stream="'appointment-' || id", version=2, type="'AppointmentCancelled'",
        data=_ROW.format(status="'cancelled'", queue_number="NULL"), at="%(now)s",
        where="status = 'cancelled'",
    ),
    _APPEND.format(
        stream="'appointment-' || id", version=2, type="'AppointmentMarkedNoShow'",
        data=_ROW.format(status="'no_show'", queue_number="NULL"), at="%(now)s",
        where="status = 'no_show'",
    ),
    _APPEND.format(
        stream="'consultation-' || consultation", version=1, type="'PatientCalled'",
        data=_CONSULTATION.format(stage="'called'"), at="called_at",
        where="consultation IS NOT NULL",
    ),
    _APPEND.format(
        stream="'consultation-' || consultation", version=2, type="'ConsultationStarted'",
        data=_CONSULTATION.format(stage="'started'"), at="started_at",
        where="stage IN ('started', 'ended')",
    ),
    _APPEND.format(
        stream="'consultation-' || consultation", version=3, type="'ConsultationEnded'",
        data=_CONSULTATION.format(stage="'ended'"), at="ended_at", where="stage = 'ended'",
    ),
    _APPEND.format(
        stream="'appointment-' || id", version=3, type="'AppointmentCompleted'",
        data=_ROW.format(status="'completed'", queue_number="token"),
        at="COALESCE(ended_at, checked_in_at + interval '20 minutes')",
        where="status = 'completed'",
    ),
]  # fmt: skip

DOCTORS = """
INSERT INTO scheduling_doctor
    (version, branch_id, user_id, name, specialty, slot_minutes, consultation_fee, weekly_hours,
     active, created)
SELECT 1, %(branch)s, NULL, name, specialty, %(slot)s, %(fee)s, %(hours)s::jsonb, true, %(now)s
FROM unnest(%(names)s::text[], %(specialties)s::text[]) WITH ORDINALITY AS d(name, specialty, n)
ORDER BY n
RETURNING id;
"""
DOCTOR_EVENTS = """
INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'doctor-' || id, 1, 'DoctorAdded', 1,
       jsonb_build_object('id', id, 'branch_id', %(branch)s, 'user_id', NULL,
                          'slot_minutes', %(slot)s, 'consultation_fee', %(fee)s::text,
                          'weekly_hours', %(hours)s::jsonb),
       jsonb_build_object('actor_id', NULL, 'actor_role', 'system', 'branch_id', %(branch)s,
                          'request_id', NULL, 'correlation_id', NULL, 'causation_id', NULL),
       %(now)s
FROM unnest(%(ids)s::bigint[]) AS id ORDER BY id;
"""
PATIENTS = """
INSERT INTO scheduling_patient
    (version, uid, sealed, wrapped_key, phone_index, key_version, registered_branch_id,
     erased, merged_into_id, language, created)
SELECT 1, uid, sealed, wrapped_key, '', %(key_version)s, %(branch)s, NULL, NULL, 'en', %(now)s
FROM unnest(%(uids)s::uuid[], %(sealed)s::bytea[], %(wrapped)s::bytea[])
     WITH ORDINALITY AS p(uid, sealed, wrapped_key, n)
ORDER BY n
RETURNING id;
"""
PATIENT_EVENTS = """
INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'patient-' || id, 1, 'PatientRegistered', 1,
       jsonb_build_object('id', id, 'branch_id', %(branch)s, 'language', 'en'),
       jsonb_build_object('actor_id', NULL, 'actor_role', 'system', 'branch_id', %(branch)s,
                          'request_id', NULL, 'correlation_id', NULL, 'causation_id', NULL),
       %(now)s
FROM unnest(%(ids)s::bigint[]) AS id ORDER BY id;
"""


@dataclass(frozen=True)
class OpdDay:
    branch: int
    day: date
    doctors: list[int]
    departments: list[str]
    visits: int


def doctor_name(n: int) -> str:
    return f"Dr. {GIVEN[n % len(GIVEN)]} {FAMILY[(n // len(GIVEN)) % len(FAMILY)]} {n + 1}"


def patient_name(n: int) -> str:
    """10,000 distinct names before a number is needed: given × family × a middle initial."""
    given, rest = GIVEN[n % len(GIVEN)], n // len(GIVEN)
    family, initial = FAMILY[rest % len(FAMILY)], rest // len(FAMILY)
    middle = f" {chr(ord('A') + initial % 26)}." if initial else ""
    return f"{given}{middle} {family}" + (f" {initial // 26}" if initial >= 26 else "")


def _sealed_patients(count: int) -> tuple[list[uuid.UUID], list[bytes], list[bytes], int]:
    """Each patient sealed under its own key as `Patient.save` seals it (name only)."""
    uids, sealed, wrapped = [], [], []
    version = 0
    for n in range(count):
        patient = Patient(registered_branch_id=None)
        patient.name = patient_name(n)
        patient._seal()  # noqa: SLF001  (the one sealing rule, without the per-row save)
        assert patient.sealed is not None and patient.wrapped_key is not None  # noqa: S101
        uids.append(patient.uid)
        sealed.append(bytes(patient.sealed))
        wrapped.append(bytes(patient.wrapped_key))
        version = patient.key_version
    return uids, sealed, wrapped, version


def seed_opd_day(
    branch: Branch,
    *,
    doctors: int = 2000,
    visits: int = 10000,
    departments: int = len(DEPARTMENTS),
    now: datetime | None = None,
) -> OpdDay:
    """Today's OPD at `branch` (of the current tenant), its board's read models up to date."""
    now = now or timezone.now()
    zone = ZoneInfo(branch.timezone)
    day = now.astimezone(zone).date()
    midnight = datetime.combine(day, time(), tzinfo=zone)
    per_doctor = -(-visits // doctors)
    step = (24 * 60) // per_doctor
    spread = max(5, (step - SLOT_MINUTES) // 5 * 5)
    names = [doctor_name(n) for n in range(doctors)]
    specialties = [DEPARTMENTS[n % departments] for n in range(doctors)]
    catch_up()  # the rest of the log first: afterwards only the day's events are skipped
    common = {
        "branch": branch.pk,
        "now": now,
        "slot": SLOT_MINUTES,
        "fee": "500.00",
        "hours": json.dumps(ROUND_THE_CLOCK),
    }
    with keys.remembered():
        uids, sealed, wrapped, key_version = _sealed_patients(visits)
    with transaction.atomic(), connection.cursor() as cursor:
        append_lock()
        cursor.execute(DOCTORS, {**common, "names": names, "specialties": specialties})
        doctor_ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(DOCTOR_EVENTS, {**common, "ids": doctor_ids})
        cursor.execute(
            PATIENTS,
            {
                **common,
                "uids": uids,
                "sealed": sealed,
                "wrapped": wrapped,
                "key_version": key_version,
            },
        )
        patient_ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(PATIENT_EVENTS, {**common, "ids": patient_ids})
        shape = {
            **common,
            "doctors": doctor_ids,
            "doctor_count": doctors,
            "patients": patient_ids,
            "visits": visits,
            "midnight": midnight,
            "step": step,
            "spread": spread,
            "day": day,
            "zone": branch.timezone,
        }
        cursor.execute(VISITS, shape)
        for statement in APPOINTMENT_EVENTS:
            cursor.execute(statement, shape)
        head = Event.objects.order_by("-position").values_list("position", flat=True).first()
        board = board_projections() | {queue.name}
        others = [p.name for p in projections() if p.name not in board]
        ProjectionState.objects.filter(name__in=others).update(position=head)
        cursor.execute("ANALYZE scheduling_appointment; ANALYZE eventstore_event")
    catch_up(sorted(board))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_appointmentview; ANALYZE queue_queueentry")
    return OpdDay(
        branch=branch.pk,
        day=day,
        doctors=doctor_ids,
        departments=DEPARTMENTS[:departments],
        visits=visits,
    )
