"""Double booking under real concurrency: many connections, real PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.clinic import tokens
from apps.clinic.models import Branch, User
from apps.scheduling.models import Appointment
from apps.tenants.models import Tenant
from tests.conftest import with_token
from tests.scheduling.factories import DoctorFactory, PatientFactory

REQUESTS = 40
SLOTS = 5


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_forty_concurrent_requests_for_five_slots_make_five_bookings(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = DoctorFactory(
            branch=branch,
            slot_minutes=10,
            weekly_hours=[{"weekday": 1, "start": "09:00", "end": "09:50"}],
        )
        patients = [
            PatientFactory(name=f"P{i}", phone=f"+9197000000{i:02d}") for i in range(REQUESTS)
        ]
        owner = User.objects.get(role="owner")
        token = tokens.mint(owner)
        slots = [f"2027-01-05T09:{10 * i:02d}:00+05:30" for i in range(SLOTS)]
        start_together = threading.Barrier(REQUESTS)

        def book(index: int) -> int:
            client = with_token(f"{committed_tenant.slug}.localhost", token)
            body = {
                "doctor": doctor.pk,
                "patient": patients[index].pk,
                "start": slots[index % SLOTS],
            }
            try:
                start_together.wait()
                return client.post("/api/v1/appointments/", body, format="json").status_code
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            codes = list(pool.map(book, range(REQUESTS)))

        assert sorted(codes) == [201] * SLOTS + [409] * (REQUESTS - SLOTS)
        booked = Appointment.objects.filter(doctor=doctor)
        assert booked.count() == SLOTS
        assert len({appointment.start for appointment in booked}) == SLOTS
