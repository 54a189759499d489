"""The usage projection: each month's metering equals a count of the log's events, levels
hold the month's peak, and a rebuild from the log gives the same rows as the live run."""

from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from apps.clinic.models import Branch, User
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up, projections
from apps.eventstore.replay import rebuild
from apps.metering.models import MeteredUnit, UsageMonth
from apps.metering.selectors import usage_by_channel, usage_of
from apps.notifications.backends import FileBackend
from apps.notifications.dispatch import dispatch_due
from apps.notifications.events import MESSAGE_SENT
from apps.scheduling import commands
from apps.scheduling.events import APPOINTMENT_BOOKED
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")

JANUARY = date(2027, 1, 1)


@pytest.fixture
def busy_month(
    tenant: Tenant, main_branch: Branch, doctor: Doctor, patient: Patient, outbox: FileBackend
) -> dict[str, Any]:
    """Three bookings with two doctors, their confirmations sent, one doctor let go."""
    second = DoctorFactory(branch=main_branch)
    for day, who in ((5, doctor), (6, second), (7, doctor)):
        commands.appointment_book(actor=None, doctor=who, patient=patient, start=ist(day, 10))
    catch_up()
    sent = dispatch_due()
    commands.doctor_update(actor=None, doctor=second, active=False)
    catch_up()
    return {"sent": sent.sent, "second": second}


def count(event_type: str, month: date) -> int:
    return sum(
        1
        for occurred in Event.objects.filter(type=event_type).values_list("occurred_at", flat=True)
        if occurred.astimezone(ist(1, 0).tzinfo).date().replace(day=1) == month
    )


def test_a_months_usage_equals_a_count_of_its_events(busy_month: dict[str, Any]) -> None:
    usage = usage_of(JANUARY)
    assert usage["bookings"] == count(APPOINTMENT_BOOKED, JANUARY) == 3
    assert usage["messages"] == count(MESSAGE_SENT, JANUARY) == busy_month["sent"] == 3
    assert usage_by_channel(JANUARY) == {"messages": {"sms": 3}}
    assert usage["hl7_messages"] == 0


def test_a_level_is_the_months_peak_and_the_next_month_starts_from_the_level_then(
    busy_month: dict[str, Any], main_branch: Branch
) -> None:
    assert Doctor.objects.filter(active=True).count() == 1
    assert usage_of(JANUARY)["doctors"] == 2  # both worked in January
    assert usage_of(JANUARY)["branches"] == Branch.objects.count() == 1
    with time_machine.travel(ist(4, 9) + timedelta(days=31), tick=False):
        assert usage_of(date(2027, 2, 1))["doctors"] == 1
        DoctorFactory(branch=main_branch)
        catch_up()
        assert usage_of(date(2027, 2, 1))["doctors"] == 2


def test_a_rebuilt_usage_model_equals_the_live_one(busy_month: dict[str, Any]) -> None:
    def rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return (
            list(UsageMonth.objects.order_by("month", "metric", "channel").values_list(
                "month", "metric", "channel", "value"
            )),
            list(MeteredUnit.objects.order_by("kind", "unit_id").values_list(
                "kind", "unit_id", "active"
            )),
        )  # fmt: skip

    live = rows()
    assert live[0]  # something was metered
    out = StringIO()
    call_command("replay", "--tenant", "acme", "--projection", "usage", "--check", stdout=out)
    assert "Every read model matches" in out.getvalue()
    (usage,) = projections(["usage"])
    rebuild(usage)
    assert rows() == live


def test_the_owner_reads_the_plan_and_this_months_usage(
    tenant: Tenant, owner: User, busy_month: dict[str, Any]
) -> None:
    body = client_for(owner, tenant).get("/api/v1/subscription/").json()
    assert body["plan"] == "chain"
    assert body["status"] == "trial"
    assert body["period"] == {"start": "2027-01-01", "end": "2027-01-31"}
    assert body["usage"] == {
        "doctors": 2, "branches": 1, "bookings": 3, "messages": 3, "hl7_messages": 0,
        "storage_bytes": 0,  # not measured yet this month (apps/lifecycle)
    }  # fmt: skip
    assert body["storage"] is None
    assert body["limits"] == {"doctors": 300, "branches": 50, "bookings": None}
    assert body["messages_by_channel"] == {"sms": 3}
    assert "integration" in body["modules"]  # a trial opens every module


def test_counts_of_runs_one_after_another_add_up(doctor: Doctor, patient: Patient) -> None:
    # One booking a run, then two in one run: each run adds to the month's row.
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    catch_up()
    for hour in (9, 12):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, hour))
    catch_up()

    assert usage_of(JANUARY)["bookings"] == count(APPOINTMENT_BOOKED, JANUARY) == 4
    assert UsageMonth.objects.filter(metric="bookings").count() == 1
