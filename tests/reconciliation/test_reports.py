"""Weekly and monthly reports, settlement imports, isolation, and sums that always add up."""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing import commands as billing
from apps.clinic.models import Branch, Role, User
from apps.eventstore.models import Event
from apps.reconciliation import reports
from apps.reconciliation.models import Declaration
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory

D = Decimal


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def pay_on(day: int, doctor: Doctor, hour: int, amount: str, method: str) -> Any:
    visit = commands.appointment_book(
        actor=None, doctor=doctor, patient=PatientFactory(), start=ist(day, hour)
    )
    with time_machine.travel(ist(day, 8), tick=False):
        return billing.payment_take(
            actor=None, appointment=visit, kind="deposit", amount=D(amount), method=method
        )


def test_the_week_is_the_sum_of_its_days_with_csv(desk: HostClient, doctor: Doctor) -> None:
    pay_on(4, doctor, 10, "100.00", "cash")
    pay_on(5, doctor, 10, "250.00", "cash")
    pay_on(6, doctor, 11, "40.00", "upi")

    report = desk.get(
        f"/api/v1/reconciliation/weekly/?branch={doctor.branch_id}&week=2027-W01"
    ).json()
    exported = desk.get(
        f"/api/v1/reconciliation/weekly/?branch={doctor.branch_id}&week=2027-W01&format=csv"
    )

    assert [day["date"] for day in report["days"]] == [f"2027-01-{d:02d}" for d in range(4, 11)]
    assert report["totals"]["collected"] == {"cash": "350.00", "upi": "40.00"}
    assert report["totals"]["bookings"] == 3 and report["totals"]["expected"] == "1500.00"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert exported["Content-Type"] == "text/csv" and len(rows) == 7
    assert rows[1]["collected_cash"] == "250.00"


def test_the_month_sums_every_branch_and_the_chain(desk: HostClient, doctor: Doctor) -> None:
    other = DoctorFactory(branch=BranchFactory(name="Bandra"))
    pay_on(4, doctor, 10, "100.00", "cash")
    pay_on(12, other, 10, "70.00", "card")

    report = desk.get("/api/v1/reconciliation/monthly/?month=2027-01").json()
    exported = desk.get("/api/v1/reconciliation/monthly/?month=2027-01&format=csv").content.decode()

    by_name = {row["name"]: row for row in report["branches"]}
    assert by_name["Main branch"]["collected"] == {"cash": "100.00"}
    assert by_name["Bandra"]["collected"] == {"card": "70.00"}
    assert report["chain"]["collected"] == {"card": "70.00", "cash": "100.00"}
    assert report["chain"]["bookings"] == 2
    assert exported.splitlines()[-1].startswith("chain,")


@pytest.mark.parametrize(
    "query",
    ["week=2027-W54", "week=2027-01", "branch=x&week=2027-W01", "week=2027-W53"],
)
def test_bad_report_queries_are_400(desk: HostClient, main_branch: Branch, query: str) -> None:
    if "branch" not in query:
        query = f"branch={main_branch.pk}&{query}"

    assert desk.get(f"/api/v1/reconciliation/weekly/?{query}").status_code == 400


def test_bad_month_is_400(desk: HostClient) -> None:
    assert desk.get("/api/v1/reconciliation/monthly/?month=2027-13").status_code == 400
    assert desk.get("/api/v1/reconciliation/daily/?branch=1&date=someday").status_code == 400


def test_a_settlement_file_imports_whole(desk: HostClient, main_branch: Branch) -> None:
    text = (
        "date,branch,method,amount,reference\n"
        f"2027-01-04,{main_branch.pk},card,1200.00,BATCH-1\n"
        f"2027-01-04,{main_branch.pk},upi,300.50,UPI-77\n"
    )

    response = desk.post("/api/v1/reconciliation/settlements/", data=text, content_type="text/csv")

    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 2
    declared = desk.get(
        f"/api/v1/reconciliation/daily/?branch={main_branch.pk}&date=2027-01-04"
    ).json()
    assert declared["declared"] == {"card": "1200.00", "upi": "300.50"}


