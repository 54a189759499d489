"""Read-model queries behind the doctor's day, the branch board and a patient's upcoming
visits. They read only the projection's tables (through the cache), with the position
the answer is current for."""

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from apps.clinic.models import Branch
from apps.eventstore.models import ProjectionState
from apps.eventstore.readcache import cached, cached_json
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment, AppointmentView, Doctor
from apps.scheduling.projections import appointments as appointments_projection
from apps.scheduling.projections import patient_names


def projection_position() -> int:
    """Read before the rows, so the rows are at least as new as the position reported."""
    return (
        ProjectionState.objects.filter(name=appointments_projection.name)
        .values_list("position", flat=True)
        .first()
    ) or 0


def _row(
    view: AppointmentView, zone: str, *, with_doctor: bool, for_desk: bool = False
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": view.appointment_id,
        "start": local_iso(view.start, zone),
        "end": local_iso(view.end, zone),
        "status": view.status,
        "patient": view.patient_id,
        "token": view.token,
    }
    if with_doctor:
        row["doctor"] = view.doctor_id
    if for_desk:
        row["repeat_no_show"] = view.repeat_no_show
    return row


def _doctor_day_builder(doctor: Doctor, day: date) -> Callable[[], dict[str, Any]]:
    zone = doctor.branch.timezone

    def build() -> dict[str, Any]:
        position = projection_position()
        rows = AppointmentView.objects.filter(doctor_id=doctor.pk, date=day).order_by("start")
        return {
            "doctor": doctor.pk,
            "date": day.isoformat(),
            "as_of_position": position,
            "appointments": [_row(view, zone, with_doctor=False) for view in rows],
        }

    return build


def doctor_day(doctor: Doctor, day: date) -> dict[str, Any]:
    parts = ("doctor", doctor.pk, "day", day.isoformat())
    return cached(doctor.branch_id, parts, _doctor_day_builder(doctor, day))


def doctor_day_json(doctor: Doctor, day: date) -> bytes:
    parts = ("doctor", doctor.pk, "day", day.isoformat())
    return cached_json(doctor.branch_id, parts, _doctor_day_builder(doctor, day))


BoardSection = Callable[[Branch, date], Any]
# key → (projection it reads, builder): higher apps add sections (billing adds takings).
board_sections: dict[str, tuple[str, BoardSection]] = {}


def board_section(key: str, projection: str) -> Callable[[BoardSection], BoardSection]:
    def register(build: BoardSection) -> BoardSection:
        board_sections[key] = (projection, build)
        return build

    return register


def board_projections() -> set[str]:
    """The projections the board reads: its rows, the name index its search asks, and every
    section's."""
    return {appointments_projection.name, patient_names.name} | {
        p for p, _ in board_sections.values()
    }


def positions_of(names: set[str]) -> int:
    """The lowest position among projections: the board is current up to there."""
    found = dict(ProjectionState.objects.filter(name__in=names).values_list("name", "position"))
    return min(found.get(name, 0) for name in names)


def _board_builder(branch: Branch, day: date) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        position = positions_of(board_projections())
        rows = list(AppointmentView.objects.filter(branch_id=branch.pk, date=day).order_by("start"))
        counts = dict.fromkeys(Appointment.Status.values, 0)
        counts.update(Counter(view.status for view in rows))
        return {
            "branch": branch.pk,
            "date": day.isoformat(),
            "as_of_position": position,
            "counts": counts,
            "takings": {},
            **{key: section(branch, day) for key, (_, section) in board_sections.items()},
            "appointments": [
                _row(view, branch.timezone, with_doctor=True, for_desk=True) for view in rows
            ],
        }

    return build


def branch_board(branch: Branch, day: date) -> dict[str, Any]:
    return cached(branch.pk, ("board", day.isoformat()), _board_builder(branch, day))


def branch_board_json(branch: Branch, day: date) -> bytes:
    return cached_json(branch.pk, ("board", day.isoformat()), _board_builder(branch, day))


def patient_upcoming(
    patient_id: int, *, branch_ids: list[int] | None = None, doctor_ids: list[int] | None = None
) -> dict[str, Any]:
    """The patient's booked visits to come; only at `branch_ids` and with `doctor_ids` when
    given (a caller never sees visits outside their reach)."""
    position = projection_position()
    views = AppointmentView.objects.filter(
        patient_id=patient_id, start__gte=timezone.now(), status=Appointment.Status.BOOKED
    )
    if branch_ids is not None:
        views = views.filter(branch_id__in=branch_ids)
    if doctor_ids is not None:
        views = views.filter(doctor_id__in=doctor_ids)
    rows = list(views.order_by("start"))
    zones = dict(
        Branch.objects.filter(pk__in={row.branch_id for row in rows}).values_list("pk", "timezone")
    )
    return {
        "patient": patient_id,
        "as_of_position": position,
        "appointments": [_row(view, zones[view.branch_id], with_doctor=True) for view in rows],
    }


def branch_calendar(
    branch: Branch, first: date, days: int, doctor_id: int | None = None
) -> dict[str, Any]:
    """The branch's visits on `days` local dates from `first` (one doctor's, if given), from
    the read model in one query, grouped by date: {"as_of_position", "days": {date: [row]}}."""
    position = projection_position()
    dates = [first + timedelta(days=n) for n in range(days)]
    rows = AppointmentView.objects.filter(branch_id=branch.pk, date__in=dates)
    if doctor_id is not None:
        rows = rows.filter(doctor_id=doctor_id)
    by_day: dict[date, list[dict[str, Any]]] = {day: [] for day in dates}
    for view in rows.order_by("start", "appointment_id"):
        by_day[view.date].append(_row(view, branch.timezone, with_doctor=True, for_desk=True))
    return {"as_of_position": position, "days": by_day}


def patient_visits(patient_id: int, branch_ids: list[int]) -> list[AppointmentView]:
    """All the patient's visits in those branches, newest first, from the read model."""
    return list(
        AppointmentView.objects.filter(patient_id=patient_id, branch_id__in=branch_ids).order_by(
            "-start", "-appointment_id"
        )
    )


def next_visits(patient_ids: list[int], branch_ids: list[int]) -> dict[int, AppointmentView]:
    """Each patient's next booked visit in those branches (one query for all of them)."""
    rows = (
        AppointmentView.objects.filter(
            patient_id__in=patient_ids,
            branch_id__in=branch_ids,
            status=Appointment.Status.BOOKED,
            start__gte=timezone.now(),
        )
        .order_by("patient_id", "start")
        .distinct("patient_id")
    )
    return {row.patient_id: row for row in rows}
