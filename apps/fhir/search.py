"""What each resource type can be searched by, and the searches themselves: the caller's
reach first (the JSON API's selectors), then the parameters. `SEARCH_PARAMETERS` is the one
list: the parser refuses anything else and the CapabilityStatement is written from it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.clinic.models import Branch, User
from apps.clinic.scoping import visible_branches
from apps.core.dates import date_problem
from apps.core.errors import InvalidInput, NotFound
from apps.core.keys import phone_indexes
from apps.fhir import resources
from apps.fhir.params import (
    DateBound,
    bad,
    check_known,
    date_bounds,
    reference_ids,
    single,
    tokens,
    within,
)
from apps.scheduling.identifiers import normalize_abha_number
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.scheduling.names import name_query, named_as_of_now, starts_words
from apps.scheduling.phones import normalize_phone
from apps.scheduling.selectors import (
    appointments_for,
    doctors_for,
    patients_for,
    patients_of_my_branches,
)
from apps.scheduling.slots import free_slots, slot_grid
from apps.tenants.models import Tenant

# type → parameter → (FHIR search type, what it does): for the parser and the capability list.
SEARCH_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "Patient": {
        "identifier": ("token", "The clinic's MRN (our id) or the ABHA number: `system|value`."),
        "phone": ("token", "A phone number; found anywhere in the clinic, like the API."),
        "name": (
            "string",
            "Each word given starts a word of the name (at least 2 letters of one word); "
            "case and accents are ignored.",
        ),
    },
    "Practitioner": {"name": ("string", "Part of the doctor's name.")},
    "Location": {"name": ("string", "Part of the branch's name.")},
    "Schedule": {"actor": ("reference", "`Practitioner/{id}` or `Location/{id}`.")},
    "Slot": {
        "schedule": ("reference", "Required: `Schedule/{id}`, up to 20 separated by commas."),
        "start": ("date", "Prefixes ge, le, gt, lt, eq; at most 31 days (default: 7 from today)."),
        "status": ("token", "free, busy or busy-unavailable."),
    },
    "Appointment": {
        "date": ("date", "The start; a date is the whole day on the branch's clock."),
        "practitioner": ("reference", "`Practitioner/{id}`."),
        "patient": ("reference", "`Patient/{id}`."),
        "status": ("token", "booked, arrived, fulfilled, cancelled or noshow."),
    },
    "Encounter": {
        "date": ("date", "The visit's booked start; a date is the branch's whole day."),
        "practitioner": ("reference", "`Practitioner/{id}`."),
        "patient": ("reference", "`Patient/{id}`."),
        "status": ("token", "arrived (checked in) or finished (completed)."),
    },
}
# Largest page per type: browsing patients is a bulk read of PHI, in small pages as the API.
LARGEST_PAGE = {"Patient": 50}
SLOT_DAYS_DEFAULT, SLOT_DAYS_MAX = 7, 31
# Slots are computed per doctor and day: one search covers at most this many doctors.
SLOT_SCHEDULES_MAX = 20
Params = dict[str, list[str]]


@dataclass
class Found:
    """A search's matches, not yet paged: a queryset (counted and sliced by the database) or
    a list already filtered in Python (sealed fields, computed slots)."""

    rows: QuerySet[Any] | Sequence[Any]
    render: Callable[[list[Any]], list[dict[str, Any]]]
    # Patient searches are audited: "patient.search" with parameters, "patient.list" without.
    audit: str | None = None

    def total(self) -> int:
        if isinstance(self.rows, QuerySet):
            return self.rows.count()
        return len(self.rows)

    def page(self, count: int, offset: int) -> tuple[list[Any], list[dict[str, Any]]]:
        rows = list(self.rows[offset : offset + count])
        return rows, self.render(rows) if rows else []


def search(resource_type: str, user: User, params: Params, tenant: Tenant) -> Found:
    check_known(params, SEARCH_PARAMETERS[resource_type])
    return SEARCHES[resource_type](user, params, tenant)


# Patients


def _patients(user: User, params: Params, tenant: Tenant) -> Found:
    phone, name, identifier = (single(params, key) for key in ("phone", "name", "identifier"))
    asked = any(value is not None for value in (phone, name, identifier))
    # A precise identifier finds a patient anywhere in the clinic (as the API's phone search);
    # browsing and a name search stay within the caller's branches.
    rows = patients_for(user) if (phone or identifier) else patients_of_my_branches(user)
    checks: list[Callable[[Patient], bool]] = []
    if phone is not None:
        rows = rows.filter(phone_index__in=phone_indexes(normalize_phone(phone)))
    if identifier is not None:
        rows, check = _by_identifier(rows, identifier, tenant)
        if check is not None:
            checks.append(check)
    if name is not None:
        rows, check = _by_name(rows, name)
        if check is not None:
            checks.append(check)
    rows = rows.filter(erased__isnull=True) if checks or name is not None else rows
    matches: QuerySet[Patient] | list[Patient] = rows.order_by("pk")
    if checks:  # sealed fields: opened one by one, in the caller's reach only
        matches = [row for row in rows.order_by("pk").iterator(2000) if all(c(row) for c in checks)]
    return Found(
        matches,
        lambda page: [resources.patient(row, tenant) for row in page],
        audit="patient.search" if asked else "patient.list",
    )


def _by_name(
    rows: QuerySet[Patient], raw: str
) -> tuple[QuerySet[Patient], Callable[[Patient], bool] | None]:
    """Patients with a word of their name starting with each word of `raw` (case, Latin
    accents, apostrophes folded; Devanagari as written), from the keyed name index
    (`apps.scheduling.names`): one SQL statement over the caller's reach, no name opened.
    Names are opened only for what the index cannot answer: patients whose name changed after
    the index's position (it is a projection) and, when a word is one letter or longer than
    the index keeps, the few the other words found; every name in reach when every word is one
    letter."""
    if not raw.strip():
        raise bad("`name` needs some text.", "name")
    query = name_query(raw)
    if not query.words:
        return rows.none(), None  # no letter or digit: nothing a word of a name starts with
    if not query.searchable:
        # Every word one letter: the index keeps prefixes of MIN_PREFIX letters or more, so the
        # names in reach are opened, as before the index (rare, and what the contract allows).
        return rows, lambda row: starts_words(row.name, query.words)
    found = named_as_of_now(rows, query)
    rows = rows.filter(Q(pk__in=found.indexed.values("pk")) | Q(pk__in=found.unindexed))
    if not (found.unindexed or query.needs_opening):
        return rows, None

    def check(row: Patient) -> bool:
        if row.pk not in found.unindexed and not query.needs_opening:
            return True  # the index's answer is exact for this one
        return starts_words(row.name, query.words)

    return rows, check


def _by_identifier(
    rows: QuerySet[Patient], raw: str, tenant: Tenant
) -> tuple[QuerySet[Patient], Callable[[Patient], bool] | None]:
    system, _, value = raw.rpartition("|") if "|" in raw else (None, "", raw)
    value = value.strip()
    if not value:
        raise bad("`identifier` needs a value.", "identifier")
    mrn, abha = resources.mrn_system(tenant), resources.ABHA_SYSTEM
    try:
        number: str | None = normalize_abha_number(value)
    except InvalidInput:
        number = None
    # Without a system, 14 digits are an ABHA number (our record numbers are far shorter).
    if system == abha or (not system and number is not None):
        if number is None:
            return rows.none(), None
        return rows, lambda row: row.abha_number == number
    if system in (None, "", mrn) and value.isascii() and value.isdigit() and len(value) <= 18:
        return rows.filter(pk=int(value)), None
    return rows.none(), None


# Practitioners, locations, schedules


def _practitioners(user: User, params: Params, tenant: Tenant) -> Found:
    rows = doctors_for(user)
    if (name := single(params, "name")) is not None:
        rows = rows.filter(name__icontains=name)
    return Found(rows, lambda page: [resources.practitioner(row) for row in page])


def _locations(user: User, params: Params, tenant: Tenant) -> Found:
    rows = visible_branches(user)
    if (name := single(params, "name")) is not None:
        rows = rows.filter(name__icontains=name)
    return Found(rows, lambda page: [resources.location(row, tenant) for row in page])


def _schedules(user: User, params: Params, tenant: Tenant) -> Found:
    rows = doctors_for(user)
    if (actor := single(params, "actor")) is not None:
        kind, _, pk = actor.partition("/")
        if kind not in ("Practitioner", "Location") or not (pk.isascii() and pk.isdigit()):
            raise bad("`actor` is `Practitioner/{id}` or `Location/{id}`.", "actor")
        field = "pk" if kind == "Practitioner" else "branch_id"
        rows = rows.filter(**{field: int(pk[:18])})
    return Found(rows, lambda page: [resources.schedule(row) for row in page])


# Slots: computed from the doctor's hours, as the API's free slots


SLOT_STATUSES = ("free", "busy", "busy-unavailable")


def slot_status(doctor: Doctor, start: datetime, free: set[datetime], now: datetime) -> str:
    if start in free:
        return "free"
    return "busy-unavailable" if start <= now else "busy"


def slots_of(doctor: Doctor, day: date, now: datetime) -> list[tuple[Any, str]]:
    """Every slot of the doctor's grid on `day` with its FHIR status."""
    free = {item.start for item in free_slots(doctor, day, now=now)}
    return [(item, slot_status(doctor, item.start, free, now)) for item in slot_grid(doctor, day)]


