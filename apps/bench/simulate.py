"""The workload generator: a tenant of a segment's size and one realistic day of it,
driven through the real commands (so every event, audit entry and projection is real)."""

import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.clinic.commands import branch_create
from apps.clinic.models import Branch
from apps.core.errors import DomainError
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.scheduling.slots import free_slots
from apps.tenants.commands import tenant_onboard
from apps.tenants.models import Tenant


@dataclass(frozen=True)
class Segment:
    kind: str
    branches: int
    doctors_per_branch: int
    visits_per_doctor: int


# appointments per doctor per day × doctors per branch × branches (one region)
SEGMENTS = {
    "independent": Segment("clinic", 1, 3, 20),
    "clinic": Segment("clinic", 1, 10, 25),
    "chain": Segment("chain", 10, 15, 30),
    "hospital": Segment("hospital", 4, 250, 40),
}
HOURS = [
    {"weekday": d, "start": s, "end": e}
    for d in range(7)
    for s, e in (("08:00", "13:00"), ("14:00", "21:00"))
]
ZONE = ZoneInfo("Asia/Kolkata")
Progress = Callable[[int], None]


def _phone(n: int) -> str:
    return f"+9170{n:08d}"


def simulate(
    segment: Segment, *, seed: int = 7, progress: Progress | None = None
) -> tuple[Tenant, Counter[str]]:
    """Creates the tenant and plays tomorrow: booked the evening before, then lived."""
    rng = random.Random(seed)  # noqa: S311  (a workload, not security)
    slug = f"sim-{segment.kind}-{uuid.uuid4().hex[:6]}"
    tenant = tenant_onboard(
        verified=True,
        clinic_name=f"Simulated {segment.kind}",
        slug=slug,
        kind=segment.kind,
        owner_name="Sim Owner",
        owner_email=f"owner@{slug}.example.com",
        owner_password="simulated-owner-2026",  # noqa: S106  (throw-away tenant)
    ).tenant
    done: Counter[str] = Counter()
    with schema_context(tenant.schema_name):
        branches = [Branch.objects.get()] + [
            branch_create(actor=None, name=f"Branch {n}", timezone="Asia/Kolkata")
            for n in range(2, segment.branches + 1)
        ]
        doctors = [
            commands.doctor_add(
                actor=None,
                branch=branch,
                name=f"Dr. {b}-{n}",
                specialty="General medicine",
                slot_minutes=10,
                consultation_fee=Decimal("500.00"),
                weekly_hours=HOURS,
            )
            for b, branch in enumerate(branches)
            for n in range(segment.doctors_per_branch)
        ]
        visits = len(doctors) * segment.visits_per_doctor
        patients = [
            commands.patient_register(actor=None, name=f"Sim Patient {n}", phone=_phone(n))
            for n in range(max(1, visits // 2))
        ]
        done["doctors"], done["patients"] = len(doctors), len(patients)
        day = (timezone.now().astimezone(ZONE) + timedelta(days=1)).date()
        evening_before = datetime.combine(day - timedelta(days=1), time(20), tzinfo=ZONE)
        for doctor in doctors:
            _doctors_day(doctor, patients, day, evening_before, segment, rng, done, progress)
    return tenant, done


def _doctors_day(
    doctor: Doctor,
    patients: list[Patient],
    day: object,
    eve: datetime,
    segment: Segment,
    rng: random.Random,
    done: Counter[str],
    progress: Progress | None,
) -> None:
    slots = free_slots(doctor, day, now=eve)  # type: ignore[arg-type]
    chosen = slots[: segment.visits_per_doctor]
    spare = slots[segment.visits_per_doctor :]
    for slot in chosen:
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=rng.choice(patients), start=slot.start, now=eve
        )
        done["booked"] += 1
        roll = rng.random()
        try:
            if rng.random() < 0.4:
                billing.payment_take(
                    actor=None,
                    appointment=visit,
                    kind="deposit",
                    amount=Decimal("200.00"),
                    method=rng.choice(["cash", "upi"]),
                )
                done["deposits"] += 1
            if roll < 0.05:
                commands.appointment_cancel(actor=None, appointment=visit, reason="sim", now=eve)
                done["cancelled"] += 1
            elif roll < 0.10 and spare:
                moved = spare.pop()
                visit = commands.appointment_reschedule(
                    actor=None, appointment=visit, start=moved.start, now=eve
                )
                done["rescheduled"] += 1
            if roll >= 0.05:
                _attend(visit, roll, rng, done)
        except DomainError:
            done["refused"] += 1
        if progress:
            progress(1)


def _attend(visit: object, roll: float, rng: random.Random, done: Counter[str]) -> None:
    at = visit.start  # type: ignore[attr-defined]
    if roll > 0.92:
        commands.appointment_mark_no_show(actor=None, appointment=visit, now=at)  # type: ignore[arg-type]
        done["no_show"] += 1
        return
    visit = commands.appointment_check_in(actor=None, appointment=visit, now=at)  # type: ignore[arg-type]
    visit = commands.appointment_complete(actor=None, appointment=visit, now=at)
    done["completed"] += 1
    due = Decimal("500.00") - sum((p.amount for p in visit.payments.all()), Decimal(0))
    if due > 0:
        payment = billing.payment_take(
            actor=None,
            appointment=visit,
            kind="balance",
            amount=due,
            method=rng.choice(["cash", "card", "upi"]),
        )
        done["balances"] += 1
        if rng.random() < 0.03:
            billing.payment_refund(
                actor=None, payment=payment, amount=Decimal("100.00"), reason="sim"
            )
            done["refunds"] += 1
