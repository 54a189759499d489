"""A small clinic's history written through the real commands, for backup and restore tests.

Used in the test process (the tenant backup round trip) and, as a script, against a database
that a fault test started (the restore drill):

    python tests/faults/clinic_day.py prepare SLUG [--before N]
    python tests/faults/clinic_day.py visits SLUG --before N --after M
    python tests/faults/clinic_day.py loop SLUG --first N

`prepare` makes the tenant, then both write visits (each a booking and a deposit, read
models caught up) and print one JSON object: every event acknowledged before the moment, the
moment (the database's clock after the N-th visit committed) and the events acknowledged
after it. `loop` books one visit after another until it is stopped, through a failing
database (retrying what did not commit), and prints a line per acknowledged visit.
"""

import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
FIRST_DAY = datetime(2027, 1, 4, 9, 0, tzinfo=IST)
HOURS = [{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(7)]
SLOTS_PER_DAY = 16


def prepare(slug: str) -> Any:
    """A verified tenant with one doctor and one patient."""
    from django_tenants.utils import schema_context

    from apps.clinic.models import Branch
    from apps.scheduling import commands
    from apps.tenants.commands import tenant_onboard

    tenant = tenant_onboard(
        verified=True, clinic_name=f"{slug.title()} Clinic", slug=slug, kind="clinic",
        owner_name="Drill Owner", owner_email=f"owner@{slug}.example.com",
        owner_password="correct-horse-battery-9",
    ).tenant  # fmt: skip
    with schema_context(tenant.schema_name):
        commands.doctor_add(
            actor=None, branch=Branch.objects.get(), name="Dr. Asha Rao", specialty="GP",
            slot_minutes=30, consultation_fee=Decimal("500.00"), weekly_hours=HOURS,
        )  # fmt: skip
        commands.patient_register(actor=None, name="Ravi Kumar", phone="+919812345678")
    return tenant


def visit(number: int) -> int:
    """Books visit `number` (its own slot), takes a deposit, catches the read models up;
    returns the log position once all of it is committed (acknowledged)."""
    from apps.billing.commands import payment_take
    from apps.eventstore.models import Event
    from apps.eventstore.projections import catch_up
    from apps.scheduling import commands
    from apps.scheduling.models import Doctor, Patient

    day, slot = divmod(number, SLOTS_PER_DAY)
    start = FIRST_DAY + timedelta(days=day, minutes=30 * slot)
    booked = commands.appointment_book(
        actor=None, doctor=Doctor.objects.get(), patient=Patient.objects.get(), start=start
    )
    payment_take(
        actor=None, appointment=booked, kind="deposit", amount=Decimal("200.00"), method="upi"
    )
    catch_up()
    position: int = Event.objects.order_by("-position").values_list("position", flat=True)[0]
    return position


def events_after(position: int) -> list[list[Any]]:
    from apps.eventstore.models import Event

    rows = Event.objects.filter(position__gt=position).order_by("position")
    return [list(row) for row in rows.values_list("position", "stream", "version", "type")]


def visits(slug: str, before: int, after: int, first: int) -> dict[str, Any]:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    with schema_context(tenant.schema_name):
        start = events_after(0)
        head = start[-1][0] if start else 0
        for number in range(first, first + before):
            head = visit(number)
        acknowledged = events_after(0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            moment = cursor.fetchone()[0]
        for number in range(first + before, first + before + after):
            visit(number)
        later = events_after(head)
    return {"before": acknowledged, "moment": moment.isoformat(), "after": later}


def loop(slug: str, first: int) -> None:
    """Books visit after visit. After each commit it prints `{"visit", "head", "at"}` (the
    log's head position then, and the wall clock): everything up to `head` is acknowledged.
    A database error (the primary gone, a standby not yet promoted) drops the connection and
    retries the same visit; one found taken had committed before its answer was lost."""
    import time

    from django.db import DatabaseError, connection
    from django_tenants.utils import schema_context

    from apps.billing.commands import payment_take
    from apps.core.errors import Conflict
    from apps.eventstore.models import Event
    from apps.scheduling import commands
    from apps.scheduling.models import Doctor, Patient
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    number = first
    with schema_context(tenant.schema_name):
        doctor, patient = Doctor.objects.get(), Patient.objects.get()
        while True:
            day, slot = divmod(number, SLOTS_PER_DAY)
            start = FIRST_DAY + timedelta(days=day, minutes=30 * slot)
            try:
                booked = commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=start
                )
                payment_take(
                    actor=None, appointment=booked, kind="deposit", amount=Decimal("200.00"),
                    method="upi",
                )  # fmt: skip
                head = Event.objects.order_by("-position").values_list("position", flat=True)[0]
            except Conflict:
                number += 1
                continue
            except DatabaseError:
                connection.close()
                time.sleep(0.02)
                continue
            print(json.dumps({"visit": number, "head": head, "at": time.time()}), flush=True)
            number += 1


def main(argv: list[str]) -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["prepare", "visits", "loop"])
    parser.add_argument("slug")
    parser.add_argument("--before", type=int, default=0)
    parser.add_argument("--after", type=int, default=0)
    parser.add_argument("--first", type=int, default=0, help="number of the first visit")
    options = parser.parse_args(argv)
    django.setup()
    if options.what == "prepare":
        prepare(options.slug)
    if options.what == "loop":
        loop(options.slug, options.first)
        return
    print(json.dumps(visits(options.slug, options.before, options.after, options.first)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(sys.argv[1:])
