"""Read-model queries behind the waiting-room display, the doctor's queue and the board's
"now serving": they read only the queue projection's table (and doctors' names and rooms).

What the display gets is tokens, doctors, rooms and steps: never a patient."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from apps.clinic.models import Branch
from apps.eventstore.models import ProjectionState
from apps.queue.models import DoctorRoom, QueueEntry
from apps.queue.projections import queue as queue_projection
from apps.scheduling.models import Doctor
from apps.scheduling.read import board_section

# The steps a patient is "being served" in: called to the room, or with the doctor.
SERVING = (QueueEntry.Stage.CALLED, QueueEntry.Stage.STARTED)


def today(branch: Branch) -> date:
    return timezone.now().astimezone(ZoneInfo(branch.timezone)).date()


def queue_position() -> int:
    return (
        ProjectionState.objects.filter(name=queue_projection.name)
        .values_list("position", flat=True)
        .first()
    ) or 0


def rooms(doctor_ids: list[int]) -> dict[int, str]:
    return dict(
        DoctorRoom.objects.filter(doctor_id__in=doctor_ids).values_list("doctor_id", "room")
    )


def _serving(entries: list[QueueEntry]) -> QueueEntry | None:
    """The doctor's patient called last (and not yet done): the one the room expects."""
    called = [e for e in entries if e.stage in SERVING and e.called_at is not None]
    return max(called, key=lambda e: (e.called_at, e.token)) if called else None


def display_state(branch: Branch, day: date | None = None) -> dict[str, Any]:
    """The waiting-room display of a branch's day: per active doctor, the token being served
    (and how often it was called, so a screen knows a call from a re-call), the tokens still
    waiting, the doctor's name and room. Tokens, doctors, rooms and steps only."""
    day = day or today(branch)
    position = queue_position()
    doctors = list(Doctor.objects.filter(branch=branch, active=True).order_by("name", "id"))
    entries = list(QueueEntry.objects.filter(branch_id=branch.pk, date=day).order_by("token"))
    room_of = rooms([d.pk for d in doctors])
    by_doctor: dict[int, list[QueueEntry]] = {}
    for entry in entries:  # one pass: a hospital's branch has thousands of doctors and entries
        by_doctor.setdefault(entry.doctor_id, []).append(entry)
    board = []
    for doctor in doctors:
        mine = by_doctor.get(doctor.pk, [])
        serving = _serving(mine)
        board.append(
            {
                "doctor": doctor.pk,
                "name": doctor.name,
                "room": room_of.get(doctor.pk, ""),
                "serving": serving.token if serving else None,
                "status": serving.stage if serving else None,
                "calls": serving.calls if serving else 0,
                "waiting": [e.token for e in mine if e.stage == QueueEntry.Stage.WAITING],
            }
        )
    return {
        "branch": branch.pk,
        "date": day.isoformat(),
        "as_of_position": position,
        "doctors": board,
    }


@board_section("now_serving", queue_projection.name)
def now_serving(branch: Branch, day: date) -> dict[str, int]:
    """The board's "now serving": doctor id (as text, a JSON key) → token."""
    entries = list(QueueEntry.objects.filter(branch_id=branch.pk, date=day, stage__in=SERVING))
    by_doctor: dict[int, list[QueueEntry]] = {}
    for entry in entries:
        by_doctor.setdefault(entry.doctor_id, []).append(entry)
    serving = {doctor: _serving(mine) for doctor, mine in by_doctor.items()}
    return {str(doctor): entry.token for doctor, entry in serving.items() if entry is not None}


def _minutes(first: datetime | None, last: datetime | None) -> float | None:
    if first is None or last is None:
        return None
    return round((last - first).total_seconds() / 60, 1)


def doctor_queue(doctor: Doctor, day: date | None = None) -> dict[str, Any]:
    """The doctor's checked-in patients of the day in token order, each with its step and
    times: waiting (check-in → start, or → now while still waiting) and consultation (start →
    end, or → now while under way), in minutes; and the day's averages of finished ones."""
    day = day or today(doctor.branch)
    position = queue_position()
    now = timezone.now()
    zone = ZoneInfo(doctor.branch.timezone)
    entries = list(QueueEntry.objects.filter(doctor_id=doctor.pk, date=day).order_by("token"))
    rows: list[dict[str, Any]] = []
    for entry in entries:
        started = entry.started_at
        if started is not None:
            waited = _minutes(entry.checked_in_at, started)
        elif entry.stage != QueueEntry.Stage.DONE:
            waited = _minutes(entry.checked_in_at, now)
        else:  # completed at the desk without a consultation on record
            waited = None
        rows.append(
            {
                "appointment": entry.appointment_id,
                "patient": entry.patient_id,
                "token": entry.token,
                "stage": entry.stage,
                "calls": entry.calls,
                "start": entry.start.astimezone(zone).isoformat(),
                "checked_in_at": entry.checked_in_at.astimezone(zone).isoformat(),
                "called_at": _local(entry.called_at, zone),
                "started_at": _local(started, zone),
                "ended_at": _local(entry.ended_at, zone),
                "waiting_minutes": waited,
                "consultation_minutes": _minutes(started, entry.ended_at or now),
            }
        )
    waits = [r["waiting_minutes"] for r in rows if r["started_at"]]
    talks = [r["consultation_minutes"] for r in rows if r["started_at"] and r["ended_at"]]
    serving = _serving(entries)
    return {
        "doctor": doctor.pk,
        "date": day.isoformat(),
        "as_of_position": position,
        "serving": serving.appointment_id if serving else None,
        "waiting": sum(1 for r in rows if r["stage"] == QueueEntry.Stage.WAITING),
        "average_waiting_minutes": round(sum(waits) / len(waits), 1) if waits else None,
        "average_consultation_minutes": round(sum(talks) / len(talks), 1) if talks else None,
        "patients": rows,
    }


def _local(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return instant.astimezone(zone).isoformat() if instant else None
