"""Monthly statements: the plan's charges for the month's usage plus 18 % GST, numbered
without a gap within India's financial year, issued once; and the operator's admin."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection as django_connection
from django.db import transaction
from django.db.utils import DatabaseError

from apps.clinic.models import Branch, User
from apps.eventstore.projections import catch_up
from apps.plans import commands
from apps.plans.models import Plan, Statement, Subscription
from apps.plans.selectors import tenants_to_bill
from apps.plans.statements import booking_tier_lines, charges, financial_year
from apps.tenants.models import Tenant
from tests.conftest import HostClient
from tests.plans.conftest import PutOnPlan
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")

JANUARY = date(2027, 1, 1)


def test_a_clinic_pays_per_active_doctor_plus_gst(
    tenant: Tenant, main_branch: Branch, put_on_plan: PutOnPlan
) -> None:
    subscription = put_on_plan(Plan.objects.get(slug="clinic"))
    Subscription.objects.filter(pk=subscription.pk).update(gstin="27AAPFU0939F1ZV")
    DoctorFactory(branch=main_branch)
    DoctorFactory(branch=main_branch)
    catch_up()
    statement = commands.statement_issue(actor="beat", tenant=tenant, month=JANUARY)
    assert statement.lines == [
        {"description": "Clinic plan: active doctors", "quantity": 2,
         "unit_price": "999.00", "amount": "1998.00"},
    ]  # fmt: skip
    assert (statement.subtotal, statement.gst, statement.total) == (
        Decimal("1998.00"), Decimal("359.64"), Decimal("2357.64"),
    )  # fmt: skip
    assert statement.gstin == "27AAPFU0939F1ZV"
    assert statement.number.startswith("MM/2026-27/")
    assert commands.statement_issue(actor="beat", tenant=tenant, month=JANUARY) == statement


def test_statements_are_numbered_without_a_gap_within_a_financial_year(
    tenant: Tenant, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="hospital"))
    numbers = [
        commands.statement_issue(actor="beat", tenant=tenant, month=month).number
        for month in (date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1))
    ]
    february, march, april = (int(number.rsplit("/", 1)[1]) for number in numbers)
    assert march == february + 1
    assert numbers[2] == "MM/2027-28/000001"
    assert (financial_year(date(2027, 3, 1)), financial_year(date(2027, 4, 1))) == (
        "2026-27", "2027-28",
    )  # fmt: skip


def test_a_hospital_pays_a_base_fee_and_each_module() -> None:
    hospital = Plan.objects.get(slug="hospital")
    lines = charges(hospital, {"doctors": 0, "branches": 0, "bookings": 0})
    assert sum(line.amount for line in lines) == Decimal("25000") + Decimal("17500")


def test_chain_bookings_are_charged_tier_by_tier() -> None:
    tiers = Plan.objects.get(slug="chain").booking_tiers
    lines = booking_tier_lines(tiers, 23_000)
    assert [(line.description, line.quantity, line.amount) for line in lines] == [
        ("Bookings 5001–20000", 15_000, Decimal("30000.00")),
        ("Bookings from 20001", 3_000, Decimal("3000.00")),
    ]


def test_only_paying_tenants_without_a_statement_are_billed(
    tenant: Tenant, other_tenant: Tenant, put_on_plan: PutOnPlan
) -> None:
    assert tenants_to_bill(JANUARY) == []  # both on trial
    put_on_plan(Plan.objects.get(slug="chain"))
    assert tenants_to_bill(JANUARY) == [tenant.pk]
    commands.statement_issue(actor="beat", tenant=tenant, month=JANUARY)
    assert tenants_to_bill(JANUARY) == []


def test_a_statement_is_never_changed(tenant: Tenant, put_on_plan: PutOnPlan) -> None:
    put_on_plan(Plan.objects.get(slug="chain"))
    statement = commands.statement_issue(actor="beat", tenant=tenant, month=JANUARY)
    with pytest.raises(DatabaseError), transaction.atomic():
        Statement.objects.filter(pk=statement.pk).update(total=Decimal("1.00"))


def test_the_operator_admin_is_for_platform_superusers_only(
    tenant: Tenant, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="chain"))
    catch_up()
    commands.statement_issue(actor="beat", tenant=tenant, month=JANUARY)
    django_connection.set_schema_to_public()
    operator = User.objects.create_superuser("ops@mymedic.example.com", "an-operator-pass-1")
    staff = User.objects.create_user("staff@mymedic.example.com", "a-staff-pass-12", is_staff=True)
    public = HostClient("localhost")
    public.force_login(staff)
    assert public.get("/admin/").status_code == 302  # staff, but no platform operator
    public.logout()
    signed_in = public.post(
        "/admin/login/?next=/admin/",
        {"username": operator.email, "password": "an-operator-pass-1"},
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    assert public.get("/admin/").status_code == 200
    listed = public.get("/admin/plans/subscription/")
    assert listed.status_code == 200 and b"acme" in listed.content
    page = public.get(
        f"/admin/plans/subscription/{Subscription.objects.get(tenant=tenant).pk}/change/"
    )
    assert b"bookings 0" in page.content
    revenue = public.get("/admin/plans/statement/")
    assert b"Revenue shown" in revenue.content
    assert "₹5,898.82 in all" in revenue.content.decode()
