"""The subscription's lifecycle: a trial on sign-up, changes by date (trial end, grace end),
the operator's changes, each one recorded in the public history and the tenant's audit trail,
and a suspended clinic that reads but does not write."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, User
from apps.core.errors import Conflict
from apps.plans import commands
from apps.plans.models import Plan, Subscription, SubscriptionChange
from apps.plans.selectors import subscriptions_due
from apps.plans.tasks import advance_subscriptions
from apps.scheduling.models import Doctor, Patient
from apps.tenants.commands import tenant_onboard
from apps.tenants.models import Tenant
from tests.conftest import OWNER_PASSWORD, client_for, token_sign_in
from tests.patientapp.conftest import patient_client
from tests.plans.conftest import PutOnPlan

Status = Subscription.Status


def test_a_sign_up_starts_a_trial_of_its_kinds_plan(db: None) -> None:
    onboarded = tenant_onboard(
        verified=True, clinic_name="Trial Clinic", slug="trial-clinic", kind="hospital",
        owner_name="Trial Owner", owner_email="owner@trial.example.com",
        owner_password=OWNER_PASSWORD,
    )  # fmt: skip
    subscription = Subscription.objects.get(tenant=onboarded.tenant)
    assert (subscription.status, subscription.plan.slug) == ("trial", "hospital")
    assert subscription.trial_ends_at == subscription.started_at + timedelta(days=30)
    assert subscription.due_at == subscription.trial_ends_at
    change = SubscriptionChange.objects.get(tenant=onboarded.tenant)
    assert (change.from_status, change.to_status, change.by) == ("", "trial", "sign-up")
    with schema_context(onboarded.tenant.schema_name):
        entry = AuditEntry.objects.get(action="subscription.changed")
    assert entry.detail["to"] == "trial"


def test_beat_finds_only_the_tenants_whose_date_has_come(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = Subscription.objects.get(tenant=tenant)
    theirs = Subscription.objects.get(tenant=other_tenant)
    assert mine.status == theirs.status == Status.TRIAL
    Subscription.objects.filter(pk=theirs.pk).update(due_at=mine.due_at + timedelta(days=10))
    assert mine.due_at is not None
    assert tenant.pk not in subscriptions_due(mine.due_at - timedelta(seconds=1))
    assert subscriptions_due(mine.due_at) == [tenant.pk]


def test_a_trial_that_ends_becomes_past_due_and_its_grace_end_suspends_it(
    tenant: Tenant, other_tenant: Tenant, celery_in_process: None
) -> None:
    subscription = Subscription.objects.get(tenant=tenant)
    Subscription.objects.filter(tenant=other_tenant).update(due_at=None)
    trial_end = subscription.trial_ends_at
    assert trial_end is not None
    with time_machine.travel(trial_end + timedelta(minutes=1), tick=False):
        assert advance_subscriptions() == [tenant.pk]
    subscription.refresh_from_db()
    assert subscription.status == Status.PAST_DUE
    assert subscription.grace_ends_at == trial_end + timedelta(days=15, minutes=1)
    assert subscription.due_at == subscription.grace_ends_at

    not_yet = commands.subscription_advance(tenant_id=tenant.pk, now=trial_end + timedelta(days=2))
    assert not_yet is None
    subscription.refresh_from_db()
    assert subscription.status == Status.PAST_DUE  # the grace is not over yet

    commands.subscription_advance(tenant_id=tenant.pk, now=subscription.grace_ends_at)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.due_at) == (Status.SUSPENDED, None)
    history = list(
        SubscriptionChange.objects.filter(tenant=tenant)
        .order_by("at", "id")
        .values_list("from_status", "to_status", "by", "reason")
    )
    assert history[-2:] == [
        ("trial", "past_due", "beat", "trial ended"),
        ("past_due", "suspended", "beat", "grace period ended"),
    ]
    with schema_context(tenant.schema_name):
        audited = list(
            AuditEntry.objects.filter(action="subscription.changed")
            .order_by("id")
            .values_list("detail__to", flat=True)
        )
    assert audited[-2:] == ["past_due", "suspended"]


def test_a_tenant_that_paid_before_its_date_is_left_alone(tenant: Tenant) -> None:
    commands.subscription_change_status(actor="ops@mymedic.example.com", tenant=tenant, to="active")
    assert (
        commands.subscription_advance(tenant_id=tenant.pk, now=timezone.now() + timedelta(days=400))
        is None
    )
    assert Subscription.objects.get(tenant=tenant).status == Status.ACTIVE


def test_a_closed_subscription_cannot_come_back(tenant: Tenant) -> None:
    commands.subscription_change_status(actor="ops@mymedic.example.com", tenant=tenant, to="closed")
    with pytest.raises(Conflict):
        commands.subscription_change_status(
            actor="ops@mymedic.example.com", tenant=tenant, to="active"
        )


def test_a_recorded_change_is_never_rewritten(tenant: Tenant) -> None:
    change = SubscriptionChange.objects.filter(tenant=tenant).first()
    assert change is not None
    with pytest.raises(ValueError, match="never changed"):
        change.save()


@pytest.mark.usefixtures("monday_morning")
def test_a_suspended_clinic_reads_and_signs_in_but_changes_nothing(
    tenant: Tenant, owner: User, patient: Patient, doctor: Doctor, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="chain"), status=Status.SUSPENDED)
    staff = client_for(owner, tenant)
    refused = staff.post(
        "/api/v1/patients/", {"name": "New Patient", "phone": "9800011122"}, format="json"
    )
    assert refused.status_code == 402
    assert refused.json()["code"] == "subscription_suspended"
    assert staff.get("/api/v1/patients/").status_code == 200
    assert staff.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert staff.get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04").status_code == 200
    signed_in = token_sign_in(staff, owner.email, OWNER_PASSWORD)
    assert signed_in.status_code == 200
    assert Patient.objects.count() == 1

    booking = patient_client(patient, tenant).post(
        "/api/v1/patient/appointments/",
        {"doctor": doctor.pk, "start": "2027-01-05T09:00:00+05:30"},
        format="json",
    )
    assert booking.status_code == 402
    assert "Please call the clinic" in booking.json()["detail"]

    commands.subscription_change_status(actor="ops@mymedic.example.com", tenant=tenant, to="active")
    again = staff.post(
        "/api/v1/patients/", {"name": "New Patient", "phone": "9800011122"}, format="json"
    )
    assert again.status_code == 201


def test_the_console_says_why_a_suspended_clinic_cannot_book(
    tenant: Tenant, owner: User, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(status=Status.SUSPENDED)
    console = client_for(owner, tenant)
    console.force_login(owner)
    response = console.post("/setup/branches/new/", {
        "name": "Juhu", "city": "Mumbai", "address": "1 Juhu Tara Road",
        "phone": "+91 22 2345 6789", "timezone": "Asia/Kolkata",
    })  # fmt: skip
    assert b"subscription is suspended" in response.content
    assert not Branch.objects.filter(name="Juhu").exists()
