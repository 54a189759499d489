"""The plan's limits bind the clinic's staff at the command layer (402 `plan_limit`); the
system's own work (onboarding, imports) is not limited."""

from decimal import Decimal

import pytest

from apps.clinic.models import Branch, User
from apps.plans.errors import PlanLimitReached
from apps.plans.models import Plan
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from tests.conftest import client_for
from tests.plans.conftest import PutOnPlan
from tests.scheduling.factories import DoctorFactory

NEW_DOCTOR = {
    "name": "Dr. New", "specialty": "ENT", "slot_minutes": 15, "consultation_fee": "400.00",
    "weekly_hours": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
}  # fmt: skip


@pytest.fixture
def two_doctor_plan(put_on_plan: PutOnPlan) -> Plan:
    plan = Plan.objects.get(slug="clinic")
    plan.max_doctors, plan.max_branches = 2, 1
    plan.save()
    put_on_plan(plan)
    return plan


def test_adding_a_doctor_past_the_plans_limit_is_refused_with_402(
    tenant: Tenant, owner: User, main_branch: Branch, two_doctor_plan: Plan
) -> None:
    DoctorFactory(branch=main_branch)
    api = client_for(owner, tenant)
    assert (
        api.post(
            "/api/v1/doctors/", {**NEW_DOCTOR, "branch": main_branch.pk}, format="json"
        ).status_code
        == 201
    )
    refused = api.post("/api/v1/doctors/", {**NEW_DOCTOR, "branch": main_branch.pk}, format="json")
    assert refused.status_code == 402
    assert refused.json() == {
        "detail": "Your plan (Clinic) allows 2 active doctors: "
        "change to a larger plan to add more.",
        "code": "plan_limit",
        "limit": "doctors",
    }
    assert Doctor.objects.count() == 2


def test_a_deactivated_doctor_frees_a_place_and_reactivating_needs_one(
    owner: User, main_branch: Branch, two_doctor_plan: Plan
) -> None:
    first, second = DoctorFactory(branch=main_branch), DoctorFactory(branch=main_branch)
    commands.doctor_update(actor=owner, doctor=first, active=False)
    third = commands.doctor_add(
        actor=owner, branch=main_branch, **{**NEW_DOCTOR, "consultation_fee": Decimal("400.00")}
    )
    assert third.active and second.active
    with pytest.raises(PlanLimitReached):
        commands.doctor_update(actor=owner, doctor=first, active=True)


def test_adding_a_branch_past_the_plans_limit_is_refused(
    tenant: Tenant, owner: User, two_doctor_plan: Plan
) -> None:
    refused = client_for(owner, tenant).post("/api/v1/branches/", {"name": "Juhu"}, format="json")
    assert refused.status_code == 402
    assert refused.json()["limit"] == "branches"


def test_the_system_is_not_limited(main_branch: Branch, two_doctor_plan: Plan) -> None:
    for _ in range(3):
        DoctorFactory(branch=main_branch)
    assert Doctor.objects.filter(active=True).count() == 3