def _slot_days(bounds: list[DateBound], zone: ZoneInfo, today: date) -> list[date]:
    lowest, highest = today, today + timedelta(days=SLOT_DAYS_DEFAULT - 1)
    lows = [b.window(zone)[0] for b in bounds if b.prefix in ("eq", "ge", "gt")]
    highs = [b.window(zone)[1] for b in bounds if b.prefix in ("eq", "le", "lt")]
    if lows:
        lowest = max(lows).astimezone(zone).date()
        if not highs:
            highest = lowest + timedelta(days=SLOT_DAYS_DEFAULT - 1)
    if highs:
        highest = (min(highs) - timedelta(microseconds=1)).astimezone(zone).date()
        if not lows:
            lowest = max(today, highest - timedelta(days=SLOT_DAYS_DEFAULT - 1))
    if (highest - lowest).days >= SLOT_DAYS_MAX:
        raise bad(f"Ask for slots of at most {SLOT_DAYS_MAX} days at a time.", "start")
    return [lowest + timedelta(days=n) for n in range((highest - lowest).days + 1)]


def _slots(user: User, params: Params, tenant: Tenant) -> Found:
    schedules = reference_ids(params, "schedule", "Schedule")
    if schedules is None:
        raise bad("A slot search needs `schedule` (`Schedule/{id}`).", "schedule")
    if len(schedules) > SLOT_SCHEDULES_MAX:
        raise bad(f"Ask for at most {SLOT_SCHEDULES_MAX} schedules at a time.", "schedule")
    bounds = date_bounds(params, "start")
    statuses = tokens(params, "status", SLOT_STATUSES)
    now = timezone.now()
    found: list[tuple[Doctor, Any, str]] = []
    for doctor in doctors_for(user).filter(pk__in=schedules).order_by("pk"):
        zone = ZoneInfo(doctor.branch.timezone)
        for day in _slot_days(bounds, zone, now.astimezone(zone).date()):
            for item, status in slots_of(doctor, day, now):
                if statuses is not None and status not in statuses:
                    continue
                if all(bound.matches(item.start, zone) for bound in bounds):
                    found.append((doctor, item, status))
    return Found(found, lambda page: [resources.slot(d, item, s) for d, item, s in page])


