"""The branch board at OPD scale: one page of a day's visits at a time, filtered by doctor,
department (the doctor's specialty), status and a search, with the counts per status; and the
per-doctor summary of the day.

Both read the read models only (appointments, queue, the name index) through their indexes
and fetch one page of rows: a page costs about the same whether the day has 100 visits or
10,000, and so does a search by name. The patients' names are opened only for the page shown.
"""

import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Min, Q, QuerySet

from apps.clinic.models import Branch
from apps.core import keys
from apps.core.db import connection
from apps.core.shortlived import ShortLived
from apps.eventstore.readcache import cached
from apps.queue.models import QueueEntry
from apps.queue.read import SERVING
from apps.scheduling.models import Appointment, AppointmentView, Doctor, Patient
from apps.scheduling.names import name_query, named, starts_words
from apps.scheduling.read import board_projections, board_sections, positions_of

PAGE_SIZE = 50
SUMMARY_PAGE_SIZE = 50
# A token or an appointment's reference, as the desk reads it off a slip or a screen.
NUMBER = re.compile(r"^#?\s*(\d{1,9})$")
# Steps in which a checked-in patient is still waiting for the doctor (called: on the way).
STILL_WAITING = (QueueEntry.Stage.WAITING, QueueEntry.Stage.CALLED)


@dataclass(frozen=True)
class BoardFilter:
    doctor: int | None = None
    department: str = ""
    status: str = ""
    search: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with `changes`), without empty values."""
        wanted = replace(self, **changes)
        pairs = {
            "doctor": wanted.doctor,
            "department": wanted.department,
            "status": wanted.status,
            "q": wanted.search,
            "page": wanted.page if wanted.page != 1 else None,
        }
        return urlencode({key: value for key, value in pairs.items() if value})

    def for_address_bar(self) -> "BoardFilter":
        """These filters as they may appear in a URL (history, bookmarks, the address bar): a
        token or a reference, never a patient's name."""
        return self if not self.search or NUMBER.match(self.search) else replace(self, search="")

    @property
    def narrowed(self) -> bool:
        return bool(self.doctor or self.department or self.status or self.search)


@dataclass(frozen=True)
class SummaryFilter:
    department: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        wanted = replace(self, **changes)
        pairs = {"department": wanted.department, "page": wanted.page if wanted.page != 1 else None}
        return urlencode({key: value for key, value in pairs.items() if value})


@dataclass
class Paging:
    page: int
    pages: int
    total: int
    size: int

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.size + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def _paging(total: int, asked: int, size: int) -> Paging:
    pages = max(1, math.ceil(total / size))
    return Paging(page=min(max(asked, 1), pages), pages=pages, total=total, size=size)


def departments(branch: Branch) -> list[str]:
    """The branch's departments: its doctors' specialties, alphabetically."""
    return sorted({specialty for _, _, specialty in branch_doctors(branch.pk)})


def doctor_options(branch: Branch) -> list[tuple[str, list[tuple[int, str]]]]:
    """The branch's doctors by department, for the doctor filter."""
    grouped: dict[str, list[tuple[int, str]]] = {}
    for pk, name, specialty in branch_doctors(branch.pk):
        grouped.setdefault(specialty, []).append((pk, name))
    return list(grouped.items())


def _department_doctors(branch: Branch, department: str) -> QuerySet[Doctor, dict[str, Any]]:
    return Doctor.objects.filter(branch=branch, specialty=department).values("pk")


def open_names(patient_ids: list[int]) -> dict[int, str | None]:
    """The patients' names (None once erased): each sealed record opened, the tenant's key
    read once. Callers audit the read."""
    with keys.remembered():
        rows = Patient.objects.filter(pk__in=patient_ids).only(
            "pk", "uid", "sealed", "wrapped_key", "key_version", "erased"
        )
        return {patient.pk: patient.name for patient in rows}


@dataclass
class Searched:
    visits: QuerySet[AppointmentView]
    # The patients a name search matched (None: no name was searched).
    matched: list[int] | None = None