def test_a_settlement_file_with_bad_rows_imports_nothing(
    desk: HostClient, main_branch: Branch
) -> None:
    text = (
        "date,branch,method,amount,reference\n"
        f"2027-01-04,{main_branch.pk},card,1200.00,OK\n"
        f"2027-02-30,{main_branch.pk},card,1.00,BAD-DATE\n"
        f"2027-01-04,999999,upi,1.00,BAD-BRANCH\n"
        f"2027-01-04,{main_branch.pk},cash,1.00,CASH-IS-COUNTED\n"
        f"2027-01-04,{main_branch.pk},card,-5,NEGATIVE\n"
    )

    response = desk.post("/api/v1/reconciliation/settlements/", data=text, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["rows"] == [
        "line 3, date: use YYYY-MM-DD",
        "line 4, branch: unknown branch id",
        "line 5, method: settlements are card, upi or other",
        "line 6, amount: a non-negative amount with at most two decimals",
    ]
    assert not Declaration.objects.exists()


def test_a_file_with_the_wrong_header_is_refused(desk: HostClient) -> None:
    response = desk.post(
        "/api/v1/reconciliation/settlements/", data="when,where\n1,2\n", content_type="text/csv"
    )

    assert response.status_code == 400 and "first line" in response.json()["file"][0]


def test_reports_stay_inside_their_tenant(
    desk: HostClient, doctor: Doctor, other_tenant: Tenant
) -> None:
    pay_on(4, doctor, 10, "100.00", "cash")
    with schema_context(other_tenant.schema_name):
        foreign = client_for(User.objects.get(role=Role.OWNER), other_tenant)

    theirs = foreign.get("/api/v1/reconciliation/monthly/?month=2027-01").json()

    assert theirs["chain"]["collected"] == {}
    assert foreign.get(
        f"/api/v1/reconciliation/daily/?branch={doctor.branch_id}&date=2027-01-04"
    ).status_code in (200, 404)
    assert desk.get("/api/v1/reconciliation/monthly/?month=2027-01").json()["chain"][
        "collected"
    ] == {"cash": "100.00"}


# Fourteen distinct slots of the test doctor's day (09:00–13:00 and 14:00–17:00).
SLOTS = [timedelta(hours=9, minutes=30 * i) for i in range(8)] + [
    timedelta(hours=14, minutes=30 * i) for i in range(6)
]

payments = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=24),  # day offset in January from the 4th
        st.integers(min_value=1, max_value=90_000),  # paise
        st.sampled_from(["cash", "card", "upi"]),
        st.integers(min_value=0, max_value=100),  # percent refunded
    ),
    min_size=1,
    max_size=len(SLOTS),
)


@given(history=payments)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_days_equal_event_sums_and_weeks_and_months_are_sums_of_days(
    history: list[tuple[int, int, str, int]], doctor: Doctor
) -> None:
    savepoint = transaction.savepoint()
    try:
        for slot, (offset, paise, method, percent) in enumerate(history):
            day = date(2027, 1, 4) + timedelta(days=offset)
            visit_day = day + timedelta(days=1) if day.weekday() == 6 else day  # no Sunday hours
            visit = commands.appointment_book(
                actor=None,
                doctor=doctor,
                patient=PatientFactory(),
                start=ist(visit_day.day, 0) + SLOTS[slot],
            )
            amount = min(D(paise) / 100, D("500.00"))
            with time_machine.travel(ist(day.day, 8), tick=False):
                payment = billing.payment_take(
                    actor=None, appointment=visit, kind="deposit", amount=amount, method=method
                )
                back = (amount * percent / 100).quantize(D("0.01"))
                if back > 0:
                    billing.payment_refund(actor=None, payment=payment, amount=back, reason="r")
        branch = doctor.branch
        month = reports.monthly("2027-01", [branch])
        days = {
            d["date"]: d
            for w in ("2027-W01", "2027-W02", "2027-W03", "2027-W04")
            for d in reports.weekly(branch, w)["days"]
        }
        sums: dict[tuple[str, str, str], D] = defaultdict(D)
        for event in Event.objects.filter(type__in=["PaymentTaken", "RefundIssued"]):
            sums[(event.type, event.data["date"], event.data["method"])] += D(event.data["amount"])
        for (kind, day_iso, method), total in sums.items():
            book = "collected" if kind == "PaymentTaken" else "refunded"
            assert D(days[day_iso][book][method]) == total
        weeks = [
            reports.weekly(branch, w)["totals"]
            for w in ("2027-W01", "2027-W02", "2027-W03", "2027-W04")
        ]
        for method in ("cash", "card", "upi"):
            for book in ("collected", "refunded"):
                week_sum = sum((D(w[book].get(method, "0")) for w in weeks), D(0))
                month_value = D(month["chain"][book].get(method, "0"))
                assert (
                    week_sum
                    == month_value
                    == sum(
                        (
                            t
                            for (k, _, m), t in sums.items()
                            if m == method and (k == "PaymentTaken") == (book == "collected")
                        ),
                        D(0),
                    )
                )
        assert sum(w["bookings"] for w in weeks) == month["chain"]["bookings"] == len(history)
    finally:
        transaction.savepoint_rollback(savepoint)