# Appointments and encounters


def _visits(user: User, params: Params, rows: QuerySet[Appointment]) -> QuerySet[Appointment]:
    if bounds := date_bounds(params, "date"):
        zones = visible_branches(user).values_list("timezone", flat=True)
        rows = rows.filter(within(bounds, "start", zones))
    for name, kind, field in (
        ("practitioner", "Practitioner", "doctor_id__in"),
        ("patient", "Patient", "patient_id__in"),
    ):
        if (ids := reference_ids(params, name, kind)) is not None:
            rows = rows.filter(**{field: ids})
    return rows.select_related("branch", "doctor").order_by("start", "pk")


def _statuses(params: Params, table: dict[Appointment.Status, str]) -> list[str] | None:
    codes = tokens(params, "status", table.values())
    if codes is None:
        return None
    return [ours for ours, theirs in table.items() if theirs in codes]


def _appointments(user: User, params: Params, tenant: Tenant) -> Found:
    rows = _visits(user, params, appointments_for(user))
    if (statuses := _statuses(params, resources.APPOINTMENT_STATUS)) is not None:
        rows = rows.filter(status__in=statuses)
    return Found(rows, lambda page: [resources.appointment(row) for row in page])


def encounters_for(user: User) -> QuerySet[Appointment]:
    """Visits the patient came to (checked in or completed), within the caller's reach."""
    return appointments_for(user).filter(status__in=list(resources.ENCOUNTER_STATUS))


