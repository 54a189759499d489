"""The reconcile command and the nightly job."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from apps.billing import commands as billing
from apps.reconciliation.models import DailyClose
from apps.reconciliation.tasks import nightly_reconciliation, reconcile_recent
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.clock import ist


@pytest.fixture
def paid_monday(doctor: Doctor, patient: Patient) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("250"), method="cash"
    )


def test_reconcile_recomputes_a_range_idempotently(paid_monday: None, doctor: Doctor) -> None:
    out = StringIO()
    call_command(
        "reconcile",
        "--tenant",
        "acme",
        "--from",
        "2027-01-03",
        "--to",
        "2027-01-05",
        stdout=out,
        stderr=StringIO(),
    )
    call_command(
        "reconcile",
        "--tenant",
        "acme",
        "--date",
        "2027-01-04",
        stdout=StringIO(),
        stderr=StringIO(),
    )

    assert "computed for 1 tenant" in out.getvalue()
    close = DailyClose.objects.get(branch=doctor.branch, date="2027-01-04")
    assert close.collected == {"cash": "250.00"}
    assert DailyClose.objects.filter(date="2027-01-04").count() == 1


def test_reconcile_refuses_a_backwards_range() -> None:
    with pytest.raises(CommandError):
        call_command("reconcile", "--from", "2027-01-05", "--to", "2027-01-04", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("reconcile", stdout=StringIO())


def test_the_nightly_job_closes_yesterday_at_local_midnight(
    paid_monday: None, doctor: Doctor, celery_in_process: None
) -> None:
    tuesday_midnight_ist = datetime(2027, 1, 4, 18, 40, tzinfo=UTC)  # 00:10 on the 5th in Mumbai
    monday_noon_ist = datetime(2027, 1, 4, 6, 30, tzinfo=UTC)

    assert reconcile_recent(tuesday_midnight_ist.astimezone(ist(5, 0).tzinfo)) >= 1
    assert DailyClose.objects.get(branch=doctor.branch, date="2027-01-04").collected == {
        "cash": "250.00"
    }
    DailyClose.objects.all().delete()

    import time_machine

    with time_machine.travel(monday_noon_ist, tick=False):
        nightly_reconciliation()
    assert not DailyClose.objects.exists()  # not midnight in Mumbai: nothing to do
    with time_machine.travel(tuesday_midnight_ist, tick=False):
        nightly_reconciliation()
    assert DailyClose.objects.filter(date="2027-01-04").exists()


def test_the_nightly_job_leaves_a_tenant_without_new_events_alone(
    paid_monday: None, doctor: Doctor, patient: Patient, celery_in_process: None
) -> None:
    tuesday_midnight_ist = datetime(2027, 1, 4, 18, 40, tzinfo=UTC)  # 00:10 on the 5th
    wednesday_midnight_ist = datetime(2027, 1, 5, 18, 40, tzinfo=UTC)
    thursday_midnight_ist = datetime(2027, 1, 6, 18, 40, tzinfo=UTC)

    with time_machine.travel(tuesday_midnight_ist, tick=False):
        first = nightly_reconciliation()
    with time_machine.travel(wednesday_midnight_ist, tick=False):
        quiet = nightly_reconciliation()
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(7, 10))
    with time_machine.travel(thursday_midnight_ist, tick=False):
        after_a_booking = nightly_reconciliation()

    assert "acme" in first
    assert "acme" not in quiet
    assert "acme" in after_a_booking
    assert DailyClose.objects.filter(date="2027-01-04").exists()