def _search(visits: QuerySet[AppointmentView], text: str) -> Searched:
    """A number is a token or a reference (the appointment's id); anything else is a name.

    Names are sealed, so a name search asks the name index (`apps.scheduling.names`): the
    patients of the visits the other filters leave who have a word starting with each word
    typed, in one statement, whatever the day holds. A one-letter word ("asha r") is beyond
    the index: the names the other words found are opened and checked."""
    number = NUMBER.match(text)
    if number:
        n = int(number.group(1))
        return Searched(visits.filter(Q(token=n) | Q(appointment_id=n)))
    query = name_query(text)
    if not query.searchable:
        return Searched(visits.none(), matched=[])
    on_the_day = visits.order_by().values("patient_id")
    with keys.remembered():
        found = named(Patient.objects.filter(pk__in=on_the_day), query)
        matched = sorted(found.order_by().values_list("pk", flat=True))
        if query.needs_opening and matched:
            names = open_names(matched)
            matched = [pk for pk in matched if starts_words(names.get(pk), query.words)]
    return Searched(visits.filter(patient_id__in=matched), matched=matched)


def minutes_between(since: datetime | None, until: datetime | None) -> int | None:
    if since is None or until is None:
        return None
    return max(0, int((until - since).total_seconds() // 60))


def board_page(branch: Branch, day: date, wanted: BoardFilter) -> dict[str, Any]:
    """One page of the branch's day: rows in start order, counts per status (with every
    filter but the status one, so each count says what choosing that status shows), the
    paging, and the position the page is current for (read first).

    Kept in the read cache under the branch's generation (`apps.eventstore.readcache`), one
    value per filter, so a warm page asks PostgreSQL nothing; a search by name is built
    afresh each time (what it matched is audited at each read, and a name is never a key).
    The doctors' names and departments come from a copy kept at most a second (`doctor_cards`)."""
    if wanted.search and not NUMBER.match(wanted.search):
        page = _board_page(branch, day, wanted)
    else:
        parts = ("board-page", day.isoformat(), wanted.query())
        page = cached(branch.pk, parts, lambda: _board_page(branch, day, wanted))
    cards = doctor_cards(branch.pk)
    for row in page["rows"]:
        row["doctor_name"], row["department"] = cards.get(row["doctor"], ("—", ""))
    return page


_branch_doctors: ShortLived[list[tuple[int, str, str]]] = ShortLived("branch doctors")


def branch_doctors(branch_id: int) -> list[tuple[int, str, str]]:
    """The branch's doctors as (id, name, department), by department and name; kept in the
    process at most a second (`apps.core.shortlived`), like the other look-ups of a warm read."""
    doctors = _branch_doctors.get(
        (connection.schema_name, branch_id),
        lambda: list(
            Doctor.objects.filter(branch_id=branch_id)
            .order_by("specialty", "name", "id")
            .values_list("pk", "name", "specialty")
        ),
    )
    return doctors or []


def doctor_cards(branch_id: int) -> dict[int, tuple[str, str]]:
    """Each doctor of the branch: (name, department)."""
    return {pk: (name, specialty) for pk, name, specialty in branch_doctors(branch_id)}


def _board_page(branch: Branch, day: date, wanted: BoardFilter) -> dict[str, Any]:
    position = positions_of(board_projections())
    visits = AppointmentView.objects.filter(branch_id=branch.pk, date=day)
    if wanted.doctor:
        visits = visits.filter(doctor_id=wanted.doctor)
    if wanted.department:
        visits = visits.filter(doctor_id__in=_department_doctors(branch, wanted.department))
    searched = _search(visits, wanted.search) if wanted.search else Searched(visits)
    visits = searched.visits
    counts = dict.fromkeys(Appointment.Status.values, 0)
    counts.update(
        {
            row["status"]: row["n"]
            for row in visits.order_by().values("status").annotate(n=Count("*"))
        }
    )
    if wanted.status:
        visits = visits.filter(status=wanted.status)
    total = counts.get(wanted.status, 0) if wanted.status else sum(counts.values())
    paging = _paging(total, wanted.page, PAGE_SIZE)
    views = list(
        visits.order_by("start", "appointment_id")[paging.offset : paging.offset + paging.size]
    )
    queue = {
        entry.appointment_id: entry
        for entry in QueueEntry.objects.filter(appointment_id__in=[v.appointment_id for v in views])
    }
    rows = []
    for view in views:
        entry = queue.get(view.appointment_id)
        still_waiting = entry is not None and entry.stage in STILL_WAITING
        rows.append(
            {
                "id": view.appointment_id,
                "start": view.start,
                "status": view.status,
                "patient": view.patient_id,
                "doctor": view.doctor_id,
                "token": view.token,
                "repeat_no_show": view.repeat_no_show,
                "stage": entry.stage if entry else None,
                # Waiting since check-in, ticking on the screen; or what the wait came to.
                "waiting_since": entry.checked_in_at if still_waiting and entry else None,
                "waited_minutes": minutes_between(
                    entry.checked_in_at if entry else None, entry.started_at if entry else None
                ),
            }
        )
    return {
        "branch": branch.pk,
        "date": day.isoformat(),
        "as_of_position": position,
        "counts": counts,
        # What other apps add to the board (the day's takings): read models of this branch.
        **{key: section(branch, day) for key, (_, section) in board_sections.items()},
        "rows": rows,
        "paging": paging,
        "searched_names": searched.matched is not None,
        "matched_patients": searched.matched or [],
    }


def doctor_summary(
    branch: Branch, day: date, wanted: SummaryFilter, now: datetime
) -> dict[str, Any]:
    """Per doctor (a page of the branch's active doctors by name, of one department if
    asked): visits still booked, checked in (waiting, called or with the doctor), waiting,
    with the doctor and done; since when the longest-waiting patient waits; the average
    consultation (start → end) of the day; and the token now being served."""
    position = positions_of(board_projections())
    doctors = Doctor.objects.filter(branch=branch, active=True)
    if wanted.department:
        doctors = doctors.filter(specialty=wanted.department)
    paging = _paging(doctors.count(), wanted.page, SUMMARY_PAGE_SIZE)
    chosen = list(
        doctors.order_by("name", "id").values_list("pk", "name", "specialty")[
            paging.offset : paging.offset + paging.size
        ]
    )
    ids = [pk for pk, _, _ in chosen]
    statuses = Appointment.Status
    visits = {
        row["doctor_id"]: row
        for row in AppointmentView.objects.filter(doctor_id__in=ids, date=day)
        .order_by()
        .values("doctor_id")
        .annotate(
            booked=Count("pk", filter=Q(status=statuses.BOOKED)),
            checked_in=Count("pk", filter=Q(status=statuses.CHECKED_IN)),
            done=Count("pk", filter=Q(status=statuses.COMPLETED)),
        )
    }
    consultation = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
    queue = {
        row["doctor_id"]: row
        for row in QueueEntry.objects.filter(doctor_id__in=ids, date=day)
        .order_by()
        .values("doctor_id")
        .annotate(
            waiting=Count("pk", filter=Q(stage=QueueEntry.Stage.WAITING)),
            with_doctor=Count("pk", filter=Q(stage=QueueEntry.Stage.STARTED)),
            waiting_since=Min("checked_in_at", filter=Q(stage__in=STILL_WAITING)),
            consultation=Avg(
                consultation, filter=Q(started_at__isnull=False, ended_at__isnull=False)
            ),
        )
    }
    serving = dict(
        QueueEntry.objects.filter(
            doctor_id__in=ids, date=day, stage__in=SERVING, called_at__isnull=False
        )
        .order_by("doctor_id", "-called_at", "-token")
        .distinct("doctor_id")
        .values_list("doctor_id", "token")
    )
    rows = []
    for pk, name, specialty in chosen:
        seen = visits.get(pk, {})
        queued = queue.get(pk, {})
        average: timedelta | None = queued.get("consultation")
        rows.append(
            {
                "doctor": pk,
                "name": name,
                "department": specialty,
                "booked": seen.get("booked", 0),
                "checked_in": seen.get("checked_in", 0),
                "waiting": queued.get("waiting", 0),
                "with_doctor": queued.get("with_doctor", 0),
                "done": seen.get("done", 0),
                "waiting_since": queued.get("waiting_since"),
                "longest_wait_minutes": minutes_between(queued.get("waiting_since"), now),
                "average_consultation_minutes": (
                    round(average.total_seconds() / 60, 1) if average is not None else None
                ),
                "serving": serving.get(pk),
            }
        )
    return {
        "branch": branch.pk,
        "date": day.isoformat(),
        "as_of_position": position,
        "rows": rows,
        "paging": paging,
    }


def page_links(
    filters: BoardFilter | SummaryFilter, paging: Paging, address: BoardFilter | SummaryFilter
) -> dict[str, str | None]:
    """The query strings of the previous and next pages (None at either end): with every
    filter for the page to ask, and as they may stand in a link's address."""
    before, after = paging.page - 1, paging.page + 1
    return {
        "previous": filters.query(page=before) if before >= 1 else None,
        "next": filters.query(page=after) if after <= paging.pages else None,
        "previous_address": address.query(page=before),
        "next_address": address.query(page=after),
    }