def render_encounters(page: list[Appointment], tenant: Tenant) -> list[dict[str, Any]]:
    times = resources.visit_times([row.pk for row in page])
    return [resources.encounter(row, times[row.pk], tenant) for row in page]


def _encounters(user: User, params: Params, tenant: Tenant) -> Found:
    rows = _visits(user, params, encounters_for(user))
    if (statuses := _statuses(params, resources.ENCOUNTER_STATUS)) is not None:
        rows = rows.filter(status__in=statuses)
    return Found(rows, lambda page: render_encounters(page, tenant))


SEARCHES: dict[str, Callable[[User, Params, Tenant], Found]] = {
    "Patient": _patients,
    "Practitioner": _practitioners,
    "Location": _locations,
    "Schedule": _schedules,
    "Slot": _slots,
    "Appointment": _appointments,
    "Encounter": _encounters,
}


# Reads


def _doctor(user: User, pk: int) -> Doctor:
    doctor = doctors_for(user).filter(pk=pk).first()
    if doctor is None:
        raise NotFound("No such resource.")
    return doctor


def read(resource_type: str, user: User, raw_id: str, tenant: Tenant) -> dict[str, Any]:
    """The one resource `raw_id` within the caller's reach; NotFound otherwise (also for an
    id that exists out of reach)."""
    if resource_type == "Slot":
        return _read_slot(user, raw_id)
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18:
        raise NotFound("No such resource.")
    pk = int(raw_id)
    if resource_type == "Patient":
        return resources.patient(_one(patients_for(user), pk), tenant)
    if resource_type == "Practitioner":
        return resources.practitioner(_doctor(user, pk))
    if resource_type == "Schedule":
        return resources.schedule(_doctor(user, pk))
    if resource_type == "Location":
        branch: Branch = _one(visible_branches(user), pk)
        return resources.location(branch, tenant)
    if resource_type == "Appointment":
        return resources.appointment(_one(appointments_for(user), pk))
    return render_encounters([_one(encounters_for(user), pk)], tenant)[0]


def _one(rows: QuerySet[Any], pk: int) -> Any:
    found = rows.filter(pk=pk).first()
    if found is None:
        raise NotFound("No such resource.")
    return found


def _read_slot(user: User, raw_id: str) -> dict[str, Any]:
    doctor_part, _, when = raw_id.partition("-")
    try:
        start = datetime.strptime(when, "%Y%m%d%H%M").replace(tzinfo=ZoneInfo("UTC"))
    except ValueError as exc:
        raise NotFound("No such resource.") from exc
    if (
        date_problem(start.date())
        or not (doctor_part.isascii() and doctor_part.isdigit())
        or len(doctor_part) > 18
    ):
        raise NotFound("No such resource.")
    doctor = _doctor(user, int(doctor_part))
    zone = ZoneInfo(doctor.branch.timezone)
    for item, status in slots_of(doctor, start.astimezone(zone).date(), timezone.now()):
        if item.start == start:
            return resources.slot(doctor, item, status)
    raise NotFound("No such resource.")


def organization(tenant: Tenant, raw_id: str) -> dict[str, Any]:
    if raw_id != tenant.slug:
        raise NotFound("No such resource.")
    return resources.organization(tenant)
