"""GST document numbers under real concurrency: many connections issue at once, real
PostgreSQL; the numbers that come out are 1..N in each series, no gap, no repeat."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.billing import documents
from apps.billing.models import GstDocument, Invoice
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.scheduling.factories import DoctorFactory, PatientFactory

ISSUERS = 12


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_twelve_desks_issuing_at_once_get_consecutive_numbers(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        billing.gst_supplier_set(
            actor=None, legal_name="Committed Clinic LLP", gstin="27AAPFU0939F1ZV", address="Pune"
        )
        branch = Branch.objects.get()
        doctor = DoctorFactory(
            branch=branch,
            slot_minutes=10,
            weekly_hours=[{"weekday": day, "start": "09:00", "end": "12:00"} for day in range(7)],
        )
        tomorrow = datetime.now(ZoneInfo(branch.timezone)).date() + timedelta(days=1)
        invoices = []
        for index in range(ISSUERS):
            visit = commands.appointment_book(
                actor=None,
                doctor=doctor,
                patient=PatientFactory(name=f"Q{index}", phone=f"+9196000000{index:02d}"),
                start=datetime(
                    tomorrow.year,
                    tomorrow.month,
                    tomorrow.day,
                    9 + index // 6,
                    10 * (index % 6),
                    tzinfo=ZoneInfo(branch.timezone),
                ),
            )
            invoices.append(
                billing.invoice_item_add(
                    actor=None,
                    appointment=visit,
                    category="pharmacy",
                    description="Cetirizine 10 mg",
                    quantity=1,
                    unit_price=Decimal("21.00"),
                )
            )
        start_together = threading.Barrier(ISSUERS)

        def issue(invoice: Invoice) -> list[str]:
            try:
                with schema_context(committed_tenant.schema_name):
                    start_together.wait()
                    made = billing.gst_documents_issue(actor=None, invoice=invoice)
                    return [document.number for document in made]
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=ISSUERS) as pool:
            numbers = [number for made in pool.map(issue, invoices) for number in made]

        issued = GstDocument.objects.filter(invoice__in=invoices)
        year = issued.first().financial_year  # type: ignore[union-attr]
        fy = f"{year % 100:02d}{(year + 1) % 100:02d}"
        expected = {
            f"{series}/{fy}/{n:06d}" for series in ("BOS", "TI") for n in range(1, ISSUERS + 1)
        }
        assert len(numbers) == 2 * ISSUERS
        assert set(numbers) == expected
        assert issued.count() == 2 * ISSUERS


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_series_counter_alone_gives_no_gap_and_no_repeat_to_concurrent_transactions(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    # Without the command's tenant lock around it: the counter row's own lock is what holds.
    takers, each = 12, 5
    start_together = threading.Barrier(takers)

    def take(index: int) -> list[int]:
        try:
            with schema_context(committed_tenant.schema_name):
                start_together.wait()
                taken = []
                for _ in range(each):
                    with transaction.atomic():
                        taken.append(documents.take_number("29AAACI1681G1ZL", "TI", 2031))
                return taken
        finally:
            connection.close()

    with django_db_blocker.unblock(), ThreadPoolExecutor(max_workers=takers) as pool:
        numbers = [number for taken in pool.map(take, range(takers)) for number in taken]

    assert sorted(numbers) == list(range(1, takers * each + 1))
